@testable import AMQP
import EventBus
@testable import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// The inbound decoder (``WireFormat/inbound(_:codec:)``) on deliveries no honest publisher sends: properties and
/// header tables of every AMQP field type at its extremes. Each delivery gives an event or `nil` (no id anywhere),
/// never a trap; the same tables go through the C structures and back (`CArena` → `CDecoding`) unchanged.
@Suite("Inbound decoder properties")
struct InboundDecoderPropertyTests {
    /// The deliveries the property test runs (about 11 s in a debug build on the 2-core machine, others building).
    static let deliveries = 100_000

    @Test func everyHostileDeliveryGivesAnEventOrNilAndItsTablesRoundTripThroughC() async {
        let seed = UInt64.random(in: 0...UInt64.max)
        let (failures, events, withoutID) = await onOwnThread { Self.decode(seed: seed) }
        #expect(failures.isEmpty, "seed \(seed): \(failures)")
        #expect(events > Self.deliveries / 2 && withoutID > 0, "the generator covers both outcomes")
    }

    /// The hostile deliveries of `seed`, each decoded and round-tripped: what went wrong (at most 10), events, and
    /// deliveries without an id.
    static func decode(seed: UInt64) -> (failures: [String], events: Int, withoutID: Int) {
        var input = HostileInput(seed: seed)
        let codec = EventCodec()
        let arena = CArena()
        var failures: [String] = []
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition, failures.count < 10 { failures.append(message()) }
        }
        var (events, withoutID, headerValues) = (0, 0, 0)
        // One channel's reused strings across every delivery, as the connection keeps them: a name or type that
        // differs from the previous delivery's must never come back as the previous one.
        var recent = RecentPropertyStrings()
        for index in 0..<Self.deliveries {
            let delivery = input.delivery()
            headerValues += delivery.properties.headers?.count ?? 0
            guard let event = WireFormat.inbound(delivery, codec: codec) else {
                withoutID += 1
                check(delivery.properties.messageID == nil, "#\(index): nil although message_id is set")
                continue
            }
            events += 1
            if let messageID = delivery.properties.messageID { check(event.raw.id == messageID, "#\(index): id \(event.raw.id)") }
            check((1...Int(Int32.max)).contains(event.attempt), "#\(index): attempt \(event.attempt)")
            if let time = event.raw.time { check(EventDate.isInRange(time), "#\(index): time \(time.timeIntervalSince1970)") }
            check(EventDate.isInRange(event.firstDeliveredAt), "#\(index): first delivered \(event.firstDeliveredAt.timeIntervalSince1970)")
            // What the pipeline's time-to-live check computes (`Duration.seconds` traps past about 1.7e20 s).
            let born = event.raw.time ?? event.firstDeliveredAt
            check(Duration.seconds(Date().timeIntervalSince(born)) > .seconds(-400_000_000_000), "#\(index): age")
            check(event.raw.headers.values.allSatisfy { $0.utf8.count <= HostileInput.longString }, "#\(index): header text too long")

            // A forwarded copy's properties, into C and back, as the bus sends it to a retry or dead-letter queue.
            let forwarded = WireFormat.forwarded(delivery, event: event, headers: [EventHeaders.lastError: "failed"])
            arena.reset()
            let back = CDecoding.properties(arena.properties(forwarded), recent: &recent)
            check(back.messageID == forwarded.messageID && back.type == forwarded.type, "#\(index): ids changed in C")
            check(Self.sameTimestamp(sent: forwarded.timestamp, got: back.timestamp), "#\(index): timestamp \(String(describing: forwarded.timestamp?.timeIntervalSince1970))")
            check(Self.sameTable(sent: forwarded.headers ?? [:], got: back.headers ?? [:]), "#\(index): headers changed in C")
        }
        // Tables alone, some very deep, through C and back.
        var tables = 0
        for depth in [1, 2, 10, 50, 200] {
            for _ in 0..<200 {
                let table = input.table(deep: depth)
                arena.reset()
                check(Self.sameTable(sent: table, got: CDecoding.table(arena.table(table))), "table \(depth) deep changed in C")
                _ = WireFormat.stringHeaders(table)
                tables += 1
            }
        }
        print("inbound decoder: \(Self.deliveries) hostile deliveries (seed \(seed), \(headerValues) header values): "
            + "\(events) events, \(withoutID) without an id; \(tables) deep tables round-tripped through C")
        return (failures, events, withoutID)
    }

    /// ``HeaderStrings`` (what a consumer reuses from one delivery's headers to the next) never changes an event: on
    /// deliveries as the AMQP layer makes them (tables through C and back with one channel's reused strings, so that
    /// consecutive tables with the same names are copies of one table), runs of one hostile name set with new values
    /// of any kind, the event with reuse equals the event without.
    @Test func reusedHeaderStringsGiveTheEventAFreshConversionGives() async {
        let seed = UInt64.random(in: 0...UInt64.max)
        let failures = await onOwnThread { Self.compareReuse(seed: seed) }
        #expect(failures.isEmpty, "seed \(seed): \(failures)")
    }

    static func compareReuse(seed: UInt64) -> [String] {
        var input = HostileInput(seed: seed)
        let codec = EventCodec()
        let arena = CArena()
        var recent = RecentPropertyStrings()
        let reuse = HeaderStrings()
        var failures: [String] = []
        var names: [String] = []
        for index in 0..<20_000 {
            if index % 10 == 0 { names = Array((input.delivery().properties.headers ?? [:]).keys) }
            var table: AMQPTable = [:]
            for name in names { table[name] = input.value() }
            arena.reset()
            let headers = CDecoding.headers(arena.table(table), recent: &recent)
            let delivery = AMQPDelivery(
                body: Data(), properties: AMQPProperties(headers: headers, messageID: index % 3 == 0 ? nil : "m-\(index)"),
                deliveryTag: 1, redelivered: false, exchange: "x", routingKey: "Thing", consumerTag: "c")
            let fresh = WireFormat.inbound(delivery, codec: codec)
            let reused = WireFormat.inbound(delivery, codec: codec, reuse: reuse)
            guard let fresh, let reused else {
                if (fresh == nil) != (reused == nil), failures.count < 10 { failures.append("#\(index): one of them is nil") }
                continue
            }
            let same = fresh.raw.headers == reused.raw.headers && fresh.raw.id == reused.raw.id
                && fresh.raw.eventType == reused.raw.eventType && fresh.raw.source == reused.raw.source
                && fresh.raw.subject == reused.raw.subject && fresh.raw.time == reused.raw.time && fresh.attempt == reused.attempt
                && fresh.targetSubscription == reused.targetSubscription
                && abs(fresh.firstDeliveredAt.timeIntervalSince(reused.firstDeliveredAt)) < 60
            if !same, failures.count < 10 { failures.append("#\(index): \(table) gave \(reused.raw.headers), not \(fresh.raw.headers)") }
        }
        return failures
    }

    // MARK: The defects the property test found, one delivery each

    func delivery(headers: AMQPTable = [:], messageID: String? = "id-1", timestamp: Date? = nil) -> AMQPDelivery {
        AMQPDelivery(
            body: Data(), properties: AMQPProperties(headers: headers, messageID: messageID, timestamp: timestamp, type: "Thing"),
            deliveryTag: 1, redelivered: false, exchange: "x", routingKey: "Thing", consumerTag: "c")
    }

    @Test func hugeTimestampHeaderIsHandledNotTrapped() throws {
        let nearTwoToThe64 = Date(timeIntervalSince1970: 1.8446744073709552e19)
        let event = try #require(WireFormat.inbound(delivery(headers: ["stamp": .timestamp(nearTwoToThe64)]), codec: EventCodec()))
        #expect(event.raw.headers["stamp"] == "9999-12-31T23:59:59.9999999Z")
    }

    @Test func hugeTimestampAsTheEventTimeCountsAsNoTime() throws {
        let nearTwoToThe64 = Date(timeIntervalSince1970: 1.8446744073709552e19)
        let inHeader = try #require(WireFormat.inbound(delivery(headers: [EventHeaders.time: .timestamp(nearTwoToThe64)]), codec: EventCodec()))
        #expect(inHeader.raw.time == nil)
        let inProperty = try #require(WireFormat.inbound(delivery(timestamp: nearTwoToThe64), codec: EventCodec()))
        #expect(inProperty.raw.time == nil)
        let firstDelivered = try #require(WireFormat.inbound(
            delivery(headers: [EventHeaders.firstDeliveredAt: .timestamp(nearTwoToThe64)]), codec: EventCodec()))
        #expect(abs(firstDelivered.firstDeliveredAt.timeIntervalSinceNow) < 60)
        let sane = Date(timeIntervalSince1970: 1_714_559_400)
        #expect(try #require(WireFormat.inbound(delivery(headers: [EventHeaders.time: .timestamp(sane)]), codec: EventCodec())).raw.time == sane)
    }

    @Test(arguments: [
        (AMQPFieldValue.int64(1 << 40), Int(Int32.max)), (.int64(.max), Int(Int32.max)), (.int64(.min), 1), (.int32(0), 1),
        (.uint64(.max), 1), (.int16(7), 7), (.string("9"), 1),
    ])
    func deliveryAttemptsHeaderIsClampedToWhatAnInt32Holds(header: AMQPFieldValue, attempt: Int) throws {
        let event = try #require(WireFormat.inbound(delivery(headers: [EventHeaders.deliveryAttempts: header]), codec: EventCodec()))
        #expect(event.attempt == attempt)
    }

    @Test func numericHeadersBecomeTheirNumbersAsText() throws {
        let headers: AMQPTable = [
            "u64": .uint64(.max), "i64": .int64(.min), "f": .float(1.5), "d": .double(-.infinity), "nan": .double(.nan),
            "dec": .decimal(AMQPDecimal(scale: 2, value: 12_345)), "small": .decimal(AMQPDecimal(scale: 5, value: 42)),
            "huge-scale": .decimal(AMQPDecimal(scale: 255, value: .max)), "whole": .decimal(AMQPDecimal(scale: 0, value: 7)),
            "skipped": .table(["a": 1]), "list": [1, 2], "raw": .bytes([0xFF]), "none": .void,
        ]
        let event = try #require(WireFormat.inbound(delivery(headers: headers), codec: EventCodec()))
        let text = event.raw.headers
        #expect(text["u64"] == "18446744073709551615")
        #expect(text["i64"] == "-9223372036854775808")
        #expect(text["f"] == "1.5")
        #expect(text["d"] == "-inf")
        #expect(text["nan"] == "nan")
        #expect(text["dec"] == "123.45")
        #expect(text["small"] == "0.00042")
        #expect(text["huge-scale"] == "0." + String(repeating: "0", count: 245) + "4294967295")
        #expect(text["whole"] == "7")
        #expect(Set(text.keys).isDisjoint(with: ["skipped", "list", "raw", "none"]))
    }

    @Test func bodyIDOfABodyOverTheLimitIsNotRead() throws {
        var body = Data(#"{"id":"from-body","pad":""#.utf8)
        body.append(Data(repeating: 0x61, count: EventCodec.defaultMaxBodySize))
        body.append(Data(#""}"#.utf8))
        var message = delivery(messageID: nil)
        message.body = body
        #expect(WireFormat.inbound(message, codec: EventCodec()) == nil)
        #expect(WireFormat.inbound(message, codec: EventCodec(maxBodySize: 2 * EventCodec.defaultMaxBodySize))?.raw.id == "from-body")
    }

    // MARK: Equality through C

    /// What the wire keeps of a date: whole seconds since 1970 in a `UInt64`, saturated at both ends.
    static func wireDate(_ date: Date) -> Date {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds > 0 else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: min(seconds, 18_446_744_073_709_551_616.0))
    }

    static func sameTimestamp(sent: Date?, got: Date?) -> Bool {
        guard let sent, let got else { return sent == nil && got == nil }
        return wireDate(sent) == got
    }

    static func sameTable(sent: AMQPTable, got: AMQPTable) -> Bool {
        sent.count == got.count && sent.allSatisfy { key, value in got[key].map { same(sent: value, got: $0) } ?? false }
    }

    static func same(sent: AMQPFieldValue, got: AMQPFieldValue) -> Bool {
        switch (sent, got) {
        // NaN is not equal to itself; the bits are what must survive.
        case (.float(let a), .float(let b)): a.bitPattern == b.bitPattern
        case (.double(let a), .double(let b)): a.bitPattern == b.bitPattern
        case (.timestamp(let a), .timestamp(let b)): wireDate(a) == b
        case (.table(let a), .table(let b)): sameTable(sent: a, got: b)
        case (.array(let a), .array(let b)): a.count == b.count && zip(a, b).allSatisfy { same(sent: $0, got: $1) }
        default: sent == got
        }
    }
}

/// Deliveries and field values at the extremes of every AMQP type, from a seeded generator (the seed is printed).
struct HostileInput {
    /// The longest string a header or property gets: 64 KiB.
    static let longString = 65_536

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

    /// An integer of type `T`: its minimum, maximum, zero, ±1 or random bits.
    private mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T {
        pick([T.min, T.max, 0, 1, T(truncatingIfNeeded: -1), T(truncatingIfNeeded: next())])
    }

    private mutating func double() -> Double {
        pick([.nan, -.nan, .signalingNaN, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
              .leastNonzeroMagnitude, -0.0, 0, 1.5, 1.8446744073709552e19, Double(bitPattern: next())])
    }

    private mutating func float() -> Float {
        pick([.nan, .signalingNaN, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0,
              Float(bitPattern: UInt32(truncatingIfNeeded: next()))])
    }

    /// A timestamp as the AMQP layer decodes one (whole seconds in a `UInt64`), or any date a Swift caller may set.
    mutating func date() -> Date {
        let wire: UInt64 = pick([.max, .max - 62_135_596_800, 1 << 63, 0, 1_714_559_400, 253_402_300_800, next()])
        return chance(80) ? Date(timeIntervalSince1970: TimeInterval(wire)) : Date(timeIntervalSince1970: double())
    }

    /// Built once (strings and arrays share storage when copied): building and copying 64 KiB values for every
    /// delivery made them most of the test's time, so they come one time in a hundred.
    private static let long = String(repeating: "x", count: longString)
    private static let longBytes = [UInt8](repeating: 0xFF, count: longString)

    mutating func string() -> String {
        if chance(1) { return Self.long }
        switch below(12) {
        case 0, 1: return ""
        case 2: return "2024-05-01T10:30:00.1234567Z"
        case 3: return pick(["9999-12-31T23:59:60Z", "0000-01-01T00:00:00-01:00", "99999-01-01T00:00:00Z", "2024-02-30T10:30:00Z"])
        case 4: return pick(["\u{0}", "é🎉", "\u{FEFF}id", "\\u0000", "\"", "1e400", "-1", "18446744073709551616"])
        case 5: return String(next())
        default:
            let letters = Array("abcXYZ-_.:/09é")
            return String((0..<below(40)).map { _ in pick(letters) })
        }
    }

    mutating func bytes() -> [UInt8] {
        if chance(1) { return Self.longBytes }
        switch below(4) {
        case 0: return []
        case 1, 2: return [0xC3, 0x28, 0xFF, 0xFE, 0xED, 0xA0, 0x80]  // invalid UTF-8 (as a non-UTF-8 `S` arrives)
        default: return (0..<below(64)).map { _ in UInt8(truncatingIfNeeded: next()) }
        }
    }

    /// One scalar of a random type.
    mutating func scalar() -> AMQPFieldValue {
        switch below(17) {
        case 0: return .bool(chance(50))
        case 1: return .int8(integer(Int8.self))
        case 2: return .uint8(integer(UInt8.self))
        case 3: return .int16(integer(Int16.self))
        case 4: return .uint16(integer(UInt16.self))
        case 5: return .int32(integer(Int32.self))
        case 6: return .uint32(integer(UInt32.self))
        case 7: return .int64(integer(Int64.self))
        case 8: return .uint64(integer(UInt64.self))
        case 9: return .float(float())
        case 10: return .double(double())
        case 11: return .decimal(AMQPDecimal(scale: integer(UInt8.self), value: integer(UInt32.self)))
        case 12: return .string(string())
        case 13: return .bytes(bytes())
        case 14: return .timestamp(date())
        case 15: return .void
        default: return .string(string())
        }
    }

    /// A value: mostly scalars, sometimes a small table or array of values (up to three levels).
    mutating func value(level: Int = 0) -> AMQPFieldValue {
        guard level < 3, chance(15) else { return scalar() }
        if chance(50) {
            return .array((0..<below(4)).map { _ in value(level: level + 1) })
        }
        var table: AMQPTable = [:]
        for _ in 0..<below(4) { table[key()] = value(level: level + 1) }
        return .table(table)
    }

    /// A table `depth` levels deep, with a scalar and an array beside each level's inner table.
    mutating func table(deep depth: Int) -> AMQPTable {
        var table: AMQPTable = ["leaf": scalar()]
        for _ in 1..<max(depth, 1) {
            table = ["inner": .table(table), "leaf": scalar(), "list": .array([scalar(), .table([:]), .array([])])]
        }
        return table
    }

    /// A header name: often one the bus reads, otherwise any.
    mutating func key() -> String {
        chance(50)
            ? pick([EventHeaders.id, EventHeaders.type, EventHeaders.time, EventHeaders.source, EventHeaders.subject,
                    EventHeaders.deliveryAttempts, EventHeaders.firstDeliveredAt, EventHeaders.subscription, "traceparent"])
            : pick(["", "k", "x-custom", String(repeating: "k", count: 300), "é"]) + String(below(8))
    }

    mutating func body() -> Data {
        switch below(8) {
        case 0: return Data()
        case 1: return Data(bytes())
        case 2: return Data(#"{"Id":"\#(UUID())","CreationDate":"2024-05-01T10:30:00Z","ProductId":1}"#.utf8)
        case 3: return Data(pick([#"{"id":18446744073709551616}"#, #"{"id":1e400}"#, #"{"ID":-0.0}"#, #"{"id":null}"#, #"{"id":["x"]}"#]).utf8)
        case 4: return Data((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8)
        case 5: return Data(#"{"id":"\#(string())"}"#.utf8)
        default: return Data(#"{"id":"\#(below(1_000))","note":"x"}"#.utf8)
        }
    }

    mutating func delivery() -> AMQPDelivery {
        var headers: AMQPTable?
        if chance(85) {
            var table: AMQPTable = [:]
            for _ in 0..<below(8) { table[key()] = value() }
            if below(1_000) < 3 { table["deep"] = .table(self.table(deep: 200)) }
            headers = table
        }
        let properties = AMQPProperties(
            contentType: chance(50) ? pick(["application/json", "text/plain", ""]) : nil, headers: headers,
            deliveryMode: chance(50) ? .persistent : nil, messageID: chance(50) ? string() : nil,
            timestamp: chance(50) ? date() : nil, type: chance(60) ? string() : nil, appID: chance(30) ? string() : nil)
        return AMQPDelivery(
            body: body(), properties: properties, deliveryTag: next(), redelivered: chance(20), exchange: string(),
            routingKey: string(), consumerTag: "c")
    }
}
