import Foundation

/// What an outbox holds, for operators (`eventbus outbox status`) and health checks: how many events are in each
/// state, how old the oldest unpublished one is, and the failed ones with their last error.
public struct OutboxStatus: Sendable, Hashable {
    /// How many events are in each state; every state is present (0 when none).
    public var counts: [EventState: Int]
    /// When the oldest event not yet published was created; `nil` when every event is published.
    public var oldestPending: Date?
    /// `PublishedFailed` events, oldest first, at most as many as were asked for: each with its last error, the
    /// number of sends started and when the relay tries it again.
    public var failed: [IntegrationEventLogEntry]

    /// Creates a status; states missing from `counts` count 0.
    public init(counts: [EventState: Int], oldestPending: Date?, failed: [IntegrationEventLogEntry]) {
        var complete: [EventState: Int] = [:]
        for state in EventState.allCases { complete[state] = counts[state] ?? 0 }
        self.counts = complete
        self.oldestPending = oldestPending
        self.failed = failed
    }

    /// Events not yet published (every state but `Published`).
    public var pending: Int {
        counts.reduce(0) { total, entry in entry.key == .published ? total : total + entry.value }
    }
}
