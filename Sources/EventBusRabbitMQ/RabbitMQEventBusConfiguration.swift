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
    public var queueType: QueueType
    /// Most unacknowledged deliveries this instance holds (basic.qos). Default 100.
    public var prefetch: UInt16
    /// How many handlers run at once. 1 (the default) handles events in queue order. With more than 1, handlers run
    /// on the global concurrent executor and may use every core; with 1, see ``consumesOnConnectionThread``.
    public var handlerConcurrency: Int
    /// Whether deliveries are decoded, deduplicated and acknowledged on the consuming connection's own thread
    /// (``AMQP/AMQPConnection/taskExecutor``), together with the handler when ``handlerConcurrency`` is 1: no thread
    /// hand-off per event, so less latency and CPU per event. While a handler runs there without suspending, that
    /// connection reads nothing and sends no heartbeat: a handler that blocks its thread for long (synchronous I/O,
    /// a long computation) should run elsewhere, or set this to `false` (a stretch of more than a second is logged as
    /// a warning saying so). Default `true`.
    public var consumesOnConnectionThread: Bool
    /// Most publishes awaiting a confirm at once. Default 1 000.
    public var publishConfirmWindow: Int
    /// How long `publish` may wait for a connection and a confirm before it throws
    /// ``EventBusError/publishTimedOut(eventID:after:)``. Default 30 s.
    public var publishTimeout: Duration
    /// How long publishes may wait for the broker's confirms on one channel before the bus closes that channel and
    /// sends them again on a fresh one (consumers deduplicate a copy that did arrive). A guard against confirms that
    /// never come: RabbitMQ 3.10's quorum queue client, on a channel opened just after the queue's leader crashed,
    /// keeps sending to the dead leader. Not applied while the broker blocks publishing (a resource alarm), when
    /// confirms are late for a reason resending cannot fix. Default 10 s; it matters only below ``publishTimeout``.
    public var publishConfirmStallTimeout: Duration
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
