import AMQP
import EventBus
import Foundation

/// DESIGN section 4: how an event maps onto an AMQP message and back.
enum WireFormat {
    private static let specVersion: AMQPFieldValue = .string("1.0")

    /// The properties of a published event.
    static func properties(for event: RawEvent, headers extra: AMQPTable = [:]) -> AMQPProperties {
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
        return AMQPProperties(
            contentType: "application/json", headers: headers, deliveryMode: .persistent, messageID: event.id,
            timestamp: event.time ?? Date(), type: event.eventType, appID: event.source)
    }

    /// Reads an event's metadata off a delivery. The id comes from `message_id` or the body's `Id`; the type from
    /// the `type` property or the routing key. Returns `nil` when no id can be found.
    ///
    /// Total over every delivery the AMQP layer can produce: a header of any type and value is read or skipped
    /// (``stringHeaders(_:)``), a time outside years 0000 to 9999 counts as no time, and the attempt a header claims is
    /// clamped to `1...Int32.max` (the bus writes it back as an `int32`).
    static func inbound(_ delivery: AMQPDelivery, codec: EventCodec) -> InboundEvent? {
        let properties = delivery.properties
        let headers = stringHeaders(properties.headers ?? [:])
        guard let id = properties.messageID ?? headers[EventHeaders.id] ?? codec.bodyID(delivery.body) else { return nil }
        let eventType = properties.type ?? headers[EventHeaders.type] ?? delivery.routingKey
        let time = date(properties.headers?[EventHeaders.time]) ?? properties.timestamp.flatMap { EventDate.isInRange($0) ? $0 : nil }
        let raw = RawEvent(
            eventType: eventType, id: id, source: headers[EventHeaders.source] ?? properties.appID,
            subject: headers[EventHeaders.subject], time: time, headers: headers, payload: delivery.body)
        let attempt = properties.headers?[EventHeaders.deliveryAttempts]?.intValue.map { min(max($0, 1), Int64(Int32.max)) } ?? 1
        let firstDelivered = date(properties.headers?[EventHeaders.firstDeliveredAt]) ?? Date()
        return InboundEvent(
            raw: raw, redelivered: delivery.redelivered, attempt: Int(attempt),
            targetSubscription: headers[EventHeaders.subscription], firstDeliveredAt: firstDelivered)
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
        var result: [String: String] = [:]
        result.reserveCapacity(table.count)
        for (key, value) in table {
            switch value {
            case .string(let text): result[key] = text
            case .bool(let flag): result[key] = flag ? "true" : "false"
            case .int8(let number): result[key] = String(number)
            case .uint8(let number): result[key] = String(number)
            case .int16(let number): result[key] = String(number)
            case .uint16(let number): result[key] = String(number)
            case .int32(let number): result[key] = String(number)
            case .uint32(let number): result[key] = String(number)
            case .int64(let number): result[key] = String(number)
            case .uint64(let number): result[key] = String(number)
            case .float(let number): result[key] = number.description
            case .double(let number): result[key] = number.description
            case .decimal(let number): result[key] = decimalText(number)
            case .timestamp(let date): result[key] = EventDate.format(date)
            case .table, .array, .bytes, .void: continue
            }
        }
        return result
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
