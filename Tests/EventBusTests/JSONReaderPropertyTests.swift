@testable import EventBus
import Foundation
import TestSupport
import Testing

/// The hand-written JSON reader (``EventJSONReader``, the codec's fast path) against Foundation on generated event
/// bodies and byte-level mutations of them.
///
/// The properties, per document:
/// - the codec accepts exactly what `JSONDecoder` (with the codec's date rule and key camelCasing) accepts, with equal
///   values: what a user sees;
/// - whenever the fast reader itself returns a value, `JSONDecoder` returns the same value (it never invents one);
/// - the reader's grammar (``JSONDocument``) accepts only what `JSONDecoder` accepts, and declines what
///   `JSONSerialization` accepts only in the documented cases: nesting of 128 levels or more, a UTF-8 byte order
///   mark, and UTF-16 or UTF-32 text (all left to `JSONDecoder` on purpose: event bodies are UTF-8 and shallow), and
///   a trailing comma (not JSON; JSONSerialization on Linux reads it, JSONDecoder does not).
@Suite("JSON reader properties")
struct JSONReaderPropertyTests {
    /// Documents the property test runs (19-22 s in a debug build on the 2-core machine, others building).
    static let documents = 100_000

    struct Inner: Codable, Equatable {
        var name: String
        var values: [Int]
    }

    enum Color: String, Codable, Equatable { case red, green }

    /// An event body with every kind of value the codec reads itself.
    struct Body: Codable, Equatable {
        var id: UUID
        var creationDate: Date
        var seconds: Date?
        var name: String
        var count: Int
        var big: Int64?
        var small: UInt8?
        var unsigned: UInt64?
        var price: Decimal
        var ratio: Double
        var flag: Bool
        var color: Color?
        var tags: [String]
        var scores: [String: Int]?
        var inner: [Inner]?
        var note: String?
    }

    /// `JSONDecoder` with the codec's rules: dates as ``EventDate/parse(_:)`` text or seconds since 1970 in years
    /// 0000 to 9999, keys camelCased (which changes nothing in a camelCase body).
    static let reference: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in Key(EventCodec.camelCased(path.last?.stringValue ?? "")) }
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) {
                let date = Date(timeIntervalSince1970: seconds)
                guard EventDate.isInRange(date) else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "range") }
                return date
            }
            guard let date = EventDate.parse(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a date")
            }
            return date
        }
        return decoder
    }()

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ text: String) { stringValue = text }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Any JSON text that `JSONDecoder` parses, whatever it holds: what its grammar accepts.
    struct Anything: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    @Test func readerAgreesWithFoundationOnGeneratedAndMutatedBodies() async {
        let seed = UInt64.random(in: 0...UInt64.max)
        let (failures, tally) = await onOwnThread { Self.compare(seed: seed) }
        print("JSON reader: \(Self.documents) documents (seed \(seed)): \(tally.accepted) read and \(tally.rejected) rejected "
            + "alike by the codec and JSONDecoder, \(tally.fastPath) read by the fast reader itself; documented declines "
            + "of text Foundation reads: \(tally.declinedGrammar.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" })")
        for (kind, failure) in failures { print("JSON reader: \(kind) (\(failure.count) times), e.g. \(failure.example)") }
        #expect(failures.isEmpty, "seed \(seed): \(failures.map { "\($0.key) (\($0.value.count) times), e.g. \($0.value.example)" })")
        #expect(tally.accepted > Self.documents / 10 && tally.rejected > Self.documents / 10, "the generator covers both outcomes")
    }

    /// The documents of `seed`, each read both ways: the differences found, and the counts.
    static func compare(seed: UInt64) -> (
        failures: [String: (count: Int, example: String)],
        tally: (accepted: Int, rejected: Int, fastPath: Int, declinedGrammar: [String: Int])
    ) {
        var generator = JSONDocumentGenerator(seed: seed)
        let codec = EventCodec()
        var failures: [String: (count: Int, example: String)] = [:]
        var tally = (accepted: 0, rejected: 0, fastPath: 0, declinedGrammar: [String: Int]())
        for _ in 0..<Self.documents {
            let bytes = generator.document()
            let data = Data(bytes)
            func fail(_ kind: String, _ detail: String = "") {
                let example = failures[kind]?.example ?? "\(detail.prefix(500)) in \(String(decoding: bytes.prefix(500), as: UTF8.self).debugDescription)"
                failures[kind] = ((failures[kind]?.count ?? 0) + 1, example)
            }
            // What a user sees: the codec against JSONDecoder.
            let expected = Result { try Self.reference.decode(Body.self, from: data) }
            let actual = Result { try codec.decode(Body.self, from: data) }
            switch (expected, actual) {
            case (.success(let left), .success(let right)):
                tally.accepted += 1
                if left != right { fail("the codec and JSONDecoder read different values", "\(left) vs \(right)") }
            case (.failure, .failure): tally.rejected += 1
            case (.success, .failure(let error)): fail("the codec rejects what JSONDecoder reads", "\(error)")
            case (.failure(let error), .success): fail("the codec reads what JSONDecoder rejects", "\(error)")
            }
            // The fast reader alone (as ``EventJSONReader/decode(_:from:)``, one parse for this and the grammar below)
            // never invents a value, on the bodies the codec gives it (no key to camelCase).
            let document = try? JSONDocument(bytes)
            if let document, !JSONKeyCase.mayHaveUppercaseKey(data), let fast = try? document.decode(Body.self, node: 0), !document.declined {
                tally.fastPath += 1
                if case .success(let value) = expected, value == fast {} else { fail("the fast reader reads a value JSONDecoder does not", "\(fast)") }
            }
            // The grammar: the reader checks the whole text as JSONDecoder does (values it is not asked for are not
            // read, so a lone surrogate or 1e400 there is no error to either); JSONSerialization reads every value.
            // (Foundation is asked only where the answer is not known yet: it is most of the test's time.)
            let grammar = document != nil
            if grammar, case .failure = expected, (try? JSONDecoder().decode(Anything.self, from: data)) == nil {
                fail("the reader's grammar accepts what JSONDecoder rejects")
            }
            // JSONDecoder does not look inside strings it is not asked for (`"\u0{}"` there is no error to it): the
            // reader declining those is no difference a user sees, as the codec then asks JSONDecoder.
            if !grammar, (try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)) != nil {
                if let reason = Self.documentedDecline(bytes) {
                    tally.declinedGrammar[reason, default: 0] += 1
                } else {
                    fail("the reader's grammar declines what JSONSerialization accepts")
                }
            }
        }
        return (failures, tally)
    }

    /// Why the reader's grammar may decline `bytes` that `JSONSerialization` reads, or `nil` when it may not.
    static func documentedDecline(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return "UTF-8 byte order mark" }
        if bytes.count >= 2, bytes[0] == 0 || bytes[1] == 0 || bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            return "UTF-16 or UTF-32"
        }
        var (depth, deepest, inString, escaped, afterComma, trailingComma) = (0, 0, false, false, false, false)
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x5B, 0x7B: depth += 1; deepest = max(deepest, depth)
            case 0x5D, 0x7D: depth -= 1; trailingComma = trailingComma || afterComma
            default: break
            }
            if byte != 0x20, byte != 0x0A, byte != 0x0D, byte != 0x09 { afterComma = byte == 0x2C }
        }
        if deepest >= 128 { return "nesting of 128 levels or more" }
        // Not JSON; JSONSerialization on Linux reads `[1,]` (JSONDecoder does not).
        return trailingComma ? "a trailing comma" : nil
    }
}

/// Event bodies in every form a publisher may write them (number forms, escapes, surrogates, whitespace, unknown
/// members), then mutated byte by byte, from a seeded generator (the seed is printed).
struct JSONDocumentGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// SplitMix64: small, fast, and the same sequence for the same seed.
    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ count: Int) -> Int { Int(next() % UInt64(count)) }
    private mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    private mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// One document: a body as written (four times in ten), or a mutated one.
    mutating func document() -> [UInt8] {
        var bytes = Array(body().utf8)
        guard !chance(40) else { return bytes }
        for _ in 0...below(3) { mutate(&bytes) }
        return bytes
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let position = bytes.isEmpty ? 0 : below(bytes.count)
        switch below(12) {
        case 0: bytes.removeLast(bytes.count - position)  // truncation
        case 1: if !bytes.isEmpty { bytes[position] ^= UInt8(1) << UInt8(below(8)) }  // a flipped bit
        case 2: if !bytes.isEmpty { bytes[position] = pick(Self.interestingBytes) }
        case 3: bytes.insert(pick(Self.interestingBytes), at: position)
        case 4: if !bytes.isEmpty { bytes.remove(at: position) }
        case 5: bytes.insert(contentsOf: Array(pick(Self.fragments).utf8), at: position)
        case 6: bytes = [0xEF, 0xBB, 0xBF] + bytes  // byte order mark
        case 7: bytes = Array(pick([" ", "\n", "\t", "\r\n", "\u{0B}", "\u{A0}"]).utf8) + bytes + Array(pick([" ", "\n", "", "\u{0}"]).utf8)
        case 8:  // nesting around the document or inside a member
            let levels = pick([2, 64, 127, 128, 129, 512, 513, 10_000])
            let (open, close) = chance(50) ? ("[", "]") : (#"{"a":"#, "}")
            bytes = Array(String(repeating: open, count: levels).utf8) + bytes + Array(String(repeating: close, count: levels).utf8)
        case 9:  // a duplicate of a member the type reads
            if let brace = bytes.firstIndex(of: 0x7B) {
                bytes.insert(contentsOf: Array(pick([#""name":"again","#, #""count":2,"#, #""Name":"pascal","#, #""name":null,"#]).utf8), at: brace + 1)
            }
        case 10: bytes = Array(String(decoding: bytes, as: UTF8.self).utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })  // UTF-16LE
        default: bytes.insert(contentsOf: Array(number().utf8), at: position)
        }
    }

    private static let interestingBytes: [UInt8] = [
        0x7B, 0x7D, 0x5B, 0x5D, 0x22, 0x5C, 0x2C, 0x3A, 0x30, 0x31, 0x39, 0x2D, 0x2B, 0x2E, 0x65, 0x45, 0x75, 0x6E,
        0x74, 0x66, 0x20, 0x0A, 0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF,
    ]

    private static let fragments = [
        #"\u0000"#, #"\ud83c\udf89"#, #"\ud83c"#, #"\udf89"#, #"\uDBFF\uDFFF"#, #"\u00e9"#, #"\/"#, #"\x"#, "é", "🎉",
        "1e400", "-1e-400", "1E+2", "0.0e0", "00", "-", "1.", ".5", "true", "null", "NaN", "Infinity", "[]", "{}",
        #""":"#, ",", ":", "//", "/*x*/", "\u{2028}",
    ]

    private static let plainNumbers = ["1.5", "0.25", "19.99", "-3", "1714559400.5", "1e2", "42"]
    private static let edgeIntegers = [
        "0", "-0", "1", "-1", "42", "255", "256", "-129", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "18446744073709551615", "18446744073709551616", "100000000000000000000000",
    ]
    private static let edgeNumbers = [
        "1.5", "-0.0", "0.1", "1e2", "1E2", "1e+2", "1e-2", "1.25e-3", "12.50", "19.99", "1e308", "1.7976931348623157e308",
        "1.8e308", "1e400", "-1e400", "5e-324", "2e-324", "1e-400", "0e0", "0e5", "-0.0e5", "0.000e-999",
        "123456789012345678901234567890", "0.1234567890123456789012345678901", "1714559400.5", "-62167219200",
        "253402300800", "1e20",
    ]

    /// A number in one of the forms JSON allows, or at the edges of what the types hold (one time in five).
    private mutating func number(integer: Bool = false) -> String {
        if chance(80) { return integer ? String(below(200)) : pick(Self.plainNumbers) }
        if chance(10) { return integer ? String(Int64(bitPattern: next()) >> below(64)) : "\(Double(bitPattern: next() >> 2))" }
        return integer || chance(40) ? pick(Self.edgeIntegers) : pick(Self.edgeNumbers)
    }

    private static let strings = [
        "plain", "", "with space", #"quote \" and backslash \\"#, #"slash \/"#, #"\n\t\r\b\f"#, #"\u00e9\u00E9"#,
        #"\ud83c\udf89"#, "é ünï 🎉", #"\u0041BC"#, "a/b", String(repeating: "long", count: 50),
    ]

    private mutating func string() -> String { pick(Self.strings) }

    private static let dates = [
        "2024-05-01T10:30:00.1234567Z", "2024-05-01T10:30:00Z", "2024-05-01T12:30:00+02:00", "2024-05-01T10:30:00",
        "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "2024-13-01T00:00:00Z", "yesterday",
        "2024-05-01T10:30:00.123456789012Z",
    ].map { "\"" + $0 + "\"" }

    private mutating func date() -> String {
        if chance(70) { return Self.dates[0] }
        return chance(70) ? pick(Self.dates) : number()
    }

    private mutating func uuid() -> UUID {
        let (high, low) = (next(), next())
        return withUnsafeBytes(of: (high, low)) { UUID(uuid: $0.load(as: uuid_t.self)) }
    }

    private mutating func space() -> String { chance(80) ? "" : pick([" ", "\n", "\t", "\r\n  "]) }

    /// A body for ``JSONReaderPropertyTests/Body``: members in any order, some missing or `null`, unknown ones added.
    private mutating func body() -> String {
        var members: [(String, String)] = [
            ("id", "\"" + (chance(90) ? (chance(50) ? uuid().uuidString : uuid().uuidString.lowercased()) : pick(["3fa85f64-5717-4562-b3fc-2c963f66afa", "x"])) + "\""),
            ("creationDate", date()),
            ("name", "\"" + string() + "\""),
            ("count", number(integer: chance(95))),
            ("price", chance(80) ? pick(["19.99", "0", "-1.5", "1e2", "12.50"]) : pick(["\"19.99\"", number()])),
            ("ratio", number()),
            ("flag", chance(90) ? pick(["true", "false"]) : pick(["null", "1"])),
            ("tags", "[" + (0..<below(4)).map { _ in "\"" + string() + "\"" }.joined(separator: ",") + "]"),
        ]
        if chance(50) { members.append(("seconds", chance(20) ? "null" : date())) }
        if chance(40) { members.append(("big", number(integer: true))) }
        if chance(40) { members.append(("small", number(integer: true))) }
        if chance(40) { members.append(("unsigned", number(integer: true))) }
        if chance(40) { members.append(("color", chance(80) ? "\"green\"" : pick(["\"red\"", "\"blue\"", "null"]))) }
        if chance(40) { members.append(("scores", #"{"a":"# + number(integer: true) + #","b":2}"#)) }
        if chance(40) { members.append(("inner", #"[{"name":"x","values":[1,"# + number(integer: true) + "]}]")) }
        if chance(30) { members.append(("note", chance(20) ? "null" : "\"" + string() + "\"")) }
        if chance(30) { members.append(("unknown", pick([#"{"deep":[true,false,null,"x",{"y":[]}]}"#, "[1,2,3]", "1e400", #""\ud83c""#]))) }
        if chance(5) { members.remove(at: below(members.count)) }
        // Shuffled with the seeded generator.
        for index in members.indices.reversed() where index > 0 { members.swapAt(index, below(index + 1)) }
        let separator = "," + space()
        let pascal = chance(10)
        return space() + "{" + space() + members.map { key, value in
            "\"" + (pascal ? EventCodec.pascalCased(key) : key) + "\"" + space() + ":" + space() + value
        }.joined(separator: separator) + space() + "}" + space()
    }
}
