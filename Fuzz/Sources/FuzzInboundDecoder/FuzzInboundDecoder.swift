@testable import AMQP
import EventBus
@testable import EventBusRabbitMQ
import Foundation

// Fuzzes the inbound decoder: the input bytes choose a delivery's properties, header table (every AMQP field type,
// nested) and body; the delivery goes through WireFormat.inbound, and its forwarded properties through the C
// structures and back (CArena -> CDecoding), as the bus sends a retry or a dead letter. A trap is a finding.

/// Reads values off the fuzzer's bytes; past the end everything is zero.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T {
        var value: T = 0
        for _ in 0..<MemoryLayout<T>.size {
            value = value << 8 | T(truncatingIfNeeded: offset < bytes.count ? bytes[offset] : 0)
            offset += 1
        }
        return value
    }

    mutating func byte() -> UInt8 { integer(UInt8.self) }

    mutating func data(upTo limit: Int) -> [UInt8] {
        let wanted = Int(byte()) % (limit + 1)
        guard offset < bytes.count else { return [] }
        let count = min(wanted, bytes.count - offset)
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func text() -> String { String(decoding: data(upTo: 64), as: UTF8.self) }

    mutating func value(depth: Int) -> AMQPFieldValue {
        switch byte() % 18 {
        case 0: return .bool(byte() & 1 == 1)
        case 1: return .int8(integer(Int8.self))
        case 2: return .uint8(integer(UInt8.self))
        case 3: return .int16(integer(Int16.self))
        case 4: return .uint16(integer(UInt16.self))
        case 5: return .int32(integer(Int32.self))
        case 6: return .uint32(integer(UInt32.self))
        case 7: return .int64(integer(Int64.self))
        case 8: return .uint64(integer(UInt64.self))
        case 9: return .float(Float(bitPattern: integer(UInt32.self)))
        case 10: return .double(Double(bitPattern: integer(UInt64.self)))
        case 11: return .decimal(AMQPDecimal(scale: byte(), value: integer(UInt32.self)))
        case 12: return .string(text())
        case 13: return .bytes(data(upTo: 64))
        case 14: return .timestamp(Date(timeIntervalSince1970: TimeInterval(integer(UInt64.self))))
        case 15 where depth < 200: return .table(table(depth: depth + 1))
        case 16 where depth < 200: return .array((0..<(byte() % 4)).map { _ in value(depth: depth + 1) })
        default: return .void
        }
    }

    static let keys = [
        EventHeaders.id, EventHeaders.type, EventHeaders.time, EventHeaders.source, EventHeaders.subject,
        EventHeaders.deliveryAttempts, EventHeaders.firstDeliveredAt, EventHeaders.subscription,
    ]

    mutating func table(depth: Int) -> AMQPTable {
        var table: AMQPTable = [:]
        for _ in 0..<(byte() % 6) {
            let choice = Int(byte())
            table[choice < Self.keys.count ? Self.keys[choice] : text()] = value(depth: depth)
        }
        return table
    }

    mutating func optionalText() -> String? { byte() & 1 == 1 ? text() : nil }
}

let arena = CArena()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInboundDecoder(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var reader = ByteReader(bytes: UnsafeRawBufferPointer(start: start, count: start == nil ? 0 : count))
    let flags = reader.byte()
    let properties = AMQPProperties(
        headers: flags & 1 == 1 ? reader.table(depth: 0) : nil, messageID: reader.optionalText(),
        timestamp: flags & 2 == 2 ? Date(timeIntervalSince1970: TimeInterval(reader.integer(UInt64.self))) : nil,
        type: reader.optionalText(), appID: reader.optionalText())
    let body = reader.offset < reader.bytes.count ? Data(reader.bytes[reader.offset...]) : Data()
    let delivery = AMQPDelivery(
        body: body, properties: properties, deliveryTag: 1, redelivered: flags & 4 == 4, exchange: "x", routingKey: "r",
        consumerTag: "c")
    guard let event = WireFormat.inbound(delivery, codec: EventCodec()) else { return 0 }
    // (The event's fields are `package` to the main package: the property test checks them, InboundDecoderPropertyTests.)
    let forwarded = WireFormat.forwarded(delivery, event: event, headers: [EventHeaders.lastError: "fuzz"])
    arena.reset()
    _ = CDecoding.properties(arena.properties(forwarded))
    return 0
}

// SwiftPM links an executable with `main` bound to `FuzzInboundDecoder_main` (so that tests can load it); here that is libFuzzer's
// driver, running the target's `LLVMFuzzerTestOneInput`.

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("FuzzInboundDecoder_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var (count, values) = (argc, argv)
    return runFuzzerDriver(&count, &values, fuzzInboundDecoder)
}
