import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Logging
import Testing

struct PriceChanged: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

struct StockChanged: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var available: Int
}

enum BusTestEnvironment {
    static let environment = ProcessInfo.processInfo.environment
    static var url: String { environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/" }
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var brokerScript: String {
        environment["EVENTBUS_BROKER_SCRIPT"] ?? repositoryRoot.appendingPathComponent("scripts/broker.sh").path
    }

    /// The port of the broker under test (from EVENTBUS_URL): broker controls default to it.
    static var brokerPort: Int { URL(string: url)?.port ?? 5682 }

    static func unique(_ prefix: String) -> String { "\(prefix).\(UInt64.random(in: 0...UInt64.max))" }

    /// Runs scripts/broker.sh with `arguments`, for the broker on `port`.
    @discardableResult
    static func broker(_ arguments: [String], port: Int = brokerPort) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["EVENTBUS_BROKER_PORT"] = "\(port)"
        environment.removeValue(forKey: "EVENTBUS_BROKER_TLS_PORT")
        let result = try await runProgram(brokerScript, arguments, environment: environment)
        guard result.status == 0 else { throw BrokerScriptError(arguments: arguments, output: result.output) }
        return result.output
    }

    struct BrokerScriptError: Error, CustomStringConvertible {
        let arguments: [String]
        let output: String
        var description: String { "broker.sh \(arguments.joined(separator: " ")) failed: \(output)" }
    }

    /// Closes, from the broker side, the connection whose client-provided name is `name`.
    static func closeConnection(named name: String, port: Int = brokerPort) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let listing = try await broker(["ctl", "list_connections", "--no-table-headers", "--silent", "pid", "client_properties"], port: port)
            for line in listing.split(separator: "\n") where line.contains("{\"connection_name\",\"\(name)\"}") {
                if let pid = line.split(separator: "\t").first {
                    try await broker(["ctl", "close_connection", String(pid), "test kills this connection"], port: port)
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrokerScriptError(arguments: ["close_connection", name], output: "no such connection")
    }
}

/// Waits until `condition` holds (polling), failing the test with `message` after `timeout`.
func eventually(
    _ message: String, timeout: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    Issue.record("timed out waiting: \(message)", sourceLocation: sourceLocation)
    throw CancellationError()
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

/// A bus for one test: its own exchange and service queue, running in a task; `stop()` ends it and deletes what
/// it declared.
final class BusHarness: @unchecked Sendable {
    let bus: RabbitMQEventBus
    let configuration: RabbitMQEventBusConfiguration
    private var task: Task<Void, any Error>?

    init(service: String, exchange: String, url: String = BusTestEnvironment.url, store: any ProcessedMessageStore = InMemoryProcessedMessageStore(),
         configure: (inout RabbitMQEventBusConfiguration) -> Void = { _ in }) throws {
        var configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: service)
        configuration.exchange = exchange
        configuration.exchangeDurable = false
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .seconds(1))
        configure(&configuration)
        self.configuration = configuration
        // EVENTBUS_TEST_LOG=1 shows the bus's own log on standard error.
        var logger = Logger(label: "test.\(service)", factory: { label -> any LogHandler in
            if BusTestEnvironment.environment["EVENTBUS_TEST_LOG"] == "1" { return StreamLogHandler.standardError(label: label) }
            return SwiftLogNoOpLogHandler()
        })
        logger.logLevel = Logger.Level.debug
        self.bus = try RabbitMQEventBus(configuration: configuration, store: store, logger: logger)
    }

    func start() {
        let bus = self.bus
        task = Task { try await bus.run() }
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }
}

/// A plain AMQP connection for inspecting queues and publishing as other clients would.
struct Inspector {
    let connection: AMQPConnection
    let channel: AMQPChannel

    static func open(url: String = BusTestEnvironment.url) async throws -> Inspector {
        let connection = try await AMQPConnection.connect(url: url, connectionName: "test-inspector")
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        return Inspector(connection: connection, channel: channel)
    }

    /// The queue's consumer count, or `nil` when it does not exist (checked on a throwaway channel: a missing
    /// queue closes the channel that asked).
    func consumers(_ queue: String) async -> UInt32? {
        guard let probe = try? await connection.openChannel() else { return nil }
        defer { Task { await probe.close() } }
        return try? await probe.queueDeclarePassive(queue).consumerCount
    }

    /// Waits until `count` consumers consume `queue`: the bus declares and binds everything before consuming.
    func waitForConsumers(_ queue: String, count: UInt32 = 1, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually("\(count) consumer(s) on \(queue)", sourceLocation: sourceLocation) { await consumers(queue) == count }
    }

    func messageCount(_ queue: String) async throws -> UInt32 {
        try await channel.queueDeclarePassive(queue).messageCount
    }

    /// Takes every message of `queue`.
    func drain(_ queue: String) async throws -> [AMQPDelivery] {
        var deliveries: [AMQPDelivery] = []
        while let delivery = try await channel.get(queue: queue, noAck: true) { deliveries.append(delivery) }
        return deliveries
    }

    /// Deletes a service's queues (service queue, dead letters, retry queues) and the exchange.
    func cleanUp(queue: String, exchange: String, retryDelays: [Duration] = []) async {
        let cleanup = try? await connection.openChannel()
        _ = try? await cleanup?.queueDelete(queue)
        _ = try? await cleanup?.queueDelete("\(queue).dead-letter")
        for delay in retryDelays { _ = try? await cleanup?.queueDelete("\(queue).retry.\(delay.milliseconds)") }
        _ = try? await cleanup?.exchangeDelete(exchange)
        await connection.close()
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}

func fastRetries(_ attempts: Int, delay: Duration = .milliseconds(30)) throws -> RetryPolicy {
    try RetryPolicy(maxDeliveryAttempts: attempts, delays: [delay])
}

