import EventBus
import Foundation

/// The catalog's price-change event, as the basket reads it. The basket declares its own copy instead of importing
/// the catalog's: services share the wire format, not code, and this one reads eShop's .NET events too
/// (`{"ProductId": 1, "NewPrice": 12.5, "OldPrice": 10, "Id": "…", "CreationDate": "…1234567Z"}`).
public struct ProductPriceChangedIntegrationEvent: IntegrationEvent, Equatable {
    /// The event id; the basket records it as processed in the same transaction as its effect.
    public var id: UUID
    /// When the price changed: orders changes that arrive out of order.
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
