import Hummingbird

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

    /// Rejects what no basket may hold. Throws a 400 with a JSON error.
    public func validate() throws {
        guard !buyerId.isEmpty, buyerId.utf8.count <= 200, !buyerId.contains("/") else {
            throw HTTPError(.badRequest, message: "buyerId must have 1...200 bytes and no '/'")
        }
        guard items.count <= 100 else { throw HTTPError(.badRequest, message: "a basket holds at most 100 lines") }
        var ids = Set<String>()
        for item in items {
            guard ids.insert(item.id).inserted else { throw HTTPError(.badRequest, message: "line id '\(item.id)' appears twice") }
            guard !item.id.isEmpty, item.id.utf8.count <= 100 else { throw HTTPError(.badRequest, message: "a line id must have 1...100 bytes") }
            guard !item.productName.isEmpty else { throw HTTPError(.badRequest, message: "productName must not be empty") }
            guard item.unitPrice >= 0, item.oldUnitPrice >= 0 else {
                throw HTTPError(.badRequest, message: "prices must not be negative (line '\(item.id)')")
            }
            guard (1...10_000).contains(item.quantity) else {
                throw HTTPError(.badRequest, message: "quantity must be 1...10000 (line '\(item.id)')")
            }
        }
    }
}
