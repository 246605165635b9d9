import Foundation

/// The basic properties of a message (the AMQP content header). Every field is optional; unset fields are not
/// sent.
public struct AMQPProperties: Sendable, Hashable {
    /// Whether the broker writes the message to disk.
    public enum DeliveryMode: UInt8, Sendable, Hashable {
        /// Kept in memory only (1).
        case transient = 1
        /// Written to disk by durable queues (2).
        case persistent = 2
    }

    /// MIME type of the body, e.g. `application/json`.
    public var contentType: String?
    /// Content encoding of the body, e.g. `gzip`.
    public var contentEncoding: String?
    /// Application headers.
    public var headers: AMQPTable?
    /// Transient or persistent.
    public var deliveryMode: DeliveryMode?
    /// Priority 0...9 (for priority queues).
    public var priority: UInt8?
    /// Correlation id, e.g. to match a reply to its request.
    public var correlationID: String?
    /// Queue to reply to.
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a decimal string.
    public var expiration: String?
    /// Application message id; the event bus puts the event id here.
    public var messageID: String?
    /// Creation time, in whole seconds.
    public var timestamp: Date?
    /// Message type name; the event bus puts the event type here.
    public var type: String?
    /// The user who published; RabbitMQ checks it matches the connection's user.
    public var userID: String?
    /// The publishing application.
    public var appID: String?
    /// Reserved by the specification.
    public var clusterID: String?

    /// Creates properties; every field defaults to unset.
    public init(
        contentType: String? = nil,
        contentEncoding: String? = nil,
        headers: AMQPTable? = nil,
        deliveryMode: DeliveryMode? = nil,
        priority: UInt8? = nil,
        correlationID: String? = nil,
        replyTo: String? = nil,
        expiration: String? = nil,
        messageID: String? = nil,
        timestamp: Date? = nil,
        type: String? = nil,
        userID: String? = nil,
        appID: String? = nil,
        clusterID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
        self.clusterID = clusterID
    }
}
