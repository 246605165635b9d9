import Foundation

/// The message whose content header and body frames are still arriving on a channel. Each channel owns one and
/// reuses it for every message, mutating it in place, so assembling a delivery allocates only its body.
final class ContentAssembly {
    enum Kind {
        case deliver(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
        case returned(replyCode: UInt16, replyText: String, exchange: String, routingKey: String)
        case getOk(PendingRPC, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String, messageCount: UInt32)
    }

    /// What the method frame announced; `nil` when no message is in progress.
    private(set) var kind: Kind?
    /// From the content header; `nil` before it (or when it had none).
    private var properties: AMQPProperties?
    private(set) var bodySize = 0
    private(set) var headerSeen = false
    private var body = Data()

    /// A method frame announced a message (replacing one still in progress, as the broker does not interleave).
    func start(_ kind: consuming Kind) {
        self.kind = kind
        if properties != nil { properties = nil }
        bodySize = 0
        headerSeen = false
        if !body.isEmpty { body = Data() }
    }

    /// Whether the next frame should be this message's content header.
    var awaitsHeader: Bool { kind != nil && !headerSeen }

    /// Whether body frames belong to this message.
    var awaitsBody: Bool { kind != nil && headerSeen }

    /// Records the content header.
    func header(bodySize: Int, properties: consuming AMQPProperties?) {
        self.properties = properties
        self.bodySize = bodySize
        headerSeen = true
    }

    /// Appends a body frame's bytes; returns `true` once the whole body is here.
    func append(_ bytes: UnsafeRawPointer, count: Int) -> Bool {
        if body.isEmpty, count >= bodySize {
            body = Data(bytes: bytes, count: count)
        } else {
            if body.isEmpty { body.reserveCapacity(bodySize) }
            body.append(bytes.assumingMemoryBound(to: UInt8.self), count: count)
        }
        return isComplete
    }

    var isComplete: Bool { body.count >= bodySize }

    /// Hands out the finished message (moved, not copied) and resets for the next one.
    func take() -> (kind: Kind, properties: AMQPProperties, body: Data)? {
        guard let kind = kind.take() else { return nil }
        var body = Data()
        swap(&body, &self.body)
        headerSeen = false
        bodySize = 0
        return (kind, properties.take() ?? AMQPProperties(), body)
    }
}
