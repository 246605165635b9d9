// Compiled with the SQLite trait (on by default; see Package.swift).
#if SQLite
import EventBus
import Foundation
import GRDB
import Logging

/// The transactional outbox (`IntegrationEventLog`) and the processed-message store on one SQLite file, through
/// GRDB: the embedded default (DESIGN section 6).
///
/// A service keeps its own tables in the same file and saves its change and its events in one transaction:
///
/// ```swift
/// let store = try SQLiteEventStore(path: "catalog.sqlite")
/// let entry = try await store.write { db in
///     try db.execute(sql: "UPDATE catalog_item SET price = ? WHERE id = ?", arguments: [newPrice, id])
///     return try SQLiteEventStore.save(event, in: db)
/// }
/// await publisher.publish([entry])    // an OutboxPublisher, after the commit
/// ```
///
/// And a consumer records the processed id inside the transaction that applies the event, for an exactly-once effect:
///
/// ```swift
/// try await store.write { db in
///     guard try SQLiteEventStore.markProcessed(consumer: context.consumer, messageID: context.eventID, in: db) else { return }
///     try db.execute(sql: "UPDATE basket_item SET unit_price = ? WHERE product_id = ?", arguments: [event.newPrice, event.productId])
/// }
/// ```
///
/// The file is opened in WAL mode (readers never wait for the writer) with `synchronous = NORMAL`: a commit costs
/// no fsync. Durability before publishing comes from the outbox itself: marking events `InProgress` (the publisher's
/// and the relay's claim) is followed by an fsync of the write-ahead log, which makes that commit and every earlier
/// one durable, so an event never reaches the broker before the transaction that saved it is on disk (events saved
/// `InProgress` already, with `claimForPublisher`, get the same fsync from ``makeCommitsDurable()``). That fsync
/// runs outside the write lock and is shared by concurrent claims, so writers never wait for the disk. A consumer's
/// effect is made durable the same way before its delivery is acknowledged (``makeDurable()``, called by the bus).
/// All writes go through GRDB's single writer connection, in order; reads use a pool of reader connections.
///
/// Tables (created by the library's versioned migrations, recorded in `eventbus_migrations`):
/// `integration_event_log` (`event_id` text primary key, `event_type_name`, `state`, `times_sent`,
/// `creation_time`, `content`, `transaction_id`, `next_attempt_at`, `last_error`, `updated_at`; times are Unix
/// seconds as REAL) and `processed_messages` (`consumer`, `message_id`, `processed_at`).
public final class SQLiteEventStore: IntegrationEventLog, ProcessedMessageStore, Sendable {
    /// The database file's path.
    public let path: String
    /// How long a write waits for a lock held by another connection or process before failing.
    public let busyTimeout: Duration
    private let pool: DatabasePool
    /// The shared fsync of the write-ahead log (internal for tests, which count its rounds).
    let walSync: WALSyncBarrier
    private let logger: Logger

    /// The GRDB writer, for the service's own migrations and reads (a `DatabasePool`). Transactions that save
    /// events should go through ``write(_:)`` (or this writer's `write`).
    public var database: any DatabaseWriter { pool }

    /// Opens (creating if needed) the database at `path` in WAL mode and runs the library's migrations.
    ///
    /// Cost: opening the file and one write transaction (the migrations; nothing when they ran before).
    /// - Parameters:
    ///   - path: The database file. Its directory must exist and be writable (WAL mode adds `-wal` and `-shm` files).
    ///   - busyTimeout: How long to wait for another process's lock before failing with a clear error.
    ///   - logger: Where the store logs (migrations, unreadable outbox rows, a failed log sync).
    /// - Throws: `EventBusError.storeFailed(_:)` saying which file failed and what to check (not a database,
    ///   corrupt, locked by another process, not writable).
    public init(
        path: String, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "eventbus.sqlite", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        self.path = path
        self.busyTimeout = busyTimeout
        self.logger = logger
        self.walSync = WALSyncBarrier(databasePath: path)
        var configuration = Configuration()
        configuration.label = "eventbus.sqlite"
        configuration.busyMode = .timeout(busyTimeout.timeInterval)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw SQLiteFailure.error("opening the SQLite database", path: path, busyTimeout: busyTimeout, error)
        }
        try migrate()
    }

    /// Runs the library's migrations that have not run yet, in one write transaction. Running them again is
    /// harmless: applied versions are recorded in `eventbus_migrations`. ``init(path:busyTimeout:logger:)`` calls it.
    public func migrate() throws {
        do {
            let applied = try pool.writeWithoutTransaction { db -> [Int] in
                var applied: [Int] = []
                try db.inTransaction(.immediate) {
                    applied = try SQLiteSchema.migrate(db)
                    return .commit
                }
                return applied
            }
            if !applied.isEmpty {
                logger.info("outbox: SQLite migrations applied", metadata: ["path": "\(path)", "versions": "\(applied)"])
            }
        } catch {
            throw SQLiteFailure.error("migrating the SQLite database", path: path, busyTimeout: busyTimeout, error)
        }
    }

    // MARK: - The caller's transaction

    /// Runs `updates` in one write transaction (the service's own SQL + ``save(_:in:codec:transactionID:claimForPublisher:)->IntegrationEventLogEntry`` /
    /// ``markProcessed(consumer:messageID:in:)`` calls): it commits when `updates` returns and rolls back when it
    /// throws. Errors thrown by `updates` are rethrown as they are; failures to begin or commit (a locked or broken
    /// file) become `EventBusError.storeFailed(_:)`.
    ///
    /// Cost: one write transaction, serialized with every other write to this file; no fsync (see the type's notes).
    public func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write { db in
                do {
                    return try updates(db)
                } catch {
                    throw CallerError(error: error)
                }
            }
        } catch let error as CallerError {
            throw error.error
        } catch {
            throw SQLiteFailure.error("a write transaction", path: path, busyTimeout: busyTimeout, error)
        }
    }

    /// Saves an event in the caller's transaction; returns its entry (pass it to `OutboxPublisher` after commit).
    ///
    /// Cost: one `INSERT` (a cached statement) in the caller's transaction.
    /// - Parameters:
    ///   - event: The event; its id is the row's primary key, its creation date the row's creation time.
    ///   - db: The caller's database connection, inside a transaction (``write(_:)``).
    ///   - codec: How the body is encoded (camelCase by default; PascalCase for .NET consumers).
    ///   - transactionID: A name for the transaction, stored in `transaction_id` (SQLite has none of its own).
    ///   - claimForPublisher: `true` when you hand the entry to `OutboxPublisher` right after the commit: the row is
    ///     saved `InProgress` (times sent 1), so the publisher skips its own marking transaction and the relay leaves
    ///     the row alone. If the process dies before the publish is confirmed, the relay sends the event once it is
    ///     stale (`OutboxRelay.Configuration.staleAfter`, counted from the save, so commit well within it) instead
    ///     of at its next poll. Hand each such entry to the publisher once: it sends claimed entries without asking
    ///     the store. Default `false`: the row is `NotPublished` and either may send it.
    /// - Throws: `EventBusError.encodingFailed(eventType:reason:)`, or `EventBusError.storeFailed(_:)` when not in a
    ///   transaction, when the event id is saved already, or when the insert fails.
    public static func save<Event: IntegrationEvent>(
        _ event: Event, in db: Database, codec: EventCodec = .init(), transactionID: String? = nil,
        claimForPublisher: Bool = false
    ) throws -> IntegrationEventLogEntry {
        guard db.isInsideTransaction else {
            throw EventBusError.storeFailed(
                "saving event \(event.id.uuidString.lowercased()) failed: not inside a transaction; call save inside store.write { db in … } so the event commits with your change")
        }
        let content: String
        do {
            content = String(decoding: try codec.encode(event), as: UTF8.self)
        } catch {
            throw EventBusError.encodingFailed(eventType: Event.eventTypeName, reason: "\(error)")
        }
        let entry = IntegrationEventLogEntry(
            eventID: event.id, eventTypeName: Event.eventTypeName, state: claimForPublisher ? .inProgress : .notPublished,
            timesSent: claimForPublisher ? 1 : 0, creationTime: event.creationDate, content: content,
            transactionID: transactionID)
        do {
            let statement = try db.cachedStatement(sql: SQLiteSchema.insertEvent)
            try statement.execute(arguments: [
                SQLiteSchema.key(entry.eventID), entry.eventTypeName, entry.state.rawValue, entry.timesSent,
                entry.creationTime.timeIntervalSince1970, content, transactionID, Date().timeIntervalSince1970,
            ])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
            throw EventBusError.storeFailed(
                "saving event \(SQLiteSchema.key(entry.eventID)) failed: an event with this id is saved already; give each event a new id")
        } catch {
            throw EventBusError.storeFailed(
                "saving event \(SQLiteSchema.key(entry.eventID)) failed: \(SQLiteFailure.reason(error)); check that the database was opened by SQLiteEventStore (its migrations create integration_event_log)")
        }
        return entry
    }

    /// Saves several events in the caller's transaction; returns their entries in the order given (pass them to
    /// `OutboxPublisher` after commit, which publishes them in that order).
    ///
    /// Cost: one `INSERT` (a cached statement) per event, all in the caller's transaction.
    /// - Throws: as ``save(_:in:codec:transactionID:claimForPublisher:)``, at the first event that fails (roll back:
    ///   throw from `write`).
    public static func save<Event: IntegrationEvent>(
        _ events: [Event], in db: Database, codec: EventCodec = .init(), transactionID: String? = nil,
        claimForPublisher: Bool = false
    ) throws -> [IntegrationEventLogEntry] {
        try events.map { try save($0, in: db, codec: codec, transactionID: transactionID, claimForPublisher: claimForPublisher) }
    }

    /// Records a processed id inside the caller's transaction; `false` when already recorded (then roll back or skip
    /// the effect). Use it in the transaction that applies the event's effect: both commit or neither.
    ///
    /// Cost: one `INSERT OR IGNORE` (a cached statement) in the caller's transaction.
    public static func markProcessed(consumer: String, messageID: String, in db: Database) throws -> Bool {
        do {
            let statement = try db.cachedStatement(sql: SQLiteSchema.insertProcessed)
            try statement.execute(arguments: [consumer, messageID, Date().timeIntervalSince1970])
            return db.changesCount > 0
        } catch {
            throw EventBusError.storeFailed(
                "recording processed message \(messageID) failed: \(SQLiteFailure.reason(error)); check that the database was opened by SQLiteEventStore (its migrations create processed_messages)")
        }
    }

    // MARK: - IntegrationEventLog

    /// Claims due events (see `IntegrationEventLog.claimPending(limit:staleAfter:now:)`) in one `BEGIN IMMEDIATE`
    /// transaction, then a shared fsync of the write-ahead log. Cost: one write transaction and a share of one fsync.
    public func claimPending(limit: Int, staleAfter: Duration, now: Date) async throws -> [IntegrationEventLogEntry] {
        let staleBefore = now.addingTimeInterval(-staleAfter.timeInterval).timeIntervalSince1970
        // RETURNING's order is unspecified: sort by creation time, then insertion order (a transaction's events).
        return try await durableWrite("claiming pending events") { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: SQLiteSchema.claim),
                arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970, staleBefore, max(1, limit)])
            let ordered = rows.map { row -> (time: Double, rowid: Int64, row: Row) in
                let time = SQLiteSchema.date(row["creation_time"])?.timeIntervalSince1970 ?? 0
                return (time, Int64.fromDatabaseValue(row["rowid"] as DatabaseValue) ?? 0, row)
            }.sorted { ($0.time, $0.rowid) < ($1.time, $1.rowid) }
            var entries: [IntegrationEventLogEntry] = []
            for (_, rowid, row) in ordered {
                do {
                    entries.append(try SQLiteSchema.entry(row))
                } catch {
                    // A row no sender can read (written by hand or another program) ends failed with the reason
                    // instead of failing every claim after it.
                    self.logger.error(
                        "outbox: a row of integration_event_log cannot be read; it is marked PublishedFailed and never sent",
                        metadata: ["path": "\(self.path)", "rowid": "\(rowid)", "error": "\(error)"])
                    try db.cachedStatement(sql: SQLiteSchema.markUnreadable).execute(
                        arguments: ["\(error); it is never sent: fix the row and run `eventbus outbox retry`", now.timeIntervalSince1970, rowid])
                }
            }
            return entries
        }
    }

    /// Marks one `NotPublished` event `InProgress`. Cost: one write transaction and a share of one fsync.
    public func markInProgress(eventID: UUID, now: Date) async throws -> Bool {
        try await markInProgress(eventIDs: [eventID], now: now).contains(eventID)
    }

    /// Marks the `NotPublished` events among `eventIDs` `InProgress` (times sent + 1). Cost: one write transaction
    /// and a share of one fsync (outside the write lock), which also makes every earlier commit durable before the
    /// events are published.
    public func markInProgress(eventIDs: [UUID], now: Date) async throws -> Set<UUID> {
        guard !eventIDs.isEmpty else { return [] }
        let ids = SQLiteSchema.jsonArray(eventIDs)
        let marked = try await durableWrite("marking events InProgress") { db in
            try String.fetchAll(db.cachedStatement(sql: SQLiteSchema.markInProgress), arguments: [now.timeIntervalSince1970, ids])
        }
        return Set(marked.compactMap { UUID(text: $0) })
    }

    /// Makes every transaction committed so far durable (a share of one fsync of the write-ahead log, no write
    /// transaction): `OutboxPublisher` calls it before publishing entries saved with `claimForPublisher`, so those
    /// too reach the broker only once the transaction that saved them is on disk.
    public func makeCommitsDurable() async throws {
        try await syncLog("making commits durable")
    }

    /// Marks an event `Published`. Cost: one write transaction.
    public func markPublished(eventID: UUID) async throws {
        try await markPublished(eventIDs: [eventID])
    }

    /// Marks events `Published`. Cost: one write transaction.
    public func markPublished(eventIDs: [UUID]) async throws {
        guard !eventIDs.isEmpty else { return }
        let ids = SQLiteSchema.jsonArray(eventIDs)
        let now = Date().timeIntervalSince1970
        try await storeWrite("marking events Published") { db in
            try db.cachedStatement(sql: SQLiteSchema.markPublished).execute(arguments: [now, ids])
        }
    }

    /// Marks an event `PublishedFailed` (unless it was published meanwhile). Cost: one write transaction.
    public func markFailed(eventID: UUID, error: String, nextAttemptAt: Date) async throws {
        let now = Date().timeIntervalSince1970
        try await storeWrite("marking event \(SQLiteSchema.key(eventID)) PublishedFailed") { db in
            try db.cachedStatement(sql: SQLiteSchema.markFailed).execute(
                arguments: [error, nextAttemptAt.timeIntervalSince1970, now, SQLiteSchema.key(eventID)])
        }
    }

    /// Marks an event `PublishedFailed` with no next attempt (it can never be published as it is). Cost: one write
    /// transaction.
    public func markFailedPermanently(eventID: UUID, error: String) async throws {
        let now = Date().timeIntervalSince1970
        try await storeWrite("marking event \(SQLiteSchema.key(eventID)) PublishedFailed for good") { db in
            try db.cachedStatement(sql: SQLiteSchema.markFailedPermanently).execute(arguments: [error, now, SQLiteSchema.key(eventID)])
        }
    }

    /// Restarts the in-flight time of claimed events about to be published; returns those still claimed by this
    /// claim. Cost: one write transaction, no fsync (losing it in a crash only makes the rows stale sooner).
    public func renewClaims(_ entries: [IntegrationEventLogEntry], now: Date) async throws -> Set<UUID> {
        guard !entries.isEmpty else { return [] }
        let pairs = "[" + entries.map { "[\"\(SQLiteSchema.key($0.eventID))\",\($0.timesSent)]" }.joined(separator: ",") + "]"
        let renewed = try await storeWrite("renewing claimed events") { db in
            try String.fetchAll(db.cachedStatement(sql: SQLiteSchema.renewClaims), arguments: [now.timeIntervalSince1970, pairs])
        }
        return Set(renewed.compactMap { UUID(text: $0) })
    }

    /// Deletes `Published` events created before `date`, 5 000 rows per write transaction so that writers are never
    /// held up for long. Cost: one write transaction per 5 000 rows.
    @discardableResult
    public func prunePublished(createdBefore date: Date) async throws -> Int {
        try await pruneInBatches("pruning published events", sql: SQLiteSchema.prunePublished, before: date)
    }

    /// Counts events not yet published and finds the oldest one's creation time. Cost: one read (an index scan).
    public func pendingSummary() async throws -> (count: Int, oldest: Date?) {
        let (count, oldest) = try await storeRead("reading the outbox summary") { db -> (Int, Date?) in
            let row = try Row.fetchOne(db, sql: SQLiteSchema.pendingSummary)
            return (
                row.flatMap { Int.fromDatabaseValue($0["pending"] as DatabaseValue) } ?? 0,
                row.flatMap { SQLiteSchema.date($0["oldest"]) }
            )
        }
        return (count, oldest)
    }

    /// Counts per state, the oldest unpublished event, and up to `failedLimit` failed events (oldest first), read in
    /// one snapshot. Cost: one read (index scans; the failed events' rows).
    public func status(failedLimit: Int) async throws -> OutboxStatus {
        try await storeRead("reading the outbox status") { db in
            var counts: [EventState: Int] = [:]
            for row in try Row.fetchAll(db, sql: SQLiteSchema.pendingCounts) {
                guard let text = String.fromDatabaseValue(row["state"] as DatabaseValue), let state = EventState(rawValue: text) else {
                    continue
                }
                counts[state] = Int.fromDatabaseValue(row["count"] as DatabaseValue) ?? 0
            }
            counts[.published] = try Int.fetchOne(db, sql: SQLiteSchema.publishedCount) ?? 0
            let oldest = try Row.fetchOne(db, sql: SQLiteSchema.pendingSummary).flatMap { SQLiteSchema.date($0["oldest"]) }
            // A failed row that cannot be read (no UUID id) is counted but cannot be listed.
            let failed = try Row.fetchAll(db, sql: SQLiteSchema.failedEvents, arguments: [max(0, failedLimit)])
                .compactMap { try? SQLiteSchema.entry($0) }
            return OutboxStatus(counts: counts, oldestPending: oldest, failed: failed)
        }
    }

    /// Makes `PublishedFailed` events due at `now` (all, or those among `eventIDs`); returns how many. Cost: one write
    /// transaction.
    @discardableResult
    public func retryFailed(eventIDs: [UUID]?, now: Date) async throws -> Int {
        if let eventIDs, eventIDs.isEmpty { return 0 }
        let ids = eventIDs.map(SQLiteSchema.jsonArray)
        return try await storeWrite("making failed events due") { db -> Int in
            try db.execute(sql: SQLiteSchema.retryFailed, arguments: [now.timeIntervalSince1970, ids])
            return db.changesCount
        }
    }

    /// One event's row, or `nil` when there is none (for tools and tests). Cost: one read.
    public func entry(eventID: UUID) async throws -> IntegrationEventLogEntry? {
        try await storeRead("reading event \(SQLiteSchema.key(eventID))") { db in
            try Row.fetchOne(db, sql: SQLiteSchema.selectEvent, arguments: [SQLiteSchema.key(eventID)]).map(SQLiteSchema.entry)
        }
    }

    // MARK: - ProcessedMessageStore

    /// Whether `messageID` was recorded for `consumer`. Cost: one read.
    public func contains(consumer: String, messageID: String) async throws -> Bool {
        try await storeRead("looking up processed message \(messageID)") { db in
            try Bool.fetchOne(db, sql: SQLiteSchema.containsProcessed, arguments: [consumer, messageID]) ?? false
        }
    }

    /// Records `messageID` for `consumer`; `false` when it was recorded already. Cost: one write transaction.
    @discardableResult
    public func markProcessed(consumer: String, messageID: String, at date: Date = Date()) async throws -> Bool {
        try await storeWrite("recording processed message \(messageID)") { db in
            try db.cachedStatement(sql: SQLiteSchema.insertProcessed).execute(arguments: [consumer, messageID, date.timeIntervalSince1970])
            return db.changesCount > 0
        }
    }

    /// Makes every transaction committed on this file so far durable: the recorded ids and the effects that handlers
    /// committed in their own transactions on the same file (another file is not covered: make that one durable
    /// yourself). The bus calls it before acknowledging, so an acknowledged effect survives a power loss. Cost: a share
    /// of one fsync of the write-ahead log (concurrent handlers share it), outside the write lock.
    public func makeDurable() async throws {
        try await syncLog("making processed messages durable")
    }

    /// Forgets ids recorded before `date`, 5 000 per write transaction. Cost: one write transaction per 5 000 rows.
    @discardableResult
    public func prune(processedBefore date: Date) async throws -> Int {
        try await pruneInBatches("pruning processed messages", sql: SQLiteSchema.pruneProcessed, before: date)
    }

    // MARK: - Helpers

    private func pruneInBatches(_ what: String, sql: String, before date: Date) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await storeWrite(what) { db -> Int in
                try db.cachedStatement(sql: sql).execute(arguments: [date.timeIntervalSince1970, SQLiteSchema.pruneBatch])
                return db.changesCount
            }
            total += deleted
            if deleted < SQLiteSchema.pruneBatch { return total }
        }
    }

    private func storeWrite<T: Sendable>(_ what: String, _ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(updates)
        } catch {
            throw SQLiteFailure.error(what, path: path, busyTimeout: busyTimeout, error)
        }
    }

    private func storeRead<T: Sendable>(_ what: String, _ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(value)
        } catch {
            throw SQLiteFailure.error(what, path: path, busyTimeout: busyTimeout, error)
        }
    }

    /// A `BEGIN IMMEDIATE` transaction, then a sync of the write-ahead log (``WALSyncBarrier``) that makes it and
    /// every earlier commit durable. The flush happens outside the write lock and is shared with concurrent callers,
    /// so other writers never wait for the disk. Should the log be unavailable, a `FULL` checkpoint syncs instead.
    private func durableWrite<T: Sendable>(_ what: String, _ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result: T
        do {
            result = try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try updates(db)
                    return .commit
                }
                guard let result else { throw EventBusError.storeFailed("\(what) returned nothing") }
                return result
            }
        } catch {
            throw SQLiteFailure.error(what, path: path, busyTimeout: busyTimeout, error)
        }
        try await syncLog(what)
        return result
    }

    /// Makes every commit so far durable: a shared sync of the write-ahead log, or a `FULL` checkpoint should the
    /// log be unavailable.
    private func syncLog(_ what: String) async throws {
        do {
            try await walSync.sync()
        } catch {
            logger.warning(
                "outbox: syncing the SQLite write-ahead log failed; checkpointing instead",
                metadata: ["path": "\(path)", "error": "\(error)"])
            do {
                _ = try await pool.writeWithoutTransaction { db in try db.checkpoint(.full) }
            } catch {
                throw SQLiteFailure.error("\(what) (making it durable)", path: path, busyTimeout: busyTimeout, error)
            }
        }
    }
}

/// An error thrown by the caller's closure, carried through GRDB unchanged.
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
