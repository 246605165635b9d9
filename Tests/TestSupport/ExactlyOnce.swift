import Testing

/// Expects every one of `expected` effects applied exactly once, checked only after a marker was handled.
///
/// Stopping the wait when the distinct count reaches the total cannot see a duplicate that arrives later. So the test
/// publishes a marker event after every other publish was confirmed (and after the disruption it tests ended), and
/// this waits until the marker's effect and `expected` distinct other effects are there (handlers may run
/// concurrently), then expects: the marker once, `expected` other keys (all of `keys` when given), none twice.
/// `counts` reads the effects per key (marker included). On a timeout it says how many were missing or doubled.
public func expectEachAppliedOnce(
    _ expected: Int, keys: Set<String>? = nil, marker: String, timeout: Duration = .seconds(60),
    sourceLocation: SourceLocation = #_sourceLocation, counts: @Sendable () async throws -> [String: Int]
) async throws {
    let deadline = ContinuousClock.now + timeout
    var seen = try await counts()
    while seen[marker, default: 0] == 0 || seen.count - 1 < expected {
        guard ContinuousClock.now < deadline else {
            Issue.record(
                "timed out waiting for the marker and \(expected) effects: \(summary(seen, marker: marker))",
                sourceLocation: sourceLocation)
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(25))
        seen = try await counts()
    }
    var others = seen
    let markerCount = others.removeValue(forKey: marker) ?? 0
    #expect(markerCount == 1, "the marker applied \(markerCount) times", sourceLocation: sourceLocation)
    #expect(others.count == expected, "\(summary(seen, marker: marker))", sourceLocation: sourceLocation)
    let doubled = others.filter { $0.value > 1 }
    #expect(doubled.isEmpty, "applied more than once: \(doubled.sorted { $0.key < $1.key }.prefix(10))", sourceLocation: sourceLocation)
    if let keys {
        let missing = keys.subtracting(others.keys)
        let unexpected = Set(others.keys).subtracting(keys)
        #expect(missing.isEmpty, "\(missing.count) never applied, e.g. \(missing.sorted().prefix(5))", sourceLocation: sourceLocation)
        #expect(unexpected.isEmpty, "\(unexpected.count) unexpected, e.g. \(unexpected.sorted().prefix(5))", sourceLocation: sourceLocation)
    }
}

extension Tally {
    /// ``expectEachAppliedOnce(_:keys:marker:timeout:sourceLocation:counts:)`` on this tally's counts.
    public nonisolated func expectEachAddedOnce(
        _ expected: Int, keys: Set<String>? = nil, marker: String, timeout: Duration = .seconds(60),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await expectEachAppliedOnce(expected, keys: keys, marker: marker, timeout: timeout, sourceLocation: sourceLocation) {
            await self.counts
        }
    }
}

/// How many effects are there, missing the marker or doubled, for a failure message.
private func summary(_ counts: [String: Int], marker: String) -> String {
    let doubled = counts.filter { $0.key != marker && $0.value > 1 }.count
    let markerCount = counts[marker] ?? 0
    return "\(counts.count - (markerCount > 0 ? 1 : 0)) distinct effects, \(doubled) applied more than once, marker applied \(markerCount) times"
}
