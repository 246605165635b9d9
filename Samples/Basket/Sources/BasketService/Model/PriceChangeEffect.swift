import Foundation

/// One committed application of a price-change event: a row of `basket_price_change_effects`, written in the same
/// transaction as the basket update and the processed-message mark. The table has no unique key on purpose: an event
/// whose effect committed twice shows as two rows, so "applied exactly once" can be read from the database.
public struct PriceChangeEffect: Sendable, Hashable {
    /// The event id (the processed-message id).
    public var eventID: String
    /// The subscription that applied it (`<service>/<subscription>`, the processed-message consumer).
    public var consumer: String
    /// The product whose price changed.
    public var productId: Int
    /// What applying it did: ``PriceChangeOutcome/label`` (`applied`, `unmatched` or `stale`).
    public var outcome: String
    /// How many basket lines took the new price.
    public var updatedLines: Int
    /// When the transaction wrote it.
    public var recordedAt: Date

    /// Creates an effect record.
    public init(eventID: String, consumer: String, productId: Int, outcome: String, updatedLines: Int, recordedAt: Date) {
        self.eventID = eventID
        self.consumer = consumer
        self.productId = productId
        self.outcome = outcome
        self.updatedLines = updatedLines
        self.recordedAt = recordedAt
    }
}
