/// Runs `body`, throwing ``DeadlineExceeded`` when it takes longer than `timeout` (the body is cancelled).
public func withDeadline<T: Sendable>(
    _ timeout: Duration, what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw DeadlineExceeded(what: what, after: timeout)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}

/// An operation did not finish in time.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    /// What was being done.
    public var what: String
    /// The time it was given.
    public var after: Duration
    public var description: String { "\(what) did not finish within \(after)" }
}
