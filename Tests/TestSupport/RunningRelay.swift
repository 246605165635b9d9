import EventBus

/// Runs an outbox relay in a task for the duration of a test.
public final class RunningRelay: @unchecked Sendable {
    public let relay: OutboxRelay
    private var task: Task<Void, any Error>?

    public init(_ relay: OutboxRelay) {
        self.relay = relay
        let captured = relay
        task = Task { try await captured.run() }
    }

    public func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }
}
