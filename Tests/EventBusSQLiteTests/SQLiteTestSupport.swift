import EventBus
import EventBusRabbitMQ
import Foundation
import Testing

struct PriceChanged: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

enum TestEnvironment {
    static let environment = ProcessInfo.processInfo.environment
    static var brokerURL: String { environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/" }
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var brokerScript: String {
        environment["EVENTBUS_BROKER_SCRIPT"] ?? repositoryRoot.appendingPathComponent("scripts/broker.sh").path
    }

    static func unique(_ prefix: String) -> String { "\(prefix).\(UInt64.random(in: 0...UInt64.max))" }

    /// A new empty directory for one test's database files.
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Runs scripts/broker.sh with `arguments` for the broker on `port`, on a thread of its own: it may take tens of
    /// seconds, and blocking one of the few cooperative threads would stall every other test.
    @discardableResult
    static func broker(_ arguments: [String], port: Int) async throws -> String {
        let script = brokerScript
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runScript(script, arguments, port: port) })
            }
        }
    }

    /// Runs the script with `system(3)`, which waits for it and reaps it (Foundation's `Process` can miss the exit of a
    /// child started from a detached thread). The output goes to a temporary file, read afterwards.
    private static func runScript(_ script: String, _ arguments: [String], port: Int) throws -> String {
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("broker-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let command = "unset EVENTBUS_BROKER_TLS_PORT; EVENTBUS_BROKER_PORT=\(port) "
            + ([script] + arguments).map(quoted).joined(separator: " ") + " > \(quoted(output)) 2>&1 < /dev/null"
        let status = system(command)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ScriptError(what: "broker.sh \(arguments.joined(separator: " "))", output: text) }
        return text
    }

    /// Deletes a consuming service's queues (the bus declares them durable) through rabbitmqctl, in the background:
    /// leftovers on the test broker are harmless, and a fresh `make test` starts from an empty broker anyway.
    static func deleteQueues(of service: String, port: Int = 5682, retryDelays: [Int] = [50]) {
        let queues = [service, "\(service).dead-letter"] + retryDelays.map { "\(service).retry.\($0)" }
        let script = brokerScript
        Thread.detachNewThread {
            for queue in queues { _ = try? runScript(script, ["ctl", "delete_queue", queue], port: port) }
        }
    }

    struct ScriptError: Error, CustomStringConvertible {
        let what: String
        let output: String
        var description: String { "\(what) failed: \(output)" }
    }
}

/// Waits until `condition` holds (polling), failing the test with `message` after `timeout`.
func eventually(
    _ message: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
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

/// Counts what happens per key, across tasks.
actor Tally {
    private(set) var counts: [String: Int] = [:]

    func add(_ key: String) { counts[key, default: 0] += 1 }
    func count(_ key: String) -> Int { counts[key] ?? 0 }
    var distinct: Int { counts.count }
    var total: Int { counts.values.reduce(0, +) }
    var maximum: Int { counts.values.max() ?? 0 }
}

/// A bus that counts publishes per event id before forwarding them: shows what a relay sent.
struct CountingBus: EventBus {
    let inner: any EventBus
    let published: Tally

    func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        try await inner.publish(event, subject: subject)
        await published.add(event.id.uuidString.lowercased())
    }

    func publish(_ event: RawEvent) async throws {
        try await inner.publish(event)
        await published.add(event.id)
    }

    func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID {
        try await inner.subscribe(type, options: options, handler: handler)
    }

    func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        try await inner.subscribe(batchesOf: type, batch: batch, options: options, handler: handler)
    }

    func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        try await inner.subscribe(eventType: eventType, options: options, handler: handler)
    }

    func unsubscribe(_ subscription: SubscriptionID) async throws {
        try await inner.unsubscribe(subscription)
    }
}

/// A RabbitMQ bus for one test, running in a task; `stop()` ends it.
final class RunningBus: @unchecked Sendable {
    let bus: RabbitMQEventBus
    let service: String
    private var task: Task<Void, any Error>?

    init(
        service: String, exchange: String, url: String = TestEnvironment.brokerURL, store: any ProcessedMessageStore = InMemoryProcessedMessageStore(),
        configure: (inout RabbitMQEventBusConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: service)
        configuration.exchange = exchange
        configuration.exchangeDurable = false
        configuration.publishTimeout = .seconds(10)
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500))
        configure(&configuration)
        self.service = service
        self.bus = try RabbitMQEventBus(configuration: configuration, store: store)
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

/// Subscription options for test consumers: one short retry delay, so few retry queues exist.
func testSubscription(dedup: DedupMode = .always) throws -> SubscriptionOptions {
    SubscriptionOptions(retryPolicy: try RetryPolicy(maxDeliveryAttempts: 3, delays: [.milliseconds(50)]), dedupMode: dedup)
}

/// Runs a relay in a task for the duration of a test.
final class RunningRelay: @unchecked Sendable {
    let relay: OutboxRelay
    private var task: Task<Void, any Error>?

    init(_ relay: OutboxRelay) {
        self.relay = relay
        let captured = relay
        task = Task { try await captured.run() }
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }
}

extension OutboxRelay.Configuration {
    /// A relay that polls every 20 ms and retries after 100 ms: tests wait for conditions, not for timers.
    static func fast(staleAfter: Duration = .seconds(30), batchSize: Int = 100) -> Self {
        var configuration = OutboxRelay.Configuration()
        configuration.pollInterval = .milliseconds(20)
        configuration.initialBackoff = .milliseconds(100)
        configuration.maximumBackoff = .milliseconds(400)
        configuration.staleAfter = staleAfter
        configuration.batchSize = batchSize
        return configuration
    }
}
