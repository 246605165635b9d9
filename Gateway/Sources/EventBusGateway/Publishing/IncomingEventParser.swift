import EventBus
import Foundation

/// The schemas `POST /api/events` accepts, chosen by the request's `Content-Type`.
public enum IncomingSchema: Sendable, Hashable {
    /// `application/cloudevents+json`: one CloudEvents 1.0 event in structured mode.
    case cloudEvent
    /// `application/cloudevents-batch+json`: a JSON array of CloudEvents 1.0 events.
    case cloudEventsBatch
    /// `application/json`: a JSON array of Event Grid events (`id`, `topic`, `subject`, `eventType`, `eventTime`,
    /// `data`, `dataVersion`).
    case eventGrid

    /// The schema of a content type (parameters such as `charset` ignored), or `nil` when none fits.
    public init?(contentType: String?) {
        let media = (contentType ?? "application/json").split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch media {
        case "application/cloudevents+json": self = .cloudEvent
        case "application/cloudevents-batch+json": self = .cloudEventsBatch
        case "application/json", "": self = .eventGrid
        default: return nil
        }
    }
}

/// One reason an event of a request was refused: which event (its position and, when it has one, its id), which
/// field, and what is wrong. The gateway answers 400 with all of them and publishes nothing of that request.
public struct EventValidationProblem: Sendable, Hashable, Codable {
    /// The event's position in the request (0 for a single CloudEvent); `nil` when the whole body is at fault.
    public var index: Int?
    /// The event's `id`, when it has a usable one.
    public var id: String?
    /// The attribute at fault (`source`, `data`, `eventTime`, …), or `body`.
    public var field: String
    /// What is wrong and what to send instead.
    public var message: String

    /// Creates a problem.
    public init(index: Int?, id: String?, field: String, message: String) {
        self.index = index
        self.id = id
        self.field = field
        self.message = message
    }
}

/// Every problem of a refused request.
public struct EventValidationFailure: Error, Sendable, Hashable, ExpressibleByArrayLiteral {
    public var problems: [EventValidationProblem]
    public init(problems: [EventValidationProblem]) { self.problems = problems }
    public init(arrayLiteral elements: EventValidationProblem...) { self.problems = elements }
}

/// The header under which an attribute without its own `RawEvent` field travels: CloudEvents' `cloudEvents_` prefix
/// (DESIGN section 4), so that it reaches webhooks and Swift subscribers alike.
enum AttributeHeader {
    static let prefix = "cloudEvents_"
    static let dataContentType = prefix + "datacontenttype"
    static let dataSchema = prefix + "dataschema"
    /// Event Grid's `dataVersion`.
    static let dataVersion = prefix + "dataversion"
    /// The gateway marks events it published so webhooks know their `data` is the whole payload.
    static let gatewayData = "x-eventbus-gateway-data"
    /// When the gateway accepted the event (Event Grid's `publishTime` in dead letters).
    static let publishTime = "x-eventbus-publish-time"
}

/// Turns the body of `POST /api/events` into events for the bus, checking every event first: required attributes
/// present and well-formed, each event within the size limit. Pure: no I/O, never traps on input.
public struct IncomingEventParser: Sendable {
    /// The largest event (its JSON as received, re-serialized), in bytes.
    public var maxEventSize: Int
    /// The `source` of Event Grid events that name no `topic`.
    public var defaultSource: String
    /// Most problems reported for one request (the rest are summarised).
    public var maxProblems = 50

    /// Creates a parser.
    public init(maxEventSize: Int = 1_048_576, defaultSource: String = "eventbus-gateway") {
        self.maxEventSize = maxEventSize
        self.defaultSource = defaultSource
    }

    /// The events of `body`, or every problem found. An empty array is a problem too (nothing to publish).
    public func parse(_ body: Data, schema: IncomingSchema) -> Result<[RawEvent], EventValidationFailure> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            return .failure([EventValidationProblem(index: nil, id: nil, field: "body", message: "the body is not JSON: \(error)")])
        }
        let items: [(Int, JSONValue)]
        switch (schema, value) {
        case (.cloudEvent, .object):
            items = [(0, value)]
        case (.cloudEvent, _):
            return .failure([bodyProblem("application/cloudevents+json takes one event as a JSON object; send an array as application/cloudevents-batch+json")])
        case (.cloudEventsBatch, .array(let array)), (.eventGrid, .array(let array)):
            items = Array(array.enumerated())
        case (.cloudEventsBatch, _):
            return .failure([bodyProblem("application/cloudevents-batch+json takes a JSON array of events")])
        case (.eventGrid, .object):
            return .failure([bodyProblem("the Event Grid schema takes a JSON array of events; a single CloudEvent goes as application/cloudevents+json")])
        case (.eventGrid, _):
            return .failure([bodyProblem("the Event Grid schema takes a JSON array of events")])
        }
        guard !items.isEmpty else { return .failure([bodyProblem("the request holds no event")]) }
        var events: [RawEvent] = []
        var problems: [EventValidationProblem] = []
        var seen: [String: Int] = [:]
        for (index, item) in items {
            let outcome = schema == .eventGrid ? eventGridEvent(item, index: index) : cloudEvent(item, index: index)
            switch outcome {
            case .success(let event):
                if let first = seen[event.id] {
                    problems.append(EventValidationProblem(index: index, id: event.id, field: "id", message: "the id is also the id of event \(first) of this request; give every event its own id"))
                } else {
                    seen[event.id] = index
                    events.append(event)
                }
            case .failure(let found):
                problems.append(contentsOf: found.problems)
            }
        }
        if problems.count > maxProblems {
            let more = problems.count - maxProblems
            problems = Array(problems.prefix(maxProblems))
            problems.append(bodyProblem("\(more) more problems not listed"))
        }
        return problems.isEmpty ? .success(events) : .failure(EventValidationFailure(problems: problems))
    }

    private func bodyProblem(_ message: String) -> EventValidationProblem {
        EventValidationProblem(index: nil, id: nil, field: "body", message: message)
    }

    /// A CloudEvents 1.0 event in structured JSON mode.
    func cloudEvent(_ value: JSONValue, index: Int) -> Result<RawEvent, EventValidationFailure> {
        guard case .object(let object) = value else {
            return .failure([EventValidationProblem(index: index, id: nil, field: "event", message: "an event is a JSON object")])
        }
        var problems: [EventValidationProblem] = []
        let id = nonEmptyString(object["id"])
        func problem(_ field: String, _ message: String) {
            problems.append(EventValidationProblem(index: index, id: id, field: field, message: message))
        }
        if id == nil { problem("id", "required: a non-empty string unique per source") }
        if case .string(let version) = object["specversion"] {
            if version != "1.0" { problem("specversion", "'\(version)' is not supported; send 1.0") }
        } else {
            problem("specversion", "required: the string \"1.0\"")
        }
        let source = nonEmptyString(object["source"])
        if source == nil { problem("source", "required: a non-empty URI-reference naming the producer") }
        let type = nonEmptyString(object["type"])
        if type == nil { problem("type", "required: a non-empty string naming the event type") }
        let subject = optionalString(object["subject"], field: "subject", problem)
        var time: Date?
        if let text = optionalString(object["time"], field: "time", problem) {
            time = EventDate.parse(text)
            if time == nil { problem("time", "'\(text.prefix(64))' is not an RFC 3339 timestamp") }
        }
        if object["data_base64"] != nil {
            problem("data_base64", "binary data is not supported; send JSON in data")
        }
        var headers: [String: String] = [AttributeHeader.gatewayData: "1"]
        if let contentType = optionalString(object["datacontenttype"], field: "datacontenttype", problem) {
            if !contentType.lowercased().contains("json") {
                problem("datacontenttype", "'\(contentType.prefix(64))' is not JSON; the gateway carries JSON data only")
            }
            headers[AttributeHeader.dataContentType] = contentType
        }
        if let schema = optionalString(object["dataschema"], field: "dataschema", problem) { headers[AttributeHeader.dataSchema] = schema }
        let known: Set<String> = ["id", "specversion", "source", "type", "subject", "time", "data", "data_base64", "datacontenttype", "dataschema"]
        for (name, attribute) in object where !known.contains(name) {
            guard name.count <= 20, !name.isEmpty, name.allSatisfy({ ($0.isASCII && $0.isLowercase) || $0.isNumber && $0.isASCII }) else {
                problem(name, "extension attribute names are 1...20 lowercase letters and digits")
                continue
            }
            switch attribute {
            case .string(let text): headers[AttributeHeader.prefix + name] = text
            case .bool(let flag): headers[AttributeHeader.prefix + name] = flag ? "true" : "false"
            case .integer(let number): headers[AttributeHeader.prefix + name] = String(number)
            case .null: continue
            default: problem(name, "an extension attribute is a string, a number or a boolean")
            }
        }
        checkSize(value, id: id, index: index, &problems)
        guard problems.isEmpty, let id, let source, let type else { return .failure(EventValidationFailure(problems: problems)) }
        return .success(RawEvent(
            eventType: type, id: id, source: source, subject: subject, time: time, headers: headers,
            payload: (object["data"] ?? .null).jsonData()))
    }

    /// An Event Grid schema event.
    func eventGridEvent(_ value: JSONValue, index: Int) -> Result<RawEvent, EventValidationFailure> {
        guard case .object(let object) = value else {
            return .failure([EventValidationProblem(index: index, id: nil, field: "event", message: "an event is a JSON object")])
        }
        var problems: [EventValidationProblem] = []
        let id = nonEmptyString(object["id"])
        func problem(_ field: String, _ message: String) {
            problems.append(EventValidationProblem(index: index, id: id, field: field, message: message))
        }
        if id == nil { problem("id", "required: a non-empty string") }
        let type = nonEmptyString(object["eventType"])
        if type == nil { problem("eventType", "required: a non-empty string") }
        let subject = nonEmptyString(object["subject"])
        if subject == nil { problem("subject", "required: a non-empty string, e.g. /items/42") }
        var time: Date?
        if case .string(let text) = object["eventTime"] {
            time = EventDate.parse(text)
            if time == nil { problem("eventTime", "'\(text.prefix(64))' is not an ISO 8601 timestamp") }
        } else {
            problem("eventTime", "required: an ISO 8601 timestamp")
        }
        let topic = optionalString(object["topic"], field: "topic", problem)
        var headers: [String: String] = [AttributeHeader.gatewayData: "1"]
        if let version = optionalString(object["dataVersion"], field: "dataVersion", problem) { headers[AttributeHeader.dataVersion] = version }
        checkSize(value, id: id, index: index, &problems)
        guard problems.isEmpty, let id, let type else { return .failure(EventValidationFailure(problems: problems)) }
        return .success(RawEvent(
            eventType: type, id: id, source: topic ?? defaultSource, subject: subject, time: time, headers: headers,
            payload: (object["data"] ?? .null).jsonData()))
    }

    private func checkSize(_ value: JSONValue, id: String?, index: Int, _ problems: inout [EventValidationProblem]) {
        let size = value.jsonData().count
        if size > maxEventSize {
            problems.append(EventValidationProblem(
                index: index, id: id, field: "event",
                message: "the event is \(size) bytes, over the maximum of \(maxEventSize); send a reference to the data instead"))
        }
    }

    private func nonEmptyString(_ value: JSONValue?) -> String? {
        // 255 bytes: ids and types become AMQP short strings (message_id, routing key).
        guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= 255 else { return nil }
        return text
    }

    private func optionalString(_ value: JSONValue?, field: String, _ problem: (String, String) -> Void) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            if text.utf8.count > 1_024 { problem(field, "longer than 1024 bytes"); return nil }
            return text
        default:
            problem(field, "must be a string")
            return nil
        }
    }
}
