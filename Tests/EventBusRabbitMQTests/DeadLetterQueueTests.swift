import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// The public dead-letter API on a real broker: peek leaves everything in place, replay sends chosen dead letters back
/// to the service queue without their bookkeeping, purge empties it, and each reason is explained.
@Suite(.timeLimit(.minutes(2))) struct DeadLetterQueueTests {
    @Test func namesFollowTheBusConventions() {
        let topology = RabbitMQTopology(queue: "basket")
        #expect(topology.deadLetterQueue == "basket.dead-letter")
        #expect(topology.retryQueue(delay: .seconds(10)) == "basket.retry.10000")
        #expect(topology.retryQueue(delay: .microseconds(10)) == "basket.retry.1")
        #expect(topology.retryDelay(ofQueue: "basket.retry.250") == .milliseconds(250))
        #expect(topology.retryDelay(ofQueue: "catalog.retry.250") == nil)
        #expect(topology.retryDelay(ofQueue: "basket.retry.x") == nil)
        #expect(topology.queues(retryDelays: [.seconds(1), .milliseconds(1_000), .milliseconds(10)])
            == ["basket", "basket.retry.10", "basket.retry.1000", "basket.dead-letter"])
        #expect(Set(RabbitMQTopology.bookkeepingHeaders).isSuperset(of: [EventHeaders.deadLetterReason, EventHeaders.deliveryAttempts, "x-death"]))
    }

    @Test func peekReplayAndPurgeWorkOnWhatTheBusDeclared() async throws {
        let exchange = TestEnvironment.unique("dlq.exchange")
        var configuration = try RabbitMQEventBusConfiguration(url: TestEnvironment.brokerURL, serviceName: TestEnvironment.unique("dlq-service"))
        configuration.exchange = exchange
        let declared = try await RabbitMQEventBus.declareTopology(configuration, eventTypes: ["PriceChanged"])
        let topology = RabbitMQTopology(queue: configuration.queue)
        #expect(declared.deadLetterQueue == topology.deadLetterQueue)
        let inspector = try await Inspector.open()
        do {
            let failed = UUID().uuidString.lowercased(), rejected = UUID().uuidString.lowercased(), typeless = UUID().uuidString.lowercased()
            try await inspector.channel.publish(Data(#"{"ProductId":1}"#.utf8), exchange: "", routingKey: topology.deadLetterQueue, properties: AMQPProperties(
                headers: [EventHeaders.deadLetterReason: "MaxDeliveryAttemptsExceeded", EventHeaders.deliveryAttempts: .int32(5),
                          EventHeaders.lastError: "the price feed is down", EventHeaders.firstDeliveredAt: "2026-12-06T00:00:00Z",
                          "x-eventgrid-last-http-status-code": "503", EventHeaders.deadLetterDetailNames: "x-eventgrid-last-http-status-code",
                          "x-tenant": "kept"],
                messageID: failed, type: "PriceChanged"))
            try await inspector.channel.publish(Data("{}".utf8), exchange: "", routingKey: topology.deadLetterQueue, properties: AMQPProperties(
                headers: ["x-death": .array([.string("rejected")])], messageID: rejected, type: "PriceChanged"))
            try await inspector.channel.publish(Data("{}".utf8), exchange: "", routingKey: topology.deadLetterQueue, properties: AMQPProperties(
                headers: [EventHeaders.deadLetterReason: "Unprocessable"], messageID: typeless))

            let deadLetters = DeadLetterQueue(topology: topology, connection: inspector.connection)
            let peeked = try await deadLetters.peek()
            #expect(peeked.map(\.eventID) == [failed, rejected, typeless])
            #expect(peeked.map(\.position) == [1, 2, 3])
            #expect(peeked[0].reason == .maxDeliveryAttemptsExceeded && peeked[0].deliveryAttempts == 5)
            #expect(peeked[0].lastError == "the price feed is down")
            #expect(peeked[0].explanation == DeadLetterReason.maxDeliveryAttemptsExceeded.explanation)
            #expect(peeked[1].reason == nil && peeked[1].rejectedAsItArrived)
            #expect(peeked[1].explanation.contains("maxEventSize"))
            #expect(peeked[2].eventType == nil && peeked[2].reason == .unprocessable)
            #expect(try await deadLetters.peek(limit: 1).map(\.eventID) == [failed])
            #expect(try await deadLetters.count() == 3)

            let replayed = try await deadLetters.replay(eventIDs: [failed.uppercased()])
            #expect(replayed.map(\.eventID) == [failed])
            let back = try await inspector.drain(topology.queue)
            #expect(back.map(\.properties.messageID) == [failed])
            #expect(back.first?.properties.type == "PriceChanged")
            for header in RabbitMQTopology.bookkeepingHeaders { #expect(back.first?.headers[header] == nil, "\(header)") }
            #expect(back.first?.headers["x-eventgrid-last-http-status-code"] == nil, "a handler's dead-letter detail goes with the bookkeeping")
            #expect(back.first?.headers["x-tenant"] == "kept", "the publisher's own headers stay")
            #expect(back.first?.body == Data(#"{"ProductId":1}"#.utf8))
            #expect(try await deadLetters.peek().map(\.eventID) == [rejected, typeless])

            await #expect(throws: DeadLetterQueueError.noEventType(eventID: typeless)) { try await deadLetters.replay(eventIDs: [typeless]) }
            #expect(try await deadLetters.peek().map(\.eventID) == [rejected, typeless])
            #expect(try await deadLetters.purge() == 2)
            #expect(try await deadLetters.count() == 0)

            let missing = DeadLetterQueue(topology: RabbitMQTopology(queue: TestEnvironment.unique("never-declared")), connection: inspector.connection)
            await #expect(throws: DeadLetterQueueError.queueNotFound(missing.topology.deadLetterQueue)) {
                try await missing.count()
            }
        } catch {
            await inspector.cleanUp(queue: configuration.queue, exchange: exchange)
            throw error
        }
        await inspector.cleanUp(queue: configuration.queue, exchange: exchange)
    }
}
