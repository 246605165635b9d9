// Compiled with the SQLite trait (on by default; see Package.swift).
#if SQLite
import EventBus
import Foundation
import GRDB

/// The SQLite tables, their versioned migrations, and the statements the store runs.
enum SQLiteSchema {
    /// Migrations in order; a version never changes once released (add a new one instead).
    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (
            1, "integration_event_log and processed_messages",
            [
                """
                CREATE TABLE integration_event_log (
                    event_id TEXT NOT NULL PRIMARY KEY,
                    event_type_name TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'NotPublished'
                        CHECK (state IN ('NotPublished', 'InProgress', 'Published', 'PublishedFailed')),
                    times_sent INTEGER NOT NULL DEFAULT 0,
                    creation_time REAL NOT NULL,
                    content TEXT NOT NULL,
                    transaction_id TEXT,
                    next_attempt_at REAL,
                    last_error TEXT,
                    updated_at REAL NOT NULL
                )
                """,
                // The relay's claim walks pending rows in creation order; pruning walks published ones.
                "CREATE INDEX integration_event_log_pending ON integration_event_log (creation_time) WHERE state <> 'Published'",
                "CREATE INDEX integration_event_log_published ON integration_event_log (creation_time) WHERE state = 'Published'",
                """
                CREATE TABLE processed_messages (
                    consumer TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    processed_at REAL NOT NULL,
                    PRIMARY KEY (consumer, message_id)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX processed_messages_processed_at ON processed_messages (processed_at)",
            ]
        )
    ]

    /// Applies the migrations not recorded yet; returns their versions. Runs inside the caller's transaction.
    static func migrate(_ db: Database) throws -> [Int] {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS eventbus_migrations (
                    version INTEGER NOT NULL PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at REAL NOT NULL
                )
                """)
        let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM eventbus_migrations"))
        var newlyApplied: [Int] = []
        for migration in migrations where !applied.contains(migration.version) {
            for statement in migration.statements { try db.execute(sql: statement) }
            try db.execute(
                sql: "INSERT INTO eventbus_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                arguments: [migration.version, migration.name, Date().timeIntervalSince1970])
            newlyApplied.append(migration.version)
        }
        return newlyApplied
    }

    static let columns =
        "event_id, event_type_name, state, times_sent, creation_time, content, transaction_id, next_attempt_at, last_error"

    static let insertEvent = """
        INSERT INTO integration_event_log
            (event_id, event_type_name, state, times_sent, creation_time, content, transaction_id, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Arguments: now, now (next attempt due), stale-before, limit.
    static let claim = """
        UPDATE integration_event_log
        SET state = 'InProgress', times_sent = times_sent + 1, updated_at = ?1
        WHERE event_id IN (
            SELECT event_id FROM integration_event_log
            WHERE state <> 'Published'
              AND (state = 'NotPublished'
                   OR (state = 'PublishedFailed' AND next_attempt_at <= ?2)
                   OR (state = 'InProgress' AND updated_at <= ?3))
            ORDER BY creation_time, rowid
            LIMIT ?4)
        RETURNING \(columns), rowid
        """

    /// Arguments: now, JSON array of ids.
    static let markInProgress = """
        UPDATE integration_event_log
        SET state = 'InProgress', times_sent = times_sent + 1, updated_at = ?1
        WHERE event_id IN (SELECT value FROM json_each(?2)) AND state = 'NotPublished'
        RETURNING event_id
        """

    /// Arguments: now, JSON array of ids.
    static let markPublished = """
        UPDATE integration_event_log
        SET state = 'Published', next_attempt_at = NULL, updated_at = ?1
        WHERE event_id IN (SELECT value FROM json_each(?2))
        """

    /// Arguments: error, next attempt, now, id.
    static let markFailed = """
        UPDATE integration_event_log
        SET state = 'PublishedFailed', last_error = ?1, next_attempt_at = ?2, updated_at = ?3
        WHERE event_id = ?4 AND state <> 'Published'
        """

    static let pruneBatch = 5_000

    /// Arguments: cutoff, batch size.
    static let prunePublished = """
        DELETE FROM integration_event_log WHERE rowid IN (
            SELECT rowid FROM integration_event_log WHERE state = 'Published' AND creation_time < ?1 LIMIT ?2)
        """

    static let pendingSummary = """
        SELECT COUNT(*) AS pending, MIN(creation_time) AS oldest
        FROM integration_event_log WHERE state <> 'Published'
        """

    /// Pending rows per state (through the pending index), then the published count (its own partial index).
    static let pendingCounts = "SELECT state, COUNT(*) AS count FROM integration_event_log WHERE state <> 'Published' GROUP BY state"
    static let publishedCount = "SELECT COUNT(*) FROM integration_event_log WHERE state = 'Published'"

    /// Arguments: limit.
    static let failedEvents = """
        SELECT \(columns) FROM integration_event_log
        WHERE state = 'PublishedFailed' ORDER BY creation_time, rowid LIMIT ?
        """

    /// Arguments: now (next attempt and update time), JSON array of ids or NULL for every failed event.
    static let retryFailed = """
        UPDATE integration_event_log SET next_attempt_at = ?1, updated_at = ?1
        WHERE state = 'PublishedFailed' AND (?2 IS NULL OR event_id IN (SELECT value FROM json_each(?2)))
        """

    /// Arguments: error, now, rowid. A claimed row that cannot be read ends `PublishedFailed` with no next attempt.
    static let markUnreadable = """
        UPDATE integration_event_log
        SET state = 'PublishedFailed', last_error = ?1, next_attempt_at = NULL, updated_at = ?2
        WHERE rowid = ?3
        """

    /// Arguments: error, now, id. No next attempt: the relay leaves the row until `eventbus outbox retry`.
    static let markFailedPermanently = """
        UPDATE integration_event_log
        SET state = 'PublishedFailed', last_error = ?1, next_attempt_at = NULL, updated_at = ?2
        WHERE event_id = ?3 AND state <> 'Published'
        """

    /// Arguments: now, JSON array of [id, times sent] pairs. Restarts the in-flight time of rows still claimed.
    static let renewClaims = """
        UPDATE integration_event_log SET updated_at = ?1
        WHERE state = 'InProgress'
          AND event_id IN (SELECT json_extract(value, '$[0]') FROM json_each(?2))
          AND times_sent = (SELECT json_extract(value, '$[1]') FROM json_each(?2) WHERE json_extract(value, '$[0]') = event_id)
        RETURNING event_id
        """

    static let selectEvent = "SELECT \(columns) FROM integration_event_log WHERE event_id = ?"

    static let insertProcessed = "INSERT OR IGNORE INTO processed_messages (consumer, message_id, processed_at) VALUES (?, ?, ?)"

    static let containsProcessed = "SELECT 1 FROM processed_messages WHERE consumer = ? AND message_id = ?"

    /// Arguments: cutoff, batch size.
    static let pruneProcessed = """
        DELETE FROM processed_messages WHERE (consumer, message_id) IN (
            SELECT consumer, message_id FROM processed_messages WHERE processed_at < ?1 LIMIT ?2)
        """

    /// The primary key of an event: its id in lower case, as it goes on the wire.
    static func key(_ id: UUID) -> String { id.lowercasedText }

    static func jsonArray(_ ids: [UUID]) -> String {
        "[" + ids.map { "\"\(key($0))\"" }.joined(separator: ",") + "]"
    }

    /// Reads a row of ``columns``. Numbers and times written by an older version or by hand are clamped (a count to
    /// 0...Int32.max, a time to the years 1...9999); a row that still does not fit (no UUID id, no type, no content, an
    /// unknown state) is an error, never a crash.
    static func entry(_ row: Row) throws -> IntegrationEventLogEntry {
        func value<Value: DatabaseValueConvertible>(_ column: String, _ type: Value.Type) -> Value? {
            Value.fromDatabaseValue(row[column] as DatabaseValue)
        }
        guard let idText = value("event_id", String.self), let id = UUID(text: idText),
            let typeName = value("event_type_name", String.self),
            let stateText = value("state", String.self), let state = EventState(rawValue: stateText),
            let content = value("content", String.self)
        else {
            throw EventBusError.storeFailed(
                "reading integration_event_log failed: a row has an unexpected shape (\(row.description.prefix(200))); fix or delete that row")
        }
        return IntegrationEventLogEntry(
            eventID: id, eventTypeName: typeName, state: state, timesSent: count(row["times_sent"]),
            creationTime: date(row["creation_time"]) ?? Date(timeIntervalSince1970: 0), content: content,
            transactionID: value("transaction_id", String.self),
            nextAttemptAt: date(row["next_attempt_at"]), lastError: value("last_error", String.self))
    }

    /// The latest time a stored time is read as: 9999-12-31T23:59:59Z; the earliest is 0001-01-01T00:00:00Z.
    static let latestSeconds: Double = 253_402_300_799
    static let earliestSeconds: Double = -62_135_596_800

    /// A stored time (Unix seconds, any number) as a date within the years 1...9999; `nil` for NULL or text.
    static func date(_ value: DatabaseValue) -> Date? {
        let seconds: Double
        switch value.storage {
        case .double(let double): seconds = double.isNaN ? 0 : double
        case .int64(let integer): seconds = Double(integer)
        default: return nil
        }
        return Date(timeIntervalSince1970: min(max(seconds, earliestSeconds), latestSeconds))
    }

    /// A stored count (any number) as 0...Int32.max; text or NULL count 0.
    static func count(_ value: DatabaseValue) -> Int {
        let limit = Int(Int32.max)
        switch value.storage {
        case .int64(let integer): return Int(min(max(integer, 0), Int64(limit)))
        case .double(let double):
            guard !double.isNaN else { return 0 }
            return Int(min(max(double, 0), Double(limit)))
        default: return 0
        }
    }
}

/// Turns SQLite failures into `EventBusError.storeFailed(_:)` that name the file and say what to check.
enum SQLiteFailure {
    static func error(_ what: String, path: String, busyTimeout: Duration, _ error: any Error) -> any Error {
        if case EventBusError.storeFailed = error { return error }
        if error is CancellationError { return error }
        guard let database = error as? DatabaseError else {
            return EventBusError.storeFailed("\(what) failed on \(path): \(error)")
        }
        let code = database.resultCode
        let reason = "\(database.message ?? "\(code)") (SQLite error \(code.rawValue))"
        let advice: String
        switch code {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            advice = "another process or connection held a lock on \(path) for longer than \(busyTimeout); check for a process keeping a write transaction open on it (e.g. `fuser \(path)`), then retry"
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            advice = "\(path) is not a valid SQLite database (corrupt, or another kind of file): move it (and its -wal/-shm files) away or restore it from a backup"
        case .SQLITE_CANTOPEN:
            advice = "check that the directory of \(path) exists and that this process may read and write there"
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
            advice = "\(path) cannot be written: check its permissions and those of its directory (WAL mode needs to create \(path)-wal and \(path)-shm)"
        case .SQLITE_FULL:
            advice = "the disk holding \(path) is full: free space"
        case .SQLITE_IOERR:
            advice = "reading or writing \(path) failed: check the disk and the file system"
        default:
            advice = "check \(path) with `sqlite3 \(path) 'PRAGMA integrity_check'`"
        }
        return EventBusError.storeFailed("\(what) failed on \(path): \(reason); \(advice)")
    }

    /// The reason in words, for errors inside the caller's transaction.
    static func reason(_ error: any Error) -> String {
        guard let database = error as? DatabaseError else { return "\(error)" }
        return "\(database.message ?? "\(database.resultCode)") (SQLite error \(database.resultCode.rawValue))"
    }
}
#endif
