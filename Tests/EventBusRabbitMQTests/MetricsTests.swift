import CoreMetrics
import EventBus
import EventBusRabbitMQ
import Foundation
import MetricsTestKit
import TestSupport
import Testing

/// DESIGN section 7: the bus's counters, labelled by service, count what a user would see happen.
@Suite(.timeLimit(.minutes(1))) struct MetricsTests {
    @Test func countersShowPublishesDeliveriesDuplicatesFailuresAndDeadLetters() async throws {
        // The buses take their instruments from the factory bound to the task that creates them (the process's
        // bootstrapped one, if any, is left alone).
        let metrics = TestMetrics()
        let exchange = TestEnvironment.unique("exchange")
        let (basket, catalog) = try withMetricsFactory(metrics) {
            (
                try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange),
                try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
            )
        }
        let handled = Tally()
        try await basket.bus.subscribe(PriceChanged.self, options: try testSubscription()) { event, _ in
            if event.productId == 0 { throw NonRetryableError("product 0 does not exist") }
            await handled.add(event.id.uuidString)
        }
        basket.start()
        catalog.start()
        let inspector = try await Inspector.open()
        try await inspector.waitForConsumers(basket.configuration.queue)

        // Five good events, one the handler rejects for good, and one published twice (same id).
        for product in 1...5 { try await catalog.bus.publish(PriceChanged(productId: product, newPrice: 1, oldPrice: 2)) }
        try await catalog.bus.publish(PriceChanged(productId: 0, newPrice: 1, oldPrice: 2))
        let twice = PriceChanged(productId: 9, newPrice: 1, oldPrice: 2)
        try await catalog.bus.publish(twice)
        try await catalog.bus.publish(twice)

        @Sendable func total(_ label: String, _ service: String) -> Int64 {
            metrics.counterTotal(label: label, dimensions: [("service", service)])
        }
        let consumer = basket.service, producer = catalog.service
        try await eventually("every delivery is settled") {
            total("eventbus_consumed_total", consumer) == 8 && total("eventbus_dead_lettered_total", consumer) == 1
                && total("eventbus_duplicates_total", consumer) == 1 && total("eventbus_handled_total", consumer) == 6
        }
        #expect(total("eventbus_published_total", producer) == 8)
        #expect(total("eventbus_confirmed_total", producer) == 8)
        #expect(total("eventbus_returned_total", producer) == 0)
        #expect(total("eventbus_failed_total", consumer) == 1)
        #expect(total("eventbus_retried_total", consumer) == 0)
        #expect(await handled.total == 6)
        #expect(try metrics.expectTimer("eventbus_handle_duration", [("service", consumer)]).values.count == 6)
        #expect(try metrics.expectTimer("eventbus_confirm_latency", [("service", producer)]).values.count == 8)
        await basket.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: basket.configuration.queue, exchange: exchange)
    }
}
