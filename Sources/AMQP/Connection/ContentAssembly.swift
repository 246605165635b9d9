import Foundation

/// The message whose content header and body frames are still arriving on a channel. Each channel owns one and
/// reuses it for every message, mutating it in place, so assembling a delivery allocates only its body.
///
/// The body size comes from the wire (a 64-bit field of the content header), so nothing is allocated from it until
/// it is checked against the limit given at ``start(_:bodyLimit:)``: a body announced larger is not read, its frames
/// are counted and dropped as they arrive, and the message comes out with an empty body and the announced size.
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
    /// The size the content header announced.
    private(set) var bodySize: UInt64 = 0
    /// Body bytes seen so far, kept or dropped.
    private var received: UInt64 = 0
    /// The largest body this message may have to be read.
    private var bodyLimit: UInt64 = .max
    /// Set when the announced size is over ``bodyLimit``: body frames are dropped.
    private(set) var omitsBody = false
    private(set) var headerSeen = false
    private var body = Data()

    /// A method frame announced a message (replacing one still in progress, as the broker does not interleave);
    /// a body announced larger than `bodyLimit` bytes will not be read.
    func start(_ kind: consuming Kind, bodyLimit: UInt64) {
        self.kind = kind
        self.bodyLimit = bodyLimit
        if properties != nil { properties = nil }
        bodySize = 0
        received = 0
        omitsBody = false
        headerSeen = false
        if !body.isEmpty { body = Data() }
    }

    /// Whether the next frame should be this message's content header.
    var awaitsHeader: Bool { kind != nil && !headerSeen }

    /// Whether body frames belong to this message.
    var awaitsBody: Bool { kind != nil && headerSeen }

    /// Records the content header.
    func header(bodySize: UInt64, properties: consuming AMQPProperties?) {
        self.properties = properties
        self.bodySize = bodySize
        omitsBody = bodySize > bodyLimit
        headerSeen = true
    }

    /// Appends a body frame's bytes (or only counts them, for a body over the limit); returns `true` once the whole
    /// body is here.
    func append(_ bytes: UnsafeRawPointer, count: Int) -> Bool {
        received &+= UInt64(truncatingIfNeeded: count)
        if omitsBody { return isComplete }
        if body.isEmpty, UInt64(truncatingIfNeeded: count) >= bodySize {
            body = Data(bytes: bytes, count: count)
        } else {
            // Within the limit (checked in `header`), so the size fits in an `Int` and the reservation is bounded.
            if body.isEmpty, let size = Int(exactly: bodySize) { body.reserveCapacity(size) }
            body.append(bytes.assumingMemoryBound(to: UInt8.self), count: count)
        }
        return isComplete
    }

    var isComplete: Bool { received >= bodySize }

    /// Hands out the finished message (moved, not copied) and resets for the next one. `omittedBodySize` is the
    /// announced size when the body was not read (the body is then empty).
    func take() -> (kind: Kind, properties: AMQPProperties, body: Data, omittedBodySize: UInt64?)? {
        guard let kind = kind.take() else { return nil }
        var body = Data()
        swap(&body, &self.body)
        let omitted = omitsBody ? bodySize : nil
        headerSeen = false
        bodySize = 0
        received = 0
        omitsBody = false
        return (kind, properties.take() ?? AMQPProperties(), body, omitted)
    }
}
