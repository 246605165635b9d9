// Exactly-once effects: the handler records the event id in the transaction that applies the event.

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

// snippet.show
// snippet.sqlite
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

// snippet.postgres
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
