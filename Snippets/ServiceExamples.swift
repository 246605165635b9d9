// Services end to end: Catalog and Basket (EventBusRabbitMQ's Getting Started), the transactional outbox
// (EventBus's Outbox article), and the SQLite and PostgreSQL stores (their modules' landing pages). Each article quotes
// one slice.

// snippet.hide
import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

// snippet.show
// Getting Started: Catalog publishes ProductPriceChangedIntegrationEvent through its outbox; Basket applies it to
// every basket line of the product, exactly once. runCatalog and runBasket are each one service's `main`.

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

// The transactional outbox: save the change and its event in one transaction, publish after the commit, and let the
// relay send whatever was not confirmed.

// snippet.outbox-save
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

// snippet.outbox-relay
func runOutbox(store: SQLiteEventStore, bus: RabbitMQEventBus, logger: Logger) async throws {
    var configuration = OutboxRelay.Configuration()
    configuration.publishTimeout = bus.configuration.publishTimeout    // staleAfter must be at least twice this
    configuration.maximumEventSize = bus.configuration.maxEventSize
    let relay = OutboxRelay(log: store, bus: bus, configuration: configuration, logger: logger)

    let group = ServiceGroup(services: [bus, relay], gracefulShutdownSignals: [.sigterm], logger: logger)
    try await group.run()
}
// snippet.end

// The SQLite store: one file for the service's tables, its outbox and its processed-message ids.

// snippet.sqlite-store
func runWithSQLite(bus: RabbitMQEventBus, logger: Logger) async throws {
    let store = try SQLiteEventStore(path: "/var/lib/catalog/catalog.sqlite", logger: logger)
    try await store.write { db in
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS catalog_item (id INTEGER PRIMARY KEY, price TEXT NOT NULL)")
    }
    let relay = OutboxRelay(log: store, bus: bus, logger: logger)
    let pruner = ProcessedMessagePruner(store: store, logger: logger)
    try await ServiceGroup(services: [bus, relay, pruner], gracefulShutdownSignals: [.sigterm], logger: logger).run()
}
// snippet.end

// The PostgreSQL store on a postgres-nio client that runs in the same ServiceGroup as the bus and the relay.

// snippet.postgres-run
func runWithPostgres(bus: RabbitMQEventBus, logger: Logger) async throws {
    let client = PostgresClient(
        configuration: try PostgresEventStore.clientConfiguration(url: "postgres://catalog:secret@db:5432/catalog"))
    let store = PostgresEventStore(client: client, logger: logger)
    let relay = OutboxRelay(log: store, bus: bus, logger: logger)

    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await ServiceGroup(
                services: [client, bus, relay], gracefulShutdownSignals: [.sigterm], logger: logger
            ).run()
        }
        try await store.migrate()    // once the client runs: creates integration_event_log and processed_messages
        try await group.waitForAll()
    }
}
// snippet.end

// snippet.postgres-save
func changePrice(
    _ event: ProductPriceChangedIntegrationEvent, store: PostgresEventStore, publisher: OutboxPublisher, logger: Logger
) async throws {
    let entry = try await store.withTransaction { connection in
        try await connection.query(
            "UPDATE catalog_item SET price = \(event.newPrice) WHERE id = \(event.productId)", logger: logger)
        return try await PostgresEventStore.save(event, on: connection, logger: logger)
    }
    await publisher.publish([entry])
}
// snippet.end
