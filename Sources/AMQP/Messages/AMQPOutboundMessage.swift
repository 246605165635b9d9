import Foundation

/// A message to publish with ``AMQPChannel/publish(_:deadline:)``, which sends several back to back.
public struct AMQPOutboundMessage: Sendable {
    /// The message body.
    public var body: Data
    /// The exchange to publish to; `""` is the default exchange.
    public var exchange: String
    /// The routing key.
    public var routingKey: String
    /// Whether the broker returns the message (`basic.return`) when no queue is bound for it.
    public var mandatory: Bool
    /// The basic properties and headers.
    public var properties: AMQPProperties

    /// Creates a message.
    public init(
        _ body: Data, exchange: String = "", routingKey: String, mandatory: Bool = false,
        properties: AMQPProperties = AMQPProperties()
    ) {
        self.body = body
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
        self.properties = properties
    }
}
