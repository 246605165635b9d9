// Compiled with the PostgreSQL trait (on by default; see Package.swift).
#if PostgreSQL
import EventBus
import Foundation
import PostgresNIO

/// The PostgreSQL tables and their versioned migrations.
enum PostgresSchema {
    /// First half of the advisory lock key that serializes migrations of one schema across instances (any fixed number).
    static let migrationLockClass: Int32 = 0x4576_4275  // "EvBu"; the other half of the key is the schema's hash

    static let createMigrationsTable: PostgresQuery = """
        CREATE TABLE IF NOT EXISTS eventbus_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// Migrations in order; a version never changes once released (add a new one instead).
    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (
            1, "integration_event_log and processed_messages",
            [
                """
                CREATE TABLE integration_event_log (
                    event_id uuid PRIMARY KEY,
                    event_type_name text NOT NULL,
                    state text NOT NULL DEFAULT 'NotPublished'
                        CHECK (state IN ('NotPublished', 'InProgress', 'Published', 'PublishedFailed')),
                    times_sent integer NOT NULL DEFAULT 0,
                    creation_time timestamptz NOT NULL,
                    content text NOT NULL,
                    transaction_id text,
                    next_attempt_at timestamptz,
                    last_error text,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // The relay's claim walks pending rows in creation order; pruning walks published ones.
                "CREATE INDEX integration_event_log_pending ON integration_event_log (creation_time) WHERE state <> 'Published'",
                "CREATE INDEX integration_event_log_published ON integration_event_log (creation_time) WHERE state = 'Published'",
                """
                CREATE TABLE processed_messages (
                    consumer text NOT NULL,
                    message_id text NOT NULL,
                    processed_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (consumer, message_id)
                )
                """,
                "CREATE INDEX processed_messages_processed_at ON processed_messages (processed_at)",
            ]
        ),
        (
            2, "integration_event_log.sequence: insertion order, the tie-break of equal creation times",
            [
                "ALTER TABLE integration_event_log ADD COLUMN sequence bigserial",
            ]
        ),
    ]

    static let columns =
        "event_id, event_type_name, state, times_sent, creation_time, content, transaction_id, next_attempt_at, last_error"

    static let pruneBatch = 5_000

    /// Reads a row of ``columns``; a row that does not fit is an error, never a crash.
    static func entry(_ row: PostgresRow) throws -> IntegrationEventLogEntry {
        let (id, typeName, stateText, timesSent, creation, content, transactionID, nextAttempt, lastError) = try row.decode(
            (UUID, String, String, Int, Date, String, String?, Date?, String?).self)
        guard let state = EventState(rawValue: stateText) else {
            throw EventBusError.storeFailed(
                "reading integration_event_log failed: event \(id.uuidString.lowercased()) has unknown state '\(stateText)'; fix or delete that row")
        }
        return IntegrationEventLogEntry(
            eventID: id, eventTypeName: typeName, state: state, timesSent: max(0, timesSent), creationTime: bounded(creation),
            content: content, transactionID: transactionID, nextAttemptAt: nextAttempt.map(bounded), lastError: lastError)
    }

    /// `date` within the years 1...9999: a time read from a row (`infinity` is allowed in timestamptz) or computed
    /// from a configured duration, so that printing it or sending it back (postgres-nio's `Int64(…)`) cannot trap.
    static func bounded(_ date: Date) -> Date {
        let seconds = date.timeIntervalSince1970
        guard !seconds.isNaN else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: min(max(seconds, -62_135_596_800), 253_402_300_799))
    }
}

/// Turns postgres-nio failures into `EventBusError.storeFailed(_:)` that say what failed and what to check.
enum PostgresFailure {
    static func error(_ what: String, _ error: any Error) -> any Error {
        if case EventBusError.storeFailed = error { return error }
        if error is CancellationError { return error }
        let advice: String
        if let psql = error as? PSQLError {
            switch psql.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
                advice = "check that PostgreSQL is running and reachable at the configured host and port, and that the client's run() is running"
            case .server:
                switch psql.serverInfo?[.sqlState] {
                case "42P01": advice = "a table is missing: run PostgresEventStore.migrate() first (and check search_path)"
                case "28000", "28P01": advice = "check the user name and password"
                case "3D000": advice = "the database does not exist: create it"
                case "53300": advice = "PostgreSQL has no free connection slots: lower maximumConnections or raise max_connections"
                default: advice = "see PostgreSQL's message above"
                }
            default:
                advice = "check the PostgreSQL server's log"
            }
        } else {
            advice = "check that PostgreSQL is reachable and the client's run() is running"
        }
        return EventBusError.storeFailed("\(what) failed: \(reason(error)); \(advice)")
    }

    /// The reason in words: postgres-nio's description hides server details on purpose, so they are read here.
    static func reason(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError {
            return transaction.closureError.map { reason($0) } ?? "\(transaction)"
        }
        guard let psql = error as? PSQLError else { return "\(error)" }
        if let info = psql.serverInfo {
            let message = info[.message] ?? "server error"
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let detail = info[.detail].map { ": \($0)" } ?? ""
            return message + detail + state
        }
        if let underlying = psql.underlying { return "\(psql.code): \(underlying)" }
        return "\(psql.code)"
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}

/// `postgres://user:password@host:port/database?sslmode=…` → `PostgresClient.Configuration`.
enum PostgresURL {
    static func configuration(_ text: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw EventBusError.invalidConfiguration(
                "PostgreSQL URL '\(masked(text))' is not of the form postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw EventBusError.invalidConfiguration("PostgreSQL URL '\(masked(text))' has no host")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw EventBusError.invalidConfiguration("PostgreSQL URL '\(masked(text))' has no user name")
        }
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        var database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if database.isEmpty { database = user }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else {
            throw EventBusError.invalidConfiguration("PostgreSQL URL '\(masked(text))' has port \(port), outside 1...65535")
        }
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value?.lowercased() ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable", "allow":
            tls = .disable
        case "prefer":
            tls = .prefer(.makeClientConfiguration())
        case "require":
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .none
            tls = .require(settings)
        case "verify-ca":
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .noHostnameVerification
            tls = .require(settings)
        case "verify-full":
            tls = .require(.makeClientConfiguration())
        default:
            throw EventBusError.invalidConfiguration(
                "PostgreSQL URL '\(masked(text))' has sslmode=\(mode); use disable, prefer, require, verify-ca or verify-full")
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// The URL with its password replaced by `***`, for errors and logs. Works on the text alone (a URL that does not
    /// parse is masked too): everything between `scheme://user:` and the last `@` goes; without `@`, a "port" that is
    /// not a number may be a mistyped password, and it goes with all after it.
    static func masked(_ text: String) -> String {
        let start = text.range(of: "://")?.upperBound ?? text.startIndex
        if let at = text[start...].lastIndex(of: "@") {
            guard let colon = text[start..<at].firstIndex(of: ":") else { return text }
            return String(text[..<colon]) + ":***" + String(text[at...])
        }
        let authority = text[start...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let colon = authority.firstIndex(of: ":"), !authority[authority.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber }) else { return text }
        return String(text[..<colon]) + ":***"
    }
}
#endif
