import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// Retries wait out their delay in `<queue>.retry.<delay>` and the broker dead-letters them back (DESIGN section 3).
/// A broker restart while they wait must lose none and double none, with either queue type. (A classic retry queue
/// moves an event back without confirms, so a crash in the middle of that move can still lose it: the documented
/// limit of ``RabbitMQEventBusConfiguration/queueType``. A graceful stop and start must not.)
@Suite(.timeLimit(.minutes(6))) struct RetryQueueRestartTests {
    @Test func eventsWaitingInClassicAndQuorumRetryQueuesAreEachHandledOnceAfterABrokerRestart() async throws {
        // This test restarts its broker, so it runs its own node on another port (not the restart tests' 5692).
        let port = Int(TestEnvironment.environment["EVENTBUS_RETRY_RESTART_BROKER_PORT"] ?? "") ?? 5696
        try await BrokerControl.run(["start", "--fresh"], port: port)
        do {
            try await restartWhileRetriesWait(port: port)
        } catch {
            _ = try? await BrokerControl.run(["stop"], port: port)
            throw error
        }
        try await BrokerControl.run(["stop"], port: port)
    }

    /// One service per queue type on one broker; each gets `count` events and a marker, all failing once.
    func restartWhileRetriesWait(port: Int) async throws {
        let url = "amqp://guest:guest@127.0.0.1:\(port)/"
        let count = 100
        // Long enough that every event still waits when the restart begins; the restart outlasts it.
        let policy = try RetryPolicy(maxDeliveryAttempts: 3, delays: [.seconds(5)])
        let exchange = TestEnvironment.unique("exchange")
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange, url: url) {
            $0.exchangeDurable = true
            $0.publishTimeout = .seconds(60)
        }
        var services: [FailingOnceService] = []
        for type in [RabbitMQEventBusConfiguration.QueueType.classic, .quorum] {
            services.append(try await FailingOnceService.start(type, exchange: exchange, url: url, policy: policy))
        }
        catalog.start()
        let inspector = try await Inspector.open(url: url)
        for service in services { try await inspector.waitForConsumers(service.queue) }
        let events = (0..<count).map { PriceChanged(productId: $0, newPrice: 1, oldPrice: 2) }
        for event in events { try await catalog.bus.publish(event) }
        // Published last, failing once like the others: it comes back from the retry queue behind them.
        let marker = PriceChanged(productId: -1, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(marker)
        let retryQueue: @Sendable (FailingOnceService) -> String = { "\($0.queue).retry.\(policy.usedDelays[0].milliseconds)" }
        for service in services {
            try await eventually("all \(count + 1) events wait in the \(service.type) retry queue") {
                try await inspector.messageCount(retryQueue(service)) == UInt32(count + 1)
            }
        }
        await inspector.connection.close()

        try await BrokerControl.run(["restart"], port: port)

        for service in services {
            try await expectEachAppliedOnce(
                count, keys: Set(events.map(\.id.uuidString)), marker: marker.id.uuidString, timeout: .seconds(120)
            ) { await service.effects.calls }
            #expect(await service.firstAttempts.distinct == count + 1, "\(service.type): every event failed once before the restart")
        }
        let after = try await Inspector.open(url: url)
        for service in services {
            #expect(try await after.messageCount("\(service.queue).dead-letter") == 0, "\(service.type): nothing dead-lettered")
            #expect(try await after.messageCount(retryQueue(service)) == 0, "\(service.type): nothing left waiting")
        }
        await after.connection.close()
        for service in services { await service.bus.stop() }
        await catalog.stop()
    }
}

/// A consuming service whose handler fails each event's first attempt (so it waits in the retry queue) and records
/// the effect of the second.
private struct FailingOnceService {
    let type: RabbitMQEventBusConfiguration.QueueType
    let bus: RunningBus
    let firstAttempts: Recorder
    let effects: Recorder
    var queue: String { bus.configuration.queue }

    static func start(
        _ type: RabbitMQEventBusConfiguration.QueueType, exchange: String, url: String, policy: RetryPolicy
    ) async throws -> FailingOnceService {
        let bus = try RunningBus(service: TestEnvironment.unique("basket-\(type.rawValue)"), exchange: exchange, url: url) {
            $0.exchangeDurable = true
            $0.queueType = type
        }
        let firstAttempts = Recorder()
        let effects = Recorder()
        try await bus.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(retryPolicy: policy)) { event, context in
            if context.attempt == 1 {
                await firstAttempts.record(event.id.uuidString)
                throw TestFailure(attempt: context.attempt)
            }
            await effects.record(event.id.uuidString)
        }
        bus.start()
        return FailingOnceService(type: type, bus: bus, firstAttempts: firstAttempts, effects: effects)
    }
}
