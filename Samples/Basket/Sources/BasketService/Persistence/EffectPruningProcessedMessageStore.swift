import EventBus
import Foundation

/// The basket's processed-message store as its pruner sees it: each pass forgets the old processed-message ids and
/// then the effect rows (``PriceChangeEffect``) recorded before the same cutoff, so both tables keep the same window.
/// Every other call goes to `base` unchanged.
public struct EffectPruningProcessedMessageStore: ProcessedMessageStore {
    let base: any ProcessedMessageStore
    let repository: any BasketRepository

    /// Wraps `base` (the database's processed-message store) and prunes `repository`'s effect rows with it.
    public init(base: any ProcessedMessageStore, repository: any BasketRepository) {
        self.base = base
        self.repository = repository
    }

    public func contains(consumer: String, messageID: String) async throws -> Bool {
        try await base.contains(consumer: consumer, messageID: messageID)
    }

    @discardableResult
    public func markProcessed(consumer: String, messageID: String, at date: Date) async throws -> Bool {
        try await base.markProcessed(consumer: consumer, messageID: messageID, at: date)
    }

    /// Forgets ids, then effect rows, recorded before `date`; returns the number of ids and rows forgotten. A failure
    /// of the second step throws, and the pruner's next pass tries both again.
    @discardableResult
    public func prune(processedBefore date: Date) async throws -> Int {
        let ids = try await base.prune(processedBefore: date)
        return ids + (try await repository.pruneEffects(recordedBefore: date))
    }

    public func makeDurable() async throws {
        try await base.makeDurable()
    }
}
