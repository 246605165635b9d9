import Foundation

/// A message delivered to a consumer or fetched with `basic.get`.
///
/// Acknowledge it on the channel it came from (``AMQPChannel/ack(_:multiple:)``), or through its consumer.
public struct AMQPDelivery: Sendable {
    /// The message body.
    public var body: Data
    /// The message's basic properties.
    public var properties: AMQPProperties
    /// The channel-scoped tag to acknowledge this delivery with.
    public var deliveryTag: UInt64
    /// `true` when the broker delivered this message before (to this or another consumer) without an ack.
    public var redelivered: Bool
    /// The exchange the message was published to (empty for the default exchange).
    public var exchange: String
    /// The routing key it was published with.
    public var routingKey: String
    /// The consumer it was delivered to; empty for `basic.get`.
    public var consumerTag: String
    /// For `basic.get`: how many messages remained in the queue.
    public var messageCount: UInt32?
    /// Set when the body was not read because its content header announced more than the body limit
    /// (``AMQPConnectionConfiguration/maxBodySize``, or the consumer's `maxBodySize`): the size announced, in bytes.
    /// ``body`` is then empty; nothing was allocated for it and the connection goes on. Settle the delivery as usual:
    /// `reject(requeue: false)` lets the queue's dead-letter exchange move the intact message aside, while a requeue
    /// would bring it straight back. `nil` for a body that was read.
    public var omittedBodySize: UInt64?

    /// The headers table, or an empty table when the message has none.
    public var headers: AMQPTable { properties.headers ?? [:] }
}
