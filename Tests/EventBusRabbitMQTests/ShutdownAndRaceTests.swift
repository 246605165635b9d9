import AMQP
import EventBus
@testable import EventBusRabbitMQ
import Foundation
import Logging
import ServiceLifecycle
import TestSupport
import Testing

/// A switch a handler waits on until the test flips it.
final class Latch: @unchecked Sendable {
    private let lock = NSLock()
    private var open = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private(set) var arrivals = 0

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = lock.withLock {
                arrivals += 1
                if open { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    var arrived: Int { lock.withLock { arrivals } }

    func release() {
        let taken = lock.withLock {
            open = true
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in taken { waiter.resume() }
    }
}

@Suite struct ShutdownAndRaceTests {
    func publish(_ events: [PriceChanged], to queue: String, with inspector: Inspector) async throws {
        for event in events {
            try await inspector.channel.publish(
                try EventCodec().encode(event), routingKey: queue,
                properties: AMQPProperties(deliveryMode: .persistent, messageID: event.id.uuidString, type: "PriceChanged"))
        }
    }

    @Test func gracefulShutdownGivesBackWhatDidNotStartAtOnceAndLetsTheStartedHandlerFinish() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange) { $0.prefetch = 50 }
        let queue = service.configuration.queue
        let latch = Latch()
        let handled = Recorder()
        try await service.bus.subscribe(PriceChanged.self) { event, _ in
            await latch.wait()
            await handled.record(event.id.uuidString)
        }
        let inspector = try await Inspector.open()
        let group = ServiceGroup(services: [service.bus], gracefulShutdownSignals: [], logger: Logger(label: "test.group"))
        let running = Task { try await group.run() }
        do {
            try await inspector.waitForConsumers(queue)
            try await publish((0..<20).map { PriceChanged(productId: $0, newPrice: 1, oldPrice: 2) }, to: queue, with: inspector)
            try await eventually("the first handler started") { latch.arrived == 1 }
            await group.triggerGracefulShutdown()
            // While the first handler still runs, the 19 prefetched deliveries that did not start are back.
            try await eventually("19 deliveries back in the queue while the first handler runs") {
                try await inspector.messageCount(queue) == 19
            }
            #expect(latch.arrived == 1, "no other handler started after the shutdown began")
            latch.release()
            try await running.value
            #expect(await handled.total == 1)
            try await eventually("19 in the queue after the bus stopped") { try await inspector.messageCount(queue) == 19 }
        } catch {
            latch.release()
            running.cancel()
            await inspector.cleanUp(queue: queue, exchange: exchange)
            throw error
        }
        await inspector.cleanUp(queue: queue, exchange: exchange)
    }

    @Test func aHandlerStuckPastTheGracePeriodDoesNotHangShutdownAndItsDeliveryGoesBack() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange) { $0.shutdownGracePeriod = .milliseconds(500) }
        let queue = service.configuration.queue
        let latch = Latch()
        try await service.bus.subscribe(PriceChanged.self) { _, _ in await latch.wait() }
        let inspector = try await Inspector.open()
        let group = ServiceGroup(services: [service.bus], gracefulShutdownSignals: [], logger: Logger(label: "test.group"))
        let running = Task { try await group.run() }
        defer { latch.release() }
        do {
            try await inspector.waitForConsumers(queue)
            try await publish([PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)], to: queue, with: inspector)
            try await eventually("the handler started") { latch.arrived == 1 }
            await group.triggerGracefulShutdown()
            // run() returns although the handler never will (the latch opens only after this test).
            try await running.value
            try await eventually("the stuck handler's delivery is back in the queue") { try await inspector.messageCount(queue) == 1 }
        } catch {
            running.cancel()
            await inspector.cleanUp(queue: queue, exchange: exchange)
            throw error
        }
        await inspector.cleanUp(queue: queue, exchange: exchange)
    }

    @Test func concurrentCopiesOfOneEventRunItsHandlerOnce() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange) { $0.handlerConcurrency = 8 }
        let queue = service.configuration.queue
        let effects = Recorder()
        try await service.bus.subscribe(PriceChanged.self) { event, _ in
            // Long enough for every copy to be in flight at once.
            try await Task.sleep(for: .milliseconds(100))
            await effects.record(event.id.uuidString)
        }
        service.start()
        let inspector = try await Inspector.open()
        do {
            try await inspector.waitForConsumers(queue)
            let event = PriceChanged(productId: 1, newPrice: 1, oldPrice: 2)
            try await publish(Array(repeating: event, count: 8), to: queue, with: inspector)
            let marker = PriceChanged(productId: -1, newPrice: 1, oldPrice: 2)
            try await publish([marker], to: queue, with: inspector)
            try await expectEachAppliedOnce(1, keys: [event.id.uuidString], marker: marker.id.uuidString) { await effects.calls }
            try await eventually("every copy settled") { try await inspector.messageCount(queue) == 0 }
        } catch {
            await service.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange)
            throw error
        }
        await service.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange)
    }

    @Test func aSubscriptionAddedWhileTheConsumerStartsIsBound() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let logs = LogCapture()
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange, logger: logs.logger())
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let queue = service.configuration.queue
        let stock = Recorder()
        try await service.bus.subscribe(PriceChanged.self) { _, _ in }
        // The subscription arrives in the window between the consumer reading its subscriptions and recording its
        // connection: it sees no connection, so the consumer must bind it.
        let bus = service.bus
        bus.beforeConsumerIsRecorded = {
            _ = try? await bus.subscribe(StockChanged.self) { event, _ in await stock.record(event.id.uuidString) }
        }
        service.start()
        catalog.start()
        let inspector = try await Inspector.open()
        do {
            try await inspector.waitForConsumers(queue)
            try await catalog.bus.publish(StockChanged(productId: 1, available: 3))
            try await eventually("the late subscription's event is handled") { await stock.total == 1 }
            let warnings = logs.messages(at: .warning).filter { $0.contains("deduplication is in memory only") }
            #expect(warnings.count == 1, "the in-memory dedup warning is said once")
        } catch {
            await service.stop(); await catalog.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange)
            throw error
        }
        await service.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange)
    }
}
