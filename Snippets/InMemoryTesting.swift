// A handler tested without a broker: InMemoryEventBus runs the same delivery pipeline in process.

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

// snippet.show
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
