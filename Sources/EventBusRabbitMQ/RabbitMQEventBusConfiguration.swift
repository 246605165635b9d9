import AMQP
import EventBus

/// Everything a ``RabbitMQEventBus`` needs to know: where the broker is, what this service is called, and the
/// topology and delivery settings (DESIGN sections 3 and 5). A value type with sensible defaults.
///
/// ```swift
/// var configuration = try RabbitMQEventBusConfiguration(url: "amqp://guest:guest@127.0.0.1:5672/", serviceName: "basket")
/// configuration.exchange = "eshop_event_bus"       // interoperate with eShop (direct, non-durable)
/// configuration.exchangeDurable = false
/// ```
public struct RabbitMQEventBusConfiguration: Sendable {
    /// Queue type of the service's queues: the service queue, its retry queues and its dead-letter queue.
    public enum QueueType: String, Sendable, Hashable {
        /// A classic queue (single node).
        case classic
        /// Quorum queues (replicated; for clusters). Retry queues then return events to the service queue at least
        /// once (`x-dead-letter-strategy: at-least-once`).
        case quorum
    }

    /// The broker(s) to connect to.
    public var connection: AMQPConnectionConfiguration
    /// This service's name: its queue's name (unless ``queueName`` is set), the `app_id` and CloudEvents `source`
    /// of what it publishes.
    public var serviceName: String
    /// The exchange events are published to and queues bound on. Default `event_bus`.
    public var exchange: String
    /// Its type: `direct` (eShop) or `topic`. Routing key = event type name either way.
    public var exchangeType: AMQPExchangeType
    /// Whether the exchange is durable. eShop declares `eshop_event_bus` non-durable: match what exists.
    public var exchangeDurable: Bool
    /// The service queue; defaults to ``serviceName``.
    public var queueName: String?
    /// Classic or quorum, for all of the service's queues. Default classic. Changing it for a service whose queues
    /// exist fails the declaration (RabbitMQ cannot convert a queue): drain and delete them first.
    ///
    /// A retry waits in a retry queue and the broker itself moves it back to the service queue when its delay ends.
    /// A classic retry queue makes that move without confirms, so it happens at most once: if the broker crashes in
    /// the middle of the move, the event can be lost (a graceful broker restart while events wait loses nothing).
    /// Quorum retry queues move events at least once (`x-dead-letter-strategy: at-least-once`) and the bus
    /// deduplicates the copy; choose ``QueueType/quorum`` for any event that must not be lost.
    public var queueType: QueueType
    /// Most unacknowledged deliveries this instance holds (basic.qos). Default 100.
    public var prefetch: UInt16
    /// How many handlers run at once. 1 (the default) handles events in queue order. With more than 1, handlers run
    /// on the global concurrent executor and may use every core; with 1, see ``consumesOnConnectionThread``.
    public var handlerConcurrency: Int
    /// Whether deliveries are decoded, deduplicated and acknowledged on the consuming connection's own thread
    /// (`AMQPConnection.taskExecutor`), together with the handler when ``handlerConcurrency`` is 1: no thread
    /// hand-off per event, so less latency and CPU per event. While a handler runs there without suspending, that
    /// connection reads nothing and sends no heartbeat: a handler that blocks its thread for long (synchronous I/O,
    /// a long computation) should run elsewhere, or set this to `false` (a stretch of more than a second is logged as
    /// a warning saying so). Default `true`.
    public var consumesOnConnectionThread: Bool
    /// Most publishes awaiting a confirm at once. Default 1 000.
    public var publishConfirmWindow: Int
    /// How long `publish` may wait for a connection and a confirm before it throws
    /// `EventBusError.publishTimedOut(eventID:after:)`. Default 30 s.
    public var publishTimeout: Duration
    /// How long publishes may wait for the broker's confirms on one channel before the bus closes that channel and
    /// sends them again on a fresh one (consumers deduplicate a copy that did arrive). A guard against confirms that
    /// never come: RabbitMQ 3.10's quorum queue client, on a channel opened just after the queue's leader crashed,
    /// keeps sending to the dead leader. Not applied while the broker blocks publishing (a resource alarm), when
    /// confirms are late for a reason resending cannot fix. Default 10 s; it matters only below ``publishTimeout``.
    public var publishConfirmStallTimeout: Duration
    /// The largest event body, in bytes, this bus publishes or reads. Default 1 MiB. A larger publish fails with
    /// `EventBusError.eventTooLarge(eventID:size:limit:)` before anything is sent; a larger delivery is not read (no
    /// memory is allocated for it) and the broker moves it, as it arrived, to the dead-letter queue (reason
    /// `TooLarge` in the log and the `eventbus_dead_lettered_total` metric).
    public var maxEventSize: Int
    /// How long a graceful shutdown lets handlers that already started finish. Deliveries that did not start are
    /// given back to the broker at once; a handler still running when this passes is abandoned (its delivery goes
    /// back to the queue when the connection closes, and the processed-message store keeps its effect single).
    /// Default 10 s.
    public var shutdownGracePeriod: Duration
    /// How long a copy sent to a retry or dead-letter queue may wait for its confirm. Default 10 s.
    public var forwardTimeout: Duration
    /// How many times in a row the bus tries to forward one event to a retry or dead-letter queue (with a growing
    /// pause, up to 5 s, each time it gives the delivery back) before it rejects the delivery, so that the broker
    /// dead-letters it as it arrived, without the bus's headers (the reason is in the log and the
    /// `eventbus_forward_failed_total` metric). Default 5.
    public var maxForwardAttempts: Int
    /// Most messages the dead-letter queue keeps (`x-max-length`); the oldest go first when it is full. Default
    /// `nil`: no limit.
    public var deadLetterQueueMaxLength: Int?
    /// How long a dead letter is kept (`x-message-ttl`). Default `nil`: until an operator removes it.
    public var deadLetterQueueMessageTTL: Duration?
    /// Reconnection backoff.
    public var reconnect: ReconnectPolicy
    /// Body key style for what this service publishes.
    public var codec: EventCodec

    /// Creates a configuration from a broker URL (`EVENTBUS_URL`) and the service's name.
    public init(url: String, serviceName: String) throws {
        try self.init(connection: AMQPConnectionConfiguration(url: url), serviceName: serviceName)
    }

    /// Creates a configuration.
    public init(connection: AMQPConnectionConfiguration, serviceName: String) throws {
        guard !serviceName.isEmpty, serviceName.utf8.count <= 200 else {
            throw EventBusError.invalidConfiguration("serviceName must have 1...200 bytes")
        }
        self.connection = connection
        self.serviceName = serviceName
        self.exchange = "event_bus"
        self.exchangeType = .direct
        self.exchangeDurable = true
        self.queueName = nil
        self.queueType = .classic
        self.prefetch = 100
        self.handlerConcurrency = 1
        self.consumesOnConnectionThread = true
        self.publishConfirmWindow = 1_000
        self.publishTimeout = .seconds(30)
        self.publishConfirmStallTimeout = .seconds(10)
        self.maxEventSize = 1_048_576
        self.shutdownGracePeriod = .seconds(10)
        self.forwardTimeout = .seconds(10)
        self.maxForwardAttempts = 5
        self.deadLetterQueueMaxLength = nil
        self.deadLetterQueueMessageTTL = nil
        self.reconnect = ReconnectPolicy()
        self.codec = EventCodec()
    }

    /// The service queue's name.
    public var queue: String { queueName ?? serviceName }

    func validate() throws {
        guard handlerConcurrency >= 1 else { throw EventBusError.invalidConfiguration("handlerConcurrency must be at least 1") }
        guard prefetch >= 1 else { throw EventBusError.invalidConfiguration("prefetch must be at least 1") }
        guard publishConfirmWindow >= 1 else { throw EventBusError.invalidConfiguration("publishConfirmWindow must be at least 1") }
        guard publishTimeout > .zero else { throw EventBusError.invalidConfiguration("publishTimeout must be positive") }
        guard publishConfirmStallTimeout > .zero else {
            throw EventBusError.invalidConfiguration("publishConfirmStallTimeout must be positive")
        }
        guard (1...134_217_728).contains(maxEventSize) else {
            throw EventBusError.invalidConfiguration("maxEventSize must be 1...134217728 bytes (RabbitMQ's own limit is 128 MiB), not \(maxEventSize)")
        }
        guard shutdownGracePeriod >= .zero else { throw EventBusError.invalidConfiguration("shutdownGracePeriod must not be negative") }
        guard forwardTimeout > .zero else { throw EventBusError.invalidConfiguration("forwardTimeout must be positive") }
        guard (1...100).contains(maxForwardAttempts) else {
            throw EventBusError.invalidConfiguration("maxForwardAttempts must be 1...100, not \(maxForwardAttempts)")
        }
        if let length = deadLetterQueueMaxLength, length < 1 {
            throw EventBusError.invalidConfiguration("deadLetterQueueMaxLength must be at least 1 (or nil for no limit)")
        }
        if let ttl = deadLetterQueueMessageTTL, ttl < .milliseconds(1) || ttl.milliseconds > Int64(UInt32.max) {
            throw EventBusError.invalidConfiguration("deadLetterQueueMessageTTL must be 1 ms...49 days (or nil to keep dead letters)")
        }
    }
}

/// Exponential backoff with full jitter between reconnection attempts.
public struct ReconnectPolicy: Sendable, Hashable {
    /// First delay.
    public var initialDelay: Duration
    /// Largest delay.
    public var maximumDelay: Duration

    /// Creates a policy; defaults 100 ms doubling up to 10 s.
    public init(initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(10)) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The delay before attempt `attempt` (0-based): a random value up to the exponential bound.
    public func delay(attempt: Int) -> Duration {
        let bound = min(Double(initialDelay.milliseconds) * pow(2, Double(min(attempt, 20))), Double(maximumDelay.milliseconds))
        return .milliseconds(Int64(Double.random(in: bound / 2...max(bound, 1))))
    }
}

import Foundation
