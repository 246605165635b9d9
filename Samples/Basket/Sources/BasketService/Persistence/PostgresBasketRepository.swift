import EventBusPostgres
import Foundation
import Logging
import PostgresNIO

/// Baskets on PostgreSQL, in the same database as the processed-message store, so that a price change and the
/// record of its event commit together. Prices are `NUMERIC` (exact). Change times are seconds since 1970 as
/// `DOUBLE PRECISION`: exactly the event's creation date, so one event always compares equal to itself.
public struct PostgresBasketRepository: BasketRepository {
    let store: PostgresEventStore
    let logger: Logger

    /// Uses the tables of `store`'s database.
    public init(store: PostgresEventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func migrate() async throws {
        let logger = self.logger
        try await store.withTransaction { connection in
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS baskets (
                    buyer_id TEXT PRIMARY KEY,
                    updated_at TIMESTAMPTZ NOT NULL
                )
                """, logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS basket_items (
                    buyer_id TEXT NOT NULL REFERENCES baskets (buyer_id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    product_id INTEGER NOT NULL,
                    product_name TEXT NOT NULL,
                    unit_price NUMERIC NOT NULL,
                    old_unit_price NUMERIC NOT NULL,
                    quantity INTEGER NOT NULL,
                    price_updated_at DOUBLE PRECISION,
                    PRIMARY KEY (buyer_id, id)
                )
                """, logger: logger)
            try await connection.query("CREATE INDEX IF NOT EXISTS basket_items_by_product ON basket_items (product_id)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS product_prices (
                    product_id INTEGER PRIMARY KEY,
                    price NUMERIC NOT NULL,
                    changed_at DOUBLE PRECISION NOT NULL
                )
                """, logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS basket_price_change_effects (
                    event_id TEXT NOT NULL,
                    consumer TEXT NOT NULL,
                    product_id INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    updated_lines INTEGER NOT NULL,
                    recorded_at TIMESTAMPTZ NOT NULL
                )
                """, logger: logger)
            try await connection.query(
                "CREATE INDEX IF NOT EXISTS basket_price_change_effects_by_event ON basket_price_change_effects (event_id)", logger: logger)
            try await connection.query(
                "CREATE INDEX IF NOT EXISTS basket_price_change_effects_by_time ON basket_price_change_effects (recorded_at)", logger: logger)
        }
    }

    public func basket(buyerId: String) async throws -> CustomerBasket? {
        let exists = try await store.client.query("SELECT 1 FROM baskets WHERE buyer_id = \(buyerId)", logger: logger)
        var found = false
        for try await _ in exists.decode(Int.self) { found = true }
        guard found else { return nil }
        let rows = try await store.client.query("""
            SELECT id, product_id, product_name, unit_price, old_unit_price, quantity
            FROM basket_items WHERE buyer_id = \(buyerId) ORDER BY position
            """, logger: logger)
        var items: [BasketItem] = []
        for try await (id, productId, name, unitPrice, oldUnitPrice, quantity) in rows.decode((String, Int, String, Decimal, Decimal, Int).self) {
            items.append(BasketItem(id: id, productId: productId, productName: name, unitPrice: unitPrice, oldUnitPrice: oldUnitPrice, quantity: quantity))
        }
        return CustomerBasket(buyerId: buyerId, items: items)
    }

    public func save(_ basket: CustomerBasket) async throws -> CustomerBasket {
        let logger = self.logger
        return try await store.withTransaction { connection in
            try await connection.query("""
                INSERT INTO baskets (buyer_id, updated_at) VALUES (\(basket.buyerId), now())
                ON CONFLICT (buyer_id) DO UPDATE SET updated_at = excluded.updated_at
                """, logger: logger)
            try await connection.query(
                "DELETE FROM basket_items WHERE buyer_id = \(basket.buyerId) AND NOT (id = ANY(\(basket.items.map(\.id))))",
                logger: logger)
            for (position, item) in basket.items.enumerated() {
                // A line that keeps its product keeps the time of its last price change (the stale-event guard).
                try await connection.query("""
                    INSERT INTO basket_items (buyer_id, id, position, product_id, product_name, unit_price, old_unit_price, quantity)
                    VALUES (\(basket.buyerId), \(item.id), \(position), \(item.productId), \(item.productName), \(item.unitPrice),
                            \(item.oldUnitPrice), \(item.quantity))
                    ON CONFLICT (buyer_id, id) DO UPDATE SET
                        position = excluded.position, product_name = excluded.product_name,
                        unit_price = excluded.unit_price, old_unit_price = excluded.old_unit_price, quantity = excluded.quantity,
                        price_updated_at = CASE WHEN basket_items.product_id = excluded.product_id THEN basket_items.price_updated_at END,
                        product_id = excluded.product_id
                    """, logger: logger)
            }
            return basket
        }
    }

    public func delete(buyerId: String) async throws -> Bool {
        let rows = try await store.client.query("DELETE FROM baskets WHERE buyer_id = \(buyerId) RETURNING buyer_id", logger: logger)
        var deleted = false
        for try await _ in rows.decode(String.self) { deleted = true }
        return deleted
    }

    public func apply(
        _ change: PriceChange, consumer: String, messageID: String, beforeEffect: @escaping @Sendable () throws -> Void
    ) async throws -> PriceChangeOutcome {
        let logger = self.logger
        return try await store.withTransaction { connection in
            // Recorded in this transaction: a second delivery finds it and changes nothing.
            guard try await PostgresEventStore.markProcessed(consumer: consumer, messageID: messageID, on: connection, logger: logger) else {
                return PriceChangeOutcome(duplicate: true)
            }
            try beforeEffect()
            // Basket instances that handle changes of one product at once take turns (released at commit).
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockSpace), \(Int32(truncatingIfNeeded: change.productId)))", logger: logger)
            var known: KnownPrice?
            let prices = try await connection.query(
                "SELECT price, changed_at FROM product_prices WHERE product_id = \(change.productId)", logger: logger)
            for try await (price, changedAt) in prices.decode((Decimal, Double).self) {
                known = KnownPrice(price: price, changedAt: Date(timeIntervalSince1970: changedAt))
            }
            let target = PriceChangeRule.newest(change, known: known)
            if target.changedAt == change.changedAt, target != known {
                try await connection.query("""
                    INSERT INTO product_prices (product_id, price, changed_at)
                    VALUES (\(change.productId), \(target.price), \(target.changedAt.timeIntervalSince1970))
                    ON CONFLICT (product_id) DO UPDATE SET price = excluded.price, changed_at = excluded.changed_at
                    """, logger: logger)
            }
            let rows = try await connection.query(
                "SELECT buyer_id, id, unit_price, price_updated_at FROM basket_items WHERE product_id = \(change.productId) FOR UPDATE",
                logger: logger)
            var lines: [PricedLine] = []
            for try await (buyerId, lineId, unitPrice, updatedAt) in rows.decode((String, String, Decimal, Double?).self) {
                lines.append(PricedLine(
                    buyerId: buyerId, lineId: lineId, unitPrice: unitPrice, priceUpdatedAt: updatedAt.map(Date.init(timeIntervalSince1970:))))
            }
            var updated = 0
            for line in lines where PriceChangeRule.updates(line, for: change, target: target) {
                try await connection.query("""
                    UPDATE basket_items SET unit_price = \(target.price), old_unit_price = \(change.oldPrice),
                        price_updated_at = \(target.changedAt.timeIntervalSince1970)
                    WHERE buyer_id = \(line.buyerId) AND id = \(line.lineId)
                    """, logger: logger)
                updated += 1
            }
            let outcome = PriceChangeOutcome(stale: target.changedAt > change.changedAt, updatedLines: updated)
            try await connection.query("""
                INSERT INTO basket_price_change_effects (event_id, consumer, product_id, outcome, updated_lines, recorded_at)
                VALUES (\(messageID), \(consumer), \(change.productId), \(outcome.label), \(updated), now())
                """, logger: logger)
            return outcome
        }
    }

    public func effects(eventID: String) async throws -> [PriceChangeEffect] {
        let rows = try await store.client.query("""
            SELECT event_id, consumer, product_id, outcome, updated_lines, recorded_at
            FROM basket_price_change_effects WHERE event_id = \(eventID) ORDER BY recorded_at
            """, logger: logger)
        var effects: [PriceChangeEffect] = []
        for try await (eventID, consumer, productId, outcome, updatedLines, recordedAt) in rows.decode(
            (String, String, Int, String, Int, Date).self)
        {
            effects.append(PriceChangeEffect(
                eventID: eventID, consumer: consumer, productId: productId, outcome: outcome, updatedLines: updatedLines,
                recordedAt: recordedAt))
        }
        return effects
    }

    /// Deletes 5 000 rows per statement, so the pruner never holds many row locks at once.
    @discardableResult
    public func pruneEffects(recordedBefore date: Date) async throws -> Int {
        var total = 0
        while true {
            let rows = try await store.client.query("""
                WITH deleted AS (
                    DELETE FROM basket_price_change_effects WHERE ctid IN (
                        SELECT ctid FROM basket_price_change_effects WHERE recorded_at < \(date) LIMIT \(Self.pruneBatch))
                    RETURNING 1)
                SELECT count(*)::int8 FROM deleted
                """, logger: logger)
            var deleted = 0
            for try await count in rows.decode(Int.self) { deleted = count }
            total += deleted
            if deleted < Self.pruneBatch { return total }
        }
    }

    /// Effect rows deleted per pruning statement.
    static let pruneBatch = 5_000

    /// The first key of the basket's advisory locks (the second is the product id).
    static let lockSpace: Int32 = 0x6261_736B  // "bask"
}
