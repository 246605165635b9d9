import AMQP
import EventBus
import Foundation

/// DESIGN section 4: how an event maps onto an AMQP message and back.
enum WireFormat {
    private static let specVersion: AMQPFieldValue = .string("1.0")

    /// The properties of a published event. With a `template` (and no headers of the event's own or `extra`), the
    /// header table is a copy of the previous one of the same shape with the id, subject and time written in.
    static func properties(for event: RawEvent, headers extra: AMQPTable = [:], template: PublishHeaders? = nil) -> AMQPProperties {
        let headers = extra.isEmpty && event.headers.isEmpty
            ? template?.headers(for: event) ?? headers(for: event)
            : headers(for: event, extra: extra)
        return AMQPProperties(
            contentType: "application/json", headers: headers, deliveryMode: .persistent, messageID: event.id,
            timestamp: event.time ?? Date(), type: event.eventType, appID: event.source)
    }

    /// The header table of a published event: the `cloudEvents_*` headers, the event's own, then `extra`.
    static func headers(for event: RawEvent, extra: AMQPTable = [:]) -> AMQPTable {
        // Sized once: growing a small dictionary rehashes everything in it.
        var headers = AMQPTable(minimumCapacity: 6 + event.headers.count + extra.count)
        headers[EventHeaders.specVersion] = specVersion
        headers[EventHeaders.id] = .string(event.id)
        headers[EventHeaders.type] = .string(event.eventType)
        if let source = event.source { headers[EventHeaders.source] = .string(source) }
        if let subject = event.subject { headers[EventHeaders.subject] = .string(subject) }
        if let time = event.time { headers[EventHeaders.time] = .string(EventDate.format(time)) }
        for (key, value) in event.headers where headers[key] == nil { headers[key] = .string(value) }
        for (key, value) in extra { headers[key] = value }
        return headers
    }

    /// Reads an event's metadata off a delivery. The id comes from `message_id` or the body's `Id`; the type from
    /// the `type` property or the routing key. Returns `nil` when no id can be found.
    ///
    /// Total over every delivery the AMQP layer can produce: a header of any type and value is read or skipped
    /// (``stringHeaders(_:)``), a time outside years 0000 to 9999 counts as no time, and the attempt a header claims is
    /// clamped to `1...Int32.max` (the bus writes it back as an `int32`).
    ///
    /// With `reuse`, headers whose names and order are those of the previous delivery's table given the same
    /// ``HeaderStrings`` start from a copy of that delivery's strings (no name hashed); the result is the same.
    static func inbound(_ delivery: AMQPDelivery, codec: EventCodec, reuse: HeaderStrings? = nil) -> InboundEvent? {
        let properties = delivery.properties
        // One pass over the table: the headers as strings, and the ones the bus reads picked up on the way (no
        // lookup by name afterwards: hashing a header name cost more than the rest of this function).
        var known = KnownHeaders()
        let table = properties.headers ?? [:]
        let headers = reuse?.strings(table, known: &known) ?? stringHeaders(table, known: &known)
        guard let id = properties.messageID ?? known.id ?? codec.bodyID(delivery.body) else { return nil }
        let eventType = properties.type ?? known.type ?? delivery.routingKey
        let time = date(known.time) ?? properties.timestamp.flatMap { EventDate.isInRange($0) ? $0 : nil }
        let raw = RawEvent(
            eventType: eventType, id: id, source: known.source ?? properties.appID,
            subject: known.subject, time: time, headers: headers, payload: delivery.body)
        let attempt = known.deliveryAttempts?.intValue.map { min(max($0, 1), Int64(Int32.max)) } ?? 1
        let firstDelivered = date(known.firstDeliveredAt) ?? Date()
        return InboundEvent(
            raw: raw, redelivered: delivery.redelivered, attempt: Int(attempt),
            targetSubscription: known.subscription, firstDeliveredAt: firstDelivered)
    }

    /// The headers ``inbound(_:codec:)`` reads: the text of the string-valued ones (as ``stringHeaders(_:)`` makes
    /// it), the value of the others.
    struct KnownHeaders {
        var id: String?
        var type: String?
        var source: String?
        var subject: String?
        var subscription: String?
        var time: AMQPFieldValue?
        var deliveryAttempts: AMQPFieldValue?
        var firstDeliveredAt: AMQPFieldValue?

        /// Keeps `value` (and `text`, its string form when it has one) when `key` is one of the known names. Names are
        /// told apart by length first, so most keys cost one comparison at most.
        mutating func note(_ key: String, _ value: AMQPFieldValue, text: String?) {
            switch key.utf8.count {
            case 14: if key == EventHeaders.id { id = text }
            case 16:
                if key == EventHeaders.type {
                    type = text
                } else if key == EventHeaders.time {
                    time = value
                }
            case 18: if key == EventHeaders.source { source = text }
            case 19:
                if key == EventHeaders.subject {
                    subject = text
                } else if key == EventHeaders.deliveryAttempts {
                    deliveryAttempts = value
                }
            case 20: if key == EventHeaders.firstDeliveredAt { firstDeliveredAt = value }
            case 23: if key == EventHeaders.subscription { subscription = text }
            default: break
            }
        }
    }

    /// A date header: ISO 8601 text, or an AMQP `timestamp` in years 0000 to 9999. Not the clamped text
    /// ``stringHeaders(_:)`` makes of a timestamp near 2^64 (some clients' "no time"): that is no date at all.
    private static func date(_ value: AMQPFieldValue?) -> Date? {
        switch value {
        case .string(let text): EventDate.parse(text)
        case .timestamp(let date): EventDate.isInRange(date) ? date : nil
        default: nil
        }
    }

    /// The properties of a copy sent to a retry queue or the dead-letter queue: the original's, with the event
    /// type fixed (the routing key changes on the way) and the bus's headers added.
    static func forwarded(_ delivery: AMQPDelivery, event: InboundEvent, headers extra: AMQPTable) -> AMQPProperties {
        var properties = delivery.properties
        var headers = properties.headers ?? [:]
        headers[EventHeaders.firstDeliveredAt] = .string(EventDate.format(event.firstDeliveredAt))
        if headers[EventHeaders.originalExchange] == nil {
            headers[EventHeaders.originalExchange] = .string(delivery.exchange)
            headers[EventHeaders.originalRoutingKey] = .string(delivery.routingKey)
        }
        for (key, value) in extra { headers[key] = value }
        properties.headers = headers
        properties.type = event.raw.eventType
        properties.messageID = event.raw.id
        properties.deliveryMode = .persistent
        return properties
    }

    /// Headers as strings, for the core (which knows nothing of AMQP types). Scalars of every type become text of
    /// bounded length (numbers in Swift's form, decimals exactly, timestamps as ``EventDate/format(_:)`` writes them,
    /// clamped to years 0000 to 9999); tables, arrays, byte arrays (which is how invalid UTF-8 arrives) and void are
    /// skipped.
    static func stringHeaders(_ table: AMQPTable) -> [String: String] {
        var known = KnownHeaders()
        return stringHeaders(table, known: &known)
    }

    /// ``stringHeaders(_:)``, noting the headers ``KnownHeaders`` keeps as it goes.
    static func stringHeaders(_ table: AMQPTable, known: inout KnownHeaders) -> [String: String] {
        // `init(minimumCapacity:)`: `reserveCapacity(_:)` is not specialized (a generic metadata lookup per call).
        var result = [String: String](minimumCapacity: table.count)
        for (key, value) in table {
            let text = headerText(value)
            known.note(key, value, text: text)
            if let text { result[key] = text }
        }
        return result
    }

    /// A header value as ``stringHeaders(_:)`` writes it, `nil` for the kinds it skips.
    static func headerText(_ value: AMQPFieldValue) -> String? {
        switch value {
        case .string(let string): string
        case .bool(let flag): flag ? "true" : "false"
        case .int8(let number): String(number)
        case .uint8(let number): String(number)
        case .int16(let number): String(number)
        case .uint16(let number): String(number)
        case .int32(let number): String(number)
        case .uint32(let number): String(number)
        case .int64(let number): String(number)
        case .uint64(let number): String(number)
        case .float(let number): number.description
        case .double(let number): number.description
        case .decimal(let number): decimalText(number)
        case .timestamp(let date): EventDate.format(date)
        case .table, .array, .bytes, .void: nil
        }
    }

    /// An AMQP decimal's exact text: `value` with a point `scale` digits from the right (`12345`, scale 2: `123.45`).
    /// Written by hand: Foundation's `Decimal` holds exponents down to -128 only, and scales go to 255.
    static func decimalText(_ decimal: AMQPDecimal) -> String {
        let digits = String(decimal.value)
        let scale = Int(decimal.scale)
        guard scale > 0 else { return digits }
        guard digits.count > scale else { return "0." + String(repeating: "0", count: scale - digits.count) + digits }
        let point = digits.index(digits.endIndex, offsetBy: -scale)
        return digits[..<point] + "." + digits[point...]
    }
}
