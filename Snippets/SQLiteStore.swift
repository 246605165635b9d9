// The SQLite store: one file for the service's tables, its outbox and its processed-message ids.

// snippet.hide
import EventBus
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import Logging
import ServiceLifecycle

// snippet.show
func runWithSQLite(bus: RabbitMQEventBus, logger: Logger) async throws {
    let store = try SQLiteEventStore(path: "/var/lib/catalog/catalog.sqlite", logger: logger)
    try await store.write { db in
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS catalog_item (id INTEGER PRIMARY KEY, price TEXT NOT NULL)")
    }
    let relay = OutboxRelay(log: store, bus: bus, logger: logger)
    let pruner = ProcessedMessagePruner(store: store, logger: logger)
    try await ServiceGroup(services: [bus, relay, pruner], gracefulShutdownSignals: [.sigterm], logger: logger).run()
}
