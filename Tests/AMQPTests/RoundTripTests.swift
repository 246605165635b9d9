import AMQP
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1))) struct RoundTripTests {
    /// Every header field type and every basic property, through the broker and back.
    static let everyFieldType: AMQPTable = [
        "bool": .bool(true),
        "int8": .int8(-8),
        "uint8": .uint8(200),
        "int16": .int16(-16_000),
        "uint16": .uint16(60_000),
        "int32": .int32(-2_000_000_000),
        "uint32": .uint32(4_000_000_000),
        "int64": .int64(-9_000_000_000_000),
        "uint64": .uint64(18_000_000_000_000_000_000),
        "float": .float(1.5),
        "double": .double(-2.25e100),
        "decimal": .decimal(AMQPDecimal(scale: 2, value: 12_345)),
        "string": .string("grüße, 世界"),
        "bytes": .bytes([0, 1, 2, 254, 255]),
        "timestamp": .timestamp(Date(timeIntervalSince1970: 1_700_000_000)),
        "table": .table(["nested": .string("yes"), "deeper": .table(["n": .int32(7)])]),
        "array": .array([.int32(1), .string("two"), .array([.bool(false)]), .table(["k": .void])]),
        "void": .void,
    ]

    @Test func everyPropertyAndHeaderTypeSurvivesARoundTrip() async throws {
        try await withQueue { _, channel, queue in
            let properties = AMQPProperties(
                contentType: "application/json", contentEncoding: "identity", headers: Self.everyFieldType,
                deliveryMode: .persistent, priority: 7, correlationID: "corr-1", replyTo: "replies",
                expiration: "600000", messageID: "msg-1", timestamp: Date(timeIntervalSince1970: 1_700_000_123),
                type: "ProductPriceChangedIntegrationEvent", userID: "guest", appID: "catalog", clusterID: "c1")
            let body = Data((0..<300).map { UInt8($0 % 256) })
            try await channel.confirmSelect()
            try await channel.publish(body, routingKey: queue, properties: properties)

            let delivery = try #require(try await channel.get(queue: queue, noAck: true))
            #expect(delivery.body == body)
            #expect(delivery.properties == properties)
            #expect(delivery.headers == Self.everyFieldType)
            #expect(delivery.routingKey == queue)
            #expect(delivery.exchange == "")
            #expect(delivery.redelivered == false)
        }
    }

    @Test func emptyAndLargeBodiesRoundTrip() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            let large = Data((0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await channel.publish(Data(), routingKey: queue)
            try await channel.publish(large, routingKey: queue)
            let first = try #require(try await channel.get(queue: queue, noAck: true))
            let second = try #require(try await channel.get(queue: queue, noAck: true))
            #expect(first.body.isEmpty)
            #expect(second.body == large)
            #expect(try await channel.get(queue: queue) == nil)
        }
    }

    @Test func getReportsRemainingCountAndEmptyQueue() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            for index in 0..<3 { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
            let delivery = try #require(try await channel.get(queue: queue))
            #expect(delivery.messageCount == 2)
            #expect(String(decoding: delivery.body, as: UTF8.self) == "0")
            try channel.ack(delivery.deliveryTag)
            #expect(try await channel.queuePurge(queue) == 2)
            #expect(try await channel.get(queue: queue) == nil)
        }
    }
}
