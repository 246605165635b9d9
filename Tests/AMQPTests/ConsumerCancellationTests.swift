import AMQP
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1))) struct ConsumerCancellationTests {
    @Test func cancellingTheIteratingTaskEndsTheSequenceAndCancelsTheConsumer() async throws {
        try await withQueue { connection, channel, queue in
            let consumerChannel = try await connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 10)
            #expect(try await channel.queueDeclarePassive(queue).consumerCount == 1)
            let iterating = Task {
                var received = 0
                for try await _ in consumer { received += 1 }
                return received
            }
            try await Task.sleep(for: .milliseconds(100))
            iterating.cancel()
            #expect(try await iterating.value == 0)
            // The consumer is cancelled in the background.
            let deadline = ContinuousClock.now + .seconds(10)
            var consumers = try await channel.queueDeclarePassive(queue).consumerCount
            while consumers != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                consumers = try await channel.queueDeclarePassive(queue).consumerCount
            }
            #expect(consumers == 0)
        }
    }

    @Test func deliveriesBufferedBeforeTheEndAreStillHandedOut() async throws {
        try await withQueue { connection, channel, queue in
            try await channel.confirmSelect()
            for index in 0..<20 { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
            let consumerChannel = try await connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 20)
            // Once the broker has sent all 20 (none ready any more), end the consumer: basic.cancel-ok comes after them
            // on the channel, so the 20 still come out of the buffer, then the sequence ends.
            #expect(try await TestBroker.waitForMessageCount(0, in: queue, on: channel) == 0)
            try await consumer.cancel()
            var bodies: [String] = []
            for try await delivery in consumer { bodies.append(String(decoding: delivery.body, as: UTF8.self)) }
            #expect(bodies == (0..<20).map { "\($0)" })
        }
    }
}
