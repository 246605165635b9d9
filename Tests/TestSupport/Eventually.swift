import Testing

/// Waits until `condition` holds (polling every `interval`), failing the test with `message` after `timeout`.
public func eventually(
    _ message: String, timeout: Duration = .seconds(20), interval: Duration = .milliseconds(25),
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
