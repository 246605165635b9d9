import AMQP
import EventBus
@testable import EventBusRabbitMQ
import Foundation
import Logging
import TestSupport
import Testing

/// Deliveries a service cannot forward or read, published by another client straight onto its queue: each ends in
/// the dead-letter queue (with a reason in the log), and the service keeps consuming.
@Suite struct HostileDeliveryTests {
    /// A consuming service for `PriceChanged` whose handler fails for product 404, and an inspector.
    func withService(
        configure: (inout RabbitMQEventBusConfiguration) -> Void = { _ in },
        logger: Logger? = nil,
        _ body: (RunningBus, Inspector, Recorder) async throws -> Void
    ) async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange, logger: logger, configure: configure)
        let handled = Recorder()
        let policy = try fastRetries(2)
        try await service.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(retryPolicy: policy)) { event, _ in
            if event.productId == 404 { throw NonRetryableError("product 404 does not exist") }
            await handled.record(event.id.uuidString)
        }
        service.start()
        let inspector = try await Inspector.open()
        let queue = service.configuration.queue
        do {
            try await inspector.waitForConsumers(queue)
            try await body(service, inspector, handled)
        } catch {
            await service.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: policy.usedDelays)
            throw error
        }
        await service.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: policy.usedDelays)
    }

    func body(_ event: PriceChanged) throws -> Data { try EventCodec().encode(event) }

    @Test func aBodyOverTheMaximumEventSizeIsDeadLetteredAsItArrivedAndTheNextEventIsHandled() async throws {
        try await withService(configure: { $0.maxEventSize = 64 * 1_024 }) { service, inspector, handled in
            let queue = service.configuration.queue
            let big = Data(repeating: UInt8(ascii: "x"), count: 200 * 1_024)
            try await inspector.channel.publish(
                big, routingKey: queue, properties: AMQPProperties(deliveryMode: .persistent, messageID: "too-big", type: "PriceChanged"))
            let next = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
            try await inspector.channel.publish(
                try body(next), routingKey: queue,
                properties: AMQPProperties(deliveryMode: .persistent, messageID: next.id.uuidString, type: "PriceChanged"))
            try await eventually("the next event is handled and the big one dead-lettered") {
                let dead = try await inspector.messageCount("\(queue).dead-letter")
                return await handled.total == 1 && dead == 1
            }
            let dead = try #require(try await inspector.drain("\(queue).dead-letter").first)
            #expect(dead.body == big, "the dead letter is the message as it arrived")
            #expect(dead.properties.messageID == "too-big")
        }
    }

    @Test func publishingAnEventOverTheMaximumSizeFailsBeforeSendingAndTheBusKeepsPublishing() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let bus = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange) { $0.maxEventSize = 1_024 }
        bus.start()
        defer { Task { await bus.stop() } }
        // Connected first, as the other suites wait for their consumers: at the start of a full run on two busy cores
        // connecting alone took most of the 30 s publish timeout once, and this test is about the size check.
        try await eventually("the bus is connected") { bus.bus.isConnected }
        let big = RawEvent(eventType: "Unbound", id: "big-1", payload: Data(repeating: 32, count: 2_048))
        let small = RawEvent(eventType: "Unbound", id: "small-1", payload: Data("{}".utf8))
        let results = await bus.bus.publishAll([big, small])
        guard case .failure(EventBusError.eventTooLarge(let id, let size, let limit)) = results[0] else {
            Issue.record("expected eventTooLarge, got \(results[0])")
            return
        }
        #expect(id == "big-1" && size == 2_048 && limit == 1_024)
        // The small one went to the broker (and came back unroutable: nothing is bound), so the channel still works.
        guard case .failure(EventBusError.publishFailed(let smallID, _)) = results[1] else {
            Issue.record("expected the small event to reach the broker, got \(results[1])")
            return
        }
        #expect(smallID == "small-1")
    }

    @Test func aForwardThatCanNeverBeSentDeadLettersTheOriginalAsItArrived() async throws {
        let logs = LogCapture()
        try await withService(logger: logs.logger()) { service, inspector, handled in
            let queue = service.configuration.queue
            // No message_id: the id comes from the body and is 300 bytes, too long for the message_id property of the
            // dead-letter copy. The event's handler rejects it (product 404), so the bus must forward it.
            let longID = String(repeating: "a", count: 300)
            let hostile = #"{"Id":"\#(longID)","CreationDate":"2024-01-01T00:00:00Z","ProductId":404,"NewPrice":1,"OldPrice":2}"#
            try await inspector.channel.publish(
                Data(hostile.utf8), routingKey: queue, properties: AMQPProperties(deliveryMode: .persistent, type: "PriceChanged"))
            let next = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
            try await inspector.channel.publish(
                try body(next), routingKey: queue,
                properties: AMQPProperties(deliveryMode: .persistent, messageID: next.id.uuidString, type: "PriceChanged"))
            try await eventually("the next event is handled and the hostile one dead-lettered") {
                let dead = try await inspector.messageCount("\(queue).dead-letter")
                return await handled.total == 1 && dead == 1
            }
            let dead = try #require(try await inspector.drain("\(queue).dead-letter").first)
            #expect(String(decoding: dead.body, as: UTF8.self) == hostile)
            #expect(dead.properties.headers?["x-dead-letter-reason"] == nil, "as it arrived: no bus headers")
            #expect(logs.messages(at: .error).contains { $0.contains("dead-letters it as it arrived") })
        }
    }

    @Test func aDeletedDeadLetterQueueIsDeclaredAgainAndTheEventEndsThere() async throws {
        try await withService(configure: { $0.maxForwardAttempts = 20 }) { service, inspector, handled in
            let queue = service.configuration.queue
            _ = try await inspector.channel.queueDelete("\(queue).dead-letter")
            let poison = PriceChanged(productId: 404, newPrice: 1, oldPrice: 2)
            try await inspector.channel.publish(
                try body(poison), routingKey: queue,
                properties: AMQPProperties(deliveryMode: .persistent, messageID: poison.id.uuidString, type: "PriceChanged"))
            // Probed on a throwaway channel: asking about a missing queue closes the channel that asks.
            try await eventually("the dead-letter queue is declared again") { await inspector.consumers("\(queue).dead-letter") != nil }
            try await eventually("the dead letter is in the re-declared queue") { try await inspector.messageCount("\(queue).dead-letter") == 1 }
            let dead = try #require(try await inspector.drain("\(queue).dead-letter").first)
            #expect(dead.properties.headers?["x-dead-letter-reason"] == "NonRetryable")
            #expect(await handled.total == 0)
        }
    }

    @Test func anAttemptsHeaderOfTwoToTheFortyIsReadWithoutTrappingAndEndsTheRetries() async throws {
        try await withService { service, inspector, handled in
            let queue = service.configuration.queue
            let event = PriceChanged(productId: 7, newPrice: 1, oldPrice: 2)
            try await inspector.channel.publish(
                try body(event), routingKey: queue,
                properties: AMQPProperties(
                    headers: ["x-delivery-attempts": .int64(1 << 40), "cloudEvents_time": .timestamp(Date(timeIntervalSince1970: 1.8446744073709552e19))],
                    deliveryMode: .persistent, messageID: event.id.uuidString, timestamp: Date(timeIntervalSince1970: 1.8446744073709552e19),
                    type: "PriceChanged"))
            try await eventually("handled") { await handled.total == 1 }
        }
    }

    @Test func aDeadLetterQueueWithALengthLimitKeepsTheNewestDeadLetters() async throws {
        try await withService(configure: { $0.deadLetterQueueMaxLength = 2 }) { service, inspector, handled in
            let queue = service.configuration.queue
            var ids: [String] = []
            for _ in 0..<3 {
                let poison = PriceChanged(productId: 404, newPrice: 1, oldPrice: 2)
                ids.append(poison.id.uuidString)
                try await inspector.channel.publish(
                    try body(poison), routingKey: queue,
                    properties: AMQPProperties(deliveryMode: .persistent, messageID: poison.id.uuidString, type: "PriceChanged"))
            }
            // Handled in queue order: once the marker behind them is handled, all three were dead-lettered.
            let marker = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
            try await inspector.channel.publish(
                try body(marker), routingKey: queue,
                properties: AMQPProperties(deliveryMode: .persistent, messageID: marker.id.uuidString, type: "PriceChanged"))
            try await eventually("the marker is handled") { await handled.total == 1 }
            #expect(try await inspector.messageCount("\(queue).dead-letter") == 2)
            let kept = try await inspector.drain("\(queue).dead-letter").compactMap(\.properties.messageID)
            #expect(kept == Array(ids.suffix(2)), "the oldest dead letter went first")
        }
    }
}
