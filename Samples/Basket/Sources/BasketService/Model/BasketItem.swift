import Foundation
import SampleSupport

/// A line of a basket, in eShop's JSON shape:
/// `{"id": "…", "productId": 1, "productName": "…", "unitPrice": 19.5, "oldUnitPrice": 0, "quantity": 1}`.
/// `oldUnitPrice` is 0 until the catalog changes the product's price; then it holds the price the buyer saw.
public struct BasketItem: Codable, Sendable, Hashable {
    /// The line's id, unique within its basket; generated when a request leaves it out.
    public var id: String
    /// The catalog product.
    public var productId: Int
    /// The product's name, as shown to the buyer.
    public var productName: String
    /// The price the buyer pays now.
    public var unitPrice: Decimal
    /// The price before the last change, or 0.
    public var oldUnitPrice: Decimal
    /// How many.
    public var quantity: Int

    /// Creates a line.
    public init(
        id: String = UUID().uuidString.lowercased(), productId: Int, productName: String, unitPrice: Decimal,
        oldUnitPrice: Decimal = 0, quantity: Int
    ) {
        self.id = id
        self.productId = productId
        self.productName = productName
        self.unitPrice = unitPrice
        self.oldUnitPrice = oldUnitPrice
        self.quantity = quantity
    }

    /// Decodes a line; `id` and `oldUnitPrice` may be absent. A number that does not fit names its field in the error.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeFieldIfPresent(String.self, forKey: .id) ?? UUID().uuidString.lowercased()
        productId = try container.decodeField(Int.self, forKey: .productId)
        productName = try container.decodeField(String.self, forKey: .productName)
        unitPrice = try container.decodeField(Decimal.self, forKey: .unitPrice)
        oldUnitPrice = try container.decodeFieldIfPresent(Decimal.self, forKey: .oldUnitPrice) ?? 0
        quantity = try container.decodeField(Int.self, forKey: .quantity)
    }

    /// Whether the catalog changed this product's price since it was put in the basket.
    public var priceChanged: Bool { oldUnitPrice != 0 && oldUnitPrice != unitPrice }
}
