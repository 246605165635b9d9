import Foundation

/// A fast JSON encoder for what events are made of: the fast path of ``EventCodec/encode(_:)`` for camelCase bodies.
///
/// It writes straight into one byte buffer as `encode(to:)` implementations call it, in the order they call it, with
/// the same value rules as the codec's `JSONEncoder` (dates as ``EventDate/format(_:)``, decimals exactly, doubles
/// without a trailing `.0`, slashes escaped). It supports what synthesized `Encodable` conformances do: keyed,
/// unkeyed and single-value containers used one value after another. Anything else — nested containers handed out
/// before their turn, super encoders, `Data` and `URL` (which `JSONEncoder` treats specially), non-finite floats,
/// a value that encodes nothing — throws ``EventJSONWriter/Unsupported``, and the codec encodes with `JSONEncoder`.
enum EventJSONWriter {
    /// The fast path does not handle this value; use `JSONEncoder`.
    struct Unsupported: Error {}

    /// Encodes `value` as JSON.
    static func encode<Value: Encodable>(_ value: Value) throws -> Data {
        let output = JSONOutput()
        try output.write(value)
        // Declined somewhere, even if an `encode(to:)` caught it: JSONEncoder's answer is the one to give.
        guard !output.declined else { throw Unsupported() }
        return Data(output.bytes)
    }
}

/// The buffer being written and the rules for single values.
final class JSONOutput {
    /// Not checked for exclusive access at run time (a check per append was a tenth of an encode): one encode owns
    /// its output, on one thread, and nothing holds an access across a call that could write.
    @exclusivity(unchecked) var bytes: [UInt8] = []
    /// Set when encoding declined something (see ``EventJSONWriter/encode(_:)``).
    @exclusivity(unchecked) private(set) var declined = false

    /// Records that the fast path declined, and returns the error to throw.
    func decline() -> EventJSONWriter.Unsupported {
        declined = true
        return EventJSONWriter.Unsupported()
    }

    init() {
        bytes.reserveCapacity(512)
    }

    /// Writes any encodable value at the current position.
    func write<Value: Encodable>(_ value: Value) throws {
        // Metatype comparisons (a pointer compare each) rather than dynamic casts, most common types first; once the
        // metatype matched, `Value` is that type and the bit cast is exact.
        let type = Value.self
        if type == String.self, case let typed = unsafeBitCast(value, to: String.self) { return writeString(typed) }
        if type == Int.self, case let typed = unsafeBitCast(value, to: Int.self) { return writeInteger(typed) }
        if type == Date.self, case let typed = unsafeBitCast(value, to: Date.self) {
            // Out of range: JSONEncoder's date rule gives the error.
            guard EventDate.isInRange(typed) else { throw decline() }
            bytes.append(0x22)
            EventDate.append(typed, to: &bytes)
            return bytes.append(0x22)
        }
        if type == UUID.self, case let typed = unsafeBitCast(value, to: UUID.self) {
            bytes.append(0x22)
            typed.appendUppercaseText(to: &bytes)
            return bytes.append(0x22)
        }
        if type == Decimal.self, case let decimal = unsafeBitCast(value, to: Decimal.self) {
            guard decimal.isFinite else { throw decline() }
            return bytes.append(contentsOf: decimal.description.utf8)
        }
        if type == Bool.self, case let typed = unsafeBitCast(value, to: Bool.self) { return writeBool(typed) }
        if type == Double.self, case let typed = unsafeBitCast(value, to: Double.self) { return try writeFloatingPoint(typed) }
        if type == Int64.self, case let typed = unsafeBitCast(value, to: Int64.self) { return writeInteger(typed) }
        if type == UInt64.self, case let typed = unsafeBitCast(value, to: UInt64.self) { return writeInteger(typed) }
        if type == Int32.self, case let typed = unsafeBitCast(value, to: Int32.self) { return writeInteger(typed) }
        if type == UInt32.self, case let typed = unsafeBitCast(value, to: UInt32.self) { return writeInteger(typed) }
        if type == Int16.self, case let typed = unsafeBitCast(value, to: Int16.self) { return writeInteger(typed) }
        if type == UInt16.self, case let typed = unsafeBitCast(value, to: UInt16.self) { return writeInteger(typed) }
        if type == Int8.self, case let typed = unsafeBitCast(value, to: Int8.self) { return writeInteger(typed) }
        if type == UInt8.self, case let typed = unsafeBitCast(value, to: UInt8.self) { return writeInteger(typed) }
        if type == UInt.self, case let typed = unsafeBitCast(value, to: UInt.self) { return writeInteger(typed) }
        if type == Float.self, case let typed = unsafeBitCast(value, to: Float.self) { return try writeFloatingPoint(typed) }
        if type == Data.self || type == URL.self { throw decline() }
        let level = JSONLevel(output: self)
        try value.encode(to: JSONWritingEncoder(level: level))
        try level.close()
    }

    func writeBool(_ value: Bool) {
        bytes.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)

    func writeInteger<Number: FixedWidthInteger>(_ number: Number) {
        // Digits backwards into a stack buffer: no String per number. 20 digits and a sign fit any 64-bit value.
        let negative = number < 0
        var magnitude = number.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { digits in
            var index = 24
            repeat {
                let (quotient, remainder) = magnitude.quotientAndRemainder(dividingBy: 10)
                index -= 1
                digits[index] = 0x30 &+ UInt8(truncatingIfNeeded: remainder)
                magnitude = quotient
            } while magnitude != 0
            if negative {
                index -= 1
                digits[index] = 0x2D
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index..<24]))
        }
    }

    func writeFloatingPoint<Number: BinaryFloatingPoint & LosslessStringConvertible>(_ number: Number) throws {
        guard number.isFinite else { throw decline() }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    func writeNull() {
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }

    /// Writes `text` as a JSON string; slashes are escaped as `JSONEncoder` does by default, unless
    /// `escapingSlashes` is false.
    func writeString(_ text: String, escapingSlashes: Bool = true) {
        bytes.append(0x22)
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            var nonASCII = false
            while true {
                let index = JSONByteScan.firstSpecial(utf8, from: runStart, slash: escapingSlashes, nonASCII: &nonASCII)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                guard index < utf8.count else { break }
                runStart = index + 1
                let byte = utf8[index]
                switch byte {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x2F: bytes.append(contentsOf: [0x5C, 0x2F])
                case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
                case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
                case 0x08: bytes.append(contentsOf: [0x5C, 0x62])
                case 0x0C: bytes.append(contentsOf: [0x5C, 0x66])
                default:
                    let hex = Self.hexDigits
                    bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
                }
            }
        }
        bytes.append(0x22)
    }
}

/// One value being encoded: which container it opened (at most one kind) and whether an element was written.
final class JSONLevel {
    enum Kind { case none, object, array, single }

    let output: JSONOutput
    // One encode owns its levels (see JSONOutput.bytes).
    @exclusivity(unchecked) var kind = Kind.none
    @exclusivity(unchecked) var hasElements = false

    init(output: JSONOutput) {
        self.output = output
    }

    /// Opens `kind` for this value, or continues it when the value asks for the same container again.
    func open(_ wanted: Kind) throws {
        if kind == wanted, wanted != .single { return }
        guard kind == .none else { throw output.decline() }
        kind = wanted
        switch wanted {
        case .object: output.bytes.append(0x7B)
        case .array: output.bytes.append(0x5B)
        case .single, .none: break
        }
    }

    /// Starts the next element of the open object or array.
    func separate() {
        if hasElements { output.bytes.append(0x2C) }
        hasElements = true
    }

    func writeKey(_ key: some CodingKey) {
        separate()
        output.writeString(key.stringValue)
        output.bytes.append(0x3A)
    }

    /// Ends the value: closes its container. A value that opened nothing is left to `JSONEncoder`.
    func close() throws {
        switch kind {
        case .object: output.bytes.append(0x7D)
        case .array: output.bytes.append(0x5D)
        case .single: if !hasElements { throw output.decline() }
        case .none: throw output.decline()
        }
    }
}

struct JSONWritingEncoder: Encoder {
    let level: JSONLevel
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // `container(keyedBy:)` cannot throw: a misuse is reported by the first encode call.
        let usable = (try? level.open(.object)) != nil
        return KeyedEncodingContainer(JSONKeyedWriter<Key>(level: level, usable: usable))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let usable = (try? level.open(.array)) != nil
        return JSONUnkeyedWriter(level: level, usable: usable)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        let usable = (try? level.open(.single)) != nil
        return JSONSingleWriter(level: level, usable: usable)
    }
}

struct JSONKeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let level: JSONLevel
    let usable: Bool
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {
        guard usable else { throw level.output.decline() }
        level.writeKey(key)
        level.output.writeNull()
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try level.output.write(value)
    }

    // The standard library's types directly, without going through the generic `encode(_:forKey:)`'s type tests.
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); level.output.writeString(value) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); level.output.writeBool(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); level.output.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); level.output.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); level.output.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); level.output.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); level.output.writeInteger(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try begin(key); try level.output.writeFloatingPoint(value) }

    /// Starts the member `key`, or declines when this container is not the value's.
    private func begin(_ key: Key) throws {
        guard usable else { throw level.output.decline() }
        level.writeKey(key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        _ = level.output.decline()
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(level: level, usable: false))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        _ = level.output.decline()
        return JSONUnkeyedWriter(level: level, usable: false)
    }

    mutating func superEncoder() -> any Encoder { JSONWritingEncoder.unusable(declining: level.output) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { JSONWritingEncoder.unusable(declining: level.output) }
}

struct JSONUnkeyedWriter: UnkeyedEncodingContainer {
    let level: JSONLevel
    let usable: Bool
    var codingPath: [any CodingKey] { [] }
    private(set) var count = 0

    init(level: JSONLevel, usable: Bool) {
        self.level = level
        self.usable = usable
    }

    mutating func encodeNil() throws {
        guard usable else { throw level.output.decline() }
        level.separate()
        level.output.writeNull()
        count += 1
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        guard usable else { throw level.output.decline() }
        level.separate()
        try level.output.write(value)
        count += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        _ = level.output.decline()
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(level: level, usable: false))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        _ = level.output.decline()
        return JSONUnkeyedWriter(level: level, usable: false)
    }

    mutating func superEncoder() -> any Encoder { JSONWritingEncoder.unusable(declining: level.output) }
}

struct JSONSingleWriter: SingleValueEncodingContainer {
    let level: JSONLevel
    let usable: Bool
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws {
        guard usable, !level.hasElements else { throw level.output.decline() }
        level.hasElements = true
        level.output.writeNull()
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        guard usable, !level.hasElements else { throw level.output.decline() }
        level.hasElements = true
        try level.output.write(value)
    }
}

extension JSONWritingEncoder {
    /// An encoder whose every container refuses to encode (for the unsupported super encoders); asking for it
    /// declines the fast path already.
    static func unusable(declining output: JSONOutput) -> JSONWritingEncoder {
        _ = output.decline()
        let level = JSONLevel(output: output)
        level.kind = .single
        level.hasElements = true
        return JSONWritingEncoder(level: level)
    }
}
