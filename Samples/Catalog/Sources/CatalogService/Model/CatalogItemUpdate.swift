import Foundation
import Hummingbird

/// The body of `PUT /api/v1/catalog/items`: the item's id and its new values. `name` and `description` may be
/// left out to keep them; `price` is required.
public struct CatalogItemUpdate: Codable, Sendable, Hashable {
    /// Which item.
    public var id: Int
    /// A new name, or `nil` to keep it.
    public var name: String?
    /// A new description, or `nil` to keep it.
    public var description: String?
    /// The price, changed or not.
    public var price: Decimal

    /// Creates an update.
    public init(id: Int, name: String? = nil, description: String? = nil, price: Decimal) {
        self.id = id
        self.name = name
        self.description = description
        self.price = price
    }

    /// Rejects what no item may hold: a negative price, an empty name. Throws a 400 with a JSON error.
    public func validate() throws {
        guard price >= 0 else { throw HTTPError(.badRequest, message: "price must not be negative (got \(price))") }
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw HTTPError(.badRequest, message: "name must not be empty")
        }
    }

    /// `item` with this update's values.
    public func applied(to item: CatalogItem) -> CatalogItem {
        CatalogItem(id: item.id, name: name ?? item.name, description: description ?? item.description, price: price)
    }
}
