import EventBus
import Logging
import Metrics

/// Updates baskets when the catalog changes a price: every line of the product whose unit price equals the old
/// price gets the new one, and `oldUnitPrice` = the old one (``PriceChangeRule``), in one transaction with the
/// record of the event id, so that a redelivered or republished event has no second effect.
///
/// ```swift
/// try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, handler: handler.handle)
/// ```
public struct ProductPriceChangedHandler: Sendable {
    let repository: any BasketRepository
    let logger: Logger
    let outcomes: [String: Counter]
    let failures: HandlerFailureSwitch?

    /// Creates the handler; `service` labels its `basket_price_changes_total` metric. `failures` makes it throw on
    /// purpose (the fault ledger's retry and dead-letter rows); off by default.
    public init(repository: any BasketRepository, service: String, logger: Logger, failures: HandlerFailures = .off) {
        self.repository = repository
        self.logger = logger
        self.failures = failures.isOff ? nil : HandlerFailureSwitch(failures)
        var outcomes: [String: Counter] = [:]
        for outcome in ["applied", "unmatched", "stale", "duplicate"] {
            outcomes[outcome] = Counter(label: "basket_price_changes_total", dimensions: [("service", service), ("outcome", outcome)])
        }
        self.outcomes = outcomes
    }

    /// Handles one event. Throws (and the bus retries) when the database fails, or when an injected failure
    /// (``HandlerFailures``) asks for it; either way the transaction rolls back and nothing is applied.
    @Sendable public func handle(_ event: ProductPriceChangedIntegrationEvent, context: EventContext) async throws {
        let failures = self.failures
        let (productId, attempt) = (event.productId, context.attempt)
        let outcome = try await repository.apply(
            PriceChange(event), consumer: context.consumer, messageID: context.eventID,
            beforeEffect: { try failures?.check(productId: productId, attempt: attempt) })
        outcomes[outcome.label]?.increment()
        logger.info("price change \(outcome.label)", metadata: [
            "event.id": "\(context.eventID)", "event.type": "\(context.eventType)", "product.id": "\(event.productId)",
            "price.old": "\(event.oldPrice)", "price.new": "\(event.newPrice)", "lines": "\(outcome.updatedLines)",
            "attempt": "\(context.attempt)",
        ])
    }
}
