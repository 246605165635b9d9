/// Errors of the event bus. Each says what went wrong and what to do.
public enum EventBusError: Error, Sendable, CustomStringConvertible {
    /// A retry policy value is outside its allowed range.
    case retryPolicyOutOfRange(field: String, value: String, allowed: String)
    /// A batch policy value is outside its allowed range.
    case batchPolicyOutOfRange(field: String, value: String, allowed: String)
    /// A configuration value is invalid.
    case invalidConfiguration(String)
    /// Two subscriptions of one bus share a name.
    case duplicateSubscription(name: String)
    /// No subscription has this id.
    case unknownSubscription(String)
    /// The bus is not running (its `run()` has not started or has ended).
    case notRunning
    /// The bus is shutting down and takes no new publishes.
    case shuttingDown
    /// Publishing did not complete within the configured time (the broker is unreachable or blocked). The event
    /// was not confirmed: it may or may not have reached the broker, so publish it again (consumers deduplicate).
    case publishTimedOut(eventID: String, after: Duration)
    /// The broker refused or could not route the event. `reason` says why.
    case publishFailed(eventID: String, reason: String)
    /// An event could not be encoded.
    case encodingFailed(eventType: String, reason: String)
    /// An event's body is larger than the bus's maximum event size; nothing was sent.
    case eventTooLarge(eventID: String, size: Int, limit: Int)
    /// A store (outbox or processed-message store) failed.
    case storeFailed(String)

    public var description: String {
        switch self {
        case .retryPolicyOutOfRange(let field, let value, let allowed):
            return "retry policy: \(field) = \(value) is outside \(allowed)"
        case .batchPolicyOutOfRange(let field, let value, let allowed):
            return "batch policy: \(field) = \(value) is outside \(allowed)"
        case .invalidConfiguration(let text):
            return "invalid configuration: \(text)"
        case .duplicateSubscription(let name):
            return "a subscription named '\(name)' exists already; give the second one another name"
        case .unknownSubscription(let id):
            return "no subscription '\(id)'"
        case .notRunning:
            return "the event bus is not running: start its run() (e.g. in a ServiceGroup) first"
        case .shuttingDown:
            return "the event bus is shutting down and accepts no new events"
        case .publishTimedOut(let id, let after):
            return "publishing event \(id) was not confirmed within \(after); the broker may be down or blocking. Publish it again: consumers deduplicate"
        case .publishFailed(let id, let reason):
            return "publishing event \(id) failed: \(reason)"
        case .encodingFailed(let type, let reason):
            return "could not encode \(type): \(reason)"
        case .eventTooLarge(let id, let size, let limit):
            return "event \(id) is \(size) bytes, over the maximum event size of \(limit) bytes; nothing was sent. Send a reference to the data instead (claim check), or raise maxEventSize on every service that handles it"
        case .storeFailed(let text):
            return "store failed: \(text)"
        }
    }
}

/// Throw this (or wrap another error in it) from a handler to say the event can never succeed: it is
/// dead-lettered at once with reason ``DeadLetterReason/nonRetryable`` instead of being retried.
public struct NonRetryableError: Error, Sendable, CustomStringConvertible, DeadLetterDetails {
    /// Why the event cannot be handled.
    public var reason: String
    /// Headers for the dead letter (``DeadLetterDetails``): those of the wrapped error, or given.
    public var deadLetterHeaders: [String: String]

    /// Creates the error with a reason in words and, optionally, headers for the dead letter.
    public init(_ reason: String, deadLetterHeaders: [String: String] = [:]) {
        self.reason = reason
        self.deadLetterHeaders = deadLetterHeaders
    }

    /// Wraps another error; when it is ``DeadLetterDetails`` its headers go to the dead letter too.
    public init(wrapping error: any Error) {
        self.reason = "\(error)"
        self.deadLetterHeaders = (error as? any DeadLetterDetails)?.deadLetterHeaders ?? [:]
    }

    public var description: String { "non-retryable: \(reason)" }
}
