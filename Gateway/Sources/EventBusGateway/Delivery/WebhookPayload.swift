import EventBus
import Foundation

/// The body of a webhook request: events rendered in the subscription's schema. An event's `data` is its body on
/// the bus, spliced in as it is (it was checked to be JSON when it arrived).
public struct WebhookPayload: Sendable {
    public var body: Data
    public var contentType: String

    /// Renders `events`: one CloudEvent as `application/cloudevents+json`, several as
    /// `application/cloudevents-batch+json`, or an Event Grid array as `application/json`.
    public init(events: [RawEvent], schema: WebhookSubscription.Schema, batched: Bool) {
        switch schema {
        case .cloudEvents:
            if events.count == 1, !batched {
                body = Self.cloudEvent(events[0])
                contentType = "application/cloudevents+json"
            } else {
                body = Self.array(events.map(Self.cloudEvent))
                contentType = "application/cloudevents-batch+json"
            }
        case .eventGrid:
            body = Self.array(events.map(Self.eventGridEvent))
            contentType = "application/json"
        }
    }

    private static let ownHeaders: Set<String> = [
        EventHeaders.specVersion, EventHeaders.id, EventHeaders.source, EventHeaders.type, EventHeaders.subject,
        EventHeaders.time, AttributeHeader.dataContentType, AttributeHeader.dataVersion,
    ]

    static func cloudEvent(_ event: RawEvent) -> Data {
        var object: [String: JSONValue] = [
            "specversion": .string("1.0"), "id": .string(event.id), "source": .string(event.source ?? "eventbus"),
            "type": .string(event.eventType),
            "datacontenttype": .string(event.headers[AttributeHeader.dataContentType] ?? "application/json"),
        ]
        if let subject = event.subject { object["subject"] = .string(subject) }
        if let time = event.time { object["time"] = .string(EventDate.format(time)) }
        for (key, value) in event.headers where key.hasPrefix(AttributeHeader.prefix) && !ownHeaders.contains(key) {
            let name = String(key.dropFirst(AttributeHeader.prefix.count))
            if !name.isEmpty, name != "data" { object[name] = .string(value) }
        }
        return splice(object, data: event.payload)
    }

    static func eventGridEvent(_ event: RawEvent) -> Data {
        let object: [String: JSONValue] = [
            "id": .string(event.id), "topic": .string(event.source ?? "eventbus"), "subject": .string(event.subject ?? ""),
            "eventType": .string(event.eventType), "eventTime": .string(EventDate.format(event.time ?? Date())),
            "dataVersion": .string(event.headers[AttributeHeader.dataVersion] ?? "1"), "metadataVersion": .string("1"),
        ]
        return splice(object, data: event.payload)
    }

    /// `object` as JSON with `"data": <data>` added last.
    private static func splice(_ object: [String: JSONValue], data: Data) -> Data {
        var json = JSONValue.object(object).jsonData()
        guard json.last == UInt8(ascii: "}") else { return json }
        json.removeLast()
        json.append(contentsOf: Array(#","data":"#.utf8))
        json.append(data.isEmpty ? Data("null".utf8) : data)
        json.append(UInt8(ascii: "}"))
        return json
    }

    private static func array(_ items: [Data]) -> Data {
        var json = Data([UInt8(ascii: "[")])
        for (index, item) in items.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            json.append(item)
        }
        json.append(UInt8(ascii: "]"))
        return json
    }
}
