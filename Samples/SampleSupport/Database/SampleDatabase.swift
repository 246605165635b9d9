import EventBus
import EventBusPostgres
import EventBusSQLite
import Foundation
import GRDB
import Logging
import PostgresNIO
import ServiceLifecycle

/// A sample's database: the library's outbox and processed-message store, on SQLite or PostgreSQL, plus whatever
/// tables the service keeps there. The service's repositories switch over it once, at start-up; everything else
/// is database-agnostic.
public enum SampleDatabase: Sendable {
    /// An embedded SQLite database (WAL; the default).
    case sqlite(SQLiteEventStore)
    /// A PostgreSQL database; its client must run (see ``services``).
    case postgres(PostgresEventStore)

    /// Opens the database, runs the library's migrations, then `prepare` (the service's own tables and seed data).
    ///
    /// PostgreSQL: a short-lived client runs the migrations, so that the tables exist before any service of the
    /// returned database (relay, bus handlers, HTTP) starts; the returned store's client runs in the ServiceGroup.
    /// Throws when the database cannot be reached within `timeout`.
    public static func open(
        _ location: DatabaseLocation, logger: Logger, timeout: Duration = .seconds(30),
        prepare: @escaping @Sendable (SampleDatabase) async throws -> Void
    ) async throws -> SampleDatabase {
        switch location {
        case .sqlite(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let database = SampleDatabase.sqlite(try SQLiteEventStore(path: path, logger: logger))
            try await prepare(database)
            return database
        case .postgres(let url):
            let configuration = try PostgresEventStore.clientConfiguration(url: url)
            let migrationClient = PostgresClient(configuration: configuration, backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await migrationClient.run() }
                defer { group.cancelAll() }
                try await withDeadline(timeout, what: "migrating \(location)") {
                    let store = PostgresEventStore(client: migrationClient, logger: logger)
                    try await store.migrate()
                    try await prepare(.postgres(store))
                }
            }
            return .postgres(PostgresEventStore(client: PostgresClient(configuration: configuration, backgroundLogger: logger), logger: logger))
        }
    }

    /// The processed-message store the bus deduplicates with.
    public var processedMessages: any ProcessedMessageStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let store): store
        }
    }

    /// The integration event log (outbox) the publisher and relay work on.
    public var eventLog: any IntegrationEventLog {
        switch self {
        case .sqlite(let store): store
        case .postgres(let store): store
        }
    }

    /// What must run in the service group for this database: PostgreSQL's connection pool; nothing for SQLite.
    public var services: [any Service] {
        switch self {
        case .sqlite: []
        case .postgres(let store): [store.client]
        }
    }

    /// `sqlite` or `postgres`.
    public var kind: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// Whether the database answers a trivial query within `timeout`. One round trip: for `/health`.
    public func isReachable(timeout: Duration = .seconds(2)) async -> Bool {
        do {
            return try await withDeadline(timeout, what: "database health check") {
                switch self {
                case .sqlite(let store):
                    return try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT 1") } == 1
                case .postgres(let store):
                    let rows = try await store.client.query("SELECT 1", logger: Logger(label: "health", factory: { _ in SwiftLogNoOpLogHandler() }))
                    for try await value in rows.decode(Int.self) { return value == 1 }
                    return false
                }
            }
        } catch {
            return false
        }
    }
}
