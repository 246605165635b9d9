import AMQP
import EventBus

/// The RabbitMQ objects one service's bus uses (DESIGN section 3), named in one place and declared from one
/// record, so that a reconnect re-declares exactly what the first connection did.
struct Topology: Sendable {
    let exchange: String
    let exchangeType: AMQPExchangeType
    let exchangeDurable: Bool
    let queue: String
    let queueType: RabbitMQEventBusConfiguration.QueueType
    let deadLetterQueueMaxLength: Int?
    let deadLetterQueueMessageTTL: Duration?

    init(_ configuration: RabbitMQEventBusConfiguration) {
        exchange = configuration.exchange
        exchangeType = configuration.exchangeType
        exchangeDurable = configuration.exchangeDurable
        queue = configuration.queue
        queueType = configuration.queueType
        deadLetterQueueMaxLength = configuration.deadLetterQueueMaxLength
        deadLetterQueueMessageTTL = configuration.deadLetterQueueMessageTTL
    }

    /// The names (``RabbitMQTopology``).
    var names: RabbitMQTopology { RabbitMQTopology(queue: queue) }

    /// `<queue>.dead-letter`.
    var deadLetterQueue: String { names.deadLetterQueue }

    /// `<queue>.retry.<milliseconds>`: holds retries for one delay, then dead-letters them back to the queue.
    func retryQueue(delay: Duration) -> String { names.retryQueue(delay: delay) }

    /// Declares the exchange (publishers need only this).
    func declareExchange(on channel: AMQPChannel) async throws {
        try await channel.exchangeDeclare(exchange, type: exchangeType, durable: exchangeDurable)
    }

    /// Declares the exchange, the service queue with its bindings, the retry queues and the dead-letter queue. All
    /// three kinds take ``queueType``: with quorum queues a retry waiting out its delay and a dead letter are
    /// replicated like the events in the service queue.
    ///
    /// The service queue dead-letters to the dead-letter queue through the default exchange: what the bus rejects
    /// without requeueing (a body over the size limit, which it does not read; an event it could not forward after
    /// ``RabbitMQEventBusConfiguration/maxForwardAttempts``) reaches it as it arrived.
    func declareConsumerSide(on channel: AMQPChannel, eventTypes: Set<String>, retryDelays: Set<Duration>) async throws {
        try await declareExchange(on: channel)
        try await channel.queueDeclare(queue, durable: true, arguments: serviceQueueArguments)
        for eventType in eventTypes.sorted() {
            try await channel.queueBind(queue, exchange: exchange, routingKey: eventType)
        }
        for delay in retryDelays.sorted() {
            var arguments: AMQPTable = [
                RabbitMQTopology.messageTTLArgument: .int64(RabbitMQTopology.milliseconds(delay)),
                RabbitMQTopology.deadLetterExchangeArgument: "",
                RabbitMQTopology.deadLetterRoutingKeyArgument: .string(queue),
            ]
            if queueType == .quorum {
                // A quorum queue dead-letters at most once unless told otherwise: an expired retry would be dropped
                // if the service queue could not take it. At least once keeps it until the service queue has it
                // (RabbitMQ requires reject-publish overflow for that strategy; these queues have no length limit).
                arguments[RabbitMQTopology.queueTypeArgument] = "quorum"
                arguments[RabbitMQTopology.deadLetterStrategyArgument] = "at-least-once"
                arguments[RabbitMQTopology.overflowArgument] = "reject-publish"
            }
            try await channel.queueDeclare(retryQueue(delay: delay), durable: true, arguments: arguments)
        }
        try await channel.queueDeclare(deadLetterQueue, durable: true, arguments: deadLetterQueueArguments)
    }

    /// The service queue's arguments: its type, and its dead-letter route.
    var serviceQueueArguments: AMQPTable {
        var arguments: AMQPTable = [
            RabbitMQTopology.queueTypeArgument: .string(queueType.rawValue),
            RabbitMQTopology.deadLetterExchangeArgument: "",
            RabbitMQTopology.deadLetterRoutingKeyArgument: .string(deadLetterQueue),
        ]
        if queueType == .quorum {
            // At least once: a rejected event stays until the dead-letter queue has it (see the retry queues).
            arguments[RabbitMQTopology.deadLetterStrategyArgument] = "at-least-once"
            arguments[RabbitMQTopology.overflowArgument] = "reject-publish"
        }
        return arguments
    }

    /// The dead-letter queue's arguments: its type and the optional length and age limits.
    var deadLetterQueueArguments: AMQPTable {
        var arguments: AMQPTable = queueType == .quorum ? [RabbitMQTopology.queueTypeArgument: "quorum"] : [:]
        if let length = deadLetterQueueMaxLength { arguments[RabbitMQTopology.maxLengthArgument] = .int64(Int64(clamping: length)) }
        if let ttl = deadLetterQueueMessageTTL { arguments[RabbitMQTopology.messageTTLArgument] = .int64(RabbitMQTopology.milliseconds(ttl)) }
        return arguments
    }
}
