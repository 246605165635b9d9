@testable import AMQP
import Foundation
import TestSupport
import Testing

/// Single acks queued together are sent as one `basic.ack multiple` only when that settles the same messages.
/// Against the broker: whatever the ack pattern, the channel stays open (no `PRECONDITION_FAILED`) and exactly the
/// acknowledged messages are gone; an ack the broker must refuse still closes the channel.
@Suite(.timeLimit(.minutes(2))) struct AckCoalescingTests {
    /// Publishes `count` numbered messages with confirms and waits until the queue holds them.
    private func fill(_ queue: String, count: Int, on channel: AMQPChannel) async throws {
        try await channel.confirmSelect(window: 1_000)
        for index in 0..<count { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
        #expect(try await TestBroker.waitForMessageCount(UInt32(count), in: queue, on: channel) == UInt32(count))
    }

    @Test func thousandsOfSingleAcksLeaveTheQueueEmpty() async throws {
        try await withQueue { connection, channel, queue in
            try await fill(queue, count: 5_000, on: channel)
            let consumerChannel = try await connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 1_000)
            var received = 0
            for try await delivery in consumer {
                try consumer.ack(delivery)
                received += 1
                if received == 5_000 { break }
            }
            // A round trip on the consumer's channel: a refused ack would have closed it by now.
            _ = try await consumerChannel.queueDeclarePassive(queue)
            #expect(consumerChannel.isOpen)
            // While the channel is still open the broker settles every ack: no delivery is owed any more.
            try await eventually("the broker settled all 5 000 acks") { try await unacknowledged(queue) == 0 }
            try await consumer.cancel()
            await consumerChannel.close()
            // Closing the channel requeues anything unacknowledged: with nothing owed, nothing comes back.
            #expect(try await channel.queueDeclarePassive(queue).messageCount == 0)
            #expect(try await unacknowledged(queue) == 0)
        }
    }

    @Test func acksHeldWhileDeliveriesAreBufferedReachTheBroker() async throws {
        try await withQueue { connection, channel, queue in
            try await fill(queue, count: 20, on: channel)
            let consumerChannel = try await connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 20)
            var deliveries = consumer.makeAsyncIterator()
            let first = try #require(try await deliveries.next())
            try await eventually("the other 19 deliveries are buffered") { consumer.buffer.snapshot.buffered == 19 }
            // Deliveries are buffered and nobody waits: the ack is queued without waking the connection thread...
            try consumer.ack(first)
            #expect(consumer.buffer.snapshot.holdingAcknowledgements)
            // ...and still reaches the broker although the task does not come back (the thread's next turn).
            try await eventually("the held ack reaches the broker") {
                try await unacknowledged(queue) == 19
            }
            // Taking and acking the rest: the last ack (nothing buffered any more) wakes the thread for all of them.
            for _ in 0..<19 {
                let delivery = try #require(try await deliveries.next())
                try consumer.ack(delivery)
            }
            try await eventually("every ack reaches the broker") { try await unacknowledged(queue) == 0 }
            #expect(consumerChannel.isOpen)
            try await consumer.cancel()
            await consumerChannel.close()
            #expect(try await channel.queueDeclarePassive(queue).messageCount == 0)
        }
    }

    /// The broker's count of unacknowledged messages in `queue`.
    private func unacknowledged(_ queue: String) async throws -> Int? {
        let output = try await TestBroker.ctl("list_queues", "name", "messages_unacknowledged")
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) }
        }
        return nil
    }

    @Test func acksOutOfOrderSettleExactlyTheAcknowledgedMessages() async throws {
        try await withQueue { connection, channel, queue in
            try await fill(queue, count: 200, on: channel)
            let consumerChannel = try await connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 200)
            var held: [AMQPDelivery] = []
            for try await delivery in consumer {
                held.append(delivery)
                if held.count == 200 { break }
            }
            // Every other delivery, newest first, then a gap-free run in the middle; 100 + 50 acked in all.
            for delivery in held.enumerated().filter({ $0.offset.isMultiple(of: 2) }).map(\.element).reversed() {
                try consumer.ack(delivery)
            }
            for delivery in held[101..<200].enumerated().filter({ $0.offset.isMultiple(of: 2) }).map(\.element) {
                try consumer.ack(delivery)
            }
            _ = try await consumerChannel.queueDeclarePassive(queue)
            #expect(consumerChannel.isOpen)
            try await consumer.cancel()
            await consumerChannel.close()
            // The 50 deliveries at odd positions below 100 were never acknowledged: they are back in the queue.
            #expect(try await TestBroker.waitForMessageCount(50, in: queue, on: channel) == 50)
        }
    }

    @Test func getAcksInterleavedWithNoAckGetsAreCoalescedSafely() async throws {
        try await withQueue { _, channel, queue in
            try await fill(queue, count: 6, on: channel)
            let first = try #require(try await channel.get(queue: queue))
            let unacknowledged = try #require(try await channel.get(queue: queue))
            _ = try #require(try await channel.get(queue: queue, noAck: true))
            let third = try #require(try await channel.get(queue: queue))
            try channel.ack(third.deliveryTag)
            try channel.ack(first.deliveryTag)
            _ = try await channel.queueDeclarePassive(queue)
            #expect(channel.isOpen)
            // Tag 2 is still owed: closing the channel returns it.
            await channel.close()
            let check = try await channel.connection.openChannel()
            #expect(try await TestBroker.waitForMessageCount(3, in: queue, on: check) == 3)
            #expect(unacknowledged.deliveryTag == first.deliveryTag + 1)
        }
    }

    @Test func aDuplicateAckStillClosesTheChannelAfterTheAcksBeforeIt() async throws {
        try await withQueue { connection, channel, queue in
            try await fill(queue, count: 10, on: channel)
            let consumerChannel = try await connection.openChannel()
            let consumer = try await consumerChannel.consume(queue: queue, prefetch: 10)
            var held: [AMQPDelivery] = []
            for try await delivery in consumer {
                held.append(delivery)
                if held.count == 10 { break }
            }
            for delivery in held[0..<5] { try consumer.ack(delivery) }
            try consumer.ack(held[4])
            do {
                _ = try await consumerChannel.queueDeclarePassive(queue)
                Issue.record("acknowledging a tag twice must close the channel")
            } catch AMQPError.channelClosedByBroker(let code, _) {
                #expect(code == .preconditionFailed)
            }
            // The first five were acknowledged; the other five went back.
            #expect(try await TestBroker.waitForMessageCount(5, in: queue, on: channel) == 5)
        }
    }

    @Test func unackedDeliveriesTrackTheLowestOwedTag() {
        var unacked = UnackedDeliveries()
        for tag in 1...6 as ClosedRange<UInt64> { unacked.delivered(tag) }
        #expect(unacked.lowest == 1)
        unacked.settle(3)
        #expect(!unacked.contains(3) && unacked.contains(2))
        unacked.settle(1)
        #expect(unacked.lowest == 2)
        unacked.settle(2)
        #expect(unacked.lowest == 4)
        unacked.settleAll(through: 5)
        #expect(unacked.lowest == 6)
        unacked.settle(6)
        #expect(unacked.lowest == nil)
        unacked.delivered(9)
        #expect(unacked.contains(9) && !unacked.contains(7))
        unacked.settleAll(through: 0)
        #expect(unacked.lowest == nil)
    }

    @Test func pendingConfirmsSettleSingleAndMultipleConfirms() {
        var pending = PendingConfirms()
        let request = PublishRequest(exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: Data(), waiter: .none)
        for _ in 0..<5 { pending.append(PendingConfirm(request)) }
        #expect(pending.count == 5 && pending.nextTag == 6)
        #expect(pending.remove(2) != nil)
        #expect(pending.remove(2) == nil)
        #expect(pending.lowest == 1)
        var settled = 0
        pending.removeAll(through: 3) { _ in settled += 1 }
        #expect(settled == 2 && pending.lowest == 4 && pending.count == 2)
        #expect(pending.remove(5) != nil)
        #expect(pending.remove(4) != nil)
        #expect(pending.count == 0 && pending.lowest == 6)
    }
}
