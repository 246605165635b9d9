// Batch handlers (all or nothing) and ordered batch publishing.

// snippet.hide
import EventBus
import EventBusRabbitMQ
import Foundation

struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

func applyAll(_ events: [ProductPriceChangedIntegrationEvent]) async throws {}

// snippet.show
// snippet.subscribe
func subscribeInBatches(bus: RabbitMQEventBus) async throws {
    let batch = try BatchPolicy(maxEventsPerBatch: 100, preferredBatchSizeInKilobytes: 64)
    try await bus.subscribe(batchesOf: ProductPriceChangedIntegrationEvent.self, batch: batch) { received in
        // One call for up to 100 events; throwing retries every event of the batch.
        try await applyAll(received.map(\.event))
    }
}
// snippet.end

// snippet.publish
func publishInOrder(_ events: [RawEvent], bus: RabbitMQEventBus) async throws {
    let outcomes = await bus.publishAll(events)    // back to back, in order; confirms awaited together
    for (event, outcome) in zip(events, outcomes) {
        if case .failure(let error) = outcome { print("event \(event.id) not confirmed: \(error)") }
    }
}
// snippet.end
