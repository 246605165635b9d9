import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// Records processed ids in memory and, the first time it records one, lets the test "crash" the consumer
/// between recording the effect and acknowledging the delivery.
final class CrashingStore: ProcessedMessageStore, @unchecked Sendable {
    let inner = InMemoryProcessedMessageStore()
    let afterFirstMark: @Sendable () async throws -> Void
    private let lock = NSLock()
    private var crashed = false
    private var killed = false

    init(afterFirstMark: @escaping @Sendable () async throws -> Void) { self.afterFirstMark = afterFirstMark }

    func contains(consumer: String, messageID: String) async throws -> Bool {
        try await inner.contains(consumer: consumer, messageID: messageID)
    }

    func markProcessed(consumer: String, messageID: String, at date: Date) async throws -> Bool {
        let result = try await inner.markProcessed(consumer: consumer, messageID: messageID, at: date)
        let first = lock.withLock { () -> Bool in
            defer { crashed = true }
            return !crashed
        }
        if first {
            try await afterFirstMark()
            lock.withLock { killed = true }
        }
        return result
    }

    /// `true` once the consumer's connection was killed after the first recorded effect.
    var hasKilledTheConsumer: Bool { lock.withLock { killed } }

    func prune(processedBefore date: Date) async throws -> Int { try await inner.prune(processedBefore: date) }
}

@Suite(.timeLimit(.minutes(2))) struct DedupAndBatchTests {
    @Test func messageRequeuedAfterItsEffectWasRecordedIsNotHandledTwice() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = TestEnvironment.unique("basket")
        // The consumer connection is killed by the broker after the effect is recorded and before the ack:
        // the broker redelivers the message (redelivered = true) and the store must stop a second effect.
        let store = CrashingStore { try await BrokerControl.closeConnection(named: "\(service)-consumer") }
        let basket = try RunningBus(service: service, exchange: exchange, store: store) {
            $0.reconnect = ReconnectPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100))
        }
        let effects = Recorder()
        let redeliveries = Recorder()
        try await basket.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(dedupMode: .redeliveredOnly)) { event, context in
            if context.redelivered { await redeliveries.record(event.id.uuidString) }
            await effects.record(event.id.uuidString)
        }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        basket.start()
        catalog.start()
        let inspector = try await Inspector.open()
        try await inspector.waitForConsumers(service)
        let event = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(event)
        try await eventually("the consumer connection was killed after the effect", timeout: .seconds(60)) { store.hasKilledTheConsumer }
        try await eventually("the redelivered copy was consumed and acknowledged", timeout: .seconds(60)) {
            let info = try await inspector.channel.queueDeclarePassive(service)
            return info.messageCount == 0 && info.consumerCount == 1
        }
        // A marker published after the redelivered copy was acknowledged: once it is handled, no second effect can come.
        let marker = PriceChanged(productId: 2, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(marker)
        try await expectEachAppliedOnce(1, keys: [event.id.uuidString], marker: marker.id.uuidString) { await effects.calls }
        await basket.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: service, exchange: exchange)
    }

    @Test func outboxStyleDuplicateIsHandledOnceInAlwaysMode() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let effects = Recorder()
        try await basket.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(dedupMode: .always)) { event, _ in
            await effects.record(event.id.uuidString)
        }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        basket.start()
        catalog.start()
        let inspector = try await Inspector.open()
        let queue = basket.configuration.queue
        try await inspector.waitForConsumers(queue)
        let event = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(event)
        try await catalog.bus.publish(event)  // the relay re-sent it: same id
        let marker = PriceChanged(productId: 99, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(marker)
        try await eventually("the marker after the duplicate is handled") { await effects.count(marker.id.uuidString) == 1 }
        #expect(await effects.count(event.id.uuidString) == 1)
        #expect(try await inspector.messageCount(queue) == 0)
        await basket.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange)
    }

    @Test func batchSubscriptionGetsBatchesWithinBothLimitsAndAFailingBatchIsRetriedWhole() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let batches = BatchLog()
        let policy = try BatchPolicy(maxEventsPerBatch: 10, preferredBatchSizeInKilobytes: 1, maximumWait: .milliseconds(50))
        try await basket.bus.subscribe(batchesOf: PriceChanged.self, batch: policy, options: SubscriptionOptions(retryPolicy: try fastRetries(5))) { events in
            let failOnce = await batches.record(events.map { ($0.event.productId, $0.context.attempt) }, bytes: events.map { try! EventCodec().encode($0.event).count })
            if failOnce { throw TestFailure(attempt: 1) }
        }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let inspector = try await Inspector.open()
        let queue = basket.configuration.queue
        // Fill the queue before consuming starts, so batches can fill up.
        catalog.start()
        _ = try await RabbitMQEventBus.declareTopology(basket.configuration, eventTypes: ["PriceChanged"])
        for index in 0..<40 { try await catalog.bus.publish(PriceChanged(productId: index, newPrice: 1, oldPrice: 2)) }
        basket.start()
        try await eventually("every event handled in a successful batch") { await batches.succeededProducts.count == 40 }
        let all = await batches.all
        #expect(all.allSatisfy { $0.products.count <= 10 })
        #expect(all.allSatisfy { $0.products.count == 1 || $0.bytes <= 1_024 })
        #expect(all.contains { $0.products.count > 1 })
        // The first batch failed; every one of its events came back (attempt 2) and succeeded.
        let failed = try #require(all.first)
        #expect(failed.failed)
        let retried = Set(all.dropFirst().flatMap { batch in batch.products.filter { $0.attempt == 2 }.map(\.product) })
        #expect(retried == Set(failed.products.map(\.product)))
        #expect(await batches.succeededProducts == Set(0..<40))
        await basket.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: [.milliseconds(30)])
    }
}

actor BatchLog {
    struct Batch {
        var products: [(product: Int, attempt: Int)]
        var bytes: Int
        var failed: Bool
    }

    private(set) var all: [Batch] = []
    private(set) var succeededProducts: Set<Int> = []

    /// Records a batch; the very first batch is told to fail.
    func record(_ products: [(Int, Int)], bytes: [Int]) -> Bool {
        let fail = all.isEmpty
        all.append(Batch(products: products.map { (product: $0.0, attempt: $0.1) }, bytes: bytes.reduce(0, +), failed: fail))
        if !fail { for product in products { succeededProducts.insert(product.0) } }
        return fail
    }
}
