import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(4))) struct ResilienceTests {
    @Test func twoInstancesOfOneServiceHandleEachOf5000EventsExactlyOnceBetweenThem() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let service = TestEnvironment.unique("basket")
        let store = InMemoryProcessedMessageStore()  // shared, as a database would be
        let first = try RunningBus(service: service, exchange: exchange, store: store)
        let second = try RunningBus(service: service, exchange: exchange, store: store)
        let effects = Recorder()
        let byInstance = Recorder()
        for (name, harness) in [("first", first), ("second", second)] {
            try await harness.bus.subscribe(PriceChanged.self) { event, _ in
                await effects.record(event.id.uuidString)
                await byInstance.record(name)
            }
        }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange) {
            $0.publishConfirmWindow = 500
        }
        first.start()
        second.start()
        catalog.start()
        let inspector = try await Inspector.open()
        try await inspector.waitForConsumers(service, count: 2)
        try await publishConcurrently(5_000, with: catalog.bus)
        let marker = PriceChanged(productId: -1, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(marker)
        try await expectEachAppliedOnce(5_000, marker: marker.id.uuidString) { await effects.calls }
        let firstShare = await byInstance.count("first")
        let secondShare = await byInstance.count("second")
        #expect(firstShare > 0 && secondShare > 0)
        await first.stop()
        await second.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: service, exchange: exchange)
    }

    @Test func closingTheConsumingConnectionAndRestartingTheBrokerMidStreamLosesNothingAndDoublesNothing() async throws {
        // This test restarts its broker, so it runs its own node on another port.
        let port = Int(TestEnvironment.environment["EVENTBUS_RESTART_BROKER_PORT"] ?? "") ?? 5692
        try await BrokerControl.run(["start", "--fresh"], port: port)
        do {
            try await restartScenario(port: port)
        } catch {
            _ = try? await BrokerControl.run(["stop"], port: port)
            throw error
        }
        try await BrokerControl.run(["stop"], port: port)
    }

    func restartScenario(port: Int) async throws {
        let url = "amqp://guest:guest@127.0.0.1:\(port)/"
        let services = try await CountingServices.start(url: url)
        let inspector = try await Inspector.open(url: url)
        try await inspector.waitForConsumers(services.service)
        await inspector.connection.close()
        try await services.stream(5_000) {
            try await BrokerControl.closeConnection(named: "\(services.service)-consumer", port: port)
            try await eventually("consuming resumes after the forced close") { await services.effects.distinct >= 2_000 }
            try await BrokerControl.run(["restart"], port: port)
        }
        await services.stop()
    }
}

/// Publishes `count` events from 50 concurrent tasks; every publish must be confirmed.
func publishConcurrently(_ count: Int, with bus: some EventBus) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        let workers = 50
        for worker in 0..<workers {
            group.addTask {
                for index in stride(from: worker, to: count, by: workers) {
                    try await bus.publish(PriceChanged(productId: index, newPrice: 1, oldPrice: 2))
                }
            }
        }
        try await group.waitForAll()
    }
}
