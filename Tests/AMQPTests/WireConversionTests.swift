@testable import AMQP
import Foundation
import TestSupport
import Testing

/// Values that arrive from the wire go out again without a trapping conversion: a timestamp property or table value
/// at the top of AMQP's range (some clients write `UInt64.max` for "no time") is forwarded with the same wire value.
@Suite(.timeLimit(.minutes(1))) struct WireConversionTests {
    /// What a delivery's `UInt64.max` timestamp decodes to: 2^64 seconds, the nearest `Double`.
    static let topOfRange = Date(timeIntervalSince1970: TimeInterval(UInt64.max))

    @Test func timestampsAreSaturatedNotTrapped() {
        #expect(CArena.wireTimestamp(Self.topOfRange) == .max)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: .infinity)) == .max)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: 1e300)) == .max)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: .nan)) == 0)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: -.infinity)) == 0)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: -1e12)) == 0)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: 1_700_000_000.9)) == 1_700_000_000)
        #expect(CArena.wireTimestamp(Date(timeIntervalSince1970: 9_007_199_254_740_992)) == 9_007_199_254_740_992)
    }

    @Test func aHugeTimestampPropertyAndHeaderIsForwardedWithTheSameWireValue() async throws {
        try await withQueue { connection, channel, queue in
            try await channel.confirmSelect()
            let properties = AMQPProperties(
                headers: ["at": .timestamp(Self.topOfRange), "never": .timestamp(Date(timeIntervalSince1970: .nan))],
                messageID: "huge", timestamp: Self.topOfRange)
            try await channel.publish(Data("x".utf8), routingKey: queue, properties: properties)
            let first = try #require(try await TestBroker.getWhenReady(queue, on: channel))
            #expect(first.properties.timestamp == Self.topOfRange)
            #expect(first.headers["at"] == .timestamp(Self.topOfRange))
            #expect(first.headers["never"] == .timestamp(Date(timeIntervalSince1970: 0)))

            // Forwarding the delivery as it arrived (what a retry or dead-letter forward does) keeps its values.
            try await channel.publish(first.body, routingKey: queue, properties: first.properties)
            try channel.ack(first.deliveryTag)
            let second = try #require(try await TestBroker.getWhenReady(queue, on: channel))
            #expect(second.properties.timestamp == Self.topOfRange)
            #expect(second.headers["at"] == .timestamp(Self.topOfRange))
            try channel.ack(second.deliveryTag)
            #expect(connection.isOpen)
        }
    }
}

extension TestBroker {
    /// `basic.get` until a message is there (confirms may run ahead of the queue by a moment), or `nil` after 30 s.
    static func getWhenReady(_ queue: String, on channel: AMQPChannel) async throws -> AMQPDelivery? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let delivery = try await channel.get(queue: queue) { return delivery }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
