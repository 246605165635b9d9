import Foundation

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
