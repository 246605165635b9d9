import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// `queueType = .quorum` (DESIGN sections 3 and 11): every queue the service owns is replicated, so a retry waiting
/// out its delay or a dead letter is not tied to one node, and the delivery rules hold as on classic queues.
@Suite(.timeLimit(.minutes(2))) struct QuorumQueueTests {
    @Test func aQuorumServiceRetriesAndDeadLettersThroughQuorumQueuesAndHandlesEveryEventOnce() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let policy = try fastRetries(3)
        let service = try RunningBus(service: TestEnvironment.unique("basket-quorum"), exchange: exchange) { $0.queueType = .quorum }
        let publisher = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let queue = service.configuration.queue
        let calls = Recorder()
        let effects = Recorder()
        try await service.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(retryPolicy: policy)) { event, context in
            await calls.record(event.id.uuidString)
            switch event.productId {
            case 1 where context.attempt <= 2, 3 where context.attempt <= 2: throw TestFailure(attempt: context.attempt)
            case 2: throw TestFailure(attempt: context.attempt)
            default: await effects.record(event.id.uuidString)
            }
        }
        service.start()
        publisher.start()
        let inspector = try await Inspector.open()
        do {
            try await inspector.waitForConsumers(queue)
            let flaky = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
            let poison = PriceChanged(productId: 2, newPrice: 1, oldPrice: 2)
            let plain = (0..<200).map { PriceChanged(productId: 100 + $0, newPrice: 1, oldPrice: 2) }
            try await publisher.bus.publish(flaky)
            try await publisher.bus.publish(poison)
            for event in plain { try await publisher.bus.publish(event) }
            // Last, a marker that takes the flaky event's path through the retry queue twice.
            let marker = PriceChanged(productId: 3, newPrice: 1, oldPrice: 2)
            try await publisher.bus.publish(marker)
            let deadLetters = "\(queue).dead-letter"
            try await expectEachAppliedOnce(
                201, keys: Set(([flaky] + plain).map(\.id.uuidString)), marker: marker.id.uuidString) { await effects.calls }
            try await eventually("one dead letter") { try await inspector.messageCount(deadLetters) == 1 }
            #expect(await calls.count(flaky.id.uuidString) == 3)
            #expect(await calls.count(poison.id.uuidString) == 3)
            let dead = try #require(try await inspector.drain(deadLetters).first)
            #expect(dead.headers["x-dead-letter-reason"] == "MaxDeliveryAttemptsExceeded")
            #expect(dead.properties.messageID == poison.id.uuidString.lowercased())

            let types = try await queueTypes()
            let retryQueue = "\(queue).retry.\(policy.usedDelays[0].milliseconds)"
            #expect(types[queue] == "quorum")
            #expect(types[retryQueue] == "quorum")
            #expect(types[deadLetters] == "quorum")
        } catch {
            await finish(service, publisher, inspector, exchange: exchange, policy: policy)
            throw error
        }
        await finish(service, publisher, inspector, exchange: exchange, policy: policy)
    }

    private func finish(_ service: RunningBus, _ publisher: RunningBus, _ inspector: Inspector, exchange: String, policy: RetryPolicy) async {
        await service.stop()
        await publisher.stop()
        await inspector.cleanUp(queue: service.configuration.queue, exchange: exchange, retryDelays: policy.usedDelays)
    }

    /// Every queue's type, as the broker reports it.
    private func queueTypes() async throws -> [String: String] {
        let listing = try await BrokerControl.run(["ctl", "list_queues", "--no-table-headers", "--silent", "name", "type"])
        var types: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2 { types[String(fields[0])] = String(fields[1]) }
        }
        return types
    }
}
