import Foundation

/// A JSON value without a Swift type: an event body or attribute read or written as it is (the gateway carries
/// events' `data` and extension attributes this way). Integers that fit 64 bits stay integers (no rounding through
/// `Double`).
///
/// ``parse(_:)`` and ``jsonData()`` use the codec's own reader and writer, several times faster than `JSONDecoder` and
/// `JSONEncoder`; the `Codable` conformance is for embedding a value in other `Codable` types.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let integer = try? container.decode(Int64.self) {
            self = .integer(integer)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .integer(let integer): try container.encode(integer)
        case .number(let number): try container.encode(number)
        case .string(let text): try container.encode(text)
        case .array(let array): try container.encode(array)
        case .object(let object): try container.encode(object)
        }
    }

    /// The value as a number, when it is one (advanced filters compare numbers as `Double`).
    public var doubleValue: Double? {
        switch self {
        case .integer(let integer): Double(integer)
        case .number(let number): number
        default: nil
        }
    }

    /// The value at a dotted path (`data.address.city` reads `address`, then `city`), or `nil`.
    public func value(atPath path: some StringProtocol) -> JSONValue? {
        var current = self
        for key in path.split(separator: ".") {
            guard case .object(let object) = current, let next = object[String(key)] else { return nil }
            current = next
        }
        return current
    }

    /// Compact JSON text of the value (slashes not escaped). Total: every case encodes; a non-finite number (which
    /// no parser produces) is written as `null`.
    public func jsonData() -> Data {
        let output = JSONOutput()
        write(to: output)
        return Data(output.bytes)
    }

    private func write(to output: JSONOutput) {
        switch self {
        case .null: output.writeNull()
        case .bool(let flag): output.bytes.append(contentsOf: flag ? Self.trueBytes : Self.falseBytes)
        case .integer(let integer): output.writeInteger(integer)
        case .number(let number):
            if (try? output.writeFloatingPoint(number)) == nil { output.writeNull() }
        case .string(let text): output.writeString(text, escapingSlashes: false)
        case .array(let array):
            output.bytes.append(0x5B)
            for (index, element) in array.enumerated() {
                if index > 0 { output.bytes.append(0x2C) }
                element.write(to: output)
            }
            output.bytes.append(0x5D)
        case .object(let object):
            output.bytes.append(0x7B)
            var first = true
            for (key, value) in object {
                if !first { output.bytes.append(0x2C) }
                first = false
                output.writeString(key, escapingSlashes: false)
                output.bytes.append(0x3A)
                value.write(to: output)
            }
            output.bytes.append(0x7D)
        }
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)

    /// Parses JSON text (any value at the top, fragments included); throws `DecodingError` on text that is not JSON.
    ///
    /// The codec's reader indexes the text in one pass; what it declines (nesting deeper than 128 levels, duplicate
    /// keys, numbers a `Double` cannot hold, invalid text) is parsed by `JSONDecoder`, whose answer or error stands.
    public static func parse(_ data: Data) throws -> JSONValue {
        if let document = try? JSONDocument(Array(data)), let value = try? JSONValue(document: document, node: 0) {
            return value
        }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The value at `node` of a validated document.
    private init(document: JSONDocument, node: Int) throws {
        let value = document.nodes[node]
        switch value.kind {
        case .null: self = .null
        case .bool: self = .bool(document.bytes[value.start] == 0x74)
        case .string, .escapedString: self = .string(try document.string(node))
        case .integer:
            if let integer = try? document.integer(Int64.self, node) {
                self = .integer(integer)
            } else {
                self = .number(try document.double(node))
            }
        case .number:
            // A whole number written with a fraction or an exponent (`100.0`, `1e2`) is an integer to JSONDecoder;
            // past 2^53 the Double may not be the text's exact value, so JSONDecoder decides.
            let number = try document.double(node)
            guard number.rounded() == number else {
                self = .number(number)
                return
            }
            guard abs(number) < 9_007_199_254_740_992 else { throw document.decline() }
            self = .integer(Int64(number))
        case .array:
            var elements: [JSONValue] = []
            elements.reserveCapacity(value.children)
            var child = node + 1
            while child < value.next {
                elements.append(try JSONValue(document: document, node: child))
                child = document.nodes[child].next
            }
            self = .array(elements)
        case .object:
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(value.children / 2)
            var child = node + 1
            while child < value.next {
                let key = try document.string(child)
                let member = document.nodes[child].next
                // A duplicate key: JSONDecoder's rule decides.
                guard members.updateValue(try JSONValue(document: document, node: member), forKey: key) == nil else {
                    throw document.decline()
                }
                child = document.nodes[member].next
            }
            self = .object(members)
        }
    }
}
