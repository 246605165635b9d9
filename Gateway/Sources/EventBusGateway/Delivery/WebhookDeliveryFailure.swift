import EventBus
import Foundation

/// Why a delivery attempt failed, as Event Grid names it (`lastDeliveryOutcome`).
public enum DeliveryOutcome: String, Sendable, Hashable, Codable {
    case badRequest = "BadRequest"
    case unauthorized = "Unauthorized"
    case forbidden = "Forbidden"
    case notFound = "NotFound"
    case payloadTooLarge = "PayloadTooLarge"
    /// Any other status outside 200...204.
    case genericError = "GenericError"
    case timedOut = "TimedOut"
    /// No connection, or it broke before an answer.
    case connectionFailed = "ConnectionFailed"
    /// The SSRF guard refused the endpoint's address.
    case endpointRefused = "EndpointRefused"

    /// The statuses that are never retried (Event Grid's): dead-lettered at once.
    public static func forStatus(_ status: Int) -> (outcome: DeliveryOutcome, retryable: Bool) {
        switch status {
        case 400: (.badRequest, false)
        case 401: (.unauthorized, false)
        case 403: (.forbidden, false)
        case 404: (.notFound, false)
        case 413: (.payloadTooLarge, false)
        default: (.genericError, true)
        }
    }
}

/// The headers a webhook subscription's dead letter carries besides the bus's own (Event Grid's dead-letter
/// fields), written through `DeadLetterDetails` (EventBus).
public enum WebhookDeadLetterHeaders {
    /// ``DeliveryOutcome`` of the last attempt (`BadRequest`, `TimedOut`, …).
    public static let lastDeliveryOutcome = "x-eventgrid-last-delivery-outcome"
    /// The HTTP status of the last attempt; absent when the endpoint never answered.
    public static let lastHttpStatusCode = "x-eventgrid-last-http-status-code"
    /// When the last attempt ended (ISO 8601).
    public static let lastDeliveryAttemptTime = "x-eventgrid-last-delivery-attempt-time"
}

/// A failed delivery attempt. When it ends the event's deliveries the bus writes its ``message`` to the dead letter's
/// `x-last-error` and its fields to the ``WebhookDeadLetterHeaders`` (`DeadLetterDetails`), which
/// ``WebhookDeadLetter`` reads back.
public struct WebhookDeliveryFailure: Error, Sendable, CustomStringConvertible, Codable, Hashable, DeadLetterDetails {
    /// What went wrong, as Event Grid names it.
    public var lastDeliveryOutcome: DeliveryOutcome
    /// The endpoint's HTTP status; `nil` when it never answered.
    public var lastHttpStatusCode: Int?
    /// When the attempt ended (ISO 8601).
    public var lastDeliveryAttemptTime: String
    /// The failure in words (at most 300 characters).
    public var message: String

    /// A failed attempt that ended at `time`.
    public init(outcome: DeliveryOutcome, status: Int?, at time: Date = Date(), message: String) {
        self.lastDeliveryOutcome = outcome
        self.lastHttpStatusCode = status
        self.lastDeliveryAttemptTime = EventDate.format(time)
        self.message = String(message.prefix(300))
    }

    public var description: String { "\(lastDeliveryOutcome.rawValue): \(message)" }

    /// Event Grid's dead-letter fields, as ``WebhookDeadLetterHeaders``.
    public var deadLetterHeaders: [String: String] {
        var headers = [
            WebhookDeadLetterHeaders.lastDeliveryOutcome: lastDeliveryOutcome.rawValue,
            WebhookDeadLetterHeaders.lastDeliveryAttemptTime: lastDeliveryAttemptTime,
        ]
        if let lastHttpStatusCode { headers[WebhookDeadLetterHeaders.lastHttpStatusCode] = String(lastHttpStatusCode) }
        return headers
    }
}

/// A webhook subscription's dead letter, read from the headers the bus wrote (Event Grid's dead-letter fields).
public struct WebhookDeadLetter: Sendable, Hashable {
    /// `MaxDeliveryAttemptsExceeded`, `NonRetryable`, `TimeToLiveExpired`, … (`DeadLetterReason`).
    public var deadLetterReason: String
    /// The attempt on which the bus gave up (1 for the first delivery).
    public var deliveryAttempts: Int
    /// What went wrong on the last attempt; `nil` when no delivery was attempted (e.g. the event could not be read).
    public var lastDeliveryOutcome: DeliveryOutcome?
    /// The endpoint's last HTTP status; `nil` when it never answered.
    public var lastHttpStatusCode: Int?
    /// When the gateway accepted the event (or, for events published by Swift services, their `time`).
    public var publishTime: String?
    /// When the last attempt ended (the dead-letter time when no attempt was made).
    public var lastDeliveryAttemptTime: String?
    /// The last failure in words.
    public var lastError: String

    /// Reads the headers of a message on the subscription's `RabbitMQTopology.deadLetterQueue`;
    /// `nil` when it carries no dead-letter reason (the broker moved it as it arrived).
    public init?(headers: [String: String]) {
        guard let reason = headers[EventHeaders.deadLetterReason] else { return nil }
        deadLetterReason = reason
        deliveryAttempts = headers[EventHeaders.deliveryAttempts].flatMap { Int($0) } ?? 1
        publishTime = headers[AttributeHeader.publishTime] ?? headers[EventHeaders.time]
        lastError = headers[EventHeaders.lastError] ?? ""
        lastDeliveryOutcome = headers[WebhookDeadLetterHeaders.lastDeliveryOutcome].flatMap(DeliveryOutcome.init(rawValue:))
        lastHttpStatusCode = headers[WebhookDeadLetterHeaders.lastHttpStatusCode].flatMap { Int($0) }
        lastDeliveryAttemptTime = headers[WebhookDeadLetterHeaders.lastDeliveryAttemptTime] ?? headers[EventHeaders.deadLetteredAt]
    }
}
