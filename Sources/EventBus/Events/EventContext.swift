import Foundation

/// What a handler knows about the delivery it is handling.
public struct EventContext: Sendable {
    /// The event id.
    public var eventID: String
    /// The event type name.
    public var eventType: String
    /// The publishing service, when known.
    public var source: String?
    /// The event's subject, when set.
    public var subject: String?
    /// 1 for the first delivery, 2 for the first retry, and so on.
    public var attempt: Int
    /// `true` when the transport redelivered the message (it may have been handled before a crash).
    public var redelivered: Bool
    /// When the event happened.
    public var time: Date?
    /// The name under which this subscription records processed ids (`<service>/<subscription>`): pass it to a
    /// ``ProcessedMessageStore`` inside your own transaction for an exactly-once effect.
    public var consumer: String
    /// Message headers, as strings (including `traceparent` when the publisher traced).
    public var headers: [String: String]

    /// Creates a context.
    public init(
        eventID: String, eventType: String, source: String? = nil, subject: String? = nil, attempt: Int = 1,
        redelivered: Bool = false, time: Date? = nil, consumer: String, headers: [String: String] = [:]
    ) {
        self.eventID = eventID
        self.eventType = eventType
        self.source = source
        self.subject = subject
        self.attempt = attempt
        self.redelivered = redelivered
        self.time = time
        self.consumer = consumer
        self.headers = headers
    }

    /// The W3C trace context of the publisher, when present.
    public var traceparent: String? { headers[EventHeaders.traceparent] }
}
