import AMQP
import BasketService
import CatalogService
import EventBus
import EventBusRabbitMQ
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SampleSupport
import TestSupport
import Testing

/// The test environment: the broker at `EVENTBUS_URL` (scripts/with-services.sh provides it; tests fail without it),
/// PostgreSQL at `EVENTBUS_POSTGRES_URL` (or the private cluster); tests fail without them, never skip.
enum SamplesEnvironment {
    static let environment = ProcessInfo.processInfo.environment
    static var brokerURL: String { TestEnvironment.brokerURL }
    static var postgresURL: String { TestEnvironment.postgresURL }

    static func unique(_ prefix: String) -> String { "\(prefix)-\(UInt32.random(in: 0...UInt32.max))" }

    /// A logger that prints only with EVENTBUS_TEST_LOG=1.
    static func logger(_ label: String) -> Logger { TestLogging.logger(label) }

    /// A fresh SQLite path in a directory of its own.
    static func sqlitePath(_ name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(unique("samples-tests"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("\(name).sqlite").path
    }
}

/// One test's world: its own exchange, queues and service names, so tests run in parallel on one broker.
struct SampleWorld: Sendable {
    let id = SamplesEnvironment.unique("t")
    var exchange: String { "samples.\(id)" }
    var catalogService: String { "catalog-\(id)" }
    var basketService: String { "basket-\(id)" }

    /// The catalog's configuration on `database`.
    func catalog(_ database: DatabaseLocation) -> SampleConfiguration {
        SampleConfiguration(
            serviceName: catalogService, port: 0, eventBusURL: SamplesEnvironment.brokerURL, database: database,
            exchange: exchange, exchangeDurable: false, logLevel: .debug)
    }

    /// The basket's configuration on `database`.
    func basket(_ database: DatabaseLocation) -> SampleConfiguration {
        SampleConfiguration(
            serviceName: basketService, port: 0, eventBusURL: SamplesEnvironment.brokerURL, database: database,
            exchange: exchange, exchangeDurable: false, logLevel: .debug)
    }

    /// Retries after 50 ms instead of 10 s.
    static let quickRetries: RetryPolicy = (try? RetryPolicy(maxDeliveryAttempts: 10, delays: [.milliseconds(50)])) ?? .eventGrid

    /// A relay that polls every 50 ms and retries after 100 ms.
    static var quickRelay: OutboxRelay.Configuration {
        var configuration = OutboxRelay.Configuration()
        configuration.pollInterval = .milliseconds(50)
        configuration.initialBackoff = .milliseconds(100)
        configuration.maximumBackoff = .milliseconds(400)
        return configuration
    }

    func catalogApplication(_ database: DatabaseLocation) async throws -> some ApplicationProtocol {
        try await buildCatalogApplication(
            configuration: catalog(database), outboxRelay: Self.quickRelay, logger: SamplesEnvironment.logger(catalogService))
    }

    func basketApplication(_ database: DatabaseLocation) async throws -> some ApplicationProtocol {
        try await buildBasketApplication(
            configuration: basket(database), retryPolicy: Self.quickRetries, logger: SamplesEnvironment.logger(basketService))
    }

    /// Deletes what this world declared on the broker: the service queues with their retry and dead-letter queues,
    /// and the exchanges.
    func cleanUp(queues: [String] = [], exchanges: [String] = []) async {
        guard let connection = try? await AMQPConnection.connect(url: SamplesEnvironment.brokerURL, connectionName: "cleanup-\(id)"),
            let channel = try? await connection.openChannel()
        else { return }
        for queue in queues + [basketService, catalogService] {
            for name in [queue, "\(queue).dead-letter", "\(queue).retry.50"] { _ = try? await channel.queueDelete(name) }
        }
        for exchange in exchanges + [exchange] { try? await channel.exchangeDelete(exchange) }
        await connection.close()
    }

    /// A bus that publishes into this world as another service would, running while `body` runs.
    func withPublisher<T: Sendable>(_ body: @Sendable (RabbitMQEventBus) async throws -> T) async throws -> T {
        var configuration = try RabbitMQEventBusConfiguration(url: SamplesEnvironment.brokerURL, serviceName: "publisher-\(id)")
        configuration.exchange = exchange
        configuration.exchangeDurable = false
        let bus = try RabbitMQEventBus(configuration: configuration, logger: SamplesEnvironment.logger("publisher-\(id)"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await bus.run() }
            defer { group.cancelAll() }
            return try await body(bus)
        }
    }
}

extension TestClientProtocol {
    /// Sends `body` as JSON.
    func send(_ method: HTTPRequest.Method, _ uri: String, json body: String? = nil) async throws -> TestResponse {
        try await execute(
            uri: uri, method: method, headers: body == nil ? [:] : [.contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) })
    }

    /// GETs `uri` and decodes the JSON answer as `type`.
    func get<Value: Decodable>(_ uri: String, as type: Value.Type) async throws -> Value {
        let response = try await execute(uri: uri, method: .get)
        #expect(response.status == .ok, "GET \(uri)")
        return try JSONDecoder().decode(type, from: Data(buffer: response.body))
    }

    /// Waits until `GET /health` answers 200 (bus connected, consuming, database up).
    func waitUntilHealthy(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually("healthy", sourceLocation: sourceLocation) {
            try await execute(uri: "/health", method: .get).status == .ok
        }
    }

    /// The value of the Prometheus sample `name` whose labels include all of `labels`, or 0 when absent.
    func metric(_ name: String, _ labels: [String: String]) async throws -> Double {
        let text = String(buffer: try await execute(uri: "/metrics", method: .get).body)
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }), let value = line.split(separator: " ").last else { continue }
            return Double(value) ?? 0
        }
        return 0
    }
}

extension TestResponse {
    /// The JSON error message of an error response (`{"error": {"message": "…"}}`).
    var errorMessage: String? {
        struct Body: Decodable {
            struct Error: Decodable { var message: String }
            var error: Error
        }
        return try? JSONDecoder().decode(Body.self, from: Data(buffer: body)).error.message
    }
}

extension TestResponse {
    /// The field an error response names (`{"error": {"message": "…", "field": "pageIndex"}}`).
    var errorField: String? {
        struct Body: Decodable {
            struct Error: Decodable { var field: String? }
            var error: Error
        }
        return try? JSONDecoder().decode(Body.self, from: Data(buffer: body)).error.field
    }
}

/// A basket of one line of `productId` at `price`.
func basketJSON(buyer: String, productId: Int = 1, name: String = ".NET Bot Black Hoodie", price: String = "19.5", quantity: Int = 1) -> String {
    """
    {"buyerId": "\(buyer)", "items": [{"id": "line-\(productId)", "productId": \(productId), "productName": "\(name)", \
    "unitPrice": \(price), "quantity": \(quantity)}]}
    """
}
