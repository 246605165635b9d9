import Foundation

/// A catalog price change as the basket applies it.
public struct PriceChange: Sendable, Hashable {
    /// The product.
    public var productId: Int
    /// The price the change replaces.
    public var oldPrice: Decimal
    /// The new price.
    public var newPrice: Decimal
    /// When the catalog changed it (the event's creation date).
    public var changedAt: Date

    /// Creates a change.
    public init(productId: Int, oldPrice: Decimal, newPrice: Decimal, changedAt: Date) {
        self.productId = productId
        self.oldPrice = oldPrice
        self.newPrice = newPrice
        self.changedAt = changedAt
    }

    /// The change of a price-change event.
    public init(_ event: ProductPriceChangedIntegrationEvent) {
        self.init(productId: event.productId, oldPrice: event.oldPrice, newPrice: event.newPrice, changedAt: event.creationDate)
    }
}

/// The newest price the basket knows for a product, and when the catalog set it.
public struct KnownPrice: Sendable, Hashable {
    /// The price.
    public var price: Decimal
    /// When it was set (seconds since 1970, exactly as the event carried it).
    public var changedAt: Date

    /// Creates a known price.
    public init(price: Decimal, changedAt: Date) {
        self.price = price
        self.changedAt = changedAt
    }
}

/// A stored basket line as the price-change rule sees it.
public struct PricedLine: Sendable, Hashable {
    /// The buyer.
    public var buyerId: String
    /// The line id.
    public var lineId: String
    /// Its current unit price.
    public var unitPrice: Decimal
    /// When a price change last set that price; `nil` if none did.
    public var priceUpdatedAt: Date?

    /// Creates a line.
    public init(buyerId: String, lineId: String, unitPrice: Decimal, priceUpdatedAt: Date?) {
        self.buyerId = buyerId
        self.lineId = lineId
        self.unitPrice = unitPrice
        self.priceUpdatedAt = priceUpdatedAt
    }
}

/// What applying a price change did.
public struct PriceChangeOutcome: Sendable, Hashable {
    /// The event had been processed before: nothing changed.
    public var duplicate: Bool
    /// A newer change of the same product was applied before this one arrived.
    public var stale: Bool
    /// How many basket lines now carry the new price.
    public var updatedLines: Int

    /// Creates an outcome.
    public init(duplicate: Bool = false, stale: Bool = false, updatedLines: Int = 0) {
        self.duplicate = duplicate
        self.stale = stale
        self.updatedLines = updatedLines
    }

    /// For logs and metrics: `duplicate`, `stale`, `applied` or `unmatched`.
    public var label: String {
        if duplicate { return "duplicate" }
        if stale { return "stale" }
        return updatedLines > 0 ? "applied" : "unmatched"
    }
}

/// The basket's rule for price changes that may arrive late, twice or out of order (retries, several instances):
///
/// 1. The basket remembers, per product, the newest price change it has seen (``KnownPrice``); a change older than
///    that is stale and never overwrites it.
/// 2. A line changes when its unit price equals the event's old price: it gets the newest known price (the event's
///    own new price, unless the event is stale), and `oldUnitPrice` = the event's old price.
/// 3. A line whose price was set by a change at least as new is left alone.
///
/// So `10 → 12` then `12 → 15` gives 15 in either order of arrival, and the buyer is told "from 10 to 15".
public enum PriceChangeRule {
    /// The newest known price after seeing `change`, given what was known before.
    public static func newest(_ change: PriceChange, known: KnownPrice?) -> KnownPrice {
        guard let known, known.changedAt >= change.changedAt else {
            return KnownPrice(price: change.newPrice, changedAt: change.changedAt)
        }
        return known
    }

    /// Whether `line` takes the `target` price because of `change`.
    public static func updates(_ line: PricedLine, for change: PriceChange, target: KnownPrice) -> Bool {
        guard line.unitPrice == change.oldPrice, line.unitPrice != target.price else { return false }
        if let updatedAt = line.priceUpdatedAt, updatedAt >= target.changedAt { return false }
        return true
    }
}
