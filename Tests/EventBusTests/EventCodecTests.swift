import EventBus
import Foundation
import Testing

@Suite("Event codec")
struct EventCodecTests {
    static let eShopBody = #"{"ProductId":1,"NewPrice":19.99,"OldPrice":21.50,"Id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","CreationDate":"2024-05-01T10:30:00.1234567Z"}"#

    @Test func dotNetEShopBodyDecodesWithExactDecimalsAndSevenDigitDate() throws {
        let event = try EventCodec().decode(ProductPriceChangedIntegrationEvent.self, from: Data(Self.eShopBody.utf8))
        #expect(event.id == UUID(uuidString: "3fa85f64-5717-4562-b3fc-2c963f66afa6"))
        #expect(event.productId == 1)
        #expect(event.newPrice == Decimal(string: "19.99"))
        #expect(event.oldPrice == Decimal(string: "21.50"))
        #expect("\(event.newPrice)" == "19.99")
        let expected = Date(timeIntervalSince1970: 1_714_559_400).addingTimeInterval(0.123_456_7)
        #expect(abs(event.creationDate.timeIntervalSince(expected)) < 100e-9)
        #expect(EventDate.format(event.creationDate) == "2024-05-01T10:30:00.1234567Z")
    }

    @Test func camelCaseBodyDecodesToo() throws {
        let body = #"{"productId":2,"newPrice":5.10,"oldPrice":4,"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","creationDate":"2024-05-01T10:30:00Z"}"#
        let event = try EventCodec().decode(ProductPriceChangedIntegrationEvent.self, from: Data(body.utf8))
        #expect(event.productId == 2)
        #expect(event.newPrice == Decimal(string: "5.10"))
        #expect(event.oldPrice == 4)
        #expect(event.creationDate == Date(timeIntervalSince1970: 1_714_559_400))
    }

    @Test func bodyOfAnotherShapeFailsToDecode() {
        #expect(throws: (any Error).self) {
            try EventCodec().decode(ProductPriceChangedIntegrationEvent.self, from: Data(#"{"Id":"nope"}"#.utf8))
        }
    }

    @Test(arguments: [
        ("2024-05-01T10:30:00", 0.0),
        ("2024-05-01T10:30:00Z", 0.0),
        ("2024-05-01t10:30:00z", 0.0),
        ("2024-05-01 10:30:00Z", 0.0),
        ("2024-05-01T12:30:00+02:00", 0.0),
        ("2024-05-01T12:30:00+0200", 0.0),
        ("2024-05-01T05:00:00-05:30", 0.0),
        ("2024-05-01T10:30:00.1Z", 0.1),
        ("2024-05-01T10:30:00.12", 0.12),
        ("2024-05-01T10:30:00.123+00:00", 0.123),
        ("2024-05-01T10:30:00.1234Z", 0.1234),
        ("2024-05-01T10:30:00.12345Z", 0.12345),
        ("2024-05-01T10:30:00.123456Z", 0.123456),
        ("2024-05-01T10:30:00.1234567Z", 0.1234567),
        ("2024-05-01T10:30:00.12345678Z", 0.12345678),
        ("2024-05-01T10:30:00.123456789Z", 0.123456789),
        ("2024-05-01T10:30:00,5Z", 0.5),
    ])
    func datesParseWithAnyZoneAndFraction(text: String, fraction: Double) throws {
        let parsed = try #require(EventDate.parse(text))
        // Built on Date's own 2001 reference: going through the 1970 epoch would itself round by up to ~120 ns.
        let expected = Date(timeIntervalSinceReferenceDate: 1_714_559_400 - 978_307_200 + fraction)
        #expect(abs(parsed.timeIntervalSince(expected)) < 100e-9, "\(text) parsed as \(EventDate.format(parsed))")
    }

    @Test(arguments: ["", "2024-05-01", "2024-05-01T10:30", "2024-13-01T10:30:00Z", "2024-05-01T25:00:00Z",
                      "2024-05-01T10:30:00.Z", "2024-05-01T10:30:00Zjunk", "2024-05-01T10:30:00+2", "yesterday"])
    func malformedDatesAreRejected(text: String) {
        #expect(EventDate.parse(text) == nil)
    }

    @Test func datesDecodeFromBodiesInEveryForm() throws {
        for text in ["2024-05-01T10:30:00", "2024-05-01T12:30:00+02:00", "2024-05-01T10:30:00.000000000Z"] {
            let body = #"{"Id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","CreationDate":"\#(text)","UserId":"u","Note":""}"#
            let event = try EventCodec().decode(OrderStartedIntegrationEvent.self, from: Data(body.utf8))
            #expect(event.creationDate == Date(timeIntervalSince1970: 1_714_559_400), "\(text)")
        }
    }

    @Test func formatWritesSevenFractionDigitsInUTC() {
        #expect(EventDate.format(Date(timeIntervalSince1970: 1_714_559_400)) == "2024-05-01T10:30:00.0000000Z")
        #expect(EventDate.format(Date(timeIntervalSince1970: 1_714_559_400.5)) == "2024-05-01T10:30:00.5000000Z")
        #expect(EventDate.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.0000000Z")
        // Rounding to the next second carries into the seconds field.
        #expect(EventDate.format(Date(timeIntervalSince1970: 1_714_559_400.999_999_99)) == "2024-05-01T10:30:01.0000000Z")
    }

    @Test func formatThenParseKeepsTheDateTo100Nanoseconds() throws {
        for seconds in [1_714_559_400.123_456_7, 1_000_000_000.000_000_1, 2_000_000_000.987_654_3] {
            let date = Date(timeIntervalSince1970: seconds)
            let back = try #require(EventDate.parse(EventDate.format(date)))
            #expect(abs(back.timeIntervalSince(date)) < 100e-9)
        }
    }

    /// Parsing against Date's own reference date keeps every 7-digit fraction within 100 ns.
    @Test func everySevenDigitFractionParsesWithin100Nanoseconds() {
        for tick in stride(from: 0, to: 10_000_000, by: 997) {
            let digits = String(tick)
            let text = "2024-05-01T10:30:00." + String(repeating: "0", count: 7 - digits.count) + digits + "Z"
            guard let parsed = EventDate.parse(text) else {
                Issue.record("\(text) did not parse")
                continue
            }
            // Both sides exact: the whole-second part of a Double subtracts without rounding.
            let sinceReference = parsed.timeIntervalSinceReferenceDate
            let error = (sinceReference - sinceReference.rounded(.down)) - Double(tick) / 1e7
            if abs(error) >= 100e-9 {
                Issue.record("\(text) parsed \(Int(error * 1e9)) ns off")
                return
            }
        }
    }

    @Test func pascalCaseEncodingRoundTrips() throws {
        let event = ProductPriceChangedIntegrationEvent(
            creationDate: Date(timeIntervalSince1970: 1_714_559_400.5), productId: 7,
            newPrice: try #require(Decimal(string: "19.99")), oldPrice: try #require(Decimal(string: "21.5")))
        let data = try EventCodec(keyStyle: .pascalCase).encode(event)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["Id", "CreationDate", "ProductId", "NewPrice", "OldPrice"])
        #expect(object["CreationDate"] as? String == "2024-05-01T10:30:00.5000000Z")
        #expect(try EventCodec().decode(ProductPriceChangedIntegrationEvent.self, from: data) == event)
    }

    @Test func camelCaseIsTheDefaultEncoding() throws {
        let event = OrderStartedIntegrationEvent(userId: "alice")
        let data = try EventCodec().encode(event)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["id", "creationDate", "userId", "note"])
        #expect(object["id"] as? String == event.id.uuidString)
    }

    @Test func bodyIDReadsTheTopLevelIdInAnyCase() {
        let codec = EventCodec()
        #expect(codec.bodyID(Data(Self.eShopBody.utf8)) == "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        #expect(codec.bodyID(Data(#"{"id":"abc"}"#.utf8)) == "abc")
        #expect(codec.bodyID(Data(#"{"ID":42}"#.utf8)) == "42")
        #expect(codec.bodyID(Data(#"{"other":1}"#.utf8)) == nil)
        #expect(codec.bodyID(Data(#"["Id"]"#.utf8)) == nil)
        #expect(codec.bodyID(Data("not json".utf8)) == nil)
    }

    @Test func rawEventDecodesItsPayload() throws {
        let raw = RawEvent(eventType: "ProductPriceChangedIntegrationEvent", id: "x", payload: Data(Self.eShopBody.utf8))
        #expect(try raw.decode(ProductPriceChangedIntegrationEvent.self).productId == 1)
    }

    @Test func eventTypeNameDefaultsToTheSwiftTypeName() {
        #expect(ProductPriceChangedIntegrationEvent.eventTypeName == "ProductPriceChangedIntegrationEvent")
    }
}
