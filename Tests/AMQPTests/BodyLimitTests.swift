@testable import AMQP
import CRabbitMQ
import Foundation
import Logging
import TestSupport
import Testing

/// The body limit: a delivery whose content header announces more than the limit is handed out with an empty body
/// and its announced size, without anything allocated for it, and the connection goes on.
@Suite(.timeLimit(.minutes(1))) struct BodyLimitTests {
    static let mebibyte = 1_048_576

    @Test func aDeliveryOverTheConsumersLimitArrivesEmptyWithItsSizeAndTheNextOneNormally() async throws {
        let deadLetters = TestBroker.uniqueName("body-limit-dlq")
        let arguments: AMQPTable = ["x-dead-letter-exchange": "", "x-dead-letter-routing-key": .string(deadLetters)]
        try await withQueue(arguments: arguments) { connection, channel, queue in
            try await channel.queueDeclare(deadLetters)
            try await channel.confirmSelect()
            let big = Data((0..<3 * Self.mebibyte).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await channel.publish(big, routingKey: queue, properties: .init(messageID: "big", type: "Huge"))
            try await channel.publish(Data("small".utf8), routingKey: queue, properties: .init(messageID: "small"))

            let consumer = try await connection.openChannel().consume(queue: queue, prefetch: 10, maxBodySize: Self.mebibyte)
            var seen: [AMQPDelivery] = []
            for try await delivery in consumer {
                seen.append(delivery)
                if delivery.omittedBodySize != nil {
                    try consumer.reject(delivery, requeue: false)
                } else {
                    try consumer.ack(delivery)
                }
                if seen.count == 2 { break }
            }
            try await consumer.cancel()
            #expect(seen.map(\.properties.messageID) == ["big", "small"])
            #expect(seen[0].omittedBodySize == UInt64(3 * Self.mebibyte))
            #expect(seen[0].body.isEmpty)
            #expect(seen[0].properties.type == "Huge")
            #expect(seen[0].routingKey == queue)
            #expect(seen[1].omittedBodySize == nil)
            #expect(seen[1].body == Data("small".utf8))
            #expect(connection.isOpen)

            // Rejected without requeue, the intact message went to the dead-letter queue.
            let deadLetter = try #require(try await TestBroker.getWhenReady(deadLetters, on: channel))
            #expect(deadLetter.omittedBodySize == nil)
            #expect(deadLetter.body == big)
            try channel.ack(deadLetter.deliveryTag)
            try await channel.queueDelete(deadLetters)
        }
    }

    @Test func theConnectionsLimitAppliesToGetAndANegativeConsumerLimitIsRefused() async throws {
        var configuration = try TestBroker.configuration
        configuration.connectionName = "test-body-limit-get"
        configuration.maxBodySize = 1_000
        let connection = try await AMQPConnection.connect(configuration)
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName()
        try await channel.queueDeclare(queue, durable: false, exclusive: true)
        try await channel.confirmSelect()
        try await channel.publish(Data(count: 1_001), routingKey: queue)
        try await channel.publish(Data(count: 1_000), routingKey: queue)
        let over = try #require(try await TestBroker.getWhenReady(queue, on: channel))
        #expect(over.omittedBodySize == 1_001 && over.body.isEmpty)
        let within = try #require(try await TestBroker.getWhenReady(queue, on: channel))
        #expect(within.omittedBodySize == nil && within.body.count == 1_000)
        await #expect(throws: AMQPError.invalidArgument("maxBodySize must be 0 or more bytes, got -1")) {
            _ = try await channel.consume(queue: queue, maxBodySize: -1)
        }
        await connection.close()
    }

    /// The broker refuses such a message (`max_message_size`), so the frames are fed to the driver directly.
    @Test func aContentHeaderAnnouncingMoreThan2To63BytesIsHandledNotTrapped() async throws {
        let feed = FrameFeed(consumerLimit: UInt64(Self.mebibyte))
        feed.deliver(tag: 1)
        feed.header(bodySize: UInt64(1) << 63 + 5)
        #expect(feed.channel.content.omitsBody)
        for _ in 0..<3 { feed.body(count: 131_064) }
        #expect(feed.channel.content.awaitsBody)

        // A body over the limit that does end: one delivery with an empty body and its size; the next is read.
        feed.deliver(tag: 2)
        feed.header(bodySize: UInt64(Self.mebibyte) + 1)
        for _ in 0..<8 { feed.body(count: 131_072) }
        feed.body(count: 1)
        feed.deliver(tag: 3)
        feed.header(bodySize: 3)
        feed.body(count: 3)
        let deliveries = try await feed.take(2)
        #expect(deliveries.map(\.deliveryTag) == [2, 3])
        #expect(deliveries[0].omittedBodySize == UInt64(Self.mebibyte) + 1 && deliveries[0].body.isEmpty)
        #expect(deliveries[1].omittedBodySize == nil && deliveries[1].body == Data([7, 7, 7]))
    }

    @Test func theAssemblyReadsABodyAtTheLimitAndCountsOneOverIt() {
        let content = ContentAssembly()
        let bytes = [UInt8](repeating: 1, count: 10)
        content.start(.returned(replyCode: 312, replyText: "", exchange: "", routingKey: ""), bodyLimit: 10)
        content.header(bodySize: 10, properties: nil)
        #expect(bytes.withUnsafeBytes { content.append($0.baseAddress!, count: 10) })
        let within = content.take()
        #expect(within?.body.count == 10 && within?.omittedBodySize == nil)

        content.start(.returned(replyCode: 312, replyText: "", exchange: "", routingKey: ""), bodyLimit: 10)
        content.header(bodySize: 11, properties: nil)
        #expect(!bytes.withUnsafeBytes { content.append($0.baseAddress!, count: 10) })
        #expect(bytes.withUnsafeBytes { content.append($0.baseAddress!, count: 1) })
        let over = content.take()
        #expect(over?.body.isEmpty == true && over?.omittedBodySize == 11)
    }
}

/// Feeds hand-made frames to a connection driver that has no socket, as the read loop would, and collects what
/// channel 1's consumer `c` receives.
private final class FrameFeed {
    let driver = ConnectionDriver(configuration: AMQPConnectionConfiguration(), logger: Logger(label: "test.frames"))
    let channel = ChannelState(id: 1)
    let sink: DeliveryBuffer
    private let consumerTag = Array("c".utf8)
    private let name = Array("q".utf8)
    private let filler = [UInt8](repeating: 7, count: 131_072)

    init(consumerLimit: UInt64) {
        sink = DeliveryBuffer(bodyLimit: consumerLimit)
        driver.channels[1] = channel
        channel.consumers["c"] = sink
    }

    func deliver(tag: UInt64) {
        consumerTag.withUnsafeBytes { consumer in
            name.withUnsafeBytes { name in
                var method = amqp_basic_deliver_t(
                    consumer_tag: Self.bytes(consumer), delivery_tag: tag, redelivered: 0, exchange: Self.bytes(name),
                    routing_key: Self.bytes(name))
                withUnsafeMutablePointer(to: &method) { pointer in
                    var frame = amqp_frame_t()
                    frame.frame_type = CR_FRAME_METHOD
                    frame.channel = 1
                    frame.payload.method = amqp_method_t(id: CR_BASIC_DELIVER_METHOD, decoded: pointer)
                    driver.dispatch(frame)
                }
            }
        }
    }

    func header(bodySize: UInt64) {
        var properties = amqp_basic_properties_t()
        withUnsafeMutablePointer(to: &properties) { pointer in
            var frame = amqp_frame_t()
            frame.frame_type = CR_FRAME_HEADER
            frame.channel = 1
            frame.payload.properties.class_id = 60
            frame.payload.properties.body_size = bodySize
            frame.payload.properties.decoded = UnsafeMutableRawPointer(pointer)
            driver.dispatch(frame)
        }
    }

    func body(count: Int) {
        filler.withUnsafeBytes { filler in
            var frame = amqp_frame_t()
            frame.frame_type = CR_FRAME_BODY
            frame.channel = 1
            frame.payload.body_fragment = amqp_bytes_t(len: count, bytes: UnsafeMutableRawPointer(mutating: filler.baseAddress))
            driver.dispatch(frame)
        }
    }

    /// Hands out what the driver collected and takes `count` deliveries from the consumer.
    func take(_ count: Int) async throws -> [AMQPDelivery] {
        driver.flushCompletions()
        var deliveries: [AMQPDelivery] = []
        while deliveries.count < count, let delivery = try await sink.next() { deliveries.append(delivery) }
        return deliveries
    }

    private static func bytes(_ buffer: UnsafeRawBufferPointer) -> amqp_bytes_t {
        amqp_bytes_t(len: buffer.count, bytes: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
    }
}
