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

/// A failed delivery attempt. The bus writes its ``description`` into the dead letter's `x-last-error` header:
/// a JSON object with `lastDeliveryOutcome`, `lastHttpStatusCode`, `lastDeliveryAttemptTime` and `message`, which
/// ``WebhookDeadLetter`` reads back.
public struct WebhookDeliveryFailure: Error, Sendable, CustomStringConvertible, Codable, Hashable {
    public var lastDeliveryOutcome: DeliveryOutcome
    public var lastHttpStatusCode: Int?
    public var lastDeliveryAttemptTime: String
    public var message: String

    public init(outcome: DeliveryOutcome, status: Int?, at time: Date = Date(), message: String) {
        self.lastDeliveryOutcome = outcome
        self.lastHttpStatusCode = status
        self.lastDeliveryAttemptTime = EventDate.format(time)
        self.message = String(message.prefix(300))
    }

    public var description: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).flatMap { String(data: $0, encoding: .utf8) } ?? message
    }
}

/// A webhook subscription's dead letter, read from the headers the bus wrote (Event Grid's dead-letter fields).
public struct WebhookDeadLetter: Sendable, Hashable {
    /// `MaxDeliveryAttemptsExceeded`, `NonRetryable`, `TimeToLiveExpired`, … (``EventBus/DeadLetterReason``).
    public var deadLetterReason: String
    public var deliveryAttempts: Int
    public var lastDeliveryOutcome: DeliveryOutcome?
    public var lastHttpStatusCode: Int?
    /// When the gateway accepted the event (or, for events published by Swift services, their `time`).
    public var publishTime: String?
    public var lastDeliveryAttemptTime: String?
    /// The last failure in words.
    public var lastError: String

    /// Reads the headers of a message on `<queue>.dead-letter`; `nil` when it carries no dead-letter reason.
    public init?(headers: [String: String]) {
        guard let reason = headers[EventHeaders.deadLetterReason] else { return nil }
        deadLetterReason = reason
        deliveryAttempts = headers[EventHeaders.deliveryAttempts].flatMap { Int($0) } ?? 1
        publishTime = headers[AttributeHeader.publishTime] ?? headers[EventHeaders.time]
        lastError = headers[EventHeaders.lastError] ?? ""
        let failure = lastError.firstIndex(of: "{").flatMap { start in
            try? JSONDecoder().decode(WebhookDeliveryFailure.self, from: Data(lastError[start...].utf8))
        }
        lastDeliveryOutcome = failure?.lastDeliveryOutcome
        lastHttpStatusCode = failure?.lastHttpStatusCode
        lastDeliveryAttemptTime = failure?.lastDeliveryAttemptTime ?? headers[EventHeaders.deadLetteredAt]
    }
}
