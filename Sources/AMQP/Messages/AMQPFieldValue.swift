import Foundation

/// A table of named field values: message headers and declare/bind arguments.
public typealias AMQPTable = [String: AMQPFieldValue]

/// A decimal as AMQP carries it: `value` × 10^-`scale`.
public struct AMQPDecimal: Sendable, Hashable, CustomStringConvertible {
    /// Number of decimal places.
    public var scale: UInt8
    /// The unscaled value.
    public var value: UInt32

    /// Creates a decimal `value` × 10^-`scale`.
    public init(scale: UInt8, value: UInt32) {
        self.scale = scale
        self.value = value
    }

    /// The value as a Foundation `Decimal`.
    public var decimalValue: Decimal { Decimal(sign: .plus, exponent: -Int(scale), significand: Decimal(value)) }

    public var description: String { "\(decimalValue)" }
}

/// One value in an AMQP field table or array, with its exact wire type.
///
/// Every type of the 0-9-1 field-table grammar as RabbitMQ reads it is here; a value round-trips through the
/// broker with the same case. Literals make arguments easy: `["x-message-ttl": 1_000, "x-queue-type": "quorum"]`
/// (integer literals are `int64`, floating-point literals `double`).
public enum AMQPFieldValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case decimal(AMQPDecimal)
    /// A long string (`S`). Invalid UTF-8 from the wire arrives as ``bytes(_:)`` instead.
    case string(String)
    /// A byte array (`x`).
    case bytes([UInt8])
    /// A timestamp (`T`), in whole seconds since 1970.
    case timestamp(Date)
    case table(AMQPTable)
    case array([AMQPFieldValue])
    /// No value (`V`).
    case void

    /// The value as a string, when it is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as a 64-bit integer, when it is any integer type that fits.
    public var intValue: Int64? {
        switch self {
        case .int8(let v): return Int64(v)
        case .uint8(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int64(let v): return v
        case .uint64(let v): return Int64(exactly: v)
        default: return nil
        }
    }

    /// The value as a Boolean, when it is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as a date, when it is a timestamp.
    public var dateValue: Date? {
        if case .timestamp(let value) = self { return value }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: AMQPFieldValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
