import EventBus
import EventBusGateway
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// `eventbus-gateway subscriptions list|show` on the gateway's SQLite store and config file, and `eventbus dead-letters`
/// on a subscription's queue, against the real broker.
@Suite(.timeLimit(.minutes(2))) struct SubscriptionsCommandTests {
    static let secret = "cli-secret-0123456789abcdef"

    /// A temporary directory with the gateway's SQLite store holding subscription `stored` and a config file defining
    /// `filed`, both with `secret`, on queue prefix `prefix`.
    func withStore(prefix: String, endpoint: String = "http://127.0.0.1:9/hook", _ body: (_ sqlite: String, _ config: String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("cli-subscriptions"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = directory.appendingPathComponent("gateway.sqlite").path
        let store = SQLiteSubscriptionStore(store: try SQLiteEventStore(path: sqlite))
        try await store.migrate()
        var stored = WebhookSubscription(endpointUrl: endpoint, eventTypes: ["PriceChanged"])
        stored.secret = Self.secret
        stored.batch = .init(maxEventsPerBatch: 10, preferredBatchSizeInKilobytes: 64)
        try await store.save(name: "stored", stored)
        var filed = WebhookSubscription(endpointUrl: "https://hooks.example.com/orders", eventTypes: ["OrderPaid"])
        filed.secret = Self.secret
        let file = #"{"queuePrefix": "\#(prefix)", "subscriptions": {"filed": "# + String(decoding: try JSONEncoder().encode(filed), as: UTF8.self) + "}}"
        let config = directory.appendingPathComponent("gateway.json").path
        try Data(file.utf8).write(to: URL(fileURLWithPath: config))
        try await body(sqlite, config)
    }

    @Test func listAndShowReadTheStoreAndTheConfigFileWithoutSecrets() async throws {
        let prefix = TestEnvironment.unique("cli-gw") + "."
        try await withStore(prefix: prefix) { sqlite, config in
            let list = try await GatewayCLI.run(["subscriptions", "list", "--config", config, "--sqlite", sqlite])
            #expect(!list.failed, "\(list.output)")
            #expect(list.output.contains("filed (config file) → https://hooks.example.com/orders types=OrderPaid single events, queue \(prefix)filed (queue not declared yet)"))
            #expect(list.output.contains("stored (api) → http://127.0.0.1:9/hook types=PriceChanged batches of ≤ 10, ~64 KB, queue \(prefix)stored"))
            #expect(!list.output.contains(Self.secret))
            // The library's CLI hands `eventbus subscriptions` over to eventbus-gateway: same output.
            let viaLibraryCLI = try await GatewayCLI.eventbus(["subscriptions", "list", "--config", config, "--sqlite", sqlite])
            #expect(!viaLibraryCLI.failed && viaLibraryCLI.output == list.output, "\(viaLibraryCLI.output)")
            let show = try await GatewayCLI.run(["subscriptions", "show", "stored", "--config", config, "--sqlite", sqlite])
            #expect(!show.failed, "\(show.output)")
            #expect(show.output.contains("\"secret\" : \"<redacted>\"") && !show.output.contains(Self.secret))
            #expect(show.output.contains("dead letters: \(prefix)stored.dead-letter (eventbus dead-letters list --queue \(prefix)stored)"))
            let unknown = try await GatewayCLI.run(["subscriptions", "show", "nope", "--sqlite", sqlite])
            #expect(unknown.failed && unknown.output.contains("no subscription 'nope'; known: stored"))
            let missing = try await GatewayCLI.run(["subscriptions", "list", "--sqlite", sqlite + ".typo"])
            #expect(missing.failed && missing.output.contains("no SQLite database at"))
            #expect(!FileManager.default.fileExists(atPath: sqlite + ".typo"))
        }
    }

    @Test func deadLettersListsASubscriptionsDeadLetterWithEventGridFields() async throws {
        let prefix = TestEnvironment.unique("cli-gw") + "."
        let exchange = TestEnvironment.unique("cli.gateway")
        let type = "PriceChanged"
        // 127.0.0.1 without the private-range opt-in: the delivery is refused and dead-lettered at once.
        var subscription = WebhookSubscription(endpointUrl: "http://127.0.0.1:9/hook", eventTypes: [type])
        subscription.validationHandshake = false
        var configuration = GatewayConfiguration(brokerURL: TestEnvironment.brokerURL, keys: ["cli-key-0123456789abcdef"])
        configuration.port = 0
        configuration.exchange = exchange
        configuration.queuePrefix = prefix
        configuration.subscriptions = ["hooks": subscription]
        let gateway = GatewayService(
            configuration: configuration, stores: (InMemorySubscriptionStore(), InMemoryProcessedMessageStore()), logger: TestLogging.logger("test.cli.gateway"))
        let task = Task { try await gateway.run() }
        let inspector = try await Inspector.open()
        let topology = RabbitMQTopology(queue: prefix + "hooks")
        do {
            let port = try await gateway.listeningPort()
            try await inspector.waitForConsumers(topology.queue)
            let id = UUID().uuidString.lowercased()
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/events")!)
            request.httpMethod = "POST"
            request.setValue("application/cloudevents+json", forHTTPHeaderField: "content-type")
            request.setValue("cli-key-0123456789abcdef", forHTTPHeaderField: "aeg-sas-key")
            request.httpBody = Data(#"{"specversion":"1.0","id":"\#(id)","source":"/cli","type":"\#(type)","data":{"price":1}}"#.utf8)
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            try await eventually("dead-lettered") { try await inspector.messageCount(topology.deadLetterQueue) == 1 }
            let letters = try await GatewayCLI.eventbus(["dead-letters", "list", "--queue", topology.queue])
            #expect(!letters.failed, "\(letters.output)")
            #expect(letters.output.contains("\(topology.deadLetterQueue): 1 dead letter(s)"))
            #expect(letters.output.contains("id=\(id)"))
            #expect(letters.output.contains("\(WebhookDeadLetterHeaders.lastDeliveryOutcome): EndpointRefused"))
            #expect(letters.output.contains("x-dead-letter-reason: NonRetryable"))
            #expect(try await inspector.messageCount(topology.deadLetterQueue) == 1)
        } catch {
            task.cancel()
            _ = try? await task.value
            await inspector.cleanUp(queue: topology.queue, exchange: exchange)
            throw error
        }
        task.cancel()
        _ = try? await task.value
        await inspector.cleanUp(queue: topology.queue, exchange: exchange)
    }
}

/// The built `eventbus-gateway` and `eventbus` executables, run as an operator would.
enum GatewayCLI {
    /// `eventbus-gateway` with `arguments`, against the test broker (`--url`).
    static func run(_ arguments: [String]) async throws -> ProgramResult {
        try await runProgram(try BuiltExecutable.path("eventbus-gateway"), arguments + ["--url", TestEnvironment.brokerURL])
    }

    /// `eventbus` (the library's operator CLI) with `arguments`, against the test broker.
    static func eventbus(_ arguments: [String]) async throws -> ProgramResult {
        try await runProgram(try BuiltExecutable.path("eventbus", override: "EVENTBUS_CLI"), arguments + ["--url", TestEnvironment.brokerURL])
    }
}
