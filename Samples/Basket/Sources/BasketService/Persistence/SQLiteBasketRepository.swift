import EventBusSQLite
import Foundation
import GRDB

/// Baskets on SQLite, in the same database file as the processed-message store, so that a price change and the
/// record of its event commit together. Prices are decimal text (exact); times are seconds since 1970.
public struct SQLiteBasketRepository: BasketRepository {
    let store: SQLiteEventStore

    /// Uses the tables of `store`'s database.
    public init(store: SQLiteEventStore) {
        self.store = store
    }

    public func migrate() async throws {
        try await store.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS baskets (
                    buyer_id TEXT PRIMARY KEY,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE IF NOT EXISTS basket_items (
                    buyer_id TEXT NOT NULL REFERENCES baskets(buyer_id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    product_id INTEGER NOT NULL,
                    product_name TEXT NOT NULL,
                    unit_price TEXT NOT NULL,
                    old_unit_price TEXT NOT NULL,
                    quantity INTEGER NOT NULL,
                    price_updated_at REAL,
                    PRIMARY KEY (buyer_id, id)
                );
                CREATE INDEX IF NOT EXISTS basket_items_by_product ON basket_items (product_id);
                CREATE TABLE IF NOT EXISTS product_prices (
                    product_id INTEGER PRIMARY KEY,
                    price TEXT NOT NULL,
                    changed_at REAL NOT NULL
                );
                CREATE TABLE IF NOT EXISTS basket_price_change_effects (
                    event_id TEXT NOT NULL,
                    consumer TEXT NOT NULL,
                    product_id INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    updated_lines INTEGER NOT NULL,
                    recorded_at REAL NOT NULL
                );
                CREATE INDEX IF NOT EXISTS basket_price_change_effects_by_event ON basket_price_change_effects (event_id);
                CREATE INDEX IF NOT EXISTS basket_price_change_effects_by_time ON basket_price_change_effects (recorded_at);
                """)
        }
    }

    public func basket(buyerId: String) async throws -> CustomerBasket? {
        try await store.database.read { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM baskets WHERE buyer_id = ?", arguments: [buyerId]) != nil else { return nil }
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, product_id, product_name, unit_price, old_unit_price, quantity
                FROM basket_items WHERE buyer_id = ? ORDER BY position
                """, arguments: [buyerId])
            return CustomerBasket(buyerId: buyerId, items: try rows.map { row in
                BasketItem(
                    id: row["id"], productId: row["product_id"], productName: row["product_name"],
                    unitPrice: try Self.decimal(row["unit_price"]), oldUnitPrice: try Self.decimal(row["old_unit_price"]),
                    quantity: row["quantity"])
            })
        }
    }

    public func save(_ basket: CustomerBasket) async throws -> CustomerBasket {
        try await store.write { db in
            try db.execute(
                sql: "INSERT INTO baskets (buyer_id, updated_at) VALUES (?, ?) ON CONFLICT (buyer_id) DO UPDATE SET updated_at = excluded.updated_at",
                arguments: [basket.buyerId, Date().timeIntervalSince1970])
            let ids = basket.items.map(\.id)
            let kept = ids.map { _ in "?" }.joined(separator: ", ")
            try db.execute(
                sql: "DELETE FROM basket_items WHERE buyer_id = ?" + (ids.isEmpty ? "" : " AND id NOT IN (\(kept))"),
                arguments: StatementArguments([basket.buyerId] + ids))
            for (position, item) in basket.items.enumerated() {
                // A line that keeps its product keeps the time of its last price change (the stale-event guard).
                try db.execute(sql: """
                    INSERT INTO basket_items (buyer_id, id, position, product_id, product_name, unit_price, old_unit_price, quantity)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (buyer_id, id) DO UPDATE SET
                        position = excluded.position, product_name = excluded.product_name,
                        unit_price = excluded.unit_price, old_unit_price = excluded.old_unit_price, quantity = excluded.quantity,
                        price_updated_at = CASE WHEN product_id = excluded.product_id THEN price_updated_at END,
                        product_id = excluded.product_id
                    """, arguments: [
                        basket.buyerId, item.id, position, item.productId, item.productName, "\(item.unitPrice)",
                        "\(item.oldUnitPrice)", item.quantity,
                    ])
            }
            return basket
        }
    }

    public func delete(buyerId: String) async throws -> Bool {
        try await store.write { db in
            try db.execute(sql: "DELETE FROM basket_items WHERE buyer_id = ?", arguments: [buyerId])
            try db.execute(sql: "DELETE FROM baskets WHERE buyer_id = ?", arguments: [buyerId])
            return db.changesCount > 0
        }
    }

    public func apply(
        _ change: PriceChange, consumer: String, messageID: String, beforeEffect: @escaping @Sendable () throws -> Void
    ) async throws -> PriceChangeOutcome {
        try await store.write { db in
            // Recorded in this transaction: a second delivery finds it and changes nothing.
            guard try SQLiteEventStore.markProcessed(consumer: consumer, messageID: messageID, in: db) else {
                return PriceChangeOutcome(duplicate: true)
            }
            try beforeEffect()
            let known = try Row.fetchOne(
                db, sql: "SELECT price, changed_at FROM product_prices WHERE product_id = ?", arguments: [change.productId]
            ).map { row in KnownPrice(price: try Self.decimal(row["price"]), changedAt: Date(timeIntervalSince1970: row["changed_at"])) }
            let target = PriceChangeRule.newest(change, known: known)
            if target.changedAt == change.changedAt, target != known {
                try db.execute(sql: """
                    INSERT INTO product_prices (product_id, price, changed_at) VALUES (?, ?, ?)
                    ON CONFLICT (product_id) DO UPDATE SET price = excluded.price, changed_at = excluded.changed_at
                    """, arguments: [change.productId, "\(target.price)", target.changedAt.timeIntervalSince1970])
            }
            let lines = try Row.fetchAll(
                db, sql: "SELECT buyer_id, id, unit_price, price_updated_at FROM basket_items WHERE product_id = ?",
                arguments: [change.productId]
            ).map { row in
                PricedLine(
                    buyerId: row["buyer_id"], lineId: row["id"], unitPrice: try Self.decimal(row["unit_price"]),
                    priceUpdatedAt: (row["price_updated_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
            var updated = 0
            for line in lines where PriceChangeRule.updates(line, for: change, target: target) {
                try db.execute(
                    sql: "UPDATE basket_items SET unit_price = ?, old_unit_price = ?, price_updated_at = ? WHERE buyer_id = ? AND id = ?",
                    arguments: ["\(target.price)", "\(change.oldPrice)", target.changedAt.timeIntervalSince1970, line.buyerId, line.lineId])
                updated += 1
            }
            let outcome = PriceChangeOutcome(stale: target.changedAt > change.changedAt, updatedLines: updated)
            try db.execute(sql: """
                INSERT INTO basket_price_change_effects (event_id, consumer, product_id, outcome, updated_lines, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [messageID, consumer, change.productId, outcome.label, updated, Date().timeIntervalSince1970])
            return outcome
        }
    }

    public func effects(eventID: String) async throws -> [PriceChangeEffect] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT event_id, consumer, product_id, outcome, updated_lines, recorded_at
                FROM basket_price_change_effects WHERE event_id = ? ORDER BY recorded_at, rowid
                """, arguments: [eventID]
            ).map { row in
                PriceChangeEffect(
                    eventID: row["event_id"], consumer: row["consumer"], productId: row["product_id"], outcome: row["outcome"],
                    updatedLines: row["updated_lines"], recordedAt: Date(timeIntervalSince1970: row["recorded_at"]))
            }
        }
    }

    /// Deletes 5 000 rows per write transaction, so the pruner never holds the write lock for long.
    @discardableResult
    public func pruneEffects(recordedBefore date: Date) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await store.write { db -> Int in
                try db.execute(sql: """
                    DELETE FROM basket_price_change_effects WHERE rowid IN (
                        SELECT rowid FROM basket_price_change_effects WHERE recorded_at < ? LIMIT ?)
                    """, arguments: [date.timeIntervalSince1970, Self.pruneBatch])
                return db.changesCount
            }
            total += deleted
            if deleted < Self.pruneBatch { return total }
        }
    }

    /// Effect rows deleted per pruning transaction.
    static let pruneBatch = 5_000

    static func decimal(_ text: String) throws -> Decimal {
        guard let value = Decimal(string: text) else { throw BasketStorageError.corruptPrice(text) }
        return value
    }
}
