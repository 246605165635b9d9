import Foundation

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
    /// Applies a catalog price change to every basket line of its product by ``PriceChangeRule``, records
    /// `messageID` as processed by `consumer` and writes one ``PriceChangeEffect`` row, in **one transaction**: the
    /// effect happens exactly once however often the event is delivered.
    ///
    /// `beforeEffect` runs inside that transaction once the id is recorded as new and before anything else is
    /// written; when it throws, the transaction rolls back (the id too) and the error is rethrown, so a retry finds
    /// the event unprocessed. A duplicate never calls it.
    func apply(
        _ change: PriceChange, consumer: String, messageID: String, beforeEffect: @escaping @Sendable () throws -> Void
    ) async throws -> PriceChangeOutcome
    /// The effect rows of `eventID`, oldest first: exactly one for an event applied once. One read.
    func effects(eventID: String) async throws -> [PriceChangeEffect]
    /// Forgets effect rows recorded before `date`, in batches; returns how many. Runs beside the pruning of
    /// processed-message ids, with the same cutoff (``EffectPruningProcessedMessageStore``).
    @discardableResult
    func pruneEffects(recordedBefore date: Date) async throws -> Int
}

extension BasketRepository {
    /// Applies `change` with nothing to check before the effect (see ``apply(_:consumer:messageID:beforeEffect:)``).
    public func apply(_ change: PriceChange, consumer: String, messageID: String) async throws -> PriceChangeOutcome {
        try await apply(change, consumer: consumer, messageID: messageID, beforeEffect: {})
    }
}
