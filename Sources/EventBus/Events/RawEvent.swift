import Foundation

/// An event as it arrived, before any Swift type is chosen: for "dynamic" handlers in services that do not share
/// Swift types with the publisher, and for tools that inspect events.
public struct RawEvent: Sendable, Hashable {
    /// The event type name (the `type` property or, when absent, the routing key).
    public var eventType: String
    /// The event id (`message_id` or, when absent, the body's `Id`/`id`).
    public var id: String
    /// The publishing service (CloudEvents `source`), when known.
    public var source: String?
    /// The subject (CloudEvents `subject`), when set.
    public var subject: String?
    /// When the event happened (CloudEvents `time`, the message timestamp, or the body's creation date).
    public var time: Date?
    /// Message headers, as strings.
    public var headers: [String: String]
    /// The JSON body.
    public var payload: Data

    /// Creates a raw event.
    public init(
        eventType: String, id: String, source: String? = nil, subject: String? = nil, time: Date? = nil,
        headers: [String: String] = [:], payload: Data
    ) {
        self.eventType = eventType
        self.id = id
        self.source = source
        self.subject = subject
        self.time = time
        self.headers = headers
        self.payload = payload
    }

    /// Encodes `event` with `codec`: its type name, lowercased id, creation time and JSON body, with `subject` and
    /// `source` as given (no headers; a bus adds its own when it publishes, and its service name as the source when
    /// `source` is `nil`).
    ///
    /// - Throws: ``EventBusError/encodingFailed(eventType:reason:)`` when the event cannot be encoded.
    public init<Event: IntegrationEvent>(
        encoding event: Event, subject: String? = nil, source: String? = nil, codec: EventCodec
    ) throws {
        let payload: Data
        do {
            payload = try codec.encode(event)
        } catch {
            throw EventBusError.encodingFailed(eventType: Event.eventTypeName, reason: "\(error)")
        }
        self.init(
            eventType: Event.eventTypeName, id: event.id.lowercasedText, source: source, subject: subject,
            time: event.creationDate, payload: payload)
    }

    /// Decodes the payload as `type`, accepting PascalCase (.NET) and camelCase keys. The payload is in memory
    /// already (a transport bounds it when it reads it: `maxEventSize`), so no further size limit applies here.
    public func decode<Event: Decodable>(_ type: Event.Type) throws -> Event {
        try Self.codec.decode(type, from: payload)
    }

    private static let codec = EventCodec(maxBodySize: .max)
}
