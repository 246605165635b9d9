import AMQP
import Foundation
import Testing

@Suite(.timeLimit(.minutes(2))) struct PublishConfirmTests {
    @Test func tenThousandConfirmedPublishesAllCompleteAndTheQueueHoldsThem() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect(window: 500)
            let confirmed = try await withThrowingTaskGroup(of: Int.self) { group in
                // 100 tasks with 100 publishes each: many confirms in flight on one channel.
                for worker in 0..<100 {
                    group.addTask {
                        for index in 0..<100 {
                            try await channel.publish(
                                Data("\(worker)-\(index)".utf8), routingKey: queue,
                                properties: .init(deliveryMode: .persistent))
                        }
                        return 100
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(confirmed == 10_000)
            #expect(try await TestBroker.waitForMessageCount(10_000, in: queue, on: channel) == 10_000)
        }
    }

    @Test func concurrentPublishersOnOneConnectionLoseNothing() async throws {
        try await withQueue { connection, channel, queue in
            // 20 tasks: half share one confirm channel, half have their own; every id must arrive exactly once.
            try await channel.confirmSelect(window: 100)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<20 {
                    group.addTask {
                        let target: AMQPChannel
                        if worker.isMultiple(of: 2) {
                            target = channel
                        } else {
                            target = try await connection.openChannel()
                            try await target.confirmSelect(window: 50)
                        }
                        for index in 0..<250 {
                            try await target.publish(Data(), routingKey: queue, properties: .init(messageID: "\(worker)-\(index)"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await TestBroker.waitForMessageCount(5_000, in: queue, on: channel) == 5_000)

            var seen = Set<String>()
            let consumer = try await channel.consume(queue: queue, prefetch: 500)
            for try await delivery in consumer {
                seen.insert(delivery.properties.messageID ?? "")
                try consumer.ack(delivery)
                if seen.count == 5_000 { break }
            }
            try await consumer.cancel()
            let expected = Set((0..<20).flatMap { worker in (0..<250).map { "\(worker)-\($0)" } })
            #expect(seen == expected)
        }
    }

    @Test func mandatoryPublishWithNoRouteFailsWithTheReturnError() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let exchange = TestBroker.uniqueName("unrouted")
        try await channel.exchangeDeclare(exchange, type: .direct, durable: false, autoDelete: true)
        try await channel.confirmSelect()
        do {
            try await channel.publish(Data("lost?".utf8), exchange: exchange, routingKey: "nobody", mandatory: true)
            Issue.record("an unroutable mandatory publish must fail")
        } catch let error as AMQPError {
            #expect(error == .returned(replyCode: .noRoute, replyText: "NO_ROUTE", exchange: exchange, routingKey: "nobody"))
        }
        // Without `mandatory` the broker confirms (and drops) it; the channel stays usable either way.
        try await channel.publish(Data("dropped".utf8), exchange: exchange, routingKey: "nobody")
        // A routable mandatory publish on the same channel still succeeds.
        let queue = TestBroker.uniqueName("routed")
        try await channel.queueDeclare(queue, durable: false, autoDelete: false)
        try await channel.queueBind(queue, exchange: exchange, routingKey: "somebody")
        try await channel.publish(Data("kept".utf8), exchange: exchange, routingKey: "somebody", mandatory: true)
        #expect(try await TestBroker.waitForMessageCount(1, in: queue, on: channel) == 1)
        try await channel.queueDelete(queue)
        try await channel.exchangeDelete(exchange)
        await connection.close()
    }

    @Test func publishToAMissingExchangeClosesOnlyThatChannel() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        await #expect(throws: AMQPError.channelClosedByBroker(replyCode: .notFound, replyText: "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'")) {
            try await channel.publish(Data(), exchange: "no-such-exchange", routingKey: "x")
        }
        #expect(!channel.isOpen)
        await #expect(throws: AMQPError.self) { try await channel.publish(Data(), routingKey: "x") }
        let other = try await connection.openChannel()
        let info = try await other.queueDeclare("", durable: false, exclusive: true, autoDelete: true)
        #expect(info.name.hasPrefix("amq.gen-"))
        await connection.close()
    }
}
