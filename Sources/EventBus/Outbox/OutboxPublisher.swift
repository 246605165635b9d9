import Foundation
import Logging

/// Publishes outbox entries right after the transaction that saved them has committed (DESIGN section 6): marks them
/// `InProgress` (times sent + 1), publishes each with a broker confirm, then marks it `Published`; when publishing
/// fails it marks the event `PublishedFailed` with the error and the time of the next attempt, for ``OutboxRelay``.
///
/// ```swift
/// let entry = try await store.write { db in
///     try db.execute(sql: "UPDATE catalog_item SET price = ? WHERE id = ?", arguments: [newPrice, id])
///     return try SQLiteEventStore.save(event, in: db)
/// }
/// await publisher.publish([entry])   // after the commit; never throws
/// ```
///
/// Cost per call: one store transaction to mark the entries `InProgress` and one to mark them `Published`, both
/// shared with concurrent calls (group commit: requests that arrive while a transaction runs go into the next one),
/// plus one confirmed publish per entry. Entries saved with `claimForPublisher: true` are `InProgress` already and
/// skip the first transaction: the commit-to-confirm path then has one store transaction fewer (SQLite still syncs
/// its log first, ``IntegrationEventLog/makeCommitsDurable()``). The entries of one call go out in order, back to
/// back, with their confirms awaited together (``EventBus/publishAll(_:)``), so a transaction's events cost about one
/// confirm round trip; an entry that fails is recorded `PublishedFailed` on its own and the relay sends it again
/// (after the others of its call, which consumers may then see first). An entry that can never be published as it is
/// (an encoding failure) is marked failed for good instead; the relay also checks sizes before it sends.
///
/// Copies share their state: create one publisher per store and bus and pass it around.
public struct OutboxPublisher: Sendable {
    private let log: any IntegrationEventLog
    private let bus: any EventBus
    private let retryBackoff: Duration
    private let logger: Logger
    private let batcher: OutboxMarkBatcher

    /// Creates a publisher.
    /// - Parameters:
    ///   - log: The outbox the entries were saved in.
    ///   - bus: The bus to publish on (its `run()` must be running).
    ///   - retryBackoff: How long a failed event waits before the relay tries it again.
    ///   - logger: Where failures are logged; the publisher logs nothing else.
    public init(
        log: any IntegrationEventLog, bus: any EventBus, retryBackoff: Duration = .seconds(1),
        logger: Logger = Logger(label: "eventbus.outbox", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.log = log
        self.bus = bus
        self.retryBackoff = retryBackoff
        self.logger = logger
        self.batcher = OutboxMarkBatcher(log: log)
    }

    /// Publishes entries saved in a transaction that has committed. Never throws: failures are recorded as
    /// `PublishedFailed` for the relay. Returns once every entry is confirmed or recorded as failed.
    ///
    /// Entries saved `NotPublished` are marked `InProgress` first; one the relay claimed meanwhile is left to the
    /// relay. When even marking fails (the database is unreachable) they stay `NotPublished` and the relay sends them
    /// later. Entries saved with `claimForPublisher: true` (state `InProgress`) are sent as they are.
    public func publish(_ entries: [IntegrationEventLogEntry]) async {
        guard !entries.isEmpty else { return }
        // Which entries this call may send: the claimed ones once durable, the others once marked.
        let claimed = entries.filter { $0.state == .inProgress }.map(\.eventID)
        let unclaimed = entries.filter { $0.state != .inProgress }.map(\.eventID)
        var ready: Set<UUID> = []
        if !unclaimed.isEmpty {
            do {
                ready.formUnion(try await batcher.markInProgress(unclaimed))
            } catch {
                logger.warning(
                    "outbox: marking events InProgress failed; the relay will publish them",
                    metadata: ["event.ids": "\(unclaimed.map(\.lowercasedText))", "error": "\(error)"])
            }
        }
        if !claimed.isEmpty {
            do {
                try await log.makeCommitsDurable()
                ready.formUnion(claimed)
            } catch {
                // Not sent before it is on disk; the relay sends these once stale.
                logger.warning(
                    "outbox: making the saving transaction durable failed; the relay will publish its events once stale",
                    metadata: ["event.ids": "\(claimed.map(\.lowercasedText))", "error": "\(error)"])
            }
        }
        let sending = entries.filter { ready.contains($0.eventID) }
        guard !sending.isEmpty else { return }
        let outcomes = await bus.publishAll(sending.map(\.rawEvent))
        var published: [UUID] = []
        published.reserveCapacity(sending.count)
        for (entry, outcome) in zip(sending, outcomes) {
            switch outcome {
            case .success:
                published.append(entry.eventID)
            case .failure(let error):
                let permanent = OutboxFailure.isPermanent(error)
                logger.log(
                    level: permanent ? .error : .warning,
                    permanent ? "outbox: the event can never be published as it is; marked failed for good" : "outbox: publishing failed; the relay will retry",
                    metadata: ["event.id": "\(entry.rawEvent.id)", "event.type": "\(entry.eventTypeName)", "error": "\(error)"])
                await markFailed(entry, error: "\(error)", permanently: permanent)
            }
        }
        guard !published.isEmpty else { return }
        do {
            try await batcher.markPublished(published)
        } catch {
            // The events are out; their rows stay InProgress and the relay re-sends them once stale (consumers dedup).
            logger.error(
                "outbox: events published but marking them Published failed",
                metadata: ["event.ids": "\(published.map(\.lowercasedText))", "error": "\(error)"])
        }
    }

    private func markFailed(_ entry: IntegrationEventLogEntry, error: String, permanently: Bool) async {
        let next = Date().addingTimeInterval(retryBackoff.outboxSeconds)
        do {
            if permanently {
                try await log.markFailedPermanently(eventID: entry.eventID, error: error)
            } else {
                try await log.markFailed(eventID: entry.eventID, error: error, nextAttemptAt: next)
            }
        } catch {
            logger.error(
                "outbox: marking an event PublishedFailed failed; the relay will retry it once stale",
                metadata: ["event.id": "\(entry.rawEvent.id)", "error": "\(error)"])
        }
    }
}
