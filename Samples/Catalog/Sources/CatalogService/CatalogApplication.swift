import EventBus
import Hummingbird
import Logging
import SampleSupport

/// Builds the Catalog service: its database (seeded with ``CatalogSeed/items`` on first start), the bus, the
/// outbox publisher and relay, and the HTTP API. Run the result with `runService()` (the `catalog` executable) or
/// test it with HummingbirdTesting; its service group runs the PostgreSQL client (when used), the bus, the relay and
/// the pruner of processed-message ids, and shuts them down gracefully after the HTTP server.
///
/// - Parameters:
///   - configuration: where the broker and database are, and what to listen on.
///   - outboxRelay: how the relay republishes failed events (tests make it quick).
///   - logger: the service's logger; by default one named after the service at the configured level.
public func buildCatalogApplication(
    configuration: SampleConfiguration, outboxRelay: OutboxRelay.Configuration = .init(), logger: Logger? = nil
) async throws -> some ApplicationProtocol {
    let logger = logger ?? SampleLogging.logger(configuration.serviceName, level: configuration.logLevel)
    let database = try await SampleDatabase.open(configuration.database, logger: logger) { database in
        let repository = makeCatalogRepository(database, logger: logger)
        try await repository.migrate()
        try await repository.seedIfEmpty(CatalogSeed.items)
    }
    let bus = try configuration.makeEventBus(database: database, logger: logger)
    let publisher = OutboxPublisher(log: database.eventLog, bus: bus, logger: logger)
    let relay = OutboxRelay(log: database.eventLog, bus: bus, configuration: outboxRelay, logger: logger)

    let router = Router()
    // A server span per request (when a tracer is bootstrapped): what the handler publishes continues its trace.
    router.add(middleware: TracingMiddleware())
    router.addOperationalRoutes(health: HealthCheck(bus: bus, database: database))
    CatalogController(repository: makeCatalogRepository(database, logger: logger), publisher: publisher)
        .addRoutes(to: router.group("api/v1/catalog"))

    var application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: configuration.serviceName),
        logger: logger)
    // The catalog subscribes to nothing yet, but its bus deduplicates with the database: keep that table bounded too.
    let pruner = database.processedMessagePruner(eventTimeToLive: RetryPolicy.eventGrid.eventTimeToLive, logger: logger)
    application.addServices(database.services + [bus, relay, pruner])
    logger.info("catalog configured", metadata: [
        "database": "\(configuration.database)", "exchange": "\(configuration.exchange)", "port": "\(configuration.port)",
    ])
    return application
}

/// The catalog repository for `database`.
public func makeCatalogRepository(_ database: SampleDatabase, logger: Logger) -> any CatalogRepository {
    switch database {
    case .sqlite(let store): SQLiteCatalogRepository(store: store)
    case .postgres(let store): PostgresCatalogRepository(store: store, logger: logger)
    }
}
