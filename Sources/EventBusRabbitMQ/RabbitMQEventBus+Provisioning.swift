import AMQP
import EventBus
import Logging

/// Provisioning: the broker objects of a consuming service, declared without running it.
extension RabbitMQEventBus {
    /// The names ``declareTopology(_:eventTypes:retryPolicy:logger:)`` declared.
    public struct DeclaredTopology: Sendable, Hashable {
        /// The exchange events are published to.
        public var exchange: String
        /// The service queue.
        public var queue: String
        /// The event types (routing keys) the service queue is bound for, sorted.
        public var boundEventTypes: [String]
        /// One retry queue per delay of the retry policy, shortest delay first.
        public var retryQueues: [String]
        /// `<queue>.dead-letter`.
        public var deadLetterQueue: String
    }

    /// Declares on the broker what a bus with `configuration` declares when it starts consuming — the exchange, the
    /// service queue bound for `eventTypes`, a retry queue per delay of `retryPolicy` and the dead-letter queue —
    /// without running the service. Deploy scripts use it so that events published before the service first
    /// starts wait in its queue instead of being returned as unroutable to their publishers. Declaring again is
    /// harmless; a queue that exists with other arguments (another queue type) fails with the broker's
    /// `PRECONDITION_FAILED`, as the bus itself would.
    ///
    /// Cost: one connection, and one declaration per object.
    /// - Throws: `AMQPError` when the broker refuses a declaration or cannot be reached.
    public static func declareTopology(
        _ configuration: RabbitMQEventBusConfiguration, eventTypes: [String], retryPolicy: RetryPolicy = .eventGrid,
        logger: Logger = Logger(label: "eventbus.provisioning", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> DeclaredTopology {
        let topology = Topology(configuration)
        var connectionConfiguration = configuration.connection
        connectionConfiguration.connectionName = "\(configuration.serviceName)-provisioning"
        let connection = try await AMQPConnection.connect(connectionConfiguration, logger: logger)
        do {
            let channel = try await connection.openChannel()
            let delays = Set(retryPolicy.usedDelays)
            try await topology.declareConsumerSide(on: channel, eventTypes: Set(eventTypes), retryDelays: delays)
            await connection.close()
            return DeclaredTopology(
                exchange: topology.exchange, queue: topology.queue, boundEventTypes: Set(eventTypes).sorted(),
                retryQueues: delays.sorted().map(topology.retryQueue(delay:)), deadLetterQueue: topology.deadLetterQueue)
        } catch {
            await connection.close()
            throw error
        }
    }
}
