import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The outbox relay, a swift-service-lifecycle `Service`: republishes what the normal path
/// (``OutboxPublisher``) did not, and prunes what was published long ago (DESIGN section 6).
///
/// Its `run()` loops: claim a batch of due events in creation order (`NotPublished`, `PublishedFailed` whose next
/// attempt is due, and `InProgress` rows older than ``Configuration/staleAfter`` whose sender died), marking them
/// `InProgress` (times sent + 1); publish the whole batch in that order, back to back (``EventBus/publishAll(_:)``:
/// the bus awaits the confirms together); mark the confirmed ones `Published` and the others `PublishedFailed` with
/// backoff `initialBackoff × 2^(timesSent − 1)`, capped at ``Configuration/maximumBackoff``. An event that can never be
/// published as it is (larger than ``Configuration/maximumEventSize``, a type name no broker takes, unencodable, a row
/// that cannot be read) is marked `PublishedFailed` with its reason and no next attempt, instead of being retried
/// forever (``IntegrationEventLog/markFailedPermanently(eventID:error:)``). A full batch is followed at
/// once by the next, which is claimed while the full one is being published (a backlog drains at the pace of the
/// slower of the database and the broker, not of both one after the other); otherwise the relay waits
/// ``Configuration/pollInterval``. Several relays may share one database: the claim locks rows
/// (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one `BEGIN IMMEDIATE` transaction on SQLite), so no row is published by
/// two relays at once.
///
/// ```swift
/// let relay = OutboxRelay(log: store, bus: bus, logger: logger)
/// let group = ServiceGroup(services: [bus, relay], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// A graceful shutdown lets the batch in flight finish (and the one claimed ahead of it, if any), then `run()`
/// returns; cancelling `run()` ends it at once (events of an interrupted batch stay `InProgress` and are sent again
/// once stale: consumers deduplicate).
///
/// Metrics (swift-metrics): gauges `eventbus_outbox_pending` (events not yet published) and
/// `eventbus_outbox_oldest_pending_age_seconds`, refreshed at most once per poll interval; counters
/// `eventbus_outbox_relayed_total`, `eventbus_outbox_relay_failed_total`, `eventbus_outbox_pruned_total`.
public final class OutboxRelay: Service, Sendable {
    /// How often and how much the relay works. The defaults suit a service; tests use milliseconds.
    public struct Configuration: Sendable {
        /// The pause after a pass that found less than a full batch. Default 1 s.
        public var pollInterval: Duration
        /// Most events claimed and published per pass. Default 500: a backlog (after the broker was away) drains
        /// at several thousand events per second, while a batch stays small in memory and in the claim's transaction.
        public var batchSize: Int
        /// How long an `InProgress` event may go unconfirmed before the relay assumes its sender died and sends it
        /// again. At least twice ``publishTimeout`` (checked when the relay starts), so that an event still in
        /// flight is never taken as stale. Default 60 s.
        public var staleAfter: Duration
        /// The bus's publish timeout (`RabbitMQEventBusConfiguration.publishTimeout`): the longest a publish stays in
        /// flight. Set it to the bus's value; ``staleAfter`` must be at least twice it. Default 30 s (the bus's default).
        public var publishTimeout: Duration
        /// Largest event body the relay sends, in bytes; a larger event ends `PublishedFailed` with no next attempt.
        /// Keep it equal to the bus's maximum event size. Default 1 MiB.
        public var maximumEventSize: Int
        /// Wait before the second attempt of a failed event; doubles with each failure. Default 1 s.
        public var initialBackoff: Duration
        /// Longest wait between two attempts. Default 5 min.
        public var maximumBackoff: Duration
        /// How long `Published` events are kept (counted from their creation). Default 7 days.
        public var retention: Duration
        /// How often old `Published` events are pruned. Default 1 h.
        public var pruneInterval: Duration

        /// Creates the default configuration.
        public init() {
            pollInterval = .seconds(1)
            batchSize = 500
            staleAfter = .seconds(60)
            publishTimeout = .seconds(30)
            maximumEventSize = OutboxFailure.defaultMaximumEventSize
            initialBackoff = .seconds(1)
            maximumBackoff = .seconds(300)
            retention = .seconds(7 * 86_400)
            pruneInterval = .seconds(3_600)
        }

        /// Checks that an event still in flight can never be taken as stale: ``staleAfter`` at least twice
        /// ``publishTimeout`` (the publish itself, then the marks and a claim that waited behind the batch before it).
        /// ``OutboxRelay/run()`` calls it first.
        /// - Throws: ``EventBusError/invalidConfiguration(_:)`` naming both values and what to set.
        public func validate() throws {
            guard publishTimeout > .zero else {
                throw EventBusError.invalidConfiguration("outbox relay: publishTimeout (\(publishTimeout)) must be positive; set it to the bus's publishTimeout")
            }
            guard staleAfter >= publishTimeout * 2 else {
                throw EventBusError.invalidConfiguration(
                    "outbox relay: staleAfter (\(staleAfter)) must be at least twice publishTimeout (\(publishTimeout)), or events still in flight are sent again; set staleAfter to \(publishTimeout * 2) or more, or set publishTimeout to the bus's (lower) publish timeout")
            }
            guard maximumEventSize > 0 else {
                throw EventBusError.invalidConfiguration("outbox relay: maximumEventSize (\(maximumEventSize)) must be positive; the default is 1 MiB")
            }
        }
    }

    /// The configuration the relay was created with.
    public let configuration: Configuration
    private let log: any IntegrationEventLog
    private let bus: any EventBus
    private let logger: Logger
    private let stop = StopSignal()
    private let pending = Gauge(label: "eventbus_outbox_pending")
    private let oldestPendingAge = Gauge(label: "eventbus_outbox_oldest_pending_age_seconds")
    private let relayed = Counter(label: "eventbus_outbox_relayed_total")
    private let relayFailed = Counter(label: "eventbus_outbox_relay_failed_total")
    private let pruned = Counter(label: "eventbus_outbox_pruned_total")

    /// Creates a relay. Nothing runs until `run()`.
    /// - Parameters:
    ///   - log: The outbox to relay from.
    ///   - bus: The bus to publish on (its `run()` must be running too, e.g. in the same `ServiceGroup`).
    ///   - configuration: Poll interval, batch size, staleness, backoff and retention.
    ///   - logger: Where the relay logs failures and pruning.
    public init(
        log: any IntegrationEventLog, bus: any EventBus, configuration: Configuration = .init(),
        logger: Logger = Logger(label: "eventbus.outbox.relay", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.log = log
        self.bus = bus
        var configuration = configuration
        configuration.batchSize = max(1, configuration.batchSize)
        self.configuration = configuration
        self.logger = logger
    }

    /// Relays, prunes and reports until cancelled or gracefully shut down. Store and broker failures are logged and
    /// retried on the next pass; they never end `run()`.
    /// - Throws: ``EventBusError/invalidConfiguration(_:)`` at once when the configuration is invalid
    ///   (``Configuration/validate()``).
    public func run() async throws {
        try configuration.validate()
        await withGracefulShutdownHandler {
            await loop()
        } onGracefulShutdown: {
            self.stop.fire()
        }
    }

    private func loop() async {
        let clock = ContinuousClock()
        var nextPrune = clock.now
        var nextReport = clock.now
        var failures = 0
        // The next batch, claimed while the current one is published (only behind a full batch: a backlog).
        var prefetched: Task<[IntegrationEventLogEntry], any Error>?
        while !Task.isCancelled, !stop.isFired {
            var claimedFullBatch = false
            do {
                let claimed: [IntegrationEventLogEntry]
                let claimedAhead = prefetched != nil
                if let pending = prefetched {
                    prefetched = nil
                    claimed = try await pending.value
                } else {
                    claimed = try await claim()
                }
                claimedFullBatch = claimed.count >= configuration.batchSize
                // Its rows are InProgress now, so the next claim takes the batch after it; this batch is published
                // first (by this task, before the next one), so the order on the wire stays the creation order.
                if claimedFullBatch, !stop.isFired { prefetched = Task { try await self.claim() } }
                _ = try await publishAndMark(claimed, renew: claimedAhead)
                failures = 0
            } catch {
                failures += 1
                // A store that is down is reported once per streak, then at debug level.
                logger.log(
                    level: failures == 1 ? .error : .debug, "outbox relay: pass failed; retrying",
                    metadata: ["error": "\(error)", "failures": "\(failures)"])
            }
            if clock.now >= nextPrune {
                await prune()
                nextPrune = clock.now + configuration.pruneInterval
            }
            if clock.now >= nextReport {
                await report()
                nextReport = clock.now + configuration.pollInterval
            }
            if !claimedFullBatch { await stop.pause(for: configuration.pollInterval) }
        }
        // A batch claimed ahead when a graceful shutdown came: it is claimed, so send it now rather than leave its
        // rows InProgress until stale. (Cancelled, the rows wait: they are sent again once stale, like those of a
        // relay that stopped mid-batch.)
        if let prefetched, let left = try? await prefetched.value, !left.isEmpty {
            if Task.isCancelled {
                logger.info(
                    "outbox relay: cancelled with a claimed batch unpublished; it is sent again once stale",
                    metadata: ["count": "\(left.count)", "stale.after": "\(configuration.staleAfter)"])
            } else {
                do {
                    _ = try await publishAndMark(left, renew: true)
                } catch {
                    logger.warning(
                        "outbox relay: the last claimed batch could not be marked; it is sent again once stale",
                        metadata: ["count": "\(left.count)", "error": "\(error)"])
                }
            }
        }
    }

    /// One pass: claims a batch, publishes it, marks the outcome; returns how many events were published (confirmed).
    /// For tests and the CLI. Cost: one store transaction to claim, one to mark the published events, one per
    /// failed event, and one confirmed publish per event (the whole batch in flight at once, in order).
    public func relayOnce() async throws -> Int {
        try await relayPass().published
    }

    private func relayPass() async throws -> (claimed: Int, published: Int) {
        let claimed = try await claim()
        return (claimed.count, try await publishAndMark(claimed))
    }

    /// Claims the next batch of due events (they are `InProgress` once this returns).
    private func claim() async throws -> [IntegrationEventLogEntry] {
        try await log.claimPending(limit: configuration.batchSize, staleAfter: configuration.staleAfter, now: Date())
    }

    /// Publishes a claimed batch in order and marks the outcome; returns how many were published (confirmed). A batch
    /// claimed ahead (`renew`) has its in-flight time restarted first, and only the events still its own are sent.
    private func publishAndMark(_ claimed: [IntegrationEventLogEntry], renew: Bool = false) async throws -> Int {
        guard !claimed.isEmpty else { return 0 }
        var sending = claimed
        if renew {
            let held = try await log.renewClaims(claimed, now: Date())
            sending = claimed.filter { held.contains($0.eventID) }
        }
        // Events no broker can take end failed for good, with the reason; the others go out in order.
        var unpublishable: [(IntegrationEventLogEntry, String)] = []
        sending = sending.filter { entry in
            guard let reason = OutboxFailure.unpublishable(entry, maximumEventSize: configuration.maximumEventSize) else { return true }
            unpublishable.append((entry, reason))
            return false
        }
        let results = sending.isEmpty ? [] : await bus.publishAll(sending.map(\.rawEvent))
        var failed: [(IntegrationEventLogEntry, String)] = []
        var published: [UUID] = []
        for (entry, result) in zip(sending, results) {
            switch result {
            case .success: published.append(entry.eventID)
            case .failure(let error) where OutboxFailure.isPermanent(error): unpublishable.append((entry, "\(error)"))
            case .failure(let error): failed.append((entry, "\(error)"))
            }
        }
        if !published.isEmpty {
            try await log.markPublished(eventIDs: published)
            relayed.increment(by: published.count)
        }
        if !failed.isEmpty {
            relayFailed.increment(by: failed.count)
            logger.warning(
                "outbox relay: publishing failed; will retry with backoff",
                metadata: ["count": "\(failed.count)", "first.event.id": "\(failed[0].0.rawEvent.id)", "error": "\(failed[0].1)"])
            let failedAt = Date()
            for (entry, error) in failed {
                let next = OutboxBackoff.nextAttempt(
                    after: failedAt, initial: configuration.initialBackoff, maximum: configuration.maximumBackoff,
                    timesSent: entry.timesSent)
                try await log.markFailed(eventID: entry.eventID, error: error, nextAttemptAt: next)
            }
        }
        if !unpublishable.isEmpty {
            relayFailed.increment(by: unpublishable.count)
            logger.error(
                "outbox relay: events that can never be published as they are are marked failed for good",
                metadata: [
                    "count": "\(unpublishable.count)", "first.event.id": "\(unpublishable[0].0.rawEvent.id)",
                    "error": "\(unpublishable[0].1)",
                ])
            for (entry, reason) in unpublishable {
                try await log.markFailedPermanently(eventID: entry.eventID, error: reason)
            }
        }
        return published.count
    }

    private func prune() async {
        let cutoff = Date().addingTimeInterval(-configuration.retention.outboxSeconds)
        do {
            let count = try await log.prunePublished(createdBefore: cutoff)
            if count > 0 {
                pruned.increment(by: count)
                logger.info("outbox relay: pruned published events", metadata: ["count": "\(count)"])
            }
        } catch {
            logger.warning("outbox relay: pruning failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    private func report() async {
        do {
            let summary = try await log.pendingSummary()
            pending.record(summary.count)
            oldestPendingAge.record(summary.oldest.map { max(0, Date().timeIntervalSince($0)) } ?? 0)
        } catch {
            logger.debug("outbox relay: reading the pending summary failed", metadata: ["error": "\(error)"])
        }
    }
}
