import ArgumentParser
import BasketService
import Foundation
import SampleSupport

/// `basket`: the Basket sample service. Settings come from the environment; each flag overrides its variable. The
/// `BASKET_*` variables (`BasketSettings`: retry delays, injected handler failures) have no flags.
@main
struct BasketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "basket",
        abstract: "The Basket sample: buyers' baskets, updated when the catalog publishes ProductPriceChangedIntegrationEvent.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT. GET /health and GET /metrics tell how it is doing. \
            BASKET_RETRY_DELAYS_MS=a,b,c sets the retry delays in ms; BASKET_FAIL_EVERY=N and BASKET_FAIL_PRODUCT=id make \
            the handler fail on purpose (every N-th new event once, or always for one product); all off by default.
            """)

    @OptionGroup var options: SampleOptions

    func run() async throws {
        let environment = options.environment()
        let configuration = try SampleConfiguration(environment: environment, defaultServiceName: "basket", defaultPort: 5103)
        let settings = try BasketSettings(environment: environment)
        SampleLogging.bootstrap(level: configuration.logLevel)
        let logger = SampleLogging.logger(configuration.serviceName, level: configuration.logLevel)
        let telemetry = try OpenTelemetryExport.bootstrap(serviceName: configuration.serviceName, logger: logger)
        let application = try await buildBasketApplication(
            configuration: configuration, retryPolicy: settings.retryPolicy, failures: settings.failures)
        try await OpenTelemetryExport.run(application, with: telemetry, logger: logger)
    }
}
