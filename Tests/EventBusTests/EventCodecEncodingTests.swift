import EventBus
import Foundation
import Testing

/// The codec's encoder writes what `JSONEncoder` (with the codec's date rule) writes, for every kind of value an event
/// may hold, including those it hands to `JSONEncoder` (data, URLs, hand-written nested containers).
@Suite("Event codec encoding")
struct EventCodecEncodingTests {
    typealias Color = CodecTestColor
    typealias Inner = CodecTestInner

    struct Everything: Codable, Equatable {
        var text = "plain \"quoted\" back\\slash / slash\n\t\r\u{08}\u{0C}\u{01} ünïcode 🎉"
        var int = -42
        var int64: Int64 = .max
        var int32: Int32 = .min
        var int16: Int16 = -7
        var int8: Int8 = 8
        var uint = UInt.max
        var uint64: UInt64 = .max
        var uint32: UInt32 = 9
        var uint16: UInt16 = 10
        var uint8: UInt8 = 255
        var double = 1.0
        var fraction = 0.1
        var large = 1e20
        var small = 1.5e-12
        var float: Float = 2.5
        var flag = true
        var off = false
        var date = Date(timeIntervalSince1970: 1_714_559_400.123_456_7)
        var uuid = UUID(uuidString: "3FA85F64-5717-4562-B3FC-2C963F66AFA6") ?? UUID()
        var price = Decimal(string: "19.99") ?? 0
        var bigPrice = Decimal(string: "-123456789012345678.000001") ?? 0
        var missing: String? = nil
        var present: Int? = 3
        var list = [1, 2, 3]
        var empty: [String] = []
        var table = ["Color": 1, "size": 2]
        var nested = [Inner(name: "a", values: []), Inner(name: "b", values: [4])]
        var color = Color.green
        var colors: [Color?] = [.red, nil]
        var matrix = [[1.5], []]
    }

    /// A hand-written conformance with a nested container, as `JSONEncoder` allows.
    struct HandWritten: Codable, Equatable {
        var id: Int
        var label: String

        enum Keys: String, CodingKey { case id, details }
        enum DetailKeys: String, CodingKey { case label }

        init(id: Int, label: String) {
            self.id = id
            self.label = label
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            id = try container.decode(Int.self, forKey: .id)
            label = try container.nestedContainer(keyedBy: DetailKeys.self, forKey: .details).decode(String.self, forKey: .label)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var details = container.nestedContainer(keyedBy: DetailKeys.self, forKey: .details)
            try details.encode(label, forKey: .label)
            try container.encode(id, forKey: .id)
        }
    }

    struct WithDataAndURL: Codable, Equatable {
        var blob = Data([0, 1, 2, 250])
        var link = URL(string: "https://example.com/a?b=c")
    }

    /// What `JSONEncoder` writes with the codec's date rule, parsed.
    func reference<Value: Encodable>(_ value: Value) throws -> NSObject {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(EventDate.format(date))
        }
        return try parsed(encoder.encode(value))
    }

    func parsed(_ data: Data) throws -> NSObject {
        try #require(try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? NSObject)
    }

    @Test func everyKindOfValueEncodesAsJSONEncoderEncodesIt() throws {
        let value = Everything()
        let data = try EventCodec().encode(value)
        #expect(try parsed(data) == reference(value), "\(String(decoding: data, as: UTF8.self))")
        #expect(try EventCodec().decode(Everything.self, from: data) == value)
    }

    @Test func valuesJSONEncoderTreatsSpeciallyStillEncodeAsItDoes() throws {
        let handWritten = HandWritten(id: 1, label: "x")
        #expect(try parsed(EventCodec().encode(handWritten)) == reference(handWritten))
        #expect(try EventCodec().decode(HandWritten.self, from: EventCodec().encode(handWritten)) == handWritten)
        let special = WithDataAndURL()
        #expect(try parsed(EventCodec().encode(special)) == reference(special))
        #expect(try EventCodec().decode(WithDataAndURL.self, from: EventCodec().encode(special)) == special)
    }

    @Test func topLevelFragmentsAndCollectionsEncode() throws {
        #expect(try EventCodec().encode("a/b") == Data(#""a\/b""#.utf8))
        #expect(try EventCodec().encode(12) == Data("12".utf8))
        #expect(try parsed(EventCodec().encode([1, 2])) == reference([1, 2]))
        #expect(try parsed(EventCodec().encode(["k": [true]])) == reference(["k": [true]]))
    }

    @Test func nonFiniteNumbersFailAsWithJSONEncoder() {
        struct Bad: Encodable { var value = Double.nan }
        #expect(throws: (any Error).self) { try EventCodec().encode(Bad()) }
    }

    /// A hand-written conformance that swallows a failure of a nested container: the codec must still write what
    /// JSONEncoder writes (which supports nested containers).
    struct Swallowing: Encodable {
        enum Keys: String, CodingKey { case id, details }
        enum DetailKeys: String, CodingKey { case label }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .id)
            var details = container.nestedContainer(keyedBy: DetailKeys.self, forKey: .details)
            try? details.encode("x", forKey: .label)
        }
    }

    @Test func caughtDeclinesStillGiveJSONEncodersAnswer() throws {
        #expect(try parsed(EventCodec().encode(Swallowing())) == reference(Swallowing()))
    }
}
