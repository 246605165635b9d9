import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// A handler error that names its own dead-letter headers, one of them a name the bus owns.
private struct EndpointRejected: Error, DeadLetterDetails {
    var status: Int
    var deadLetterHeaders: [String: String] {
        ["x-test-status": "\(status)", EventHeaders.deadLetterReason: "Forged", "cloudEvents_subject": "forged"]
    }
}

/// ``DeadLetterDetails`` on the real broker: a handler's error adds headers to its dead letter, never the bus's own.
@Suite(.timeLimit(.minutes(2))) struct DeadLetterDetailsTests {
    func withService(
        attempts: Int, handler: @escaping EventHandler<PriceChanged>, _ body: (RunningBus, RunningBus, Inspector) async throws -> Void
    ) async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = try RunningBus(service: TestEnvironment.unique("details"), exchange: exchange)
        let publisher = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let policy = try fastRetries(attempts)
        try await service.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(retryPolicy: policy), handler: handler)
        service.start()
        publisher.start()
        let inspector = try await Inspector.open()
        let queue = service.configuration.queue
        do {
            try await inspector.waitForConsumers(queue)
            try await body(service, publisher, inspector)
        } catch {
            await service.stop(); await publisher.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: policy.usedDelays)
            throw error
        }
        await service.stop()
        await publisher.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: policy.usedDelays)
    }

    @Test func aNonRetryableErrorsHeadersReachTheDeadLetterWithoutOverwritingTheBussOwn() async throws {
        try await withService(attempts: 5) { _, _ in
            throw NonRetryableError(wrapping: EndpointRejected(status: 400))
        } _: { service, publisher, inspector in
            try await publisher.bus.publish(PriceChanged(productId: 1, newPrice: 5, oldPrice: 6), subject: "items/1")
            let queue = RabbitMQTopology(queue: service.configuration.queue).deadLetterQueue
            try await eventually("dead-lettered") { try await inspector.messageCount(queue) == 1 }
            let dead = try #require(try await inspector.drain(queue).first)
            #expect(dead.headers["x-test-status"] == "400")
            #expect(dead.headers[EventHeaders.deadLetterDetailNames]?.stringValue?.split(separator: ",").contains("x-test-status") == true)
            #expect(dead.headers[EventHeaders.deadLetterReason] == .string(DeadLetterReason.nonRetryable.rawValue))
            #expect(dead.headers["cloudEvents_subject"] == "items/1")
        }
    }

    @Test func aRetryableErrorsHeadersComeFromTheAttemptThatGaveUp() async throws {
        try await withService(attempts: 3) { _, context in
            throw EndpointRejected(status: 500 + context.attempt)
        } _: { service, publisher, inspector in
            try await publisher.bus.publish(PriceChanged(productId: 2, newPrice: 5, oldPrice: 6))
            let queue = RabbitMQTopology(queue: service.configuration.queue).deadLetterQueue
            try await eventually("dead-lettered") { try await inspector.messageCount(queue) == 1 }
            let dead = try #require(try await inspector.drain(queue).first)
            #expect(dead.headers["x-test-status"] == "503")
            #expect(dead.headers[EventHeaders.deadLetterReason] == .string(DeadLetterReason.maxDeliveryAttemptsExceeded.rawValue))
        }
    }
}
