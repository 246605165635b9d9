import EventBus
import Foundation

/// The tests' integration event: a product's price changed.
public struct PriceChanged: IntegrationEvent, Equatable {
    public var id = UUID()
    public var creationDate: Date
    public var productId: Int
    public var newPrice: Decimal
    public var oldPrice: Decimal

    public init(creationDate: Date = Date(), productId: Int, newPrice: Decimal, oldPrice: Decimal) {
        self.creationDate = creationDate
        self.productId = productId
        self.newPrice = newPrice
        self.oldPrice = oldPrice
    }
}
