import Foundation
import SampleSupport

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

    /// Decodes an update; a number that does not fit names its field in the error.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeField(Int.self, forKey: .id)
        name = try container.decodeFieldIfPresent(String.self, forKey: .name)
        description = try container.decodeFieldIfPresent(String.self, forKey: .description)
        price = try container.decodeField(Decimal.self, forKey: .price)
    }

    /// Rejects what no item may hold: an id out of range, a price that is negative, absurd or has more than four
    /// decimals, an empty or oversized name or description. Throws ``InvalidField`` (a 400 naming the field).
    public func validate() throws {
        try FieldValidation.integer(id, field: "id", in: FieldValidation.identifiers)
        try FieldValidation.price(price, field: "price")
        if let name { try FieldValidation.text(name, field: "name", bytes: 1...200) }
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty { throw InvalidField("name", "must not be blank") }
        if let description { try FieldValidation.text(description, field: "description", bytes: 0...FieldValidation.maximumTextBytes) }
    }

    /// `item` with this update's values.
    public func applied(to item: CatalogItem) -> CatalogItem {
        CatalogItem(id: item.id, name: name ?? item.name, description: description ?? item.description, price: price)
    }
}
