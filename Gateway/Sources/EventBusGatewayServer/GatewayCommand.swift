import ArgumentParser
import EventBusGateway
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `eventbus-gateway`: the HTTP gateway (issue 18) as a process: `serve` (the default) runs it, `subscriptions`
/// lists what it delivers to.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventbus-gateway",
        abstract: "Publish events over HTTP and deliver them to webhooks, on the event bus.",
        subcommands: [Serve.self, Subscriptions.self],
        defaultSubcommand: Serve.self)
}

/// `eventbus-gateway [serve]`: runs the gateway until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway (the default command).",
        discussion: "Environment: EVENTBUS_URL, EVENTBUS_GATEWAY_KEYS, EVENTBUS_GATEWAY_HOST, EVENTBUS_GATEWAY_PORT, EVENTBUS_GATEWAY_SQLITE_PATH, EVENTBUS_GATEWAY_POSTGRES_URL (over the file's values).")

    @Option(name: .shortAndLong, help: "The configuration file, JSON or YAML (.yaml, .yml).")
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        var logger = Logger(label: "eventbus-gateway")
        logger.logLevel = logLevel
        let configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(file: config)
        } catch {
            throw ValidationError(error.description)
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let gateway = GatewayService(configuration: configuration, metricsRegistry: registry, logger: logger)
        let group = ServiceGroup(services: [gateway], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
