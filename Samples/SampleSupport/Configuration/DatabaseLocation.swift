import EventBus
import EventBusPostgres
import Foundation

/// Where a sample keeps its data: a SQLite file (the default) or a PostgreSQL database.
///
/// Parsed from `DATABASE_URL`: a `postgres://` or `postgresql://` URL selects PostgreSQL; anything else is a SQLite
/// path (`catalog.sqlite`, `/data/basket.sqlite`, or `sqlite:///data/basket.sqlite`).
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    /// A SQLite database file (created when missing).
    case sqlite(path: String)
    /// A PostgreSQL database, as a `postgres://user:password@host:port/database` URL.
    case postgres(url: String)

    /// Parses a `DATABASE_URL` value.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw EventBusError.invalidConfiguration("DATABASE_URL is empty") }
        if trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") {
            self = .postgres(url: trimmed)
        } else if trimmed.hasPrefix("sqlite://") {
            self = .sqlite(path: String(trimmed.dropFirst("sqlite://".count)))
        } else if trimmed.hasPrefix("sqlite:") {
            self = .sqlite(path: String(trimmed.dropFirst("sqlite:".count)))
        } else {
            self = .sqlite(path: trimmed)
        }
    }

    /// The kind of store, for logs and `/health`: `sqlite` or `postgres`.
    public var kind: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// The location with any password masked, safe for logs: everything between `postgres://user:` and the URL's
    /// last `@` is `***`, whether or not the URL parses.
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite:\(path)"
        case .postgres(let url):
            return PostgresEventStore.maskedURL(url)
        }
    }
}
