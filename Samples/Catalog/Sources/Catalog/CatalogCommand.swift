import ArgumentParser
import CatalogService
import Foundation
import SampleSupport

/// `catalog`: the Catalog sample service. Settings come from the environment; each flag overrides its variable.
@main
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "The Catalog sample: a product catalog that publishes ProductPriceChangedIntegrationEvent through the outbox.",
        discussion: "Stops gracefully on SIGTERM or SIGINT. GET /health and GET /metrics tell how it is doing.")

    @OptionGroup var options: SampleOptions

    func run() async throws {
        let configuration = try SampleConfiguration(
            environment: options.environment(), defaultServiceName: "catalog", defaultPort: 5101)
        SampleLogging.bootstrap(level: configuration.logLevel)
        let logger = SampleLogging.logger(configuration.serviceName, level: configuration.logLevel)
        let telemetry = try OpenTelemetryExport.bootstrap(serviceName: configuration.serviceName, logger: logger)
        let application = try await buildCatalogApplication(configuration: configuration)
        try await OpenTelemetryExport.run(application, with: telemetry, logger: logger)
    }
}
