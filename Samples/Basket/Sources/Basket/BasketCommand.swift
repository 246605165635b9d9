import ArgumentParser
import BasketService
import Foundation
import SampleSupport

/// `basket`: the Basket sample service. Settings come from the environment; each flag overrides its variable.
@main
struct BasketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "basket",
        abstract: "The Basket sample: buyers' baskets, updated when the catalog publishes ProductPriceChangedIntegrationEvent.",
        discussion: "Stops gracefully on SIGTERM or SIGINT. GET /health and GET /metrics tell how it is doing.")

    @OptionGroup var options: SampleOptions

    func run() async throws {
        let configuration = try SampleConfiguration(
            environment: options.environment(), defaultServiceName: "basket", defaultPort: 5103)
        SampleLogging.bootstrap(level: configuration.logLevel)
        let application = try await buildBasketApplication(configuration: configuration)
        try await application.runService()
    }
}
