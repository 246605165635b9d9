/// The basket's storage, one implementation per database (``SQLiteBasketRepository``,
/// ``PostgresBasketRepository``), so that the HTTP API and the event handler are database-agnostic.
public protocol BasketRepository: Sendable {
    /// Creates the basket's tables when missing.
    func migrate() async throws
    /// The buyer's basket, or `nil` when they have none.
    func basket(buyerId: String) async throws -> CustomerBasket?
    /// Replaces the buyer's basket with `basket` (eShop's "update basket"); returns it as stored.
    func save(_ basket: CustomerBasket) async throws -> CustomerBasket
    /// Deletes the buyer's basket; `false` when there was none.
    func delete(buyerId: String) async throws -> Bool
    /// Applies a catalog price change to every basket line of its product by ``PriceChangeRule``, and records
    /// `messageID` as processed by `consumer`, in **one transaction**: the effect happens exactly once however
    /// often the event is delivered.
    func apply(_ change: PriceChange, consumer: String, messageID: String) async throws -> PriceChangeOutcome
}
