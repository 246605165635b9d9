/// A reply code from the broker, as carried by `connection.close`, `channel.close` and `basic.return`.
///
/// The named constants are the codes of the AMQP 0-9-1 specification that RabbitMQ uses.
public struct AMQPReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The numeric code.
    public var rawValue: UInt16

    /// Creates a reply code from its number.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 200: the operation succeeded (a normal close).
    public static let success = AMQPReplyCode(rawValue: 200)
    /// 311: the message was too large for the broker.
    public static let contentTooLarge = AMQPReplyCode(rawValue: 311)
    /// 312: a `mandatory` message could not be routed to any queue.
    public static let noRoute = AMQPReplyCode(rawValue: 312)
    /// 313: an `immediate` message had no consumer.
    public static let noConsumers = AMQPReplyCode(rawValue: 313)
    /// 320: an operator closed the connection (for example `rabbitmqctl close_connection`).
    public static let connectionForced = AMQPReplyCode(rawValue: 320)
    /// 402: an invalid name or path.
    public static let invalidPath = AMQPReplyCode(rawValue: 402)
    /// 403: the user may not do this (wrong credentials, or no permission on the vhost or resource).
    public static let accessRefused = AMQPReplyCode(rawValue: 403)
    /// 404: the exchange or queue does not exist.
    public static let notFound = AMQPReplyCode(rawValue: 404)
    /// 405: the resource is locked by another connection (for example an exclusive queue).
    public static let resourceLocked = AMQPReplyCode(rawValue: 405)
    /// 406: a precondition failed (for example re-declaring a queue with other arguments, or an unknown delivery tag).
    public static let preconditionFailed = AMQPReplyCode(rawValue: 406)
    /// 501: a malformed frame.
    public static let frameError = AMQPReplyCode(rawValue: 501)
    /// 502: a malformed field.
    public static let syntaxError = AMQPReplyCode(rawValue: 502)
    /// 503: a command out of order.
    public static let commandInvalid = AMQPReplyCode(rawValue: 503)
    /// 504: a channel used wrongly.
    public static let channelError = AMQPReplyCode(rawValue: 504)
    /// 505: an unexpected frame.
    public static let unexpectedFrame = AMQPReplyCode(rawValue: 505)
    /// 506: the broker lacks a resource.
    public static let resourceError = AMQPReplyCode(rawValue: 506)
    /// 530: the operation is not allowed (for example a vhost the user cannot open).
    public static let notAllowed = AMQPReplyCode(rawValue: 530)
    /// 540: the broker does not implement this.
    public static let notImplemented = AMQPReplyCode(rawValue: 540)
    /// 541: an internal broker error.
    public static let internalError = AMQPReplyCode(rawValue: 541)

    public var description: String {
        let names: [UInt16: String] = [
            200: "REPLY_SUCCESS", 311: "CONTENT_TOO_LARGE", 312: "NO_ROUTE", 313: "NO_CONSUMERS",
            320: "CONNECTION_FORCED", 402: "INVALID_PATH", 403: "ACCESS_REFUSED", 404: "NOT_FOUND",
            405: "RESOURCE_LOCKED", 406: "PRECONDITION_FAILED", 501: "FRAME_ERROR", 502: "SYNTAX_ERROR",
            503: "COMMAND_INVALID", 504: "CHANNEL_ERROR", 505: "UNEXPECTED_FRAME", 506: "RESOURCE_ERROR",
            530: "NOT_ALLOWED", 540: "NOT_IMPLEMENTED", 541: "INTERNAL_ERROR",
        ]
        return "\(rawValue) \(names[rawValue] ?? "UNKNOWN")"
    }
}
