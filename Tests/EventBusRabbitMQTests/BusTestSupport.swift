import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// A second event type, for tests that route by type.
struct StockChanged: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var available: Int
}

/// Records handler calls per event id.
actor Recorder {
    private(set) var calls: [String: Int] = [:]
    private(set) var order: [String] = []
    private(set) var batches: [[String]] = []

    func record(_ id: String) {
        calls[id, default: 0] += 1
        order.append(id)
    }

    func recordBatch(_ ids: [String], sizes: Int) {
        batches.append(ids)
        for id in ids { record(id) }
    }

    var total: Int { calls.values.reduce(0, +) }
    var distinct: Int { calls.count }
    func count(_ id: String) -> Int { calls[id] ?? 0 }
    var maxCallsPerID: Int { calls.values.max() ?? 0 }
}

func fastRetries(_ attempts: Int, delay: Duration = .milliseconds(30)) throws -> RetryPolicy {
    try RetryPolicy(maxDeliveryAttempts: attempts, delays: [delay])
}

/// A consuming service that counts its effects and a publishing service on one exchange, for the tests that disrupt
/// the broker while events flow: the exchange is durable (it outlives a broker restart) and a publish waits up to
/// 60 s for the broker to come back.
struct CountingServices {
    let basket: RunningBus
    let catalog: RunningBus
    let effects: Recorder
    var service: String { basket.service }

    /// Creates both services on `url` (`configureBasket` adjusts the consumer) and starts them.
    static func start(url: String, configureBasket: (inout RabbitMQEventBusConfiguration) -> Void = { _ in }) async throws -> CountingServices {
        let exchange = TestEnvironment.unique("exchange")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange, url: url) {
            $0.exchangeDurable = true
            configureBasket(&$0)
        }
        let effects = Recorder()
        try await basket.bus.subscribe(PriceChanged.self) { event, _ in await effects.record(event.id.uuidString) }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange, url: url) {
            $0.exchangeDurable = true
            $0.publishTimeout = .seconds(60)
        }
        basket.start()
        catalog.start()
        return CountingServices(basket: basket, catalog: catalog, effects: effects)
    }

    /// Publishes `total` events from 50 tasks, runs `disruption` once the first 1 000 are handled, and expects every
    /// publish confirmed and, once a marker published after all of them is handled, every event handled exactly once.
    func stream(_ total: Int, through disruption: () async throws -> Void) async throws {
        let publishing = Task { try await publishConcurrently(total, with: catalog.bus) }
        try await eventually("a first part is handled") { await effects.distinct >= 1_000 }
        try await disruption()
        try await publishing.value
        let marker = PriceChanged(productId: -1, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(marker)
        try await expectEachAppliedOnce(total, marker: marker.id.uuidString, timeout: .seconds(90)) { await effects.calls }
    }

    func stop() async {
        await basket.stop()
        await catalog.stop()
    }
}
