import Synchronization

/// Progress made by a measurement, for ``withStallWatchdog(timeout:what:onStall:_:)``.
final class Progress: Sendable {
    private let counter = Atomic<Int>(0)

    /// Records that something completed.
    func advance() { counter.add(1, ordering: .relaxed) }

    var value: Int { counter.load(ordering: .relaxed) }
}

/// Runs `body` and fails it with a ``BenchmarkFailure`` when its ``Progress`` stands still for `timeout`
/// (a broker that stopped confirming or delivering). `onStall` must make `body` return or throw (AMQP waits
/// are not cancellable: close the connection). The check runs once a second, so it costs the measurement
/// nothing measurable.
func withStallWatchdog<T: Sendable>(
    timeout: Duration, what: String, onStall: @escaping @Sendable () async -> Void,
    _ body: @escaping @Sendable (Progress) async throws -> T
) async throws -> T {
    try await withStallWatchdog(timeout: timeout, what: what, progress: Progress(), onStall: onStall, body)
}

/// ``withStallWatchdog(timeout:what:onStall:_:)`` watching a ``Progress`` the caller advances elsewhere (for
/// example in a bus handler).
func withStallWatchdog<T: Sendable>(
    timeout: Duration, what: String, progress: Progress, onStall: @escaping @Sendable () async -> Void,
    _ body: @escaping @Sendable (Progress) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body(progress) }
        group.addTask {
            let clock = ContinuousClock()
            var seen = progress.value
            var since = clock.now
            while true {
                try await Task.sleep(for: .seconds(1))
                let now = progress.value
                if now != seen {
                    seen = now
                    since = clock.now
                } else if since.duration(to: clock.now) >= timeout {
                    await onStall()
                    throw BenchmarkFailure("\(what): no progress for \(timeout) (\(now) done)")
                }
            }
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let result { return result }
        }
        throw BenchmarkFailure("\(what): ended without a result")
    }
}
