@testable import AMQP
import CRabbitMQ
import Foundation
import Testing

/// Consecutive deliveries with the same header names start from a copy of the previous table (no name hashed). Every
/// delivery must still carry exactly the headers it was published with, whatever the sequence of name sets: the same
/// names with new values (in whatever order the publisher's dictionary writes them), a name replaced, fewer or more
/// names, a value of another type, an empty name, and the first set again.
@Suite(.timeLimit(.minutes(1))) struct HeaderTableReuseTests {
    static let tables: [AMQPTable] = {
        var tables: [AMQPTable] = []
        for index in 0..<6 {
            tables.append(["cloudEvents_id": .string("id-\(index)"), "cloudEvents_type": .string("Same"), "seq": .int32(Int32(index))])
        }
        tables.append(["cloudEvents_id": .string("id-renamed"), "cloudEvents_kind": .string("Same"), "seq": .int32(6)])
        tables.append(["cloudEvents_id": .string("id-renamed-2"), "cloudEvents_kind": .string("Same"), "seq": .int32(7)])
        tables.append(["cloudEvents_id": .string("id-fewer"), "seq": .int32(8)])
        tables.append(["cloudEvents_id": .string("id-more"), "cloudEvents_type": .string("Same"), "seq": .int32(9), "extra": .bool(true)])
        tables.append(["cloudEvents_id": .int64(10), "cloudEvents_type": .string("Same"), "seq": .int32(10), "extra": .bool(false)])
        tables.append(["cloudEvents_id": .string("id-11"), "cloudEvents_type": .string("Same"), "seq": .int32(11), "extra": .string("text")])
        tables.append(["": .string("empty name"), "seq": .int32(12)])
        tables.append(["": .string("empty name again"), "seq": .int32(13)])
        tables.append([:])
        // Then runs of one name set (new values each), each run's set drawn from six names: names come and go,
        // and a new name often lands where a dropped one was.
        let names = ["cloudEvents_id", "cloudEvents_type", "cloudEvents_source", "x-first", "x-second", "seq"]
        var random = SeededGenerator(seed: 19)
        var current: [String] = names
        while tables.count < 400 {
            if Int.random(in: 0..<3, using: &random) == 0 {
                current = names.filter { _ in Bool.random(using: &random) }
            }
            var table: AMQPTable = [:]
            for name in current {
                switch Int.random(in: 0..<4, using: &random) {
                case 0: table[name] = .int32(Int32(tables.count))
                case 1: table[name] = .bool(Bool.random(using: &random))
                default: table[name] = .string("\(name)-\(tables.count)")
                }
            }
            tables.append(table)
        }
        return tables
    }()

    @Test func everyDeliveryCarriesTheHeadersItWasPublishedWith() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            for (index, headers) in Self.tables.enumerated() {
                try await channel.publish(
                    Data("\(index)".utf8), routingKey: queue,
                    properties: AMQPProperties(headers: headers.isEmpty ? nil : headers, messageID: "m-\(index)"))
            }
            let consumer = try await channel.consume(queue: queue, prefetch: 500)
            var received = 0
            for try await delivery in consumer {
                #expect(delivery.properties.messageID == "m-\(received)")
                #expect(delivery.headers == Self.tables[received], "delivery \(received)")
                try consumer.ack(delivery)
                received += 1
                if received == Self.tables.count { break }
            }
            #expect(received == Self.tables.count)
            try await consumer.cancel()
        }
    }
}

/// A small deterministic generator (SplitMix64), so a failing sequence can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// Header names that are no name at all or not valid UTF-8 (two different invalid names both read as U+FFFD) never
/// make a delivery's table keep an entry of an earlier delivery: each table decoded with one channel's reused strings
/// equals the table decoded afresh.
@Suite struct HeaderTableReuseEdgeTests {
    /// A C header table of `entries` (raw name bytes, text value), as librabbitmq-c hands one over.
    static func withTable<T>(_ entries: [([UInt8], String)], _ body: (amqp_table_t) -> T) -> T {
        var storage: [[UInt8]] = entries.flatMap { [$0.0, Array($0.1.utf8)] }
        let count = entries.count
        let cEntries = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: max(count, 1))
        defer { cEntries.deallocate() }
        return storage.withUnsafeMutableBufferPointer { buffers in
            var pointers: [UnsafeMutablePointer<UInt8>] = []
            for index in buffers.indices {
                let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(buffers[index].count, 1))
                pointer.initialize(from: buffers[index], count: buffers[index].count)
                pointers.append(pointer)
            }
            defer { pointers.forEach { $0.deallocate() } }
            for index in 0..<count {
                var entry = amqp_table_entry_t()
                entry.key = amqp_bytes_t(len: buffers[2 * index].count, bytes: pointers[2 * index])
                entry.value.kind = UInt8(truncatingIfNeeded: AMQP_FIELD_KIND_UTF8.rawValue)
                entry.value.value.bytes = amqp_bytes_t(len: buffers[2 * index + 1].count, bytes: pointers[2 * index + 1])
                cEntries[index] = entry
            }
            return body(amqp_table_t(num_entries: Int32(count), entries: cEntries))
        }
    }

    @Test func emptyAndInvalidNamesNeverKeepAnEarlierEntry() {
        let replacement = Array("\u{FFFD}".utf8)
        let sequences: [[([UInt8], String)]] = [
            [([0xFF], "x0")],
            [([], "x"), ([0xFE], "y")],
            [(replacement, "p"), (replacement, "q")],
            [(replacement, "r")],
            [([], "s"), (Array("a".utf8), "t")],
            [(Array("a".utf8), "u"), ([], "v")],
            [(Array("a".utf8), "w"), (Array("b".utf8), "w2")],
            [(Array("b".utf8), "z"), (Array("a".utf8), "z2")],
            [([0xC3], "bad"), (Array("a".utf8), "a2")],
            [(Array("a".utf8), "a3"), ([0xC3], "bad2")],
        ]
        var recent = RecentPropertyStrings()
        for _ in 0..<3 {
            for (index, entries) in sequences.enumerated() {
                let reused = Self.withTable(entries) { CDecoding.headers($0, recent: &recent) }
                var fresh = RecentPropertyStrings()
                let expected = Self.withTable(entries) { CDecoding.headers($0, recent: &fresh) }
                #expect(reused == expected, "table \(index)")
            }
        }
    }
}
