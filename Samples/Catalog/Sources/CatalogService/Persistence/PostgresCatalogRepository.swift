import EventBus
import EventBusPostgres
import Foundation
import Logging
import PostgresNIO

/// The catalog on PostgreSQL, in the same database as the outbox, so that an item and its events commit together.
/// Prices are `NUMERIC`: exact, like the JSON.
public struct PostgresCatalogRepository: CatalogRepository {
    let store: PostgresEventStore
    let logger: Logger

    /// Uses the tables of `store`'s database.
    public init(store: PostgresEventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func migrate() async throws {
        try await store.client.query("""
            CREATE TABLE IF NOT EXISTS catalog_items (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                price NUMERIC NOT NULL
            )
            """, logger: logger)
    }

    public func seedIfEmpty(_ items: [CatalogItem]) async throws {
        let logger = self.logger
        try await store.withTransaction { connection in
            // Two instances starting together: the lock makes the second wait, then see the seeded rows.
            try await connection.query("LOCK TABLE catalog_items IN EXCLUSIVE MODE", logger: logger)
            let rows = try await connection.query("SELECT COUNT(*) FROM catalog_items", logger: logger)
            var count = 0
            for try await value in rows.decode(Int.self) { count = value }
            guard count == 0 else { return }
            for item in items {
                try await connection.query(
                    "INSERT INTO catalog_items (id, name, description, price) VALUES (\(item.id), \(item.name), \(item.description), \(item.price))",
                    logger: logger)
            }
        }
    }

    public func page(index: Int, size: Int) async throws -> (items: [CatalogItem], total: Int) {
        let window = try CatalogPaging.window(index: index, size: size)
        var total = 0
        for try await value in try await store.client.query("SELECT COUNT(*) FROM catalog_items", logger: logger).decode(Int.self) {
            total = value
        }
        let rows = try await store.client.query(
            "SELECT id, name, description, price FROM catalog_items ORDER BY id LIMIT \(window.limit) OFFSET \(window.offset)", logger: logger)
        var items: [CatalogItem] = []
        for try await (id, name, description, price) in rows.decode((Int, String, String, Decimal).self) {
            items.append(CatalogItem(id: id, name: name, description: description, price: price))
        }
        return (items, total)
    }

    public func item(id: Int) async throws -> CatalogItem? {
        let rows = try await store.client.query("SELECT id, name, description, price FROM catalog_items WHERE id = \(id)", logger: logger)
        for try await (id, name, description, price) in rows.decode((Int, String, String, Decimal).self) {
            return CatalogItem(id: id, name: name, description: description, price: price)
        }
        return nil
    }

    public func update(
        _ update: CatalogItemUpdate,
        events: @escaping @Sendable (_ previous: CatalogItem, _ updated: CatalogItem) -> [ProductPriceChangedIntegrationEvent]
    ) async throws -> CatalogItemChange? {
        let logger = self.logger
        return try await store.withTransaction { connection -> CatalogItemChange? in
            let rows = try await connection.query(
                "SELECT id, name, description, price FROM catalog_items WHERE id = \(update.id) FOR UPDATE", logger: logger)
            var found: CatalogItem?
            for try await (id, name, description, price) in rows.decode((Int, String, String, Decimal).self) {
                found = CatalogItem(id: id, name: name, description: description, price: price)
            }
            guard let previous = found else { return nil }
            let item = update.applied(to: previous)
            try await connection.query(
                "UPDATE catalog_items SET name = \(item.name), description = \(item.description), price = \(item.price) WHERE id = \(item.id)",
                logger: logger)
            let changes = events(previous, item)
            // Same transaction as the UPDATE: the outbox row exists if and only if the new price does. One statement
            // for all of them, saved claimed: the controller hands them to its OutboxPublisher right after the commit,
            // which then needs no marking transaction of its own (the relay sends them if this process dies first).
            let entries = try await PostgresEventStore.save(changes, on: connection, claimForPublisher: true, logger: logger)
            return CatalogItemChange(previous: previous, item: item, events: changes, outboxEntries: entries)
        }
    }
}
