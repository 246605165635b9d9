/// The four exchange types of AMQP 0-9-1 (plus any plug-in type by name).
public struct AMQPExchangeType: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    /// The type name sent to the broker.
    public var rawValue: String
    /// Creates an exchange type from its name.
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Routes to queues bound with exactly the routing key.
    public static let direct = AMQPExchangeType(rawValue: "direct")
    /// Routes to every bound queue.
    public static let fanout = AMQPExchangeType(rawValue: "fanout")
    /// Routes by routing-key pattern (`*` one word, `#` zero or more).
    public static let topic = AMQPExchangeType(rawValue: "topic")
    /// Routes by matching headers (`x-match` all or any).
    public static let headers = AMQPExchangeType(rawValue: "headers")
}

/// What the broker reports about a queue after a declare.
public struct AMQPQueueInfo: Sendable, Hashable {
    /// The queue's name (server-generated when the declare asked for "").
    public var name: String
    /// Messages ready for delivery (not counting unacknowledged ones).
    public var messageCount: UInt32
    /// Active consumers.
    public var consumerCount: UInt32
}
