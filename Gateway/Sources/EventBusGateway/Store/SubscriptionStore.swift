import EventBusPostgres
import EventBusSQLite
import Foundation
import GRDB
import Logging
import PostgresNIO
import Synchronization

/// Where webhook subscriptions made through `PUT /api/subscriptions/{name}` are kept, so a restarted gateway
/// delivers them again. The definition is stored as its JSON (secret included: protect the database as you do the
/// config file).
public protocol SubscriptionStore: Sendable {
    /// Creates the table when missing. Cost: one transaction.
    func migrate() async throws
    /// Every stored subscription by name. Cost: one query.
    func all() async throws -> [String: WebhookSubscription]
    /// Creates or replaces a subscription. Cost: one transaction.
    func save(name: String, _ subscription: WebhookSubscription) async throws
    /// Deletes a subscription; returns whether it existed. Cost: one transaction.
    func delete(name: String) async throws -> Bool
}

enum SubscriptionRecord {
    static func encode(_ subscription: WebhookSubscription) throws -> String {
        String(decoding: try JSONEncoder().encode(subscription), as: UTF8.self)
    }

    static func decode(_ text: String, name: String) throws -> WebhookSubscription {
        do {
            return try JSONDecoder().decode(WebhookSubscription.self, from: Data(text.utf8))
        } catch {
            throw GatewayError.storeFailed("stored subscription '\(name)' is unreadable (\(error)); PUT it again or DELETE it")
        }
    }
}

/// Subscriptions in memory (tests; a gateway with only config-file subscriptions).
public final class InMemorySubscriptionStore: SubscriptionStore {
    private let rows = Mutex<[String: WebhookSubscription]>([:])
    public init() {}
    public func migrate() async throws {}
    public func all() async throws -> [String: WebhookSubscription] { rows.withLock { $0 } }
    public func save(name: String, _ subscription: WebhookSubscription) async throws { rows.withLock { $0[name] = subscription } }
    public func delete(name: String) async throws -> Bool { rows.withLock { $0.removeValue(forKey: name) != nil } }
}

/// Subscriptions in the gateway's SQLite file (the default), in table `eventbus_gateway_subscriptions` beside the
/// bus's processed-message table.
public final class SQLiteSubscriptionStore: SubscriptionStore {
    let store: SQLiteEventStore

    public init(store: SQLiteEventStore) { self.store = store }

    public func migrate() async throws {
        try await store.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS eventbus_gateway_subscriptions (
                    name TEXT PRIMARY KEY NOT NULL, definition TEXT NOT NULL, updated_at REAL NOT NULL)
                """)
        }
    }

    public func all() async throws -> [String: WebhookSubscription] {
        let rows = try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, definition FROM eventbus_gateway_subscriptions").map { ($0["name"] as String, $0["definition"] as String) }
        }
        var result: [String: WebhookSubscription] = [:]
        for (name, text) in rows { result[name] = try SubscriptionRecord.decode(text, name: name) }
        return result
    }

    public func save(name: String, _ subscription: WebhookSubscription) async throws {
        let text = try SubscriptionRecord.encode(subscription)
        try await store.write { db in
            try db.execute(
                sql: "INSERT INTO eventbus_gateway_subscriptions (name, definition, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                arguments: [name, text, Date().timeIntervalSince1970])
        }
        try await store.makeDurable()
    }

    public func delete(name: String) async throws -> Bool {
        let deleted = try await store.write { db in
            try db.execute(sql: "DELETE FROM eventbus_gateway_subscriptions WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
        try await store.makeDurable()
        return deleted
    }
}

/// Subscriptions in PostgreSQL, table `eventbus_gateway_subscriptions` in the store's schema.
public final class PostgresSubscriptionStore: SubscriptionStore {
    let store: PostgresEventStore

    public init(store: PostgresEventStore) { self.store = store }

    public func migrate() async throws {
        try await store.withTransaction { connection in
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS eventbus_gateway_subscriptions (
                    name TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: Logger(label: "eventbus.gateway.store"))
        }
    }

    public func all() async throws -> [String: WebhookSubscription] {
        let rows = try await store.withTransaction { connection -> [(String, String)] in
            var rows: [(String, String)] = []
            for try await row in try await connection.query(
                "SELECT name, definition FROM eventbus_gateway_subscriptions", logger: Logger(label: "eventbus.gateway.store")
            ).decode((String, String).self) {
                rows.append(row)
            }
            return rows
        }
        var result: [String: WebhookSubscription] = [:]
        for (name, text) in rows { result[name] = try SubscriptionRecord.decode(text, name: name) }
        return result
    }

    public func save(name: String, _ subscription: WebhookSubscription) async throws {
        let text = try SubscriptionRecord.encode(subscription)
        try await store.withTransaction { connection in
            try await connection.query("""
                INSERT INTO eventbus_gateway_subscriptions (name, definition) VALUES (\(name), \(text))
                ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = now()
                """, logger: Logger(label: "eventbus.gateway.store"))
        }
    }

    public func delete(name: String) async throws -> Bool {
        try await store.withTransaction { connection in
            var found = false
            for try await _ in try await connection.query(
                "DELETE FROM eventbus_gateway_subscriptions WHERE name = \(name) RETURNING name", logger: Logger(label: "eventbus.gateway.store")
            ) {
                found = true
            }
            return found
        }
    }
}
