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
}
