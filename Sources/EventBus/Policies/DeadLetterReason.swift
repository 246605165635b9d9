/// Why an event was dead-lettered; the value of the `x-dead-letter-reason` header.
public enum DeadLetterReason: String, Sendable, Hashable, CaseIterable {
    /// It failed on every one of the retry policy's delivery attempts.
    case maxDeliveryAttemptsExceeded = "MaxDeliveryAttemptsExceeded"
    /// It failed and was older than the retry policy's time-to-live.
    case timeToLiveExpired = "TimeToLiveExpired"
    /// The handler threw a ``NonRetryableError``.
    case nonRetryable = "NonRetryable"
    /// The body could not be decoded (not JSON, or not the event type's shape).
    case unprocessable = "Unprocessable"
    /// No subscription of this service handles the event type.
    case unexpectedEventType = "UnexpectedEventType"
    /// The subscription's filter (source or subject) rejected it, and the subscription asked for such events to be
    /// dead-lettered (``SubscriptionOptions/deadLettersFilteredEvents``); by default they are acknowledged and counted.
    case filteredOut = "FilteredOut"
    /// The body is larger than the bus's maximum event size: it was not read, and the broker moved the message as it
    /// arrived to the dead-letter queue.
    case tooLarge = "TooLarge"

    /// What the reason means for an operator, and what to do before replaying such a dead letter.
    public var explanation: String {
        switch self {
        case .maxDeliveryAttemptsExceeded:
            return "the handler failed on every attempt of its retry policy; fix what the last error names, then replay"
        case .timeToLiveExpired:
            return "the handler failed and the event was older than the retry policy's time-to-live; replay it only if it still matters"
        case .nonRetryable:
            return "the handler said retrying would not help (NonRetryableError); fix the data or the handler, then replay"
        case .unprocessable:
            return "the body was not JSON or not the shape of its event type; a replay fails again unless the consumer's type changed"
        case .unexpectedEventType:
            return "no subscription of this service handles the event type; subscribe to it, or unbind the type from the queue"
        case .filteredOut:
            return "the subscription's source or subject filter rejected it (the subscription dead-letters filtered events)"
        case .tooLarge:
            return "the body was larger than the service's maxEventSize and was not read; raise the limit or make the event smaller"
        }
    }
}
