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
    static func inbound(_ delivery: AMQPDelivery, codec: EventCodec) -> InboundEvent? {
        let properties = delivery.properties
        let headers = stringHeaders(properties.headers ?? [:])
        guard let id = properties.messageID ?? headers[EventHeaders.id] ?? codec.bodyID(delivery.body) else { return nil }
        let eventType = properties.type ?? headers[EventHeaders.type] ?? delivery.routingKey
        let time = headers[EventHeaders.time].flatMap(EventDate.parse) ?? properties.timestamp
        let raw = RawEvent(
            eventType: eventType, id: id, source: headers[EventHeaders.source] ?? properties.appID,
            subject: headers[EventHeaders.subject], time: time, headers: headers, payload: delivery.body)
        let attempt = properties.headers?[EventHeaders.deliveryAttempts]?.intValue.map(Int.init) ?? 1
        let firstDelivered = headers[EventHeaders.firstDeliveredAt].flatMap(EventDate.parse) ?? Date()
        return InboundEvent(
            raw: raw, redelivered: delivery.redelivered, attempt: max(attempt, 1),
            targetSubscription: headers[EventHeaders.subscription], firstDeliveredAt: firstDelivered)
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

    /// Headers as strings, for the core (which knows nothing of AMQP types).
    static func stringHeaders(_ table: AMQPTable) -> [String: String] {
        var result: [String: String] = [:]
        result.reserveCapacity(table.count)
        for (key, value) in table {
            switch value {
            case .string(let text): result[key] = text
            case .bool(let flag): result[key] = flag ? "true" : "false"
            case .timestamp(let date): result[key] = EventDate.format(date)
            case .table, .array, .bytes, .void: continue
            default: if let number = value.intValue { result[key] = String(number) } else { result[key] = "\(value)" }
            }
        }
        return result
    }
}
