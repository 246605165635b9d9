// Compiled with the PostgreSQL trait (on by default; see Package.swift).
#if PostgreSQL
import EventBus
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The transactional outbox (`IntegrationEventLog`) and the processed-message store on PostgreSQL, through
/// postgres-nio's `PostgresClient` (DESIGN section 6). The client's `run()` must be running (e.g. in the service's
/// `ServiceGroup`).
///
/// A service saves its change and its events in one transaction:
///
/// ```swift
/// let store = PostgresEventStore(client: client, logger: logger)
/// try await store.migrate()
/// let entry = try await store.withTransaction { connection in
///     try await connection.query("UPDATE catalog_item SET price = \(newPrice) WHERE id = \(id)", logger: logger)
///     return try await PostgresEventStore.save(event, on: connection, logger: logger)
/// }
/// await publisher.publish([entry])    // an OutboxPublisher, after the commit
/// ```
///
/// Several relays (in several processes) may share one database: the claim is
/// `UPDATE … WHERE event_id IN (SELECT … ORDER BY creation_time LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …`, so a
/// row is never claimed by two relays at once.
///
/// Tables (created by ``migrate()``, versions recorded in `eventbus_migrations`): `integration_event_log`
/// (`event_id` uuid primary key, `event_type_name`, `state`, `times_sent`, `creation_time` timestamptz, `content`,
/// `transaction_id`, `next_attempt_at`, `last_error`, `updated_at`) and `processed_messages` (`consumer`,
/// `message_id`, `processed_at`). Names are unqualified: they live in the first schema of the connection's
/// `search_path` (`public` by default). To keep them elsewhere, pass `search_path` as a startup parameter
/// (`configuration.options.additionalStartupParameters = [("search_path", "outbox")]`) and create that schema first.
public final class PostgresEventStore: IntegrationEventLog, ProcessedMessageStore, Sendable {
    /// The client every call runs on.
    public let client: PostgresClient
    /// How long the store's own calls (everything but ``withTransaction(_:)``) wait for PostgreSQL before failing:
    /// postgres-nio waits for a connection as long as the server is unreachable, and the outbox publisher and relay
    /// must not hang with it.
    public let operationTimeout: Duration
    /// Bound of a whole ``withTransaction(_:)`` call: waiting for a connection, the caller's statements and the
    /// commit. Past it the transaction is abandoned and its connection closed (PostgreSQL rolls it back).
    public let transactionTimeout: Duration
    private let logger: Logger
    /// Connections already told to watch for their client going away (see ``withTransaction(_:)``).
    private let watchedConnections = Mutex<Set<PostgresConnection.ID>>([])
    /// Who to tell when a leased connection closes.
    private let closeWatch = ConnectionCloseWatch()

    /// Creates a store over `client`. Nothing is sent until a call; run ``migrate()`` once at start-up.
    /// - Parameters:
    ///   - client: The client; its `run()` must be running.
    ///   - operationTimeout: Bound of each of the store's own calls (default 15 s).
    ///   - transactionTimeout: Bound of each ``withTransaction(_:)`` call, lease and commit included (default 30 s).
    ///   - logger: Where the store logs (migrations, failed rollbacks).
    public init(
        client: PostgresClient, operationTimeout: Duration = .seconds(15), transactionTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "eventbus.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.client = client
        self.operationTimeout = operationTimeout
        self.transactionTimeout = transactionTimeout
        self.logger = logger
    }

    /// Creates the tables when they are missing: versioned migrations, each applied once under an advisory lock (so
    /// several instances starting together are safe). Running it again is harmless.
    ///
    /// Cost: one transaction of a few round trips (one when everything is applied already).
    public func migrate() async throws {
        let applied = try await run("migrating the PostgreSQL outbox tables") { logger in
            try await self.client.withConnection { connection in
                try await Self.inTransaction(connection, logger: logger) { connection -> [Int] in
                    // One lock per schema: instances migrating the same tables wait for each other, services in
                    // other schemas of the same database do not.
                    try await connection.query(
                        "SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLockClass), hashtext(current_schema()))", logger: logger)
                    try await connection.query(PostgresSchema.createMigrationsTable, logger: logger)
                    var done: Set<Int> = []
                    for try await version in try await connection.query("SELECT version FROM eventbus_migrations", logger: logger)
                        .decode(Int.self)
                    {
                        done.insert(version)
                    }
                    var applied: [Int] = []
                    for migration in PostgresSchema.migrations where !done.contains(migration.version) {
                        for statement in migration.statements {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query(
                            "INSERT INTO eventbus_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                            logger: logger)
                        applied.append(migration.version)
                    }
                    return applied
                }
            }
        }
        if !applied.isEmpty { logger.info("outbox: PostgreSQL migrations applied", metadata: ["versions": "\(applied)"]) }
    }

    // MARK: - The caller's transaction

    /// Runs `body` in one transaction on one connection (`BEGIN`/`COMMIT`, `ROLLBACK` on throw). Errors thrown by
    /// `body` are rethrown as they are; failures to lease a connection, begin or commit become
    /// `EventBusError.storeFailed(_:)`. The connection must not escape `body`.
    ///
    /// The whole call (lease, `body`, commit) is bounded by ``transactionTimeout``, and it ends as soon as the
    /// connection closes under it (PostgreSQL restarted, the backend terminated, the network cut): `body` runs in a
    /// task of its own and is abandoned then, the connection is closed so that nothing commits after the failure
    /// is reported, and the call throws `EventBusError.storeFailed(_:)`. A transaction that ends that way either
    /// rolled back or, if the connection closed during `COMMIT`, may have committed: make its effect idempotent
    /// (record the message id in the same transaction, as ``markProcessed(consumer:messageID:on:logger:)`` does)
    /// and retry.
    ///
    /// Cost: a connection lease, plus two round trips (`BEGIN`, `COMMIT`) around `body`'s own, and one task.
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = self.logger
        let client = self.client
        let timeout = transactionTimeout
        let call = BoundedCall<T>(timeout: timeout)
        do {
            return try await call.run {
                try await client.withConnection { connection -> T in
                    try call.watch(connection)
                    self.closeWatch.hold(connection) { call.connectionClosed() }
                    defer { self.closeWatch.release(connection) }
                    await self.askServerToNoticeAClosedClient(connection, logger: logger)
                    return try await Self.inTransaction(connection, logger: logger) { connection in
                        do {
                            return try await body(connection)
                        } catch {
                            throw CallerError(error: error)
                        }
                    }
                }
            }
        } catch let error as CallerError {
            throw error.error
        } catch BoundedCall<T>.Ending.timedOut(let leased) {
            throw EventBusError.storeFailed(
                leased
                    ? "a transaction did not end within \(timeout); it was abandoned and its connection closed, so PostgreSQL rolled it back (or, if it was committing, may have committed it); retry, and raise transactionTimeout if the transaction is legitimately long"
                    : "a transaction found no PostgreSQL connection within \(timeout); check that PostgreSQL is running and reachable at the configured host and port, and that the client's run() is running")
        } catch BoundedCall<T>.Ending.connectionClosed {
            throw EventBusError.storeFailed(
                "the PostgreSQL connection closed during a transaction (server restarted, backend terminated or network cut); PostgreSQL rolled it back (or, if it was committing, may have committed it); retry")
        } catch {
            throw PostgresFailure.error("a transaction", error)
        }
    }

    /// Once per connection: `SET client_connection_check_interval = '1s'` (PostgreSQL 14 and later), so that a
    /// backend busy in a statement of an abandoned transaction (waiting for a lock, say) notices within a second that
    /// its client closed the connection and rolls back, instead of holding its locks until the statement ends.
    /// A server that does not know the setting is left as it is.
    private func askServerToNoticeAClosedClient(_ connection: PostgresConnection, logger: Logger) async {
        guard watchedConnections.withLock({ $0.contains(connection.id) == false }) else { return }
        do {
            try await connection.query("SET client_connection_check_interval = '1s'", logger: logger)
        } catch {
            logger.debug("outbox: client_connection_check_interval not set", metadata: ["error": "\(PostgresFailure.reason(error))"])
        }
        watchedConnections.withLock { watched in
            if watched.count >= 4_096 { watched.removeAll() }    // ids of closed connections; setting again is harmless
            watched.insert(connection.id)
        }
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` when `body` throws (its error is rethrown as it is).
    nonisolated(nonsending) private static func inTransaction<T: Sendable>(
        _ connection: PostgresConnection, logger: Logger, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            try await connection.query("BEGIN", logger: logger)
        } catch {
            throw PostgresFailure.error("beginning a transaction", error)
        }
        let value: T
        do {
            value = try await body(connection)
        } catch {
            // A query on a connection that has closed would never answer (see `BoundedCall`); PostgreSQL rolled back.
            if !connection.isClosed {
                do {
                    try await connection.query("ROLLBACK", logger: logger)
                } catch {
                    logger.warning("outbox: ROLLBACK failed", metadata: ["error": "\(PostgresFailure.reason(error))"])
                }
            }
            throw error
        }
        do {
            try await connection.query("COMMIT", logger: logger)
        } catch {
            throw PostgresFailure.error("committing a transaction", error)
        }
        return value
    }

    /// Saves an event in the caller's transaction; returns its entry (pass it to `OutboxPublisher` after commit).
    /// `transaction_id` is `transactionID`, or PostgreSQL's own transaction id when `nil`.
    ///
    /// Cost: one round trip (`INSERT … RETURNING`) on `connection`, which must be inside a transaction
    /// (``withTransaction(_:)``): otherwise the event commits alone.
    /// - Throws: `EventBusError.encodingFailed(eventType:reason:)`, or `EventBusError.storeFailed(_:)` when the id
    ///   is saved already or the insert fails.
    public static func save<Event: IntegrationEvent>(
        _ event: Event, on connection: PostgresConnection, codec: EventCodec = .init(), transactionID: String? = nil,
        claimForPublisher: Bool = false, logger: Logger
    ) async throws -> IntegrationEventLogEntry {
        let entries = try await save(
            [event], on: connection, codec: codec, transactionID: transactionID, claimForPublisher: claimForPublisher, logger: logger)
        guard let entry = entries.first else { throw EventBusError.storeFailed("saving event \(event.id.uuidString.lowercased()) returned no row") }
        return entry
    }

    /// Saves several events of one type in the caller's transaction, in one statement; returns their entries in the
    /// order given (pass them to `OutboxPublisher` after commit, which publishes them in that order).
    ///
    /// Cost: one round trip (`INSERT … SELECT FROM unnest(…)`) whatever the number of events, so a transaction that
    /// raises many events pays for one statement instead of one per event.
    ///
    /// `claimForPublisher`: `true` when you hand the entries to `OutboxPublisher` right after the commit: the rows
    /// are saved `InProgress` (times sent 1), so the publisher skips its own marking transaction and the relay leaves
    /// them alone. If the process dies before the publish is confirmed, the relay sends them once they are stale
    /// (`OutboxRelay.Configuration.staleAfter`, counted from the save, so commit well within it) instead of at its
    /// next poll. Hand each such entry to the publisher once: it sends claimed entries without asking the store.
    /// Default `false`: `NotPublished`, and either may send them.
    /// - Throws: `EventBusError.encodingFailed(eventType:reason:)`, or `EventBusError.storeFailed(_:)` when an id
    ///   is saved already (then none is saved) or the insert fails.
    public static func save<Event: IntegrationEvent>(
        _ events: [Event], on connection: PostgresConnection, codec: EventCodec = .init(), transactionID: String? = nil,
        claimForPublisher: Bool = false, logger: Logger
    ) async throws -> [IntegrationEventLogEntry] {
        guard !events.isEmpty else { return [] }
        let typeName = Event.eventTypeName
        var contents: [String] = []
        contents.reserveCapacity(events.count)
        for event in events {
            do {
                contents.append(String(decoding: try codec.encode(event), as: UTF8.self))
            } catch {
                throw EventBusError.encodingFailed(eventType: typeName, reason: "\(error)")
            }
        }
        let ids = events.map(\.id)
        let creationTimes = events.map(\.creationDate)
        let state: EventState = claimForPublisher ? .inProgress : .notPublished
        let timesSent: Int32 = claimForPublisher ? 1 : 0
        var saved: String?
        do {
            let rows = try await connection.query(
                """
                INSERT INTO integration_event_log
                    (event_id, event_type_name, state, times_sent, creation_time, content, transaction_id, updated_at)
                SELECT event.id, \(typeName), \(state.rawValue), \(timesSent), event.created, event.content,
                       COALESCE(\(transactionID)::text, txid_current()::text), \(Date())
                FROM unnest(\(ids)::uuid[], \(creationTimes)::timestamptz[], \(contents)::text[]) WITH ORDINALITY
                    AS event(id, created, content, position)
                ORDER BY event.position
                RETURNING transaction_id
                """, logger: logger)
            for try await transaction in rows.decode(String?.self) { saved = transaction }
        } catch {
            let first = ids[0].uuidString.lowercased()
            let which = ids.count == 1 ? "event \(first)" : "\(ids.count) events (first \(first))"
            if PostgresFailure.sqlState(error) == "23505" {
                throw EventBusError.storeFailed("saving \(which) failed: an event with this id is saved already; give each event a new id")
            }
            throw EventBusError.storeFailed(
                "saving \(which) failed: \(PostgresFailure.reason(error)); check that PostgresEventStore.migrate() ran on this database and search_path")
        }
        return zip(events, contents).map { event, content in
            IntegrationEventLogEntry(
                eventID: event.id, eventTypeName: typeName, state: state, timesSent: Int(timesSent), creationTime: event.creationDate,
                content: content, transactionID: saved)
        }
    }

    /// Records a processed id inside the caller's transaction; `false` when already recorded (then roll back or skip
    /// the effect). A concurrent transaction recording the same id waits for this one and then gets `false`.
    ///
    /// Cost: one round trip (`INSERT … ON CONFLICT DO NOTHING`) on `connection`.
    public static func markProcessed(consumer: String, messageID: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES (\(consumer), \(messageID), \(Date()))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            return inserted
        } catch {
            throw EventBusError.storeFailed(
                "recording processed message \(messageID) failed: \(PostgresFailure.reason(error)); check that PostgresEventStore.migrate() ran on this database")
        }
    }

    /// Parses `postgres://user:pass@host:port/db` (or `postgresql://`) into a `PostgresClient.Configuration`.
    /// No TLS unless the query says so: `sslmode=require` (TLS without certificate checks, as libpq), `verify-ca`
    /// (certificate checked, host name not), `verify-full` (both), `prefer`. Default port 5432; default database the
    /// user's name.
    public static func clientConfiguration(url: String) throws -> PostgresClient.Configuration {
        try PostgresURL.configuration(url)
    }

    /// `url` with its password replaced by `***`, for messages and logs.
    public static func maskedURL(_ url: String) -> String {
        PostgresURL.masked(url)
    }

    // MARK: - IntegrationEventLog

    /// Claims due events with `FOR UPDATE SKIP LOCKED` (see `IntegrationEventLog.claimPending(limit:staleAfter:now:)`).
    /// Cost: one round trip (one statement, its own transaction).
    public func claimPending(limit: Int, staleAfter: Duration, now: Date) async throws -> [IntegrationEventLogEntry] {
        let staleBefore = PostgresSchema.bounded(now.addingTimeInterval(-staleAfter.timeInterval))
        let limit = max(1, limit)
        // Returned in creation order, insertion order among equal creation times (a transaction's events).
        let query: PostgresQuery = """
            WITH claimed AS (
                UPDATE integration_event_log AS log
                SET state = 'InProgress', times_sent = log.times_sent + 1, updated_at = \(now)
                WHERE log.event_id IN (
                    SELECT event_id FROM integration_event_log
                    WHERE state <> 'Published'
                      AND (state = 'NotPublished'
                           OR (state = 'PublishedFailed' AND next_attempt_at <= \(now))
                           OR (state = 'InProgress' AND updated_at <= \(staleBefore)))
                    ORDER BY creation_time, sequence
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: PostgresSchema.columns), sequence)
            SELECT \(unescaped: PostgresSchema.columns) FROM claimed ORDER BY creation_time, sequence
            """
        return try await entries("claiming pending events", query)
    }

    /// Marks one `NotPublished` event `InProgress`. Cost: one round trip.
    public func markInProgress(eventID: UUID, now: Date) async throws -> Bool {
        try await markInProgress(eventIDs: [eventID], now: now).contains(eventID)
    }

    /// Marks the `NotPublished` events among `eventIDs` `InProgress` (times sent + 1). Cost: one round trip.
    public func markInProgress(eventIDs: [UUID], now: Date) async throws -> Set<UUID> {
        guard !eventIDs.isEmpty else { return [] }
        return try await run("marking events InProgress") { logger in
            let rows = try await self.client.query(
                """
                UPDATE integration_event_log SET state = 'InProgress', times_sent = times_sent + 1, updated_at = \(now)
                WHERE event_id = ANY(\(eventIDs)) AND state = 'NotPublished'
                RETURNING event_id
                """, logger: logger)
            var marked: Set<UUID> = []
            for try await id in rows.decode(UUID.self) { marked.insert(id) }
            return marked
        }
    }

    /// Marks an event `Published`. Cost: one round trip.
    public func markPublished(eventID: UUID) async throws {
        try await markPublished(eventIDs: [eventID])
    }

    /// Marks events `Published`. Cost: one round trip.
    public func markPublished(eventIDs: [UUID]) async throws {
        guard !eventIDs.isEmpty else { return }
        let now = Date()
        try await run("marking events Published") { logger in
            _ = try await self.client.query(
                """
                UPDATE integration_event_log SET state = 'Published', next_attempt_at = NULL, updated_at = \(now)
                WHERE event_id = ANY(\(eventIDs))
                """, logger: logger)
        }
    }

    /// Marks an event `PublishedFailed` (unless it was published meanwhile). Cost: one round trip.
    public func markFailed(eventID: UUID, error: String, nextAttemptAt: Date) async throws {
        let now = Date()
        let nextAttemptAt = PostgresSchema.bounded(nextAttemptAt)
        try await run("marking event \(eventID.uuidString.lowercased()) PublishedFailed") { logger in
            _ = try await self.client.query(
                """
                UPDATE integration_event_log
                SET state = 'PublishedFailed', last_error = \(error), next_attempt_at = \(nextAttemptAt), updated_at = \(now)
                WHERE event_id = \(eventID) AND state <> 'Published'
                """, logger: logger)
        }
    }

    /// Marks an event `PublishedFailed` with no next attempt (it can never be published as it is). Cost: one round
    /// trip.
    public func markFailedPermanently(eventID: UUID, error: String) async throws {
        let now = Date()
        try await run("marking event \(eventID.uuidString.lowercased()) PublishedFailed for good") { logger in
            _ = try await self.client.query(
                """
                UPDATE integration_event_log
                SET state = 'PublishedFailed', last_error = \(error), next_attempt_at = NULL, updated_at = \(now)
                WHERE event_id = \(eventID) AND state <> 'Published'
                """, logger: logger)
        }
    }

    /// Restarts the in-flight time of claimed events about to be published; returns those still claimed by this
    /// claim (`InProgress` with its times sent). Cost: one round trip.
    public func renewClaims(_ entries: [IntegrationEventLogEntry], now: Date) async throws -> Set<UUID> {
        guard !entries.isEmpty else { return [] }
        let ids = entries.map(\.eventID)
        let times = entries.map { Int64(clamping: $0.timesSent) }
        return try await run("renewing claimed events") { logger in
            let rows = try await self.client.query(
                """
                UPDATE integration_event_log AS log SET updated_at = \(now)
                FROM unnest(\(ids)::uuid[], \(times)::int8[]) AS claim(id, times_sent)
                WHERE log.event_id = claim.id AND log.times_sent = claim.times_sent AND log.state = 'InProgress'
                RETURNING log.event_id
                """, logger: logger)
            var renewed: Set<UUID> = []
            for try await id in rows.decode(UUID.self) { renewed.insert(id) }
            return renewed
        }
    }

    /// Deletes `Published` events created before `date`, 5 000 rows per statement. Cost: one round trip per 5 000 rows.
    @discardableResult
    public func prunePublished(createdBefore date: Date) async throws -> Int {
        let date = PostgresSchema.bounded(date)
        return try await pruneInBatches("pruning published events") {
            """
            WITH deleted AS (
                DELETE FROM integration_event_log WHERE event_id IN (
                    SELECT event_id FROM integration_event_log
                    WHERE state = 'Published' AND creation_time < \(date) LIMIT \(PostgresSchema.pruneBatch))
                RETURNING 1)
            SELECT count(*)::int8 FROM deleted
            """
        }
    }

    /// Counts events not yet published and finds the oldest one's creation time. Cost: one round trip (an index scan).
    public func pendingSummary() async throws -> (count: Int, oldest: Date?) {
        try await run("reading the outbox summary") { logger in
            let rows = try await self.client.query(
                "SELECT count(*)::int8, min(creation_time) FROM integration_event_log WHERE state <> 'Published'", logger: logger)
            var summary: (count: Int, oldest: Date?) = (0, nil)
            for try await (count, oldest) in rows.decode((Int, Date?).self) { summary = (count, oldest.map(PostgresSchema.bounded)) }
            return summary
        }
    }

    /// Counts per state, the oldest unpublished event, and up to `failedLimit` failed events (oldest first).
    /// Cost: two round trips (the counts, through the partial indexes, then the failed rows), each its own snapshot.
    public func status(failedLimit: Int) async throws -> OutboxStatus {
        let (counts, oldest) = try await run("reading the outbox status") { logger -> ([EventState: Int], Date?) in
            let rows = try await self.client.query(
                """
                SELECT state, count(*)::int8, min(creation_time) FROM integration_event_log
                WHERE state <> 'Published' GROUP BY state
                UNION ALL
                SELECT 'Published', count(*)::int8, NULL::timestamptz FROM integration_event_log WHERE state = 'Published'
                """, logger: logger)
            var counts: [EventState: Int] = [:]
            var oldest: Date?
            for try await (text, count, earliest) in rows.decode((String, Int, Date?).self) {
                guard let state = EventState(rawValue: text) else { continue }
                counts[state] = count
                if state != .published, let earliest, oldest.map({ earliest < $0 }) ?? true { oldest = PostgresSchema.bounded(earliest) }
            }
            return (counts, oldest)
        }
        let failed = try await entries(
            "reading the failed events",
            """
            SELECT \(unescaped: PostgresSchema.columns) FROM integration_event_log
            WHERE state = 'PublishedFailed' ORDER BY creation_time, sequence LIMIT \(max(0, failedLimit))
            """)
        return OutboxStatus(counts: counts, oldestPending: oldest, failed: failed)
    }

    /// Makes `PublishedFailed` events due at `now` (all, or those among `eventIDs`); returns how many. Cost: one round
    /// trip.
    @discardableResult
    public func retryFailed(eventIDs: [UUID]?, now: Date) async throws -> Int {
        if let eventIDs, eventIDs.isEmpty { return 0 }
        let everyFailed = eventIDs == nil
        let chosen = eventIDs ?? []
        return try await run("making failed events due") { logger in
            let query: PostgresQuery = """
                WITH due AS (
                    UPDATE integration_event_log SET next_attempt_at = \(now), updated_at = \(now)
                    WHERE state = 'PublishedFailed' AND (\(everyFailed) OR event_id = ANY(\(chosen)))
                    RETURNING 1)
                SELECT count(*)::int8 FROM due
                """
            var count = 0
            for try await value in try await self.client.query(query, logger: logger).decode(Int.self) { count = value }
            return count
        }
    }

    /// One event's row, or `nil` when there is none (for tools and tests). Cost: one round trip.
    public func entry(eventID: UUID) async throws -> IntegrationEventLogEntry? {
        try await entries(
            "reading event \(eventID.uuidString.lowercased())",
            "SELECT \(unescaped: PostgresSchema.columns) FROM integration_event_log WHERE event_id = \(eventID)"
        ).first
    }

    // MARK: - ProcessedMessageStore

    /// Whether `messageID` was recorded for `consumer`. Cost: one round trip.
    public func contains(consumer: String, messageID: String) async throws -> Bool {
        try await run("looking up processed message \(messageID)") { logger in
            let rows = try await self.client.query(
                "SELECT 1 FROM processed_messages WHERE consumer = \(consumer) AND message_id = \(messageID)", logger: logger)
            var found = false
            for try await _ in rows { found = true }
            return found
        }
    }

    /// Records `messageID` for `consumer`; `false` when it was recorded already. Cost: one round trip.
    @discardableResult
    public func markProcessed(consumer: String, messageID: String, at date: Date = Date()) async throws -> Bool {
        try await run("recording processed message \(messageID)") { logger in
            let rows = try await self.client.query(
                """
                INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES (\(consumer), \(messageID), \(date))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            return inserted
        }
    }

    /// Forgets ids recorded before `date`, 5 000 per statement. Cost: one round trip per 5 000 rows.
    @discardableResult
    public func prune(processedBefore date: Date) async throws -> Int {
        let date = PostgresSchema.bounded(date)
        return try await pruneInBatches("pruning processed messages") {
            """
            WITH deleted AS (
                DELETE FROM processed_messages WHERE (consumer, message_id) IN (
                    SELECT consumer, message_id FROM processed_messages
                    WHERE processed_at < \(date) LIMIT \(PostgresSchema.pruneBatch))
                RETURNING 1)
            SELECT count(*)::int8 FROM deleted
            """
        }
    }

    // MARK: - Helpers

    /// Runs one of the store's own calls, bounded by ``operationTimeout`` (see `BoundedCall`: a query that
    /// postgres-nio never answers is abandoned, not awaited).
    private func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Logger) async throws -> T) async throws -> T {
        let logger = self.logger
        let timeout = operationTimeout
        do {
            return try await BoundedCall<T>(timeout: timeout).run { try await body(logger) }
        } catch is BoundedCall<T>.Ending {
            throw EventBusError.storeFailed(
                "\(what) failed: PostgreSQL did not answer within \(timeout); check that PostgreSQL is running and reachable at the configured host and port, and that the client's run() is running")
        } catch {
            throw PostgresFailure.error(what, error)
        }
    }

    private func entries(_ what: String, _ query: PostgresQuery) async throws -> [IntegrationEventLogEntry] {
        try await run(what) { logger in
            let rows = try await self.client.query(query, logger: logger)
            var entries: [IntegrationEventLogEntry] = []
            for try await row in rows { entries.append(try PostgresSchema.entry(row)) }
            return entries
        }
    }

    private func pruneInBatches(_ what: String, _ query: @escaping @Sendable () -> PostgresQuery) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await run(what) { logger in
                let rows = try await self.client.query(query(), logger: logger)
                var count = 0
                for try await value in rows.decode(Int.self) { count = value }
                return count
            }
            total += deleted
            if deleted < PostgresSchema.pruneBatch { return total }
        }
    }
}

/// An error thrown by the caller's closure, carried through the transaction unchanged.
private struct CallerError: Error {
    let error: any Error
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
#endif
