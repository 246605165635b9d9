import Testing

/// Waits until `condition` holds (polling every `interval`), failing the test with `message` after `timeout`.
/// The default timeout is generous on purpose: `make test` runs every suite at once on two cores, beside the broker
/// and PostgreSQL, and a slow host has doubled every test's duration (a 20 s wait for consumers then timed out).
/// A passing condition returns as soon as it holds, so the timeout only decides how long a failure takes.
public func eventually(
    _ message: String, timeout: Duration = .seconds(60), interval: Duration = .milliseconds(25),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    Issue.record("timed out waiting: \(message)", sourceLocation: sourceLocation)
    throw CancellationError()
}
