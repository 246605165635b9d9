/// An error that adds headers of its own to the dead letter it causes.
///
/// Throw a conforming error from a handler (or wrap one in ``NonRetryableError/init(wrapping:)``, which keeps its
/// headers) and, when the bus gives the event up, its dead letter carries ``deadLetterHeaders`` beside the bus's own
/// (``EventHeaders/deadLetterReason``, ``EventHeaders/lastError``, …). Retries do not carry them: only the dead letter
/// does, with the values of the attempt that gave up.
///
/// ```swift
/// struct WebhookFailure: Error, DeadLetterDetails {
///     var status: Int
///     var deadLetterHeaders: [String: String] { ["x-eventgrid-last-http-status-code": "\(status)"] }
/// }
/// ```
///
/// Costs nothing beyond the headers themselves. Names are checked by ``DeadLetterDetailsHeaders/sanitized(_:)``:
/// a name the bus uses itself, a `cloudEvents_` or trace name, or one outside the size bounds is dropped, never
/// an error.
public protocol DeadLetterDetails: Error {
    /// Headers for the dead letter: names prefixed by the layer that owns them (`x-eventgrid-…`), string values.
    var deadLetterHeaders: [String: String] { get }
}

/// The rules a transport applies to ``DeadLetterDetails/deadLetterHeaders`` before writing them.
public enum DeadLetterDetailsHeaders {
    /// At most this many headers per dead letter.
    public static let maxCount = 16
    /// Names longer than this many UTF-8 bytes are dropped.
    public static let maxNameLength = 128
    /// Values are cut to this many characters.
    public static let maxValueLength = 1_000

    /// The headers of `error` when it has any (``DeadLetterDetails``), sanitized; empty otherwise.
    public static func of(_ error: any Error) -> [String: String] {
        guard let details = error as? any DeadLetterDetails else { return [:] }
        return sanitized(details.deadLetterHeaders)
    }

    /// `headers` without the names the bus owns (its `x-` bookkeeping headers, the `cloudEvents_` attributes, trace
    /// context), without empty or over-long names, values cut to ``maxValueLength``, and at most ``maxCount`` of
    /// them (the first in name order).
    public static func sanitized(_ headers: [String: String]) -> [String: String] {
        var kept: [String: String] = [:]
        for name in headers.keys.sorted() where kept.count < maxCount {
            guard isAllowed(name), let value = headers[name] else { continue }
            kept[name] = String(value.prefix(maxValueLength))
        }
        return kept
    }

    /// Whether a handler may set header `name` on a dead letter.
    public static func isAllowed(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxNameLength else { return false }
        let lowered = name.lowercased()
        if reserved.contains(lowered) || lowered.hasPrefix("cloudevents_") || lowered.hasPrefix("x-eventbus-") { return false }
        return true
    }

    /// The bus's own header names (and the broker's `x-death` family), which a handler cannot overwrite.
    static let reserved: Set<String> = [
        EventHeaders.deliveryAttempts, EventHeaders.subscription, EventHeaders.firstDeliveredAt, EventHeaders.deadLetterReason,
        EventHeaders.lastError, EventHeaders.deadLetteredAt, EventHeaders.originalExchange, EventHeaders.originalRoutingKey,
        EventHeaders.traceparent, EventHeaders.tracestate,
        "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
        "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
    ]
}
