import EventBus
import EventBusRabbitMQ
import Logging

extension SampleConfiguration {
    /// The sample's bus: RabbitMQ at ``eventBusURL``, deduplicating with the database's processed-message store.
    /// Bootstraps metrics first, so that the bus's counters reach `GET /metrics`.
    public func makeEventBus(database: SampleDatabase, logger: Logger) throws -> RabbitMQEventBus {
        PrometheusMetrics.bootstrap()
        return try RabbitMQEventBus(configuration: busConfiguration(), store: database.processedMessages, logger: logger)
    }
}
