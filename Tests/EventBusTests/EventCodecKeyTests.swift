import EventBus
import Foundation
import Testing

/// The codec's key handling beyond the eShop bodies: nested types, arrays, and dictionaries (whose keys are data,
/// never converted, as Foundation's key strategies leave them).
@Suite("Event codec keys")
struct EventCodecKeyTests {
    struct Line: Codable, Equatable {
        var productId: Int
        var units: Int
    }

    struct Order: Codable, Equatable {
        var id: String
        var lines: [Line]
        var attributes: [String: String]
        var note: String?
    }

    @Test func pascalCaseNestedBodiesDecodeAndDictionaryKeysStayAsWritten() throws {
        let body = #"{"Id":"o-1","Lines":[{"ProductId":1,"Units":2},{"ProductId":3,"Units":4}],"Attributes":{"Color":"red","size":"L"},"Note":"a \"quoted\" \/ note"}"#
        let order = try EventCodec().decode(Order.self, from: Data(body.utf8))
        #expect(order == Order(
            id: "o-1", lines: [Line(productId: 1, units: 2), Line(productId: 3, units: 4)],
            attributes: ["Color": "red", "size": "L"], note: #"a "quoted" / note"#))
    }

    @Test func camelCaseBodiesDecodeTheSame() throws {
        let body = #"{"id":"o-1","lines":[{"productId":1,"units":2}],"attributes":{"Color":"red"},"note":null}"#
        let order = try EventCodec().decode(Order.self, from: Data(body.utf8))
        #expect(order == Order(id: "o-1", lines: [Line(productId: 1, units: 2)], attributes: ["Color": "red"], note: nil))
    }

    @Test func bothKeyStylesRoundTrip() throws {
        let order = Order(
            id: "o-2", lines: [Line(productId: 5, units: 6)], attributes: ["Color": "blue", "weight": "2 kg"],
            note: "ünïcode / \"quotes\"")
        for style in [EventCodec.KeyStyle.camelCase, .pascalCase] {
            let data = try EventCodec(keyStyle: style).encode(order)
            #expect(try EventCodec().decode(Order.self, from: data) == order, "\(style)")
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let attributes = try #require(object[style == .pascalCase ? "Attributes" : "attributes"] as? [String: String])
            #expect(attributes == order.attributes)
        }
    }

    @Test func malformedBodiesFail() {
        for body in [#"{"id":"o-1","lines":[{"productId":1,"units":2}"#, #"{"Id":"#, "", "[]", #"{"id":1}"#] {
            #expect(throws: (any Error).self, "\(body)") { try EventCodec().decode(Order.self, from: Data(body.utf8)) }
        }
    }
}
