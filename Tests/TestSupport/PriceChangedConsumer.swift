import EventBus
import EventBusRabbitMQ

/// A consuming service with its own queue on `exchange` that counts, by event id (`uuidString`), the `PriceChanged`
/// events it handles: the other side of the outbox tests. Not started until ``start()``.
public final class PriceChangedConsumer: @unchecked Sendable {
    /// The service's name (a unique `basket-…`); its queues are `BrokerControl.deleteTopology(of:exchange:)`.
    public let service: String
    /// The handled events' ids, one entry per handler call.
    public let handled = Tally()
    private let running: RunningBus

    public init(
        exchange: String, url: String = TestEnvironment.brokerURL,
        configure: (inout RabbitMQEventBusConfiguration) -> Void = { _ in }
    ) async throws {
        service = TestEnvironment.unique("basket")
        running = try RunningBus(timing: .outbox, service: service, exchange: exchange, url: url, configure: configure)
        let handled = self.handled
        _ = try await running.bus.subscribe(PriceChanged.self, options: try testSubscription()) { event, _ in
            await handled.add(event.id.uuidString)
        }
    }

    public func start() { running.start() }
    public func stop() async { await running.stop() }
}
