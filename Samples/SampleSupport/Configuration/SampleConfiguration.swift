import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import Foundation
import Logging

/// A sample service's settings, read from the environment (12-factor style) and overridable by command-line flags.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `EVENTBUS_URL` | the broker, `amqp://user:pass@host:5672/vhost` | `amqp://guest:guest@127.0.0.1:5672/` |
/// | `DATABASE_URL` | a SQLite path or a `postgres://` URL | `<service>.sqlite` |
/// | `HOST`, `PORT` | where the HTTP server listens | `127.0.0.1`, the service's port |
/// | `SERVICE_NAME` | the bus's service name (queue, `app_id`, CloudEvents `source`) | `catalog` / `basket` |
/// | `EVENTBUS_EXCHANGE` | the exchange | `event_bus` |
/// | `EVENTBUS_EXCHANGE_TYPE` | `direct` or `topic` | `direct` |
/// | `EVENTBUS_EXCHANGE_DURABLE` | `true` / `false` | `false` for eShop's `eshop_event_bus`, else `true` |
/// | `EVENTBUS_QUEUE` | the service queue | the service name |
/// | `EVENTBUS_QUEUE_TYPE` | `classic` or `quorum` (replicated; for a cluster, with every node in `EVENTBUS_URL`) | `classic` |
/// | `EVENTBUS_HANDLER_CONCURRENCY` | how many events the service handles at once (1 keeps queue order; 1…256) | `1` |
/// | `LOG_LEVEL` | `trace` … `critical` | `info` |
public struct SampleConfiguration: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The service's name on the bus.
    public var serviceName: String
    /// The address the HTTP server binds (`0.0.0.0` in containers).
    public var host: String
    /// The HTTP port; 0 picks a free one.
    public var port: Int
    /// The broker URL.
    public var eventBusURL: String
    /// The database.
    public var database: DatabaseLocation
    /// The exchange events go through.
    public var exchange: String
    /// The exchange type, `direct` or `topic`.
    public var exchangeType: String
    /// Whether the exchange is durable. eShop declares `eshop_event_bus` non-durable, and a declaration must match.
    public var exchangeDurable: Bool
    /// The service queue; `nil` means the service name.
    public var queueName: String?
    /// The type of the service's queues (the service queue, its retry queues and its dead-letter queue): classic, or
    /// quorum for a cluster. A queue that exists keeps its type: changing this for an existing queue fails its
    /// declaration (drain and delete it first).
    public var queueType: RabbitMQEventBusConfiguration.QueueType
    /// How many events the service handles at once (``RabbitMQEventBusConfiguration/handlerConcurrency``).
    public var handlerConcurrency: Int
    /// The log level.
    public var logLevel: Logger.Level
    /// How long `publish` waits for a broker confirm before the outbox takes over.
    public var publishTimeout: Duration

    /// eShop's exchange name.
    public static let eShopExchange = "eshop_event_bus"

    /// Creates a configuration with explicit values and defaults for the rest.
    public init(
        serviceName: String, host: String = "127.0.0.1", port: Int, eventBusURL: String = "amqp://guest:guest@127.0.0.1:5672/",
        database: DatabaseLocation, exchange: String = "event_bus", exchangeType: String = "direct", exchangeDurable: Bool? = nil,
        queueName: String? = nil, queueType: RabbitMQEventBusConfiguration.QueueType = .classic, handlerConcurrency: Int = 1,
        logLevel: Logger.Level = .info, publishTimeout: Duration = .seconds(5)
    ) {
        self.serviceName = serviceName
        self.host = host
        self.port = port
        self.eventBusURL = eventBusURL
        self.database = database
        self.exchange = exchange
        self.exchangeType = exchangeType
        self.exchangeDurable = exchangeDurable ?? (exchange != Self.eShopExchange)
        self.queueName = queueName
        self.queueType = queueType
        self.handlerConcurrency = handlerConcurrency
        self.logLevel = logLevel
        self.publishTimeout = publishTimeout
    }

    /// Reads the configuration from environment variables (see the table above), with the service's defaults.
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, defaultServiceName: String, defaultPort: Int
    ) throws {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        let serviceName = value("SERVICE_NAME") ?? defaultServiceName
        let port: Int
        if let text = value("PORT") {
            guard let parsed = Int(text) else { throw EventBusError.invalidConfiguration("PORT must be a number, not '\(text)'") }
            port = parsed
        } else {
            port = defaultPort
        }
        let exchange = value("EVENTBUS_EXCHANGE") ?? "event_bus"
        var durable: Bool?
        if let text = value("EVENTBUS_EXCHANGE_DURABLE") {
            durable = try Self.parseBool(text, name: "EVENTBUS_EXCHANGE_DURABLE")
        }
        var queueType = RabbitMQEventBusConfiguration.QueueType.classic
        if let text = value("EVENTBUS_QUEUE_TYPE") {
            guard let type = RabbitMQEventBusConfiguration.QueueType(rawValue: text.lowercased()) else {
                throw EventBusError.invalidConfiguration("EVENTBUS_QUEUE_TYPE must be classic or quorum, not '\(text)'")
            }
            queueType = type
        }
        var handlerConcurrency = 1
        if let text = value("EVENTBUS_HANDLER_CONCURRENCY") {
            guard let count = Int(text), (1...256).contains(count) else {
                throw EventBusError.invalidConfiguration("EVENTBUS_HANDLER_CONCURRENCY must be a whole number from 1 to 256, not '\(text)'")
            }
            handlerConcurrency = count
        }
        var logLevel = Logger.Level.info
        if let text = value("LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw EventBusError.invalidConfiguration("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        }
        self.init(
            serviceName: serviceName, host: value("HOST") ?? "127.0.0.1", port: port,
            eventBusURL: value("EVENTBUS_URL") ?? "amqp://guest:guest@127.0.0.1:5672/",
            database: try DatabaseLocation(value("DATABASE_URL") ?? "\(serviceName).sqlite"),
            exchange: exchange, exchangeType: value("EVENTBUS_EXCHANGE_TYPE") ?? "direct", exchangeDurable: durable,
            queueName: value("EVENTBUS_QUEUE"), queueType: queueType, handlerConcurrency: handlerConcurrency, logLevel: logLevel)
        try validate()
    }

    /// The settings with the passwords of both URLs masked (`amqp://user:***@host/`), safe for logs and test output.
    public var description: String {
        "\(serviceName) on \(host):\(port), broker \(PostgresEventStore.maskedURL(eventBusURL)), database \(database), "
            + "exchange \(exchange) (\(exchangeType)\(exchangeDurable ? ", durable" : "")), queue \(queueName ?? serviceName) (\(queueType.rawValue)), handler concurrency \(handlerConcurrency), log level \(logLevel)"
    }

    /// The same as ``description``: a dump never shows a password either.
    public var debugDescription: String { description }

    /// Checks the values that cannot be checked by their types.
    public func validate() throws {
        guard (0...65_535).contains(port) else { throw EventBusError.invalidConfiguration("PORT must be 0...65535, not \(port)") }
        guard ["direct", "topic"].contains(exchangeType) else {
            throw EventBusError.invalidConfiguration("EVENTBUS_EXCHANGE_TYPE must be direct or topic, not '\(exchangeType)'")
        }
        guard !exchange.isEmpty else { throw EventBusError.invalidConfiguration("EVENTBUS_EXCHANGE is empty") }
        guard (1...256).contains(handlerConcurrency) else {
            throw EventBusError.invalidConfiguration("EVENTBUS_HANDLER_CONCURRENCY must be from 1 to 256, not \(handlerConcurrency)")
        }
    }

    /// The event bus configuration these settings describe.
    public func busConfiguration() throws -> RabbitMQEventBusConfiguration {
        try validate()
        var configuration = try RabbitMQEventBusConfiguration(url: eventBusURL, serviceName: serviceName)
        configuration.exchange = exchange
        configuration.exchangeType = .init(rawValue: exchangeType)
        configuration.exchangeDurable = exchangeDurable
        configuration.queueName = queueName
        configuration.queueType = queueType
        configuration.handlerConcurrency = handlerConcurrency
        configuration.publishTimeout = publishTimeout
        return configuration
    }

    static func parseBool(_ text: String, name: String) throws -> Bool {
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw EventBusError.invalidConfiguration("\(name) must be true or false, not '\(text)'")
        }
    }
}
