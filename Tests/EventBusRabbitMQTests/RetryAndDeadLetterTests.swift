import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2))) struct RetryAndDeadLetterTests {
    /// A started consuming service, a publisher, and an inspector; cleans up after `body`.
    func withService(
        retryPolicy: RetryPolicy, filter: EventFilter = .all,
        handler: @escaping EventHandler<PriceChanged>,
        _ body: (RunningBus, RunningBus, Inspector) async throws -> Void
    ) async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let publisher = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        try await service.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(retryPolicy: retryPolicy, filter: filter), handler: handler)
        service.start()
        publisher.start()
        let inspector = try await Inspector.open()
        let queue = service.configuration.queue
        try await inspector.waitForConsumers(queue)
        do {
            try await body(service, publisher, inspector)
        } catch {
            await service.stop(); await publisher.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: retryPolicy.usedDelays)
            throw error
        }
        await service.stop()
        await publisher.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: retryPolicy.usedDelays)
    }

    @Test func handlerFailingTwiceThenSucceedingIsCalledThreeTimesAndHandledOnce() async throws {
        let calls = Recorder()
        let effects = Recorder()
        try await withService(retryPolicy: try fastRetries(5)) { event, context in
            await calls.record(event.id.uuidString)
            if await calls.count(event.id.uuidString) <= 2 { throw TestFailure(attempt: context.attempt) }
            await effects.record(event.id.uuidString)
        } _: { service, publisher, inspector in
            let event = PriceChanged(productId: 1, newPrice: 5, oldPrice: 6)
            try await publisher.bus.publish(event)
            try await eventually("the third call succeeds") { await effects.total == 1 }
            #expect(await calls.count(event.id.uuidString) == 3)
            #expect(await effects.count(event.id.uuidString) == 1)
            #expect(try await inspector.messageCount("\(service.configuration.queue).dead-letter") == 0)
        }
    }

    @Test func alwaysFailingHandlerEndsInTheDeadLetterQueueAfterExactlyMaxDeliveryAttempts() async throws {
        let calls = Recorder()
        try await withService(retryPolicy: try fastRetries(4)) { event, context in
            await calls.record(event.id.uuidString)
            throw TestFailure(attempt: context.attempt)
        } _: { service, publisher, inspector in
            let event = PriceChanged(productId: 2, newPrice: 5, oldPrice: 6)
            try await publisher.bus.publish(event, subject: "items/2")
            let deadLetters = "\(service.configuration.queue).dead-letter"
            try await eventually("the event is dead-lettered") { try await inspector.messageCount(deadLetters) == 1 }
            #expect(await calls.count(event.id.uuidString) == 4)
            let dead = try #require(try await inspector.drain(deadLetters).first)
            #expect(dead.headers["x-dead-letter-reason"] == "MaxDeliveryAttemptsExceeded")
            #expect(dead.headers["x-delivery-attempts"]?.intValue == 4)
            #expect(dead.headers["x-last-error"]?.stringValue?.contains("failure on attempt 4") == true)
            #expect(dead.headers["x-dead-lettered-at"]?.stringValue.flatMap(EventDate.parse) != nil)
            #expect(dead.headers["x-first-delivered-at"]?.stringValue.flatMap(EventDate.parse) != nil)
            #expect(dead.headers["x-original-exchange"] == .string(publisher.configuration.exchange))
            #expect(dead.headers["x-original-routing-key"] == "PriceChanged")
            #expect(dead.headers["x-eventbus-subscription"] == "PriceChanged")
            #expect(dead.headers["cloudEvents_subject"] == "items/2")
            #expect(dead.properties.messageID == event.id.uuidString.lowercased())
            #expect(dead.properties.type == "PriceChanged")
            var body = try EventCodec().decode(PriceChanged.self, from: dead.body)
            // The wire carries 100 ns ticks, as .NET does: compare the date to that precision.
            #expect(abs(body.creationDate.timeIntervalSince(event.creationDate)) < 0.000_000_2)
            body.creationDate = event.creationDate
            #expect(body == event)
        }
    }

    @Test func expiredEventDeadLettersWithTimeToLiveExpired() async throws {
        let calls = Recorder()
        try await withService(retryPolicy: try RetryPolicy(maxDeliveryAttempts: 30, eventTimeToLiveMinutes: 1, delays: [.milliseconds(30)])) { event, _ in
            await calls.record(event.id.uuidString)
            throw TestFailure(attempt: 1)
        } _: { service, publisher, inspector in
            let old = PriceChanged(creationDate: Date().addingTimeInterval(-120), productId: 3, newPrice: 1, oldPrice: 2)
            try await publisher.bus.publish(old)
            let deadLetters = "\(service.configuration.queue).dead-letter"
            try await eventually("the expired event is dead-lettered") { try await inspector.messageCount(deadLetters) == 1 }
            #expect(await calls.total == 1)
            let dead = try #require(try await inspector.drain(deadLetters).first)
            #expect(dead.headers["x-dead-letter-reason"] == "TimeToLiveExpired")
        }
    }

    @Test func nonRetryableErrorDeadLettersAtOnce() async throws {
        let calls = Recorder()
        try await withService(retryPolicy: try fastRetries(10)) { event, _ in
            await calls.record(event.id.uuidString)
            throw NonRetryableError("product \(event.productId) does not exist")
        } _: { service, publisher, inspector in
            try await publisher.bus.publish(PriceChanged(productId: 404, newPrice: 1, oldPrice: 2))
            let deadLetters = "\(service.configuration.queue).dead-letter"
            try await eventually("dead-lettered") { try await inspector.messageCount(deadLetters) == 1 }
            #expect(await calls.total == 1)
            let dead = try #require(try await inspector.drain(deadLetters).first)
            #expect(dead.headers["x-dead-letter-reason"] == "NonRetryable")
            #expect(dead.headers["x-last-error"]?.stringValue?.contains("product 404 does not exist") == true)
        }
    }

    @Test func badBodiesAndUnknownTypesDeadLetterWithTheirReasonFilteredSourcesAreAckedAndTheConsumerKeepsGoing() async throws {
        let handled = Recorder()
        try await withService(retryPolicy: try fastRetries(3), filter: EventFilter(sources: ["catalog-trusted"])) { event, _ in
            await handled.record(event.id.uuidString)
        } _: { service, _, inspector in
            let exchange = service.configuration.exchange
            let queue = service.configuration.queue
            // Bind an extra routing key so an unknown type reaches the queue, as a misconfigured binding would.
            try await inspector.channel.queueBind(queue, exchange: exchange, routingKey: "SomethingElse")
            func send(_ body: String, type: String, source: String) async throws {
                try await inspector.channel.publish(
                    Data(body.utf8), exchange: exchange, routingKey: type,
                    properties: AMQPProperties(headers: ["cloudEvents_source": .string(source)], deliveryMode: .persistent, messageID: UUID().uuidString, type: type))
            }
            let good = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
            try await send("not json at all {", type: "PriceChanged", source: "catalog-trusted")
            try await send(#"{"Id":"\#(UUID())","CreationDate":"2024-01-01T00:00:00Z"}"#, type: "SomethingElse", source: "catalog-trusted")
            try await send(String(decoding: try EventCodec().encode(good), as: UTF8.self), type: "PriceChanged", source: "intruder")
            try await send(String(decoding: try EventCodec().encode(good), as: UTF8.self), type: "PriceChanged", source: "catalog-trusted")
            let deadLetters = "\(queue).dead-letter"
            try await eventually("two dead letters, one handled, nothing left in the queue") {
                let dead = try await inspector.messageCount(deadLetters)
                let waiting = try await inspector.messageCount(queue)
                let total = await handled.total
                return dead == 2 && total == 1 && waiting == 0
            }
            // The intruder's event was acknowledged without handling (counted as filtered), not dead-lettered.
            let reasons = try await inspector.drain(deadLetters).compactMap { $0.headers["x-dead-letter-reason"]?.stringValue }
            #expect(reasons.sorted() == ["UnexpectedEventType", "Unprocessable"])
        }
    }

    @Test func retryPolicyOutsideTheRangesIsRejectedWithAClearError() {
        #expect(throws: EventBusError.self) { try RetryPolicy(maxDeliveryAttempts: 31) }
        do {
            _ = try RetryPolicy(eventTimeToLiveMinutes: 1_441)
        } catch {
            #expect("\(error)".contains("eventTimeToLiveMinutes = 1441 is outside 1...1440"))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let attempt: Int
    var description: String { "failure on attempt \(attempt)" }
}
