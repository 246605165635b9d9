import Foundation

/// A fast JSON decoder for camelCase event bodies: the fast path of ``EventCodec/decode(_:from:)`` when no key
/// needs converting.
///
/// It first checks the whole text against the JSON grammar and indexes its values in one pass, then serves
/// `init(from:)` implementations from that index, with the codec's value rules (dates as ``EventDate/parse(_:)`` or
/// seconds since 1970, decimals exactly). It declines — throws ``EventJSONReader/Unsupported``, and the codec decodes
/// with `JSONDecoder`, which then also produces the errors — whatever it is not sure to read exactly as
/// `JSONDecoder` would: a missing key or a type mismatch, numbers that are not plain integers where integers are
/// asked for, `Float`, `Data`, `URL`, nested containers and super decoders, duplicate keys, escapes in keys,
/// non-ASCII text that is not valid UTF-8, nesting deeper than 128 levels.
enum EventJSONReader {
    /// The fast path does not handle this body or type; use `JSONDecoder`.
    struct Unsupported: Error {}

    /// Decodes `type` from `data`.
    static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        let document = try JSONDocument(Array(data))
        // Keys that camelCasing could change: the codec's general path reads the body.
        guard document.keysAreCamelCase else { throw Unsupported() }
        let value = try document.decode(type, node: 0)
        // Declined somewhere, even if an `init(from:)` caught it (`try?`): JSONDecoder might have read that part
        // differently, so its answer is the one to give.
        guard !document.declined else { throw EventJSONReader.Unsupported() }
        return value
    }
}

/// A validated JSON text and the index of its values (in document order; a container's children follow it).
final class JSONDocument {
    enum Kind: UInt8 { case object, array, string, escapedString, number, integer, bool, null }

    struct Node {
        var kind: Kind
        /// Byte range of the value (strings: the contents between the quotes).
        var start: Int
        var end: Int
        /// Index of the node after this value and all of its children.
        var next: Int
        /// Number of children (object: members × 2, key then value; array: elements).
        var children: Int

        /// Whether the string starts with an ASCII uppercase letter.
        func startsUppercase(in bytes: [UInt8]) -> Bool {
            start < end && (0x41...0x5A).contains(bytes[start])
        }
    }

    let bytes: [UInt8]
    // Not checked for exclusive access at run time (the checks were a tenth of a decode): one decode owns its
    // document, on one thread, and nothing holds an access across a call that could write.
    @exclusivity(unchecked) private(set) var nodes: [Node] = []
    @exclusivity(unchecked) private var position = 0
    /// Set when decoding declined something (see ``EventJSONReader/decode(_:from:)``).
    @exclusivity(unchecked) private(set) var declined = false
    /// Whether every object key is plain ASCII (no escapes) and does not start with an uppercase letter: the keys
    /// camelCase events have, which camelCasing (``EventCodec/camelCased(_:)``) leaves as they are. The reader
    /// declines other documents (``EventJSONReader/decode(_:from:)``); the grammar accepts them.
    @exclusivity(unchecked) private(set) var keysAreCamelCase = true

    /// Records that the fast path declined, and returns the error to throw.
    func decline() -> EventJSONReader.Unsupported {
        declined = true
        return EventJSONReader.Unsupported()
    }

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        nodes.reserveCapacity(32)
        skipSpace()
        try parseValue(depth: 0)
        skipSpace()
        guard position == bytes.count else { throw EventJSONReader.Unsupported() }
        // Strings were checked byte by byte for ASCII only; anything else must be valid UTF-8 as a whole.
        if bytes.withUnsafeBufferPointer(JSONByteScan.hasNonASCII), String(validating: bytes, as: UTF8.self) == nil {
            throw EventJSONReader.Unsupported()
        }
    }

    // MARK: Parsing

    private func skipSpace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    private func expect(_ byte: UInt8) throws {
        guard position < bytes.count, bytes[position] == byte else { throw EventJSONReader.Unsupported() }
        position += 1
    }

    private func parseValue(depth: Int) throws {
        guard depth < 128, position < bytes.count else { throw EventJSONReader.Unsupported() }
        let index = nodes.count
        switch bytes[position] {
        case 0x7B: try parseContainer(.object, closing: 0x7D, depth: depth)  // {
        case 0x5B: try parseContainer(.array, closing: 0x5D, depth: depth)  // [
        case 0x22:
            try parseString()
        case 0x74: try parseLiteral("true", .bool)
        case 0x66: try parseLiteral("false", .bool)
        case 0x6E: try parseLiteral("null", .null)
        default:
            try parseNumber()
        }
        nodes[index].next = nodes.count
    }

    /// An object (`"key": value` members, two child nodes each) or an array (values), from its opening bracket
    /// through `closing`.
    private func parseContainer(_ kind: Kind, closing: UInt8, depth: Int) throws {
        let index = nodes.count
        nodes.append(Node(kind: kind, start: position, end: 0, next: 0, children: 0))
        position += 1
        skipSpace()
        var children = 0
        if position < bytes.count, bytes[position] == closing {
            position += 1
        } else {
            while true {
                if kind == .object {
                    guard position < bytes.count, bytes[position] == 0x22 else { throw EventJSONReader.Unsupported() }
                    let text = try parseString()
                    if text != .ascii || nodes[nodes.count - 1].startsUppercase(in: bytes) { keysAreCamelCase = false }
                    skipSpace()
                    try expect(0x3A)
                    skipSpace()
                    children += 1
                }
                try parseValue(depth: depth + 1)
                children += 1
                skipSpace()
                guard position < bytes.count else { throw EventJSONReader.Unsupported() }
                if bytes[position] == 0x2C {
                    position += 1
                    skipSpace()
                    continue
                }
                try expect(closing)
                break
            }
        }
        nodes[index].end = position
        nodes[index].children = children
    }

    private func parseLiteral(_ text: StaticString, _ kind: Kind) throws {
        let length = text.utf8CodeUnitCount
        guard position + length <= bytes.count else { throw EventJSONReader.Unsupported() }
        let literal = UnsafeBufferPointer(start: text.utf8Start, count: length)
        for offset in 0..<length where bytes[position + offset] != literal[offset] { throw EventJSONReader.Unsupported() }
        nodes.append(Node(kind: kind, start: position, end: position + length, next: nodes.count + 1, children: 0))
        position += length
    }

    /// What a string's text holds, as far as keys care.
    enum StringText { case ascii, nonASCII, escaped }

    @discardableResult
    private func parseString() throws -> StringText {
        let start = position + 1
        var index = start
        var escaped = false
        var nonASCII = false
        while true {
            index = bytes.withUnsafeBufferPointer { JSONByteScan.firstSpecial($0, from: index, slash: false, nonASCII: &nonASCII) }
            guard index < bytes.count else { throw EventJSONReader.Unsupported() }
            let byte = bytes[index]
            if byte == 0x22 { break }
            if byte < 0x20 { throw EventJSONReader.Unsupported() }
            // A backslash.
            escaped = true
            guard index + 1 < bytes.count else { throw EventJSONReader.Unsupported() }
            switch bytes[index + 1] {
            case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: index += 2
            case 0x75:
                guard index + 5 < bytes.count, (2...5).allSatisfy({ Self.hexValue(bytes[index + $0]) != nil }) else {
                    throw EventJSONReader.Unsupported()
                }
                index += 6
            default: throw EventJSONReader.Unsupported()
            }
        }
        nodes.append(Node(kind: escaped ? .escapedString : .string, start: start, end: index, next: nodes.count + 1, children: 0))
        position = index + 1
        return escaped ? .escaped : nonASCII ? .nonASCII : .ascii
    }

    private func parseNumber() throws {
        let start = position
        var index = position
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - first
        }
        if index < bytes.count, bytes[index] == 0x2D { index += 1 }
        guard index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 else { throw EventJSONReader.Unsupported() }
        if bytes[index] == 0x30 {
            index += 1
        } else {
            _ = digits()
        }
        var integer = true
        if index < bytes.count, bytes[index] == 0x2E {
            integer = false
            index += 1
            guard digits() > 0 else { throw EventJSONReader.Unsupported() }
        }
        if index < bytes.count, bytes[index] == 0x65 || bytes[index] == 0x45 {
            integer = false
            index += 1
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
            guard digits() > 0 else { throw EventJSONReader.Unsupported() }
        }
        nodes.append(Node(kind: integer ? .integer : .number, start: start, end: index, next: nodes.count + 1, children: 0))
        position = index
    }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: UInt32(byte - 0x30)
        case 0x41...0x46: UInt32(byte - 0x41 + 10)
        case 0x61...0x66: UInt32(byte - 0x61 + 10)
        default: nil
        }
    }

    // MARK: Values

    func string(_ node: Int) throws -> String {
        let value = nodes[node]
        switch value.kind {
        case .string:
            return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[value.start..<value.end]), as: UTF8.self) }
        case .escapedString:
            return try unescaped(value.start, value.end)
        default:
            throw decline()
        }
    }

    private func unescaped(_ start: Int, _ end: Int) throws -> String {
        var output: [UInt8] = []
        output.reserveCapacity(end - start)
        var index = start
        func hex4(_ at: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 << 4 | (Self.hexValue(bytes[at + $1]) ?? 0) }
        }
        while index < end {
            let byte = bytes[index]
            guard byte == 0x5C else {
                output.append(byte)
                index += 1
                continue
            }
            let code = bytes[index + 1]
            index += 2
            switch code {
            case 0x62: output.append(0x08)
            case 0x66: output.append(0x0C)
            case 0x6E: output.append(0x0A)
            case 0x72: output.append(0x0D)
            case 0x74: output.append(0x09)
            case 0x75:
                var scalar = hex4(index)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard index + 6 <= end, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else { throw decline() }
                    let low = hex4(index + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw decline() }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw decline() }
                output.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: output.append(code)  // " \ /
            }
        }
        guard let text = String(validating: output, as: UTF8.self) else { throw decline() }
        return text
    }

    /// The number's text, for the integer kinds only when it is a plain integer.
    func numberText(_ node: Int, integer: Bool) throws -> Substring {
        let value = nodes[node]
        guard value.kind == .integer || (!integer && value.kind == .number) else { throw decline() }
        return Substring(decoding: bytes[value.start..<value.end], as: UTF8.self)
    }

    /// A number as `Double`, where JSONDecoder surely reads it as the same one: finite, and not zero from a text with
    /// an exponent. JSONDecoder refuses numbers that underflow (`1e-400`), and some zeros with an exponent (`0e5`,
    /// `-0.0e5`, though not `0e12`): its answer is the one to give for those.
    func double(_ node: Int) throws -> Double {
        let text = try numberText(node, integer: false)
        guard let number = Double(text), number.isFinite else { throw decline() }
        if number == 0, text.utf8.contains(where: { $0 == 0x65 || $0 == 0x45 }) { throw decline() }
        if number == 0, text.utf8.contains(where: { $0 >= 0x31 && $0 <= 0x39 }) { throw decline() }
        return number
    }

    func integer<Number: FixedWidthInteger>(_ type: Number.Type, _ node: Int) throws -> Number {
        guard let number = Number(try numberText(node, integer: true), radix: 10) else { throw decline() }
        return number
    }

    func decode<Value: Decodable>(_ type: Value.Type, node: Int) throws -> Value {
        let kind = nodes[node].kind
        // Once the metatype matched, `Value` is that type and the bit cast is exact (no dynamic cast).
        if type == String.self { return unsafeBitCast(try string(node), to: Value.self) }
        if type == Int.self { return unsafeBitCast(try integer(Int.self, node), to: Value.self) }
        if type == UUID.self {
            // Unescaped text only; anything else (or a malformed id) is left to JSONDecoder and its error.
            let value = nodes[node]
            guard value.kind == .string,
                  let id = bytes.withUnsafeBufferPointer({ UUID(text: UnsafeBufferPointer(rebasing: $0[value.start..<value.end])) })
            else { throw decline() }
            return unsafeBitCast(id, to: Value.self)
        }
        if type == Date.self {
            let date: Date
            if kind == .string || kind == .escapedString {
                guard let parsed = EventDate.parse(try string(node)) else { throw decline() }
                date = parsed
            } else {
                date = Date(timeIntervalSince1970: try double(node))
                // Out of range (huge, or not finite): JSONDecoder's date rule gives the error.
                guard EventDate.isInRange(date) else { throw decline() }
            }
            return unsafeBitCast(date, to: Value.self)
        }
        if type == Decimal.self {
            let text = try numberText(node, integer: false)
            guard text.utf8.count <= 30, let decimal = Decimal(string: String(text)) else { throw decline() }
            return unsafeBitCast(decimal, to: Value.self)
        }
        if type == Bool.self {
            guard kind == .bool else { throw decline() }
            return unsafeBitCast(bytes[nodes[node].start] == 0x74, to: Value.self)
        }
        if type == Double.self { return unsafeBitCast(try double(node), to: Value.self) }
        if type == Int64.self { return unsafeBitCast(try integer(Int64.self, node), to: Value.self) }
        if type == UInt64.self { return unsafeBitCast(try integer(UInt64.self, node), to: Value.self) }
        if type == Int32.self { return unsafeBitCast(try integer(Int32.self, node), to: Value.self) }
        if type == UInt32.self { return unsafeBitCast(try integer(UInt32.self, node), to: Value.self) }
        if type == Int16.self { return unsafeBitCast(try integer(Int16.self, node), to: Value.self) }
        if type == UInt16.self { return unsafeBitCast(try integer(UInt16.self, node), to: Value.self) }
        if type == Int8.self { return unsafeBitCast(try integer(Int8.self, node), to: Value.self) }
        if type == UInt8.self { return unsafeBitCast(try integer(UInt8.self, node), to: Value.self) }
        if type == UInt.self { return unsafeBitCast(try integer(UInt.self, node), to: Value.self) }
        if type == Float.self || type == Data.self || type == URL.self { throw decline() }
        return try Value(from: JSONReadingDecoder(document: self, node: node))
    }
}

struct JSONReadingDecoder: Decoder {
    let document: JSONDocument
    let node: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try JSONKeyedReader<Key>(document: document, node: node))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try JSONUnkeyedReader(document: document, node: node)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        JSONSingleReader(document: document, node: node)
    }
}

struct JSONKeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: JSONDocument
    /// Each member: its name's bytes in the document and the node of its value, in document order. Names stay bytes:
    /// a lookup compares them with the key's UTF-8, and no String is made per member.
    let members: [(name: Range<Int>, value: Int)]
    var codingPath: [any CodingKey] { [] }

    init(document: JSONDocument, node: Int) throws {
        guard document.nodes[node].kind == .object else { throw document.decline() }
        self.document = document
        var members: [(name: Range<Int>, value: Int)] = []
        members.reserveCapacity(document.nodes[node].children / 2)
        var child = node + 1
        for _ in 0..<(document.nodes[node].children / 2) {
            // Keys are plain ASCII without escapes (decode(_:from:) declined any other document).
            let key = document.nodes[child]
            let value = key.next
            members.append((key.start..<key.end, value))
            child = document.nodes[value].next
        }
        if members.count > 1 {
            // Which duplicate JSONDecoder keeps is its business.
            let bytes = document.bytes
            if members.count <= 16 {
                for first in 0..<members.count - 1 {
                    for second in (first + 1)..<members.count
                    where bytes[members[first].name].elementsEqual(bytes[members[second].name]) {
                        throw document.decline()
                    }
                }
            } else if Set(members.map { bytes[$0.name] }).count != members.count {
                throw document.decline()
            }
        }
        self.members = members
    }

    /// The member named `key`'s value node, if there is one. Names are compared as `String`s are (canonical
    /// equivalence), as `JSONDecoder` does: byte for byte first (the members are ASCII, and so are nearly all keys),
    /// then, for a key that is not ASCII, as text (`"\u{212A}"`, the Kelvin sign, equals `"K"`).
    private func find(_ key: Key) -> Int? {
        var name = key.stringValue
        let (found, ascii) = name.withUTF8 { wanted -> (Int?, Bool) in
            let found = document.bytes.withUnsafeBufferPointer { bytes -> Int? in
                for member in members where member.name.count == wanted.count {
                    if wanted.isEmpty || memcmp(bytes.baseAddress! + member.name.lowerBound, wanted.baseAddress!, wanted.count) == 0 {
                        return member.value
                    }
                }
                return nil
            }
            return (found, found != nil || wanted.allSatisfy { $0 < 0x80 })
        }
        if found != nil || ascii { return found }
        for member in members where String(decoding: document.bytes[member.name], as: UTF8.self) == name { return member.value }
        return nil
    }

    private func node(_ key: Key) throws -> Int {
        guard let value = find(key) else { throw document.decline() }
        return value
    }

    var allKeys: [Key] {
        members.compactMap { member in Key(stringValue: String(decoding: document.bytes[member.name], as: UTF8.self)) }
    }

    func contains(_ key: Key) -> Bool {
        find(key) != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        document.nodes[try node(key)].kind == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try document.decode(type, node: try node(key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw document.decline()
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw document.decline()
    }

    func superDecoder() throws -> any Decoder { throw document.decline() }
    func superDecoder(forKey key: Key) throws -> any Decoder { throw document.decline() }
}

struct JSONUnkeyedReader: UnkeyedDecodingContainer {
    let document: JSONDocument
    var codingPath: [any CodingKey] { [] }
    let count: Int?
    private(set) var currentIndex = 0
    private var next: Int

    init(document: JSONDocument, node: Int) throws {
        guard document.nodes[node].kind == .array else { throw document.decline() }
        self.document = document
        count = document.nodes[node].children
        next = node + 1
    }

    var isAtEnd: Bool { currentIndex >= (count ?? 0) }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw document.decline() }
        guard document.nodes[next].kind == .null else { return false }
        next = document.nodes[next].next
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw document.decline() }
        let value = try document.decode(type, node: next)
        next = document.nodes[next].next
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        throw document.decline()
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { throw document.decline() }
    mutating func superDecoder() throws -> any Decoder { throw document.decline() }
}

struct JSONSingleReader: SingleValueDecodingContainer {
    let document: JSONDocument
    let node: Int
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { document.nodes[node].kind == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try document.decode(type, node: node)
    }
}
