import EventBus
import Foundation
import Testing

/// What the codec does with values no honest publisher sends: every one gives a text or a typed error, never a trap
/// and never a date that traps later.
@Suite("Event codec on hostile input")
struct EventCodecHostileInputTests {
    static let earliest = "0000-01-01T00:00:00.0000000Z"
    static let latest = "9999-12-31T23:59:59.9999999Z"

    struct Dated: Codable, Equatable {
        var date: Date
    }

    struct Measured: Codable, Equatable {
        var value: Double
    }

    @Test func hugeTimestampFormatsAsTheLatestDateInsteadOfTrapping() {
        // What an AMQP `timestamp` of UInt64.max seconds decodes to.
        #expect(EventDate.format(Date(timeIntervalSince1970: 1.8446744073709552e19)) == Self.latest)
        #expect(EventDate.format(Date(timeIntervalSince1970: 1e300)) == Self.latest)
        #expect(EventDate.format(Date(timeIntervalSince1970: .infinity)) == Self.latest)
        #expect(EventDate.format(Date(timeIntervalSince1970: 253_402_300_800)) == Self.latest)  // 10000-01-01
        // Rounding to the next tick must not carry past the last second.
        #expect(EventDate.format(Date(timeIntervalSince1970: 253_402_300_799.999_99)) == Self.latest)
    }

    @Test func datesBeforeYearZeroAndNaNFormatAsTheEarliestDate() {
        #expect(EventDate.format(Date(timeIntervalSince1970: -1.8446744073709552e19)) == Self.earliest)
        #expect(EventDate.format(Date(timeIntervalSince1970: -.infinity)) == Self.earliest)
        #expect(EventDate.format(Date(timeIntervalSince1970: .nan)) == Self.earliest)
        #expect(EventDate.format(Date(timeIntervalSince1970: -62_167_219_201)) == Self.earliest)  // -0001-12-31
        #expect(EventDate.format(.distantPast) == "0000-12-30T00:00:00.0000000Z")  // Julian 0001-01-01
        #expect(EventDate.format(.distantFuture) == "4001-01-01T00:00:00.0000000Z")
    }

    @Test func everyMagnitudeFormatsAsTextThatParsesBack() throws {
        var generator = SystemRandomNumberGenerator()
        var count = 0
        for exponent in -30...1_023 {
            for _ in 0..<20 {
                let magnitude = Double(sign: .plus, exponent: exponent, significand: Double.random(in: 1..<2, using: &generator))
                for seconds in [magnitude, -magnitude] {
                    let text = EventDate.format(Date(timeIntervalSince1970: seconds))
                    #expect(text.utf8.count == 28)
                    let back = try #require(EventDate.parse(text), "\(seconds) formatted as \(text)")
                    if EventDate.isInRange(Date(timeIntervalSince1970: seconds)) {
                        // Half a tick of rounding, the steps of a Double near 2001 and 1970, and at this magnitude.
                        #expect(abs(back.timeIntervalSince1970 - seconds) <= 1.5e-7 + 4 * seconds.ulp, "\(seconds)")
                    }
                    count += 1
                }
            }
        }
        print("EventDate.format: \(count) magnitudes formatted and parsed back")
    }

    @Test(arguments: ["0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:60Z"])
    func textDatesOutsideYears0000To9999AreNotDates(text: String) {
        #expect(EventDate.parse(text) == nil)
    }

    @Test func theEndsOfTheRangeParse() throws {
        #expect(try #require(EventDate.parse("0000-01-01T00:00:00Z")) == Date(timeIntervalSince1970: -62_167_219_200))
        // A Double near year 9999 holds steps of about 30 µs: the last 100 ns tick is the last step below the end.
        let latest = try #require(EventDate.parse(Self.latest))
        #expect(EventDate.isInRange(latest))
        #expect(EventDate.format(latest).hasPrefix("9999-12-31T23:59:59.9999"))
    }

    @Test(arguments: ["1e300", "-1e300", "1e400", "-1e400", "18446744073709551615", "253402300800", "-62167219201"])
    func numericDatesOutsideTheRangeAreDecodingErrors(seconds: String) {
        for body in [#"{"date":\#(seconds)}"#, #"{"Date":\#(seconds)}"#] {
            #expect(throws: DecodingError.self, "\(body)") { try EventCodec().decode(Dated.self, from: Data(body.utf8)) }
        }
    }

    @Test func numericDatesInsideTheRangeStillDecode() throws {
        let dated = try EventCodec().decode(Dated.self, from: Data(#"{"date":1714559400.5}"#.utf8))
        #expect(dated.date == Date(timeIntervalSince1970: 1_714_559_400.5))
        let earliest = try EventCodec().decode(Dated.self, from: Data(#"{"Date":-62167219200}"#.utf8))
        #expect(EventDate.format(earliest.date) == Self.earliest)
        // Foundation's distantPast (year 0) still goes out and comes back.
        let past = try EventCodec().decode(Dated.self, from: EventCodec().encode(Dated(date: .distantPast)))
        #expect(past.date == .distantPast)
    }

    @Test(arguments: [EventCodec.KeyStyle.camelCase, .pascalCase])
    func datesOutsideTheRangeAreNotEncoded(style: EventCodec.KeyStyle) {
        for seconds in [1e300, -1e300, Double.nan, .infinity, 253_402_300_800] {
            #expect(throws: EncodingError.self, "\(seconds)") {
                try EventCodec(keyStyle: style).encode(Dated(date: Date(timeIntervalSince1970: seconds)))
            }
        }
    }

    /// JSONDecoder refuses a number that rounds to zero from non-zero digits, which the fast reader used to read as 0,
    /// and (a Foundation quirk) some zeros written with an exponent: the codec gives JSONDecoder's answer for both.
    @Test(arguments: ["1e-400", "-2e-324", "0.0000001e-330", "0e5", "-0.0e5", "0e12", "0", "-0", "0.000e-999", "5e-324", "3e-324"])
    func numbersNearZeroDecodeOrFailAsWithJSONDecoder(number: String) {
        let data = Data(#"{"value":\#(number)}"#.utf8)
        let expected = Result { try JSONDecoder().decode(Measured.self, from: data) }
        let actual = Result { try EventCodec().decode(Measured.self, from: data) }
        switch (expected, actual) {
        case (.success(let left), .success(let right)): #expect(left.value.bitPattern == right.value.bitPattern, "\(number)")
        case (.failure, .failure): break
        default: Issue.record("\(number): JSONDecoder \(expected), codec \(actual)")
        }
    }

    /// The key-case scan read UTF-16 text as camelCase, so its PascalCase keys were never camelCased.
    @Test func pascalCaseBodyInUTF16DecodesAsInUTF8() throws {
        let text = #"{"Id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","CreationDate":"2024-05-01T10:30:00Z","UserId":"u","Note":"n"}"#
        let utf16 = Data(text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        let event = try EventCodec().decode(OrderStartedIntegrationEvent.self, from: utf16)
        #expect(event == (try EventCodec().decode(OrderStartedIntegrationEvent.self, from: Data(text.utf8))))
    }

    @Test func aBodyOverTheLimitIsRefusedWithItsSizeAndTheLimit() throws {
        let note = String(repeating: "x", count: EventCodec.defaultMaxBodySize)
        let body = try JSONEncoder().encode(OrderStartedIntegrationEvent(userId: "u", note: note))
        #expect(throws: EventCodecError.bodyTooLarge(size: body.count, limit: 1_048_576)) {
            try EventCodec().decode(OrderStartedIntegrationEvent.self, from: body)
        }
        #expect(EventCodec().bodyID(body) == nil)
        let error = EventCodecError.bodyTooLarge(size: body.count, limit: 1_048_576)
        #expect("\(error)".contains("the body is \(body.count) bytes; the limit is 1048576 bytes"))
        // A codec with a larger limit reads it.
        let larger = EventCodec(maxBodySize: 2 * 1_048_576)
        #expect(try larger.decode(OrderStartedIntegrationEvent.self, from: body).note == note)
        #expect(larger.bodyID(body) != nil)
    }

    @Test func aBodyExactlyAtTheLimitIsRead() throws {
        let body = try EventCodec().encode(OrderStartedIntegrationEvent(userId: "u", note: "n"))
        #expect(try EventCodec(maxBodySize: body.count).decode(OrderStartedIntegrationEvent.self, from: body).userId == "u")
        #expect(throws: EventCodecError.bodyTooLarge(size: body.count, limit: body.count - 1)) {
            try EventCodec(maxBodySize: body.count - 1).decode(OrderStartedIntegrationEvent.self, from: body)
        }
        #expect(EventCodec(maxBodySize: -5).maxBodySize == 0)
    }

    @Test func bodyIDOfDeeplyNestedOrRandomBodiesIsNil() {
        let deep = Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        #expect(EventCodec().bodyID(deep) == nil)
        let deepObject = Data(("{\"id\":\"a\",\"x\":" + String(repeating: "{\"a\":", count: 50_000) + "1" + String(repeating: "}", count: 50_001)).utf8)
        #expect(EventCodec().bodyID(deepObject) == nil)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1_000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(EventCodec().bodyID(Data(bytes)) == nil)
        }
    }
}
