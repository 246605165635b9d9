import ArgumentParser
import Foundation

/// The command-line flags of a sample service (`catalog`, `basket`); each overrides the environment variable of
/// the same meaning.
public struct SampleOptions: ParsableArguments {
    @Option(help: "Broker URL (EVENTBUS_URL).") var eventbusURL: String?
    @Option(help: "A SQLite path or a postgres:// URL (DATABASE_URL).") var databaseURL: String?
    @Option(help: "Address to listen on (HOST; default 127.0.0.1).") var host: String?
    @Option(help: "HTTP port (PORT).") var port: Int?
    @Option(help: "Service name on the bus (SERVICE_NAME).") var serviceName: String?
    @Option(help: "Exchange (EVENTBUS_EXCHANGE; default event_bus).") var exchange: String?
    @Option(help: "Exchange type: direct or topic (EVENTBUS_EXCHANGE_TYPE).") var exchangeType: String?
    @Option(help: "Whether the exchange is durable (EVENTBUS_EXCHANGE_DURABLE; eShop's is not).") var exchangeDurable: Bool?
    @Option(help: "Service queue (EVENTBUS_QUEUE; default the service name).") var queue: String?
    @Option(help: "Queue type: classic or quorum (EVENTBUS_QUEUE_TYPE; default classic).") var queueType: String?
    @Option(help: "Events handled at once, 1-256 (EVENTBUS_HANDLER_CONCURRENCY; default 1, which keeps queue order).")
    var handlerConcurrency: Int?
    @Option(help: "trace, debug, info, notice, warning, error or critical (LOG_LEVEL).") var logLevel: String?

    public init() {}

    /// The process environment with the given flags written over their variables.
    public func environment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        let flags: [(String, String?)] = [
            ("EVENTBUS_URL", eventbusURL), ("DATABASE_URL", databaseURL), ("HOST", host), ("PORT", port.map(String.init)),
            ("SERVICE_NAME", serviceName), ("EVENTBUS_EXCHANGE", exchange), ("EVENTBUS_EXCHANGE_TYPE", exchangeType),
            ("EVENTBUS_EXCHANGE_DURABLE", exchangeDurable.map(String.init)), ("EVENTBUS_QUEUE", queue),
            ("EVENTBUS_QUEUE_TYPE", queueType), ("EVENTBUS_HANDLER_CONCURRENCY", handlerConcurrency.map(String.init)),
            ("LOG_LEVEL", logLevel),
        ]
        for (name, value) in flags {
            if let value { environment[name] = value }
        }
        return environment
    }
}
