import SampleSupport

/// A buyer's basket, in eShop's JSON shape: `{"buyerId": "…", "items": [BasketItem]}`.
public struct CustomerBasket: Codable, Sendable, Hashable {
    /// Whose basket.
    public var buyerId: String
    /// Its lines, in the order they were given.
    public var items: [BasketItem]

    /// Creates a basket.
    public init(buyerId: String, items: [BasketItem] = []) {
        self.buyerId = buyerId
        self.items = items
    }

    /// Decodes a basket; a number that does not fit names its field in the error (`items[1].quantity`).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        buyerId = try container.decodeField(String.self, forKey: .buyerId)
        items = try container.decodeField([BasketItem].self, forKey: .items)
    }

    /// The most lines a basket holds.
    public static let maximumLines = 100

    /// Checks a buyer id from a path or a body: 1...200 bytes, no `/`, no control characters. Throws
    /// ``InvalidField`` naming `field`.
    @discardableResult
    public static func validBuyerId(_ buyerId: String, field: String = "buyerId") throws -> String {
        try FieldValidation.text(buyerId, field: field, bytes: 1...200)
        guard !buyerId.contains("/") else { throw InvalidField(field, "must not contain '/'") }
        return buyerId
    }

    /// Rejects what no basket may hold: every field is bounded, and a 400 names the first one out of range
    /// (`items[2].quantity`).
    public func validate() throws {
        try Self.validBuyerId(buyerId)
        guard items.count <= Self.maximumLines else { throw InvalidField("items", "a basket holds at most \(Self.maximumLines) lines") }
        var ids = Set<String>()
        for (index, item) in items.enumerated() {
            let line = "items[\(index)]"
            try FieldValidation.text(item.id, field: "\(line).id", bytes: 1...100)
            guard ids.insert(item.id).inserted else { throw InvalidField("\(line).id", "appears on two lines") }
            try FieldValidation.integer(item.productId, field: "\(line).productId", in: FieldValidation.identifiers)
            try FieldValidation.text(item.productName, field: "\(line).productName", bytes: 1...200)
            try FieldValidation.price(item.unitPrice, field: "\(line).unitPrice")
            try FieldValidation.price(item.oldUnitPrice, field: "\(line).oldUnitPrice")
            try FieldValidation.integer(item.quantity, field: "\(line).quantity", in: 1...10_000)
        }
    }
}
