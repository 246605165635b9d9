@testable import EventBus
import Foundation
import TestSupport
import Testing

/// ``JSONValue/parse(_:)`` (the codec's reader) against `JSONDecoder` decoding the same enum, and ``JSONValue/jsonData()``
/// (the codec's writer) against the parser, on the reader property test's generated and mutated documents.
@Suite("JSONValue properties")
struct JSONValuePropertyTests {
    /// Documents per run (about 15 s in a debug build: `JSONDecoder`, the reference, is most of it).
    static let documents = 8_000

    @Test func parseAgreesWithJSONDecoderAndWritingRoundTrips() async {
        let seed = UInt64.random(in: 0...UInt64.max)
        let (failures, accepted, rejected) = await onOwnThread { Self.compare(seed: seed) }
        print("JSONValue: \(Self.documents) documents (seed \(seed)): \(accepted) read and \(rejected) rejected alike")
        #expect(failures.isEmpty, "seed \(seed): \(failures.map { "\($0.key) (\($0.value.count) times), e.g. \($0.value.example)" })")
        #expect(accepted > Self.documents / 10 && rejected > Self.documents / 10, "the generator covers both outcomes")
    }

    /// The documents of `seed`, each parsed both ways: the differences found, and how many both read and rejected.
    static func compare(seed: UInt64) -> (failures: [String: (count: Int, example: String)], accepted: Int, rejected: Int) {
        var generator = JSONDocumentGenerator(seed: seed)
        var failures: [String: (count: Int, example: String)] = [:]
        var (accepted, rejected) = (0, 0)
        for _ in 0..<Self.documents {
            let data = Data(generator.document())
            func fail(_ kind: String, _ detail: String) {
                let example = failures[kind]?.example ?? "\(detail.prefix(300)) in \(String(decoding: data.prefix(300), as: UTF8.self).debugDescription)"
                failures[kind] = ((failures[kind]?.count ?? 0) + 1, example)
            }
            let expected = Result { try JSONDecoder().decode(JSONValue.self, from: data) }
            let actual = Result { try JSONValue.parse(data) }
            switch (expected, actual) {
            case (.success(let left), .success(let right)):
                accepted += 1
                if left != right { fail("parse and JSONDecoder read different values", Self.difference(left, right)) }
                let written = right.jsonData()
                // A whole Double is written without its `.0` (as JSONEncoder does) and reads back as an integer.
                if let back = try? JSONValue.parse(written), Self.same(back, right) {} else {
                    fail("jsonData() does not parse back to the value", String(decoding: written, as: UTF8.self))
                }
                if (try? JSONSerialization.jsonObject(with: written, options: .fragmentsAllowed)) == nil {
                    fail("jsonData() is not JSON to JSONSerialization", String(decoding: written, as: UTF8.self))
                }
            case (.failure, .failure): rejected += 1
            case (.success, .failure(let error)): fail("parse rejects what JSONDecoder reads", "\(error)")
            case (.failure(let error), .success): fail("parse reads what JSONDecoder rejects", "\(error)")
            }
        }
        return (failures, accepted, rejected)
    }

    /// Where `left` and `right` first differ, as `path: left vs right`.
    static func difference(_ left: JSONValue, _ right: JSONValue, path: String = "") -> String {
        switch (left, right) {
        case (.array(let a), .array(let b)) where a.count == b.count:
            for (index, pair) in zip(a, b).enumerated() where pair.0 != pair.1 { return difference(pair.0, pair.1, path: "\(path)[\(index)]") }
        case (.object(let a), .object(let b)) where Set(a.keys) == Set(b.keys):
            for (key, value) in a where b[key] != value { return difference(value, b[key]!, path: "\(path).\(key)") }
        default: break
        }
        return "\(path): \(left) vs \(right)"
    }

    /// Equal values, a whole `.number` and the same `.integer` counting as one.
    static func same(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.array(let a), .array(let b)): a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
        case (.object(let a), .object(let b)): a.count == b.count && a.allSatisfy { key, value in b[key].map { same(value, $0) } ?? false }
        case (.integer, .number), (.number, .integer): left.doubleValue == right.doubleValue
        default: left == right
        }
    }

    @Test func writesEveryKindOfValueAsCompactJSON() throws {
        let value = JSONValue.object(["a/b": .array([.null, .bool(true), .integer(-42), .number(1.5), .string("é \"q\" \n /")])])
        #expect(String(decoding: value.jsonData(), as: UTF8.self) == #"{"a/b":[null,true,-42,1.5,"é \"q\" \n /"]}"#)
        #expect(JSONValue.number(.infinity).jsonData() == Data("null".utf8), "a number JSON cannot hold is written as null")
        #expect(try JSONValue.parse(Data("9223372036854775808".utf8)) == .number(9223372036854775808), "past Int64: a Double")
    }
}
