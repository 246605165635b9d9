import EventBus
import Foundation
import Testing

/// The codec's decoder reads camelCase bodies as `JSONDecoder` (with the codec's date rule) reads them: same values,
/// and an error wherever `JSONDecoder` fails.
@Suite("Event codec decoding")
struct EventCodecDecodingTests {
    typealias Color = CodecTestColor
    typealias Inner = CodecTestInner

    struct Mixed: Codable, Equatable {
        var text: String
        var int: Int
        var int64: Int64
        var uint8: UInt8
        var uint64: UInt64
        var double: Double
        var flag: Bool
        var date: Date
        var seconds: Date
        var uuid: UUID
        var price: Decimal
        var missing: String?
        var null: Int?
        var list: [Int]
        var table: [String: Int]
        var nested: [Inner]
        var color: Color
        var colors: [Color?]
        var matrix: [[Double]]
    }

    static let body = #"""
    { "text" : "a \"q\" \\ \/ \n\t\u00e9\ud83c\udf89 ünï", "int": -42, "int64": 9223372036854775807, "uint8": 255,
      "uint64": 18446744073709551615, "double": 1.5e-3, "flag": true, "date": "2024-05-01T10:30:00.1234567Z",
      "seconds": 1714559400.5, "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "price": 19.99,
      "null": null, "list": [1, 2, 3], "table": {"a": 1, "b": 2}, "nested": [{"name": "x", "values": []}],
      "color": "green", "colors": ["red", null], "matrix": [[1, 2.5], []], "unknown": {"deep": [true, false, null, "x"]} }
    """#

    /// What `JSONDecoder` makes of `data`, with the codec's date rule.
    func reference<Value: Decodable>(_ type: Value.Type, _ data: Data) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
            let text = try container.decode(String.self)
            guard let date = EventDate.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a date")
            }
            return date
        }
        return try decoder.decode(type, from: data)
    }

    @Test func everyKindOfValueDecodesAsJSONDecoderDecodesIt() throws {
        let data = Data(Self.body.utf8)
        let decoded = try EventCodec().decode(Mixed.self, from: data)
        #expect(decoded == (try reference(Mixed.self, data)))
        #expect(decoded.text == "a \"q\" \\ / \n\té🎉 ünï")
        #expect(decoded.price == Decimal(string: "19.99"))
        #expect(decoded.table == ["a": 1, "b": 2])
        #expect(decoded.colors == [.red, nil])
    }

    @Test func encodedValuesComeBack() throws {
        let value = try EventCodec().decode(Mixed.self, from: Data(Self.body.utf8))
        #expect(try EventCodec().decode(Mixed.self, from: EventCodec().encode(value)) == value)
    }

    @Test(arguments: [
        #"{"name":"x","values":[1,2]"#,  // unterminated
        #"{"name":"x","values":[1,,2]}"#,
        #"{"name":"x","values":[1,2],}"#,
        #"{"name":"x","values":[01]}"#,
        #"{"name":"x","values":[1.]}"#,
        #"{"name":"x","values":[1.5]}"#,  // not an integer
        #"{"name":"x","values":[1e2]}"#,
        #"{"name":"x","values":[300000000000000000000]}"#,
        #"{"name":"x","values":["1"]}"#,
        #"{"name":1,"values":[]}"#,
        #"{"name":"x"}"#,  // missing key
        #"{"name":"x","values":[],"extra":[1 2]}"#,
        #"{"name":"\x","values":[]}"#,
        #"{"name":"\ud83c","values":[]}"#,  // lone surrogate
        #"{"name":"x","values":[]} junk"#,
        #"{"name":"x","values":[],"name":"y"}"#,  // duplicate: JSONDecoder's choice, not an error here
        "",
        "[]",
        "nul",
    ])
    func bodiesDecodeOrFailExactlyAsWithJSONDecoder(body: String) {
        let data = Data(body.utf8)
        let expected = Result { try reference(Inner.self, data) }
        let actual = Result { try EventCodec().decode(Inner.self, from: data) }
        switch (expected, actual) {
        case (.success(let left), .success(let right)): #expect(left == right, "\(body)")
        case (.failure, .failure): break
        default: Issue.record("\(body): JSONDecoder \(expected), codec \(actual)")
        }
    }

    struct Identified: Codable, Equatable {
        var id: UUID
    }

    @Test(arguments: [
        "3fa85f64-5717-4562-b3fc-2c963f66afa6", "3FA85F64-5717-4562-B3FC-2C963F66AFA6", "3Fa85f64-5717-4562-b3Fc-2c963f66aFa6",
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
        #"\u0033fa85f64-5717-4562-b3fc-2c963f66afa6"#,  // escaped: JSONDecoder's path
        "3fa85f6457174562b3fc2c963f66afa6", "{3fa85f64-5717-4562-b3fc-2c963f66afa6}", "3fa85f64-5717-4562-b3fc-2c963f66afa",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6a", "3fa85f64_5717-4562-b3fc-2c963f66afa6", "3fa85f6-45717-4562-b3fc-2c963f66afa6",
        "3fa85f64-5717-4562-b3fc-2c963f66afg6", "", " 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    ])
    func idsDecodeOrFailExactlyAsWithJSONDecoder(text: String) {
        let data = Data(#"{"id":"\#(text)"}"#.utf8)
        let expected = Result { try reference(Identified.self, data) }
        let actual = Result { try EventCodec().decode(Identified.self, from: data) }
        switch (expected, actual) {
        case (.success(let left), .success(let right)): #expect(left == right, "\(text)")
        case (.failure, .failure): break
        default: Issue.record("\(text): JSONDecoder \(expected), codec \(actual)")
        }
    }

    @Test func idTextMatchesFoundations() throws {
        for _ in 0..<1_000 {
            let id = UUID()
            #expect(id.lowercasedText == id.uuidString.lowercased())
            var bytes: [UInt8] = []
            id.appendUppercaseText(to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == id.uuidString)
            #expect(UUID(text: id.uuidString) == id)
            #expect(UUID(text: id.lowercasedText) == id)
        }
    }

    @Test func invalidUTF8FailsAsWithJSONDecoder() {
        var bytes = Array(#"{"name":"x"#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#"","values":[]}"#.utf8)
        let data = Data(bytes)
        let expected = Result { try reference(Inner.self, data) }
        let actual = Result { try EventCodec().decode(Inner.self, from: data) }
        switch (expected, actual) {
        case (.success(let left), .success(let right)): #expect(left == right)
        case (.failure, .failure): break
        default: Issue.record("JSONDecoder \(expected), codec \(actual)")
        }
    }

    /// A hand-written conformance that catches errors: the codec must not return a value the fast path made up
    /// where it declined (here: an integer written as `1.0`, which JSONDecoder reads as 1).
    struct Lenient: Decodable, Equatable {
        var count: Int
        var label: String

        enum Keys: String, CodingKey { case count, label }

        init(count: Int, label: String) {
            self.count = count
            self.label = label
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            count = (try? container.decode(Int.self, forKey: .count)) ?? -1
            label = (try? container.decode(String.self, forKey: .label)) ?? "none"
        }
    }

    @Test func caughtDeclinesStillGiveJSONDecodersAnswer() throws {
        for body in [#"{"count":1.0,"label":"x"}"#, #"{"count":2,"label":"y"}"#, #"{"count":"3"}"#] {
            let data = Data(body.utf8)
            #expect(try EventCodec().decode(Lenient.self, from: data) == (try reference(Lenient.self, data)), "\(body)")
        }
    }

    /// A key the body spells differently but canonically equal (the Kelvin sign against `K`) is found, as
    /// `JSONDecoder` finds it: `decodeIfPresent` must not quietly give `nil`.
    @Test func aKeyCanonicallyEqualToTheBodysIsFound() throws {
        struct Kelvin: Decodable, Equatable {
            var value: Int?
            enum CodingKeys: String, CodingKey { case value = "a\u{212A}" }
        }
        let data = Data(#"{"aK":1}"#.utf8)
        let decoded = try EventCodec().decode(Kelvin.self, from: data)
        #expect(decoded == (try JSONDecoder().decode(Kelvin.self, from: data)))
        #expect(decoded.value == 1)
    }
}
