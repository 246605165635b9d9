import AMQP
import Foundation
import Testing

/// `AMQPChannel.publish(_ messages:)`: several messages back to back, in order, one outcome each.
@Suite(.timeLimit(.minutes(2))) struct BatchPublishTests {
    @Test func aBatchLargerThanTheConfirmWindowIsConfirmedAndArrivesInOrder() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect(window: 100)
            let messages = (0..<2_500).map { index in
                AMQPOutboundMessage(
                    Data("\(index)".utf8), routingKey: queue, properties: .init(deliveryMode: .persistent, messageID: "\(index)"))
            }
            let results = await channel.publish(messages)
            #expect(results.count == 2_500)
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            #expect(try await TestBroker.waitForMessageCount(2_500, in: queue, on: channel) == 2_500)
            #expect(try await receiveIDs(2_500, from: queue, on: channel) == (0..<2_500).map(String.init))
        }
    }

    @Test func concurrentBatchesOnOneChannelEachStayInOrder() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect(window: 50)
            // Four tasks publish 10 batches of 25 each; the broker must see each batch contiguous and in order.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for batch in 0..<10 {
                            let messages = (0..<25).map { index in
                                AMQPOutboundMessage(Data(), routingKey: queue, properties: .init(messageID: "\(worker).\(batch).\(index)"))
                            }
                            let results = await channel.publish(messages)
                            for result in results { try result.get() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let ids = try await receiveIDs(1_000, from: queue, on: channel)
            #expect(Set(ids).count == 1_000)
            for start in stride(from: 0, to: ids.count, by: 25) {
                let prefix = ids[start].split(separator: ".").prefix(2).joined(separator: ".")
                #expect(ids[start..<start + 25].map { $0 } == (0..<25).map { "\(prefix).\($0)" })
            }
        }
    }

    @Test func anUnroutableMandatoryMessageFailsAloneWithTheReturnError() async throws {
        try await withQueue { _, channel, queue in
            let exchange = TestBroker.uniqueName("batch-routes")
            try await channel.exchangeDeclare(exchange, type: .direct, durable: false, autoDelete: true)
            try await channel.queueBind(queue, exchange: exchange, routingKey: "bound")
            try await channel.confirmSelect()
            let keys = ["bound", "nobody", "bound", "nobody", "bound"]
            let messages = keys.enumerated().map { index, key in
                AMQPOutboundMessage(
                    Data("\(index)".utf8), exchange: exchange, routingKey: key, mandatory: true, properties: .init(messageID: "\(index)"))
            }
            let results = await channel.publish(messages)
            for (key, result) in zip(keys, results) {
                if key == "bound" {
                    #expect((try? result.get()) != nil)
                } else {
                    #expect(throws: AMQPError.returned(replyCode: .noRoute, replyText: "NO_ROUTE", exchange: exchange, routingKey: key)) {
                        try result.get()
                    }
                }
            }
            #expect(try await receiveIDs(3, from: queue, on: channel) == ["0", "2", "4"])
            try await channel.exchangeDelete(exchange)
        }
    }

    @Test func aBatchToAMissingExchangeFailsWholeAndLaterBatchesFailAtOnce() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        let closed = AMQPError.channelClosedByBroker(replyCode: .notFound, replyText: "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'")
        let messages = (0..<10).map { _ in AMQPOutboundMessage(Data(), exchange: "no-such-exchange", routingKey: "x") }
        let results = await channel.publish(messages)
        #expect(results.count == 10)
        for result in results { #expect(throws: closed) { try result.get() } }
        #expect(!channel.isOpen)
        let after = await channel.publish([AMQPOutboundMessage(Data(), routingKey: "x")])
        #expect(throws: closed) { try after[0].get() }
        #expect(await channel.publish([]).isEmpty)
        await connection.close()
    }

    @Test func messagesThatCannotBeEncodedFailAloneAndTheOthersArriveInOrder() async throws {
        try await withQueue { connection, channel, queue in
            try await channel.confirmSelect()
            let long = String(repeating: "x", count: 300)  // short strings hold at most 255 bytes
            let messages = (0..<5).map { index in
                AMQPOutboundMessage(
                    Data("\(index)".utf8), routingKey: index == 1 ? long : queue,
                    properties: .init(messageID: index == 3 ? long : "\(index)"))
            }
            let results = await channel.publish(messages)
            for index in [0, 2, 4] { #expect((try? results[index].get()) != nil, "message \(index)") }
            for index in [1, 3] {
                #expect(throws: AMQPError.self) { try results[index].get() }
                if case .failure(let error) = results[index], case .invalidArgument = error {} else {
                    Issue.record("message \(index): \(results[index]) is not an encoding error")
                }
            }
            #expect(try await receiveIDs(3, from: queue, on: channel) == ["0", "2", "4"])
            #expect(connection.isOpen)
        }
    }

    @Test func bodiesLargerThanAFrameAreSplitAndArriveWhole() async throws {
        // frame_max 4096: a frame carries at most 4088 bytes of body.
        try await withQueue(frameMax: 4_096) { connection, channel, queue in
            try await channel.confirmSelect()
            let sizes = [0, 1, 4_087, 4_088, 4_089, 8_176, 100_003]
            let bodies = sizes.map { size in Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ size) }) }
            let results = await channel.publish(bodies.enumerated().map { index, body in
                AMQPOutboundMessage(body, routingKey: queue, properties: .init(messageID: "\(index)"))
            })
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            for (index, body) in bodies.enumerated() {
                let delivery = try #require(try await channel.get(queue: queue, noAck: true))
                #expect(delivery.properties.messageID == "\(index)")
                #expect(delivery.body == body, "body of \(sizes[index]) bytes")
            }
            // Properties must fit in one frame: a header table of ~6 KiB cannot, and fails alone.
            let wide = AMQPTable(uniqueKeysWithValues: (0..<300).map { ("key-\($0)", AMQPFieldValue.string("value-\($0)")) })
            let outcome = await channel.publish([AMQPOutboundMessage(Data(), routingKey: queue, properties: .init(headers: wide))])
            if case .failure(.invalidArgument) = outcome[0] {} else { Issue.record("a header table over frame_max: \(outcome[0])") }
            try await channel.publish(Data("after".utf8), routingKey: queue)
            #expect(try await channel.get(queue: queue, noAck: true)?.body == Data("after".utf8))
            #expect(connection.isOpen)
        }
    }

    @Test func withoutConfirmsABatchIsWrittenInOrder() async throws {
        try await withQueue { _, channel, queue in
            let messages = (0..<300).map { AMQPOutboundMessage(Data(), routingKey: queue, properties: .init(messageID: "\($0)")) }
            let results = await channel.publish(messages)
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            let ids = try await receiveIDs(300, from: queue, on: channel)
            #expect(ids == (0..<300).map(String.init))
        }
    }
}

/// Consumes `count` messages from `queue` and returns their message ids in arrival order.
private func receiveIDs(_ count: Int, from queue: String, on channel: AMQPChannel) async throws -> [String] {
    var ids: [String] = []
    let consumer = try await channel.consume(queue: queue, prefetch: 500)
    for try await delivery in consumer {
        ids.append(delivery.properties.messageID ?? "")
        try consumer.ack(delivery)
        if ids.count == count { break }
    }
    try await consumer.cancel()
    return ids
}
