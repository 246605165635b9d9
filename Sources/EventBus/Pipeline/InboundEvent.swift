import Foundation

/// One delivery as a transport hands it to the ``DeliveryPipeline``: the event's metadata read off the wire and
/// the delivery's own (attempt, redelivered flag, which subscription a retry is for).
package struct InboundEvent: Sendable {
    package var raw: RawEvent
    package var redelivered: Bool
    package var attempt: Int
    /// Set on retries: only this subscription handles the event again.
    package var targetSubscription: String?
    package var firstDeliveredAt: Date

    package init(raw: RawEvent, redelivered: Bool, attempt: Int, targetSubscription: String?, firstDeliveredAt: Date) {
        self.raw = raw
        self.redelivered = redelivered
        self.attempt = attempt
        self.targetSubscription = targetSubscription
        self.firstDeliveredAt = firstDeliveredAt
    }

    /// Size of the body, for batch limits.
    package var size: Int { raw.payload.count }
}

/// What the transport must do with a delivery, for one subscription (or for none: unexpected type).
package enum DeliveryDecision: Sendable, Equatable {
    /// Handled and recorded: acknowledge.
    case handled(subscription: String)
    /// Already handled before: acknowledge without handling.
    case duplicate(subscription: String)
    /// The subscription's filter does not want it: acknowledge without handling (counted as filtered).
    case filtered(subscription: String)
    /// Failed; deliver again to `subscription` after `delay` as attempt `attempt`.
    case retry(subscription: String, attempt: Int, delay: Duration, error: String)
    /// Give up: move to the dead-letter queue with the reason, and the handler error's own headers
    /// (``DeadLetterDetails``, already sanitized).
    case deadLetter(subscription: String?, reason: DeadLetterReason, error: String, headers: [String: String] = [:])
}
