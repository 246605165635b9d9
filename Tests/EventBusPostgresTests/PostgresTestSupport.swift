import EventBus
import EventBusPostgres
import Foundation
import PostgresNIO
import TestSupport
import Testing

enum PostgresTestEnvironment {
    /// `EVENTBUS_POSTGRES_URL` (set by scripts/with-services.sh), or the private cluster of scripts/postgres.sh.
    static var url: String {
        TestEnvironment.postgresURL
    }

    /// Quiet unless something is critical (postgres-nio logs connection trouble at higher levels).
    static let logger: Logger = {
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .critical
        return logger
    }()

    /// A client whose tables resolve in `schema` (its `search_path`), so that each test sees only its own rows.
    static func makeClient(schema: String, maximumConnections: Int = 20) throws -> PostgresClient {
        var configuration = try PostgresEventStore.clientConfiguration(url: url)
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
}

struct PostgresUnreachable: Error, CustomStringConvertible {
    let url: String
    let reason: String
    var description: String {
        "PostgreSQL at \(url) is unreachable (\(reason)): start it with `scripts/postgres.sh start` (make test does), or set EVENTBUS_POSTGRES_URL"
    }
}

/// Runs `body` with `count` stores (each on its own client, like separate processes) over one new schema, migrated;
/// drops the schema afterwards. Fails, never skips, when PostgreSQL cannot be reached.
func withPostgresStores<T: Sendable>(
    count: Int = 1, maximumConnections: Int = 20, _ body: @Sendable ([PostgresEventStore]) async throws -> T
) async throws -> T {
    let schema = "eventbus_test_\(UInt64.random(in: 0...UInt64.max))"
    let clients = try (0..<max(1, count)).map { _ in
        try PostgresTestEnvironment.makeClient(schema: schema, maximumConnections: maximumConnections)
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients { group.addTask { await client.run() } }
        let stores = clients.map { PostgresEventStore(client: $0, logger: PostgresTestEnvironment.logger) }
        do {
            try await withDeadline(.seconds(15), PostgresUnreachable(url: PostgresTestEnvironment.url, reason: "no answer within 15 s")) {
                do {
                    try await clients[0].query("CREATE SCHEMA \(unescaped: schema)", logger: PostgresTestEnvironment.logger)
                } catch {
                    throw PostgresUnreachable(url: PostgresTestEnvironment.url, reason: "\(String(reflecting: error))")
                }
            }
            try await stores[0].migrate()
            let result = try await body(stores)
            _ = try? await clients[0].query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: PostgresTestEnvironment.logger)
            group.cancelAll()
            return result
        } catch {
            _ = try? await clients[0].query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: PostgresTestEnvironment.logger)
            group.cancelAll()
            throw error
        }
    }
}

/// Runs `operation`, throwing `error` when it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ error: any Error, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw error }
        return value
    }
}

/// Creates the test's domain table (the service's own data) in the store's schema.
func createDomainTables(_ store: PostgresEventStore) async throws {
    try await store.client.query(
        "CREATE TABLE IF NOT EXISTS catalog_item (id integer PRIMARY KEY, price numeric NOT NULL)", logger: PostgresTestEnvironment.logger)
    try await store.client.query(
        "CREATE TABLE IF NOT EXISTS price_effect (product_id integer PRIMARY KEY, applied integer NOT NULL)",
        logger: PostgresTestEnvironment.logger)
}

func count(_ store: PostgresEventStore, _ table: String) async throws -> Int {
    let rows = try await store.client.query("SELECT count(*)::int8 FROM \(unescaped: table)", logger: PostgresTestEnvironment.logger)
    var result = 0
    for try await value in rows.decode(Int.self) { result = value }
    return result
}
