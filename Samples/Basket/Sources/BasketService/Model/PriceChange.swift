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
