import Foundation
import Hummingbird

extension Request {
    /// The most bytes a sample reads from a request body: 256 KiB holds the largest valid basket.
    public static let maximumJSONBodyBytes = 256 * 1024

    /// Decodes the JSON body as `type`. A body over `maximumBytes` is refused with 413 before it is all read; a
    /// malformed one with 400. Both answer with ``InvalidField`` naming the field (`body`, or the JSON path of the
    /// value that does not decode, such as `items[0].quantity`), never a 500.
    public func decodeJSON<Value: Decodable>(
        as type: Value.Type, context: some RequestContext, maximumBytes: Int = maximumJSONBodyBytes
    ) async throws -> Value {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: maximumBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            // NIO's "too many bytes": answered in the samples' shape instead of an empty 413.
            throw InvalidField("body", "must have at most \(maximumBytes) bytes", status: .contentTooLarge)
        }
        do {
            return try JSONDecoder().decode(type, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw Self.invalidField(error, decoding: Value.self)
        } catch {
            throw InvalidField("body", "is not valid JSON for \(Value.self)")
        }
    }

    /// The field a decoding error is about, and what is wrong with it.
    static func invalidField<Value>(_ error: DecodingError, decoding: Value.Type) -> InvalidField {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "body" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            return InvalidField(path(context.codingPath + [key]), "is required")
        case .valueNotFound(_, let context):
            return InvalidField(path(context.codingPath), "must not be null")
        case .typeMismatch(let expected, let context):
            return InvalidField(path(context.codingPath), "must be \(Self.kind(of: expected))")
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? InvalidField("body", "is not valid JSON for \(Value.self)")
                : InvalidField(path(context.codingPath), "is out of range or malformed")
        @unknown default:
            return InvalidField("body", "is not valid JSON for \(Value.self)")
        }
    }

    private static func kind(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Decimal.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "of type \(type)"
        }
    }
}
