import EventBus
import Hummingbird
import Logging
import SampleSupport

/// Builds the Basket service: its database, the bus with its `ProductPriceChangedIntegrationEvent` subscription,
/// the HTTP API and the basket page. Run the result with `runService()` (the `basket` executable) or test it with
/// HummingbirdTesting; its service group runs the PostgreSQL client (when used), the bus, which declares the
/// service queue, binds it and consumes, and the pruner of processed-message ids and of the handler's effect rows
/// (kept twice the events' time-to-live, at least 2 days); they shut down gracefully after the HTTP server.
///
/// - Parameters:
///   - configuration: where the broker and database are, and what to listen on.
///   - retryPolicy: how failed handlings are retried (tests make it quick).
///   - failures: failures the handler throws on purpose (``BasketSettings``); off by default.
///   - logger: the service's logger; by default one named after the service at the configured level.
public func buildBasketApplication(
    configuration: SampleConfiguration, retryPolicy: RetryPolicy = .eventGrid, failures: HandlerFailures = .off,
    logger: Logger? = nil
) async throws -> some ApplicationProtocol {
    let logger = logger ?? SampleLogging.logger(configuration.serviceName, level: configuration.logLevel)
    let database = try await SampleDatabase.open(configuration.database, logger: logger) { database in
        try await makeBasketRepository(database, logger: logger).migrate()
    }
    let repository = makeBasketRepository(database, logger: logger)
    let bus = try configuration.makeEventBus(database: database, logger: logger)
    let handler = ProductPriceChangedHandler(
        repository: repository, service: configuration.serviceName, logger: logger, failures: failures)
    try await bus.subscribe(
        ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(retryPolicy: retryPolicy), handler: handler.handle)

    let router = Router()
    // A server span per request (when a tracer is bootstrapped): what the handler publishes continues its trace.
    router.add(middleware: TracingMiddleware())
    router.addOperationalRoutes(health: HealthCheck(bus: bus, database: database))
    BasketController(repository: repository).addRoutes(to: router.group("api/v1/basket"))
    BasketPage(repository: repository).addRoutes(to: router)

    var application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: configuration.serviceName),
        logger: logger)
    // The samples' retention and interval, over a store that prunes the effect rows with the ids.
    let standard = database.processedMessagePruner(eventTimeToLive: retryPolicy.eventTimeToLive, logger: logger)
    let pruner = ProcessedMessagePruner(
        store: EffectPruningProcessedMessageStore(base: database.processedMessages, repository: repository),
        retention: standard.retention, interval: standard.interval, logger: logger)
    application.addServices(database.services + [bus, pruner])
    var metadata: Logger.Metadata = [
        "database": "\(configuration.database)", "exchange": "\(configuration.exchange)",
        "queue": "\(configuration.queueName ?? configuration.serviceName)", "port": "\(configuration.port)",
        "retry.delays": "\(retryPolicy.delays)",
    ]
    if let every = failures.failEvery { metadata["fail.every"] = "\(every)" }
    if let product = failures.failProduct { metadata["fail.product"] = "\(product)" }
    logger.info("basket configured", metadata: metadata)
    return application
}

/// The basket repository for `database`.
public func makeBasketRepository(_ database: SampleDatabase, logger: Logger) -> any BasketRepository {
    switch database {
    case .sqlite(let store): SQLiteBasketRepository(store: store)
    case .postgres(let store): PostgresBasketRepository(store: store, logger: logger)
    }
}
