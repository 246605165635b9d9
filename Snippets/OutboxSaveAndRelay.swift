// The transactional outbox: save the change and its event in one transaction, publish after the commit, and let the
// relay send whatever was not confirmed.

// snippet.hide
import EventBus
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import Logging
import ServiceLifecycle

struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

// snippet.show
// snippet.save
func changePrice(
    _ event: ProductPriceChangedIntegrationEvent, store: SQLiteEventStore, publisher: OutboxPublisher
) async throws {
    let entry = try await store.write { db in
        try db.execute(
            sql: "UPDATE catalog_item SET price = ? WHERE id = ?", arguments: ["\(event.newPrice)", event.productId])
        return try SQLiteEventStore.save(event, in: db)
    }
    await publisher.publish([entry])    // never throws: a failure is recorded for the relay
}
// snippet.end

// snippet.relay
func runOutbox(store: SQLiteEventStore, bus: RabbitMQEventBus, logger: Logger) async throws {
    var configuration = OutboxRelay.Configuration()
    configuration.publishTimeout = bus.configuration.publishTimeout    // staleAfter must be at least twice this
    configuration.maximumEventSize = bus.configuration.maxEventSize
    let relay = OutboxRelay(log: store, bus: bus, configuration: configuration, logger: logger)

    let group = ServiceGroup(services: [bus, relay], gracefulShutdownSignals: [.sigterm], logger: logger)
    try await group.run()
}
// snippet.end
