import EventBus
import EventBusPostgres
import Foundation
import PostgresNIO

public enum PostgresTestEnvironment {
    /// `EVENTBUS_POSTGRES_URL` (set by scripts/with-services.sh), or the private cluster of scripts/postgres.sh.
    public static var url: String {
        TestEnvironment.postgresURL
    }

    /// Quiet unless something is critical (postgres-nio logs connection trouble at higher levels).
    public static let logger: Logger = {
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .critical
        return logger
    }()

    /// A client whose tables resolve in `schema` (its `search_path`), so that each test sees only its own rows.
    public static func makeClient(schema: String, maximumConnections: Int = 20) throws -> PostgresClient {
        var configuration = try PostgresEventStore.clientConfiguration(url: url)
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
}

public struct PostgresUnreachable: Error, CustomStringConvertible {
    public let url: String
    public let reason: String
    public init(url: String, reason: String) {
        self.url = url
        self.reason = reason
    }
    public var description: String {
        "PostgreSQL at \(url) is unreachable (\(reason)): start it with `scripts/postgres.sh start` (make test does), or set EVENTBUS_POSTGRES_URL"
    }
}

/// Runs `body` with `count` stores (each on its own client, like separate processes) over one new schema, migrated;
/// drops the schema afterwards. Fails, never skips, when PostgreSQL cannot be reached.
public func withPostgresStores<T: Sendable>(
    count: Int = 1, maximumConnections: Int = 20, _ body: @Sendable ([PostgresEventStore]) async throws -> T
) async throws -> T {
    try await withPostgresStores(count: count, maximumConnections: maximumConnections) { stores, _ in try await body(stores) }
}

/// ``withPostgresStores(count:maximumConnections:_:)`` that also tells `body` the schema's name (for tools that take
/// it as an option).
public func withPostgresStores<T: Sendable>(
    count: Int = 1, maximumConnections: Int = 20, _ body: @Sendable ([PostgresEventStore], String) async throws -> T
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
            let result = try await body(stores, schema)
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
public func withDeadline<T: Sendable>(_ limit: Duration, _ error: any Error, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
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
