import CRabbitMQ
import Foundation

/// A decoded synchronous reply from the broker.
enum RPCReply: Sendable {
    case ok
    case queueDeclareOk(queue: String, messageCount: UInt32, consumerCount: UInt32)
    case messageCount(UInt32)
    case consumerTag(String)
    case getEmpty
    case getOk(AMQPDelivery)
}

/// An RPC waiting for its reply on a channel. Replies on one channel arrive in request order.
struct PendingRPC {
    let expected: [amqp_method_number_t]
    /// For `basic.get` without no-ack: the message it returns must be acknowledged (tracked in
    /// ``ChannelState/unacked``).
    var deliveryNeedsAck = false
    let complete: (Result<RPCReply, AMQPError>) -> Void
}

/// Events of a connection's life that are not replies to an operation.
public enum AMQPConnectionEvent: Sendable, Hashable {
    /// The broker stopped reading from this connection (a resource alarm). Publishes wait until it unblocks.
    case blocked(reason: String)
    /// The broker reads from this connection again.
    case unblocked
    /// The connection ended: `nil` when this client closed it, otherwise the reason.
    case closed(AMQPError?)
}
