import AMQP
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1))) struct ConsumerTests {
    @Test func consumerWithPrefetch50NeverHoldsMoreThan50Unacked() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            for index in 0..<200 { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
            #expect(try await TestBroker.waitForMessageCount(200, in: queue, on: channel) == 200)

            let consumerChannel = try await channel.connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 50)
            var held: [AMQPDelivery] = []
            var received = 0
            var maxHeld = 0
            for try await delivery in consumer {
                received += 1
                held.append(delivery)
                maxHeld = max(maxHeld, held.count)
                if held.count == 50 {
                    // With 50 unacked the broker must keep the rest: exactly 200 - received are still ready.
                    let ready = try await channel.queueDeclarePassive(queue).messageCount
                    #expect(Int(ready) == 200 - received)
                    try consumer.ack(held.last!, multiple: true)
                    held.removeAll()
                }
                if received == 200 { break }
            }
            #expect(received == 200)
            #expect(maxHeld == 50)
            try await consumer.cancel()
        }
    }

    @Test func nackedAndRequeuedMessageComesBackRedelivered() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            try await channel.publish(Data("again".utf8), routingKey: queue, properties: .init(messageID: "m-1"))
            let consumer = try await channel.consume(queue: queue, prefetch: 10)
            var deliveries: [AMQPDelivery] = []
            for try await delivery in consumer {
                deliveries.append(delivery)
                if deliveries.count == 1 {
                    try consumer.nack(delivery, requeue: true)
                } else {
                    try consumer.ack(delivery)
                    break
                }
            }
            #expect(deliveries.map(\.redelivered) == [false, true])
            #expect(deliveries.map { $0.properties.messageID } == ["m-1", "m-1"])
            try await consumer.cancel()
            #expect(try await channel.queueDeclarePassive(queue).messageCount == 0)
        }
    }

    @Test func rejectWithoutRequeueDeadLettersThroughTheQueueArguments() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let deadLetters = TestBroker.uniqueName("dlq")
        try await channel.queueDeclare(deadLetters, durable: false)
        try await withQueue(arguments: ["x-dead-letter-exchange": "", "x-dead-letter-routing-key": .string(deadLetters)]) { _, work, queue in
            try await work.confirmSelect()
            try await work.publish(Data("poison".utf8), routingKey: queue)
            let delivery = try #require(try await work.get(queue: queue))
            try work.reject(delivery.deliveryTag, requeue: false)
            #expect(try await TestBroker.waitForMessageCount(1, in: deadLetters, on: channel) == 1)
            let dead = try #require(try await channel.get(queue: deadLetters, noAck: true))
            #expect(dead.body == Data("poison".utf8))
            if case .array(let deaths)? = dead.headers["x-death"], case .table(let death)? = deaths.first {
                #expect(death["reason"] == .string("rejected"))
            } else {
                Issue.record("the dead-lettered message carries x-death")
            }
        }
        try await channel.queueDelete(deadLetters)
        await connection.close()
    }

    @Test func deletingTheQueueEndsTheConsumerWithATypedError() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName()
        try await channel.queueDeclare(queue, durable: false)
        let consumer = try await channel.consume(queue: queue, consumerTag: "doomed-\(queue)", prefetch: 10)
        let admin = try await connection.openChannel()
        try await admin.queueDelete(queue)
        do {
            for try await _ in consumer { Issue.record("no delivery expected") }
            Issue.record("the sequence must end with an error")
        } catch let error as AMQPError {
            #expect(error == .consumerCancelledByBroker(consumerTag: "doomed-\(queue)"))
        }
        #expect(channel.isOpen)
        await connection.close()
    }

    @Test func cancellingTheConsumerEndsTheSequenceAndRequeuesNothingLost() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            for index in 0..<20 { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
            let consumerChannel = try await channel.connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 5)
            var acked = 0
            for try await delivery in consumer {
                try consumer.ack(delivery)
                acked += 1
                if acked == 5 { try await consumer.cancel() }
            }
            #expect(acked >= 5)
            await consumerChannel.close()
            // Whatever was delivered but not acknowledged went back: nothing is lost.
            #expect(try await TestBroker.waitForMessageCount(UInt32(20 - acked), in: queue, on: channel) == UInt32(20 - acked))
        }
    }
}
