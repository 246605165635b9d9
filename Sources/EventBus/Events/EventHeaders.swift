/// The header names of the wire format (DESIGN section 4): CloudEvents attributes with the `cloudEvents_`
/// prefix, W3C trace context, and the bus's own `x-` headers for attempts and dead letters.
public enum EventHeaders {
    /// The CloudEvents version the headers follow (`1.0`).
    public static let specVersion = "cloudEvents_specversion"
    /// The event id (also the `message_id` property); consumers deduplicate on it.
    public static let id = "cloudEvents_id"
    /// The publishing service (also the `app_id` property); subscriptions can filter on it.
    public static let source = "cloudEvents_source"
    /// The event type name (also the `type` property and the routing key).
    public static let type = "cloudEvents_type"
    /// What the event is about, e.g. `items/42`, when the publisher gave one; subscriptions can filter on its prefix
    /// and suffix.
    public static let subject = "cloudEvents_subject"
    /// When the event happened (ISO 8601, seven fractional digits).
    public static let time = "cloudEvents_time"
    /// W3C trace context: the trace and span the event was published in (sent only while tracing is active).
    public static let traceparent = "traceparent"
    /// W3C trace context: vendor-specific trace state that goes with ``traceparent``.
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
    /// The names of the headers a handler's error added to the dead letter (``DeadLetterDetails``), comma-separated,
    /// so that a replay can remove them with the bus's own bookkeeping.
    public static let deadLetterDetailNames = "x-eventbus-dead-letter-details"
    /// The exchange the message was first published to.
    public static let originalExchange = "x-original-exchange"
    /// The routing key the message was first published with.
    public static let originalRoutingKey = "x-original-routing-key"
}
