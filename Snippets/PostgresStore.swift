// The PostgreSQL store on a postgres-nio client that runs in the same ServiceGroup as the bus and the relay.

// snippet.hide
import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

// snippet.show
// snippet.run
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

// snippet.save
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
