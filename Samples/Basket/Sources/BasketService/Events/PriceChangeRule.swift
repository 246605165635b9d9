import Foundation

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
