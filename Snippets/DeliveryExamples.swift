// Delivery: a subscription's options (EventBus's Delivery rules), exactly-once effects (Deduplication and exactly-once),
// batch handlers and batch publishing (Batches), and a handler tested on InMemoryEventBus (EventBus's landing page).
// Each article quotes one slice.

// snippet.hide
import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import Logging

struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

struct UnknownProduct: Error {}
func apply(_ event: ProductPriceChangedIntegrationEvent) async throws {}
func applyAll(_ events: [ProductPriceChangedIntegrationEvent]) async throws {}

// snippet.show
// A subscription's options: its retry policy, dedup mode and filter, and a handler that tells the bus what to do
// with a failure.

// snippet.subscription-options
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
// snippet.end

// Exactly-once effects: the handler records the event id in the transaction that applies the event.

// snippet.exactly-once-sqlite
func subscribeBasket(bus: RabbitMQEventBus, store: SQLiteEventStore) async throws {
    try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, context in
        try await store.write { db in
            guard try SQLiteEventStore.markProcessed(
                consumer: context.consumer, messageID: context.eventID, in: db) else { return }    // applied before
            try db.execute(
                sql: "UPDATE basket_item SET unit_price = ? WHERE product_id = ?",
                arguments: ["\(event.newPrice)", event.productId])
        }
    }
}
// snippet.end

// snippet.exactly-once-postgres
func subscribeBasket(bus: RabbitMQEventBus, store: PostgresEventStore, logger: Logger) async throws {
    try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, context in
        try await store.withTransaction { connection in
            guard try await PostgresEventStore.markProcessed(
                consumer: context.consumer, messageID: context.eventID, on: connection, logger: logger) else { return }
            try await connection.query(
                "UPDATE basket_item SET unit_price = \(event.newPrice) WHERE product_id = \(event.productId)",
                logger: logger)
        }
    }
}
// snippet.end

// Batch handlers (all or nothing) and ordered batch publishing.

// snippet.batch-subscribe
func subscribeInBatches(bus: RabbitMQEventBus) async throws {
    let batch = try BatchPolicy(maxEventsPerBatch: 100, preferredBatchSizeInKilobytes: 64)
    try await bus.subscribe(batchesOf: ProductPriceChangedIntegrationEvent.self, batch: batch) { received in
        // One call for up to 100 events; throwing retries every event of the batch.
        try await applyAll(received.map(\.event))
    }
}
// snippet.end

// snippet.batch-publish
func publishInOrder(_ events: [RawEvent], bus: RabbitMQEventBus) async throws {
    let outcomes = await bus.publishAll(events)    // back to back, in order; confirms awaited together
    for (event, outcome) in zip(events, outcomes) {
        if case .failure(let error) = outcome { print("event \(event.id) not confirmed: \(error)") }
    }
}
// snippet.end

// A handler tested without a broker: InMemoryEventBus runs the same delivery pipeline in process.

// snippet.in-memory-test
func testPriceChangeIsHandledOnce() async throws {
    let bus = InMemoryEventBus(serviceName: "basket")
    try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, context in
        // the handler under test
    }

    let event = ProductPriceChangedIntegrationEvent(productId: 1, newPrice: 9.5, oldPrice: 10)
    try await bus.publish(event)
    try await bus.publish(event)    // the same id again: a duplicate
    await bus.waitUntilIdle()

    assert(bus.handledCount == 1 && bus.duplicateCount == 1 && bus.deadLetters.isEmpty)
}
// snippet.end
