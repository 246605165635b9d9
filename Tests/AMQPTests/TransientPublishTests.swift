import AMQP
import Foundation
import Testing

/// Without confirms, `publish` returns once the message is queued for the connection thread (up to
/// `AMQPChannel.transientPublishBacklog` messages), and closing the connection writes what is queued first.
@Suite(.timeLimit(.minutes(1))) struct TransientPublishTests {
    @Test func queuedTransientPublishesAllArriveInOrderWhenTheConnectionClosesRightAfter() async throws {
        let queue = TestBroker.uniqueName()
        let setup = try await TestBroker.connect()
        let setupChannel = try await setup.openChannel()
        try await setupChannel.queueDeclare(queue, durable: false)

        let count = 3 * AMQPChannel.transientPublishBacklog
        let publisher = try await TestBroker.connect()
        let channel = try await publisher.openChannel()
        for index in 0..<count { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
        await publisher.close()

        #expect(try await TestBroker.waitForMessageCount(UInt32(count), in: queue, on: setupChannel) == UInt32(count))
        for index in 0..<10 {
            let delivery = try #require(try await setupChannel.get(queue: queue, noAck: true))
            #expect(String(decoding: delivery.body, as: UTF8.self) == "\(index)")
        }
        try await setupChannel.queueDelete(queue)
        await setup.close()
    }

    @Test func transientPublishOnAClosedConnectionThrows() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        await connection.close()
        await #expect(throws: AMQPError.self) { try await channel.publish(Data(), routingKey: "anything") }
    }

    @Test func transientPublishWithHeadersStillReportsAnEncodingError() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        // A header table larger than a frame cannot be encoded: the publish waits for the socket and says so.
        let huge = AMQPTable(uniqueKeysWithValues: (0..<20_000).map { ("key-\($0)", AMQPFieldValue.string("value-\($0)")) })
        do {
            try await channel.publish(Data(), routingKey: "anything", properties: .init(headers: huge))
            Issue.record("a header table larger than a frame cannot be published")
        } catch AMQPError.invalidArgument {
        }
        #expect(connection.isOpen)
        await connection.close()
    }
}
