import Foundation

/// What applying a price change did.
public struct PriceChangeOutcome: Sendable, Hashable {
    /// The event had been processed before: nothing changed.
    public var duplicate: Bool
    /// A newer change of the same product was applied before this one arrived.
    public var stale: Bool
    /// How many basket lines now carry the new price.
    public var updatedLines: Int

    /// Creates an outcome.
    public init(duplicate: Bool = false, stale: Bool = false, updatedLines: Int = 0) {
        self.duplicate = duplicate
        self.stale = stale
        self.updatedLines = updatedLines
    }

    /// For logs and metrics: `duplicate`, `stale`, `applied` or `unmatched`.
    public var label: String {
        if duplicate { return "duplicate" }
        if stale { return "stale" }
        return updatedLines > 0 ? "applied" : "unmatched"
    }
}
