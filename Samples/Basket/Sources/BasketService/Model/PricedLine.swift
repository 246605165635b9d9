import Foundation

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
