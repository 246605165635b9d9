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
    /// The subscription's filter (source or subject) rejected it.
    case filteredOut = "FilteredOut"
}
