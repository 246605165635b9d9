import Foundation

/// A publish on its way to the connection thread. It holds the Swift values only: the connection thread encodes
/// them into C structures in its reusable scratch arena right before `amqp_basic_publish`, so queueing a publish
/// allocates nothing of its own.
struct PublishRequest: Sendable {
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    let properties: AMQPProperties
    let body: Data
    /// The caller waiting for the outcome; `nil` for a transient publish that returned as soon as it was queued.
    let continuation: UnsafeContinuation<Void, any Error>?

    /// Whether `amqp_basic_publish` can only fail on the socket for this message, never while encoding it: no
    /// headers table (whose size is only known once encoded) and every short string within 255 bytes. Only such
    /// messages may be queued without waiting, since nobody would be told of an encoding error.
    static func alwaysEncodable(exchange: String, routingKey: String, properties p: AMQPProperties) -> Bool {
        func fits(_ text: String?) -> Bool { (text?.utf8.count ?? 0) <= 255 }
        return p.headers == nil && fits(exchange) && fits(routingKey) && fits(p.contentType) && fits(p.contentEncoding)
            && fits(p.correlationID) && fits(p.replyTo) && fits(p.expiration) && fits(p.messageID) && fits(p.type)
            && fits(p.userID) && fits(p.appID) && fits(p.clusterID)
    }
}

/// A publish sent on a confirm-mode channel, waiting for `basic.ack` / `basic.nack`.
struct PendingConfirm {
    let request: PublishRequest
    /// Set when a `basic.return` matched this publish: its ack then fails the publish with this error.
    var returned: AMQPError?

    init(_ request: consuming PublishRequest) {
        self.request = request
    }

    var continuation: UnsafeContinuation<Void, any Error>? { request.continuation }
}
