// Catalog publishes ProductPriceChangedIntegrationEvent through its outbox; Basket applies it to every basket line
// of the product, exactly once. Each function is one service's `main`.

// snippet.hide
import EventBus
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import Logging
import ServiceLifecycle

// snippet.show
// snippet.event
struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}
// snippet.end

// snippet.catalog
func runCatalog() async throws {
    let logger = Logger(label: "catalog")
    let url = ProcessInfo.processInfo.environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"

    // The service's own tables and the outbox share one SQLite file.
    let store = try SQLiteEventStore(path: "catalog.sqlite", logger: logger)
    try await store.write { db in
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS catalog_item (id INTEGER PRIMARY KEY, price TEXT NOT NULL)")
    }

    let bus = try RabbitMQEventBus(
        configuration: RabbitMQEventBusConfiguration(url: url, serviceName: "catalog"), logger: logger)
    let publisher = OutboxPublisher(log: store, bus: bus, logger: logger)
    let relay = OutboxRelay(log: store, bus: bus, logger: logger)
    // Your HTTP server goes in the group too; its routes call changePrice(...) with store and publisher.
    // snippet.hide
    _ = publisher
    // snippet.show

    let group = ServiceGroup(
        services: [bus, relay], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
}
// snippet.end

// snippet.change-price
func changePrice(
    of productId: Int, from oldPrice: Decimal, to newPrice: Decimal,
    store: SQLiteEventStore, publisher: OutboxPublisher
) async throws {
    let event = ProductPriceChangedIntegrationEvent(productId: productId, newPrice: newPrice, oldPrice: oldPrice)
    // The new price and its event commit together...
    let entry = try await store.write { db in
        try db.execute(sql: "UPDATE catalog_item SET price = ? WHERE id = ?", arguments: ["\(newPrice)", productId])
        return try SQLiteEventStore.save(event, in: db)
    }
    // ...then the event is published; if that fails, the relay sends it later.
    await publisher.publish([entry])
}
// snippet.end

// snippet.basket
func runBasket() async throws {
    let logger = Logger(label: "basket")
    let url = ProcessInfo.processInfo.environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"

    // Baskets and the processed-message store share one SQLite file.
    let store = try SQLiteEventStore(path: "basket.sqlite", logger: logger)
    try await store.write { db in
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS basket_item (
                buyer_id TEXT NOT NULL, product_id INTEGER NOT NULL,
                unit_price TEXT NOT NULL, old_unit_price TEXT NOT NULL)
            """)
    }

    let bus = try RabbitMQEventBus(
        configuration: RabbitMQEventBusConfiguration(url: url, serviceName: "basket"), store: store, logger: logger)

    try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, context in
        try await store.write { db in
            // Recorded in the transaction of the effect: a second delivery of this event changes nothing.
            guard try SQLiteEventStore.markProcessed(
                consumer: context.consumer, messageID: context.eventID, in: db) else { return }
            try db.execute(
                sql: "UPDATE basket_item SET old_unit_price = unit_price, unit_price = ? WHERE product_id = ?",
                arguments: ["\(event.newPrice)", event.productId])
        }
    }

    let pruner = ProcessedMessagePruner(store: store, logger: logger)
    let group = ServiceGroup(
        services: [bus, pruner], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
}
// snippet.end
