import EventBus
import EventBusSQLite
import Foundation
import GRDB

/// The catalog on SQLite, in the same database file as the outbox, so that an item and its events commit together.
/// Prices are stored as decimal text: exact, like the JSON.
public struct SQLiteCatalogRepository: CatalogRepository {
    let store: SQLiteEventStore

    /// Uses the tables of `store`'s database.
    public init(store: SQLiteEventStore) {
        self.store = store
    }

    public func migrate() async throws {
        try await store.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS catalog_items (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL,
                    price TEXT NOT NULL
                )
                """)
        }
    }

    public func seedIfEmpty(_ items: [CatalogItem]) async throws {
        try await store.write { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM catalog_items") == 0 else { return }
            for item in items {
                try db.execute(
                    sql: "INSERT INTO catalog_items (id, name, description, price) VALUES (?, ?, ?, ?)",
                    arguments: [item.id, item.name, item.description, "\(item.price)"])
            }
        }
    }

    public func page(index: Int, size: Int) async throws -> (items: [CatalogItem], total: Int) {
        let window = try CatalogPaging.window(index: index, size: size)
        return try await store.database.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM catalog_items") ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, name, description, price FROM catalog_items ORDER BY id LIMIT ? OFFSET ?",
                arguments: [window.limit, window.offset])
            return (try rows.map(Self.item(from:)), total)
        }
    }

    public func item(id: Int) async throws -> CatalogItem? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT id, name, description, price FROM catalog_items WHERE id = ?", arguments: [id])
                .map(Self.item(from:))
        }
    }

    public func update(
        _ update: CatalogItemUpdate,
        events: @escaping @Sendable (_ previous: CatalogItem, _ updated: CatalogItem) -> [ProductPriceChangedIntegrationEvent]
    ) async throws -> CatalogItemChange? {
        try await store.write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, name, description, price FROM catalog_items WHERE id = ?", arguments: [update.id])
            else { return nil }
            let previous = try Self.item(from: row)
            let item = update.applied(to: previous)
            try db.execute(
                sql: "UPDATE catalog_items SET name = ?, description = ?, price = ? WHERE id = ?",
                arguments: [item.name, item.description, "\(item.price)", item.id])
            let changes = events(previous, item)
            // Same transaction as the UPDATE: the outbox row exists if and only if the new price does.
            // Saved claimed: the controller hands them to its OutboxPublisher right after the commit (see the PostgreSQL
            // repository).
            let entries = try SQLiteEventStore.save(changes, in: db, claimForPublisher: true)
            return CatalogItemChange(previous: previous, item: item, events: changes, outboxEntries: entries)
        }
    }

    static func item(from row: Row) throws -> CatalogItem {
        let text: String = row["price"]
        guard let price = Decimal(string: text) else { throw CatalogStorageError.corruptPrice(text) }
        return CatalogItem(id: row["id"], name: row["name"], description: row["description"], price: price)
    }
}
