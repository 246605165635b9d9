// A subscription's options: its retry policy, dedup mode and filter, and a handler that tells the bus what to do
// with a failure.

// snippet.hide
import EventBus
import Foundation

struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

struct UnknownProduct: Error {}
func apply(_ event: ProductPriceChangedIntegrationEvent) async throws {}

// snippet.show
func subscribe(on bus: some EventBus) async throws {
    let options = SubscriptionOptions(
        name: "price-changes",                                              // processed ids are kept under this name
        retryPolicy: try RetryPolicy(maxDeliveryAttempts: 10, eventTimeToLiveMinutes: 60),
        dedupMode: .always,
        filter: EventFilter(sources: ["catalog"]))

    try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: options) { event, context in
        guard event.newPrice >= 0 else {
            throw NonRetryableError("negative price \(event.newPrice)")   // dead-lettered at once
        }
        try await apply(event)    // any other error: retried later, then dead-lettered
    }
}
