import EventBus
import Foundation

/// Published by the catalog when a product's price changes. The type name is the routing key, so it matches eShop's
/// .NET `ProductPriceChangedIntegrationEvent`; consumers declare their own copy of this type (services share the
/// wire format, not code).
public struct ProductPriceChangedIntegrationEvent: IntegrationEvent, Equatable {
    /// The event id; consumers deduplicate on it.
    public var id: UUID
    /// When the price changed; consumers use it to order changes that arrive out of order.
    public var creationDate: Date
    /// The product whose price changed.
    public var productId: Int
    /// The price from now on.
    public var newPrice: Decimal
    /// The price before.
    public var oldPrice: Decimal

    /// Creates the event.
    public init(id: UUID = .newEventID(), creationDate: Date = Date(), productId: Int, newPrice: Decimal, oldPrice: Decimal) {
        self.id = id
        self.creationDate = creationDate
        self.productId = productId
        self.newPrice = newPrice
        self.oldPrice = oldPrice
    }
}
