import CRabbitMQ
import Foundation

/// A unit of work for the connection thread. `run` executes on the thread; `fail` is called instead (on any
/// thread) when the connection is already closed, so every submitted operation completes exactly once.
struct Command: Sendable {
    let run: @Sendable (ConnectionDriver) -> Void
    let fail: @Sendable (AMQPError) -> Void
}

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
    let complete: (Result<RPCReply, AMQPError>) -> Void
}

/// A publish on its way to the connection thread: the C view of its properties is built by the caller, so the
/// thread only calls `amqp_basic_publish`.
final class PublishRequest: @unchecked Sendable {
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    let body: Data
    let arena = CArena()
    var cProperties: amqp_basic_properties_t
    let cExchange: amqp_bytes_t
    let cRoutingKey: amqp_bytes_t
    let complete: @Sendable (Result<Void, AMQPError>) -> Void

    init(
        exchange: String, routingKey: String, mandatory: Bool, properties: AMQPProperties, body: Data,
        complete: @escaping @Sendable (Result<Void, AMQPError>) -> Void
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
        self.body = body
        self.complete = complete
        self.cProperties = arena.properties(properties)
        self.cExchange = arena.bytes(exchange)
        self.cRoutingKey = arena.bytes(routingKey)
    }
}

/// A publish sent on a confirm-mode channel, waiting for `basic.ack` / `basic.nack`.
struct PendingConfirm {
    let request: PublishRequest
    /// Set when a `basic.return` matched this publish: its ack then fails the publish with this error.
    var returned: AMQPError?
}

/// A message whose content header and body frames are still arriving.
struct ContentAssembly {
    enum Kind {
        case deliver(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
        case returned(replyCode: UInt16, replyText: String, exchange: String, routingKey: String)
        case getOk(PendingRPC, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String, messageCount: UInt32)
    }

    var kind: Kind
    var properties = AMQPProperties()
    var bodySize = 0
    var headerSeen = false
    var body = Data()
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
