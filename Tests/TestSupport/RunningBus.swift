import EventBus
import Logging
import EventBusRabbitMQ

/// How quickly a test's bus gives up on a publish and reconnects.
public struct BusTestTiming: Sendable {
    /// How long a publish waits for its confirm; `nil` keeps the library's default.
    public var publishTimeout: Duration?
    public var reconnect: ReconnectPolicy

    /// The library's publish timeout; reconnects after 50 ms, backing off to 1 s.
    public static let standard = BusTestTiming(
        publishTimeout: nil, reconnect: ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .seconds(1)))

    /// Publishes time out after 10 s; reconnects after 50 ms, backing off to 500 ms (the outbox tests: a relay
    /// retries what timed out).
    public static let outbox = BusTestTiming(
        publishTimeout: .seconds(10), reconnect: ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500)))
}

/// A RabbitMQ bus for one test on its own (non-durable) exchange, running in a task after `start()`; `stop()` ends
/// it. Its log shows with `EVENTBUS_TEST_LOG=1`, or goes to `logger` when one is given.
public final class RunningBus: @unchecked Sendable {
    public let bus: RabbitMQEventBus
    public let configuration: RabbitMQEventBusConfiguration
    public var service: String { configuration.serviceName }
    private var task: Task<Void, any Error>?

    public init(
        timing: BusTestTiming = .standard, service: String, exchange: String, url: String = TestEnvironment.brokerURL,
        store: any ProcessedMessageStore = InMemoryProcessedMessageStore(), logger: Logger? = nil,
        configure: (inout RabbitMQEventBusConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: service)
        configuration.exchange = exchange
        configuration.exchangeDurable = false
        if let publishTimeout = timing.publishTimeout { configuration.publishTimeout = publishTimeout }
        configuration.reconnect = timing.reconnect
        configure(&configuration)
        self.configuration = configuration
        self.bus = try RabbitMQEventBus(configuration: configuration, store: store, logger: logger ?? TestLogging.logger("test.\(service)"))
    }

    public func start() {
        let bus = self.bus
        task = Task { try await bus.run() }
    }

    public func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }
}
