/// The header names of the wire format (DESIGN section 4): CloudEvents attributes with the `cloudEvents_`
/// prefix, W3C trace context, and the bus's own `x-` headers for attempts and dead letters.
public enum EventHeaders {
    public static let specVersion = "cloudEvents_specversion"
    public static let id = "cloudEvents_id"
    public static let source = "cloudEvents_source"
    public static let type = "cloudEvents_type"
    public static let subject = "cloudEvents_subject"
    public static let time = "cloudEvents_time"
    public static let traceparent = "traceparent"
    public static let tracestate = "tracestate"

    /// Which delivery attempt a retried message is on (1-based).
    public static let deliveryAttempts = "x-delivery-attempts"
    /// The subscription a retried message is meant for (only that subscription handles it again).
    public static let subscription = "x-eventbus-subscription"
    /// When the message was first delivered (ISO 8601).
    public static let firstDeliveredAt = "x-first-delivered-at"
    /// Why a message was dead-lettered (a ``DeadLetterReason``).
    public static let deadLetterReason = "x-dead-letter-reason"
    /// The last handler error, in words.
    public static let lastError = "x-last-error"
    /// When the message was dead-lettered (ISO 8601).
    public static let deadLetteredAt = "x-dead-lettered-at"
    /// The exchange the message was first published to.
    public static let originalExchange = "x-original-exchange"
    /// The routing key the message was first published with.
    public static let originalRoutingKey = "x-original-routing-key"
}
