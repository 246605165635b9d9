import Foundation

/// A product of the catalog, in eShop's JSON shape: `{"id": 1, "name": "…", "description": "…", "price": 19.5}`.
/// Prices are `Decimal` (JSON numbers, never binary floats).
public struct CatalogItem: Codable, Sendable, Hashable {
    /// The product id, referenced by baskets and by price-change events.
    public var id: Int
    /// The product's name.
    public var name: String
    /// A sentence about it.
    public var description: String
    /// The current price.
    public var price: Decimal

    /// Creates an item.
    public init(id: Int, name: String, description: String, price: Decimal) {
        self.id = id
        self.name = name
        self.description = description
        self.price = price
    }
}
