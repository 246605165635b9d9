import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// The gateway: `POST /api/events` publishes on the bus with confirms; each webhook subscription is a
/// ``WebhookDispatcher``; `PUT/GET/DELETE /api/subscriptions/{name}` manage them; `/health` and `/metrics` serve
/// operators. A swift-service-lifecycle `Service`: `run()` opens the store, runs the publishing bus, every dispatcher
/// and the HTTP server, and stops them all when cancelled or shut down.
///
/// ```swift
/// let gateway = GatewayService(configuration: try .load(file: "gateway.json"), logger: logger)
/// try await ServiceGroup(services: [gateway], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public final class GatewayService: Service, Sendable {
    public let configuration: GatewayConfiguration
    let logger: Logger
    let metricsRegistry: PrometheusCollectorRegistry?
    let injectedStores: (subscriptions: any SubscriptionStore, processed: any ProcessedMessageStore)?
    private let state = Mutex(State())
    private let listening = Mutex(Listening())

    /// Whether the HTTP server listens yet, and who waits for it.
    private struct Listening {
        var port: Int?
        /// Why `run()` ended before the server listened.
        var ended: String?
        var waiters: [CheckedContinuation<Int, any Error>] = []
    }

    struct State {
        var publisher: RabbitMQEventBus?
        var subscriptionStore: (any SubscriptionStore)?
        var processedStore: (any ProcessedMessageStore)?
        var base: RabbitMQEventBusConfiguration?
        var dispatchers: [String: (dispatcher: WebhookDispatcher, task: Task<Void, Never>, origin: Origin)] = [:]
        var stopped = false
    }

    /// Where a subscription was defined.
    public enum Origin: String, Sendable { case configFile, api }

    /// Creates the gateway; nothing opens until `run()`.
    /// - Parameters:
    ///   - configuration: The HTTP server, broker, stores and subscriptions to run with (``GatewayConfiguration``).
    ///   - stores: Stores to use instead of opening ``GatewayConfiguration/store`` (tests).
    ///   - metricsRegistry: What `GET /metrics` renders (the executable bootstraps swift-metrics with it).
    ///   - logger: Where the gateway, its HTTP server and its buses log.
    public init(
        configuration: GatewayConfiguration,
        stores: (subscriptions: any SubscriptionStore, processed: any ProcessedMessageStore)? = nil,
        metricsRegistry: PrometheusCollectorRegistry? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.injectedStores = stores
        self.metricsRegistry = metricsRegistry
        self.logger = logger
    }

    /// The port the HTTP server listens on, once it does (useful with port 0).
    /// - Throws: ``GatewayError/notListening(_:)`` when `run()` ended before the server listened (a bad
    ///   configuration, the store or the broker failing at start-up), with why.
    public func listeningPort() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let outcome = listening.withLock { state -> Result<Int, any Error>? in
                if let port = state.port { return .success(port) }
                if let ended = state.ended { return .failure(GatewayError.notListening(ended)) }
                state.waiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// `run()` ended: whoever still waits for the port learns why.
    private func endListening(_ reason: String) {
        let waiters = listening.withLock { state -> [CheckedContinuation<Int, any Error>] in
            guard state.port == nil else { return [] }
            state.ended = reason
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: GatewayError.notListening(reason)) }
    }

    /// The running dispatcher of a subscription.
    public func dispatcher(named name: String) -> WebhookDispatcher? {
        state.withLock { $0.dispatchers[name]?.dispatcher }
    }

    /// The bus `POST /api/events` publishes on (available while running).
    public var publisher: RabbitMQEventBus? { state.withLock { $0.publisher } }

    public func run() async throws {
        do {
            try await runUntilStopped()
        } catch {
            endListening("the gateway stopped before listening: \(error)")
            throw error
        }
        endListening("the gateway stopped before listening")
    }

    private func runUntilStopped() async throws {
        try configuration.validate()
        var base = try RabbitMQEventBusConfiguration(url: configuration.brokerURL, serviceName: configuration.serviceName)
        base.exchange = configuration.exchange
        base.maxEventSize = configuration.maxEventSize
        let publisher = try RabbitMQEventBus(configuration: base, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let stores: (subscriptions: any SubscriptionStore, processed: any ProcessedMessageStore)
            if let injectedStores {
                stores = injectedStores
            } else {
                switch configuration.store {
                case .sqlite(let path):
                    let store = try SQLiteEventStore(path: path, logger: logger)
                    stores = (SQLiteSubscriptionStore(store: store), store)
                case .postgres(let url):
                    let client = PostgresClient(configuration: try PostgresEventStore.clientConfiguration(url: url), backgroundLogger: logger)
                    group.addTask { await client.run() }
                    let store = PostgresEventStore(client: client, logger: logger)
                    try await store.migrate()
                    stores = (PostgresSubscriptionStore(store: store), store)
                }
            }
            try await stores.subscriptions.migrate()
            state.withLock {
                $0.publisher = publisher
                $0.subscriptionStore = stores.subscriptions
                $0.processedStore = stores.processed
                $0.base = base
            }
            group.addTask { try await publisher.run() }
            for (name, subscription) in configuration.subscriptions.sorted(by: { $0.key < $1.key }) {
                try start(try subscription.validated(name: name), origin: .configFile)
            }
            for (name, subscription) in try await stores.subscriptions.all().sorted(by: { $0.key < $1.key }) {
                do {
                    try start(try subscription.validated(name: name), origin: .api)
                } catch {
                    logger.error("a stored subscription cannot start; PUT it again", metadata: ["subscription": "\(name)", "error": "\(error)"])
                }
            }
            let application = Application(
                router: GatewayRoutes(gateway: self).router(),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "eventbus-gateway"),
                onServerRunning: { [self] channel in
                    let port = channel.localAddress?.port ?? 0
                    let waiters = self.listening.withLock { state in
                        state.port = port
                        defer { state.waiters = [] }
                        return state.waiters
                    }
                    for waiter in waiters { waiter.resume(returning: port) }
                },
                logger: logger)
            group.addTask { try await application.run() }
            logger.info("gateway started", metadata: ["configuration": "\(configuration)"])
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch {
                await stopAll()
                throw error
            }
            await stopAll()
        }
    }

    /// Starts (or replaces) a subscription's dispatcher.
    func start(_ settings: WebhookSettings, origin: Origin) throws {
        let (previous, base, store) = try state.withLock { state in
            guard !state.stopped, let base = state.base, let store = state.processedStore else { throw EventBusError.notRunning }
            return (state.dispatchers.removeValue(forKey: settings.name), base, store)
        }
        if let previous {
            previous.task.cancel()
        }
        let dispatcher = try WebhookDispatcher(
            settings: settings, base: base, queuePrefix: configuration.queuePrefix, store: store, gatewayName: configuration.serviceName,
            handshakeRetryDelay: configuration.handshakeRetryDelay, logger: logger)
        let logger = logger
        let task = Task {
            // A replaced dispatcher's consumer ends before the new one starts on the same queue.
            await previous?.task.value
            do {
                try await dispatcher.run()
            } catch is CancellationError {
            } catch {
                logger.error("webhook subscription stopped", metadata: ["subscription": "\(settings.name)", "error": "\(error)"])
            }
        }
        state.withLock { $0.dispatchers[settings.name] = (dispatcher, task, origin) }
        logger.info("webhook subscription started", metadata: ["subscription": "\(settings.name)", "queue": "\(dispatcher.queue)", "endpoint": "\(settings.endpoint.absoluteString)"])
    }

    /// Creates or replaces a subscription made over HTTP: validated, stored, then started. Returns whether it is new.
    public func putSubscription(name: String, _ subscription: WebhookSubscription) async throws -> Bool {
        let settings = try subscription.validated(name: name)
        let (store, existing) = state.withLock { ($0.subscriptionStore, $0.dispatchers[name]) }
        guard let store else { throw EventBusError.notRunning }
        if existing?.origin == .configFile {
            throw GatewayError.invalidSubscription(name: name, field: "name", reason: "defined in the config file; change it there")
        }
        try await store.save(name: name, subscription)
        try start(settings, origin: .api)
        return existing == nil
    }

    /// Stops a subscription made over HTTP, unbinds its event types (events already queued stay in its queue for
    /// `eventbus dead-letters` and friends) and removes it from the store.
    public func deleteSubscription(name: String) async throws -> Bool {
        let (store, existing) = state.withLock { ($0.subscriptionStore, $0.dispatchers[name]) }
        guard let store else { throw EventBusError.notRunning }
        if existing?.origin == .configFile {
            throw GatewayError.invalidSubscription(name: name, field: "name", reason: "defined in the config file; remove it there")
        }
        if let existing {
            await existing.dispatcher.unbind()
            existing.task.cancel()
            await existing.task.value
            state.withLock { state in
                if state.dispatchers[name]?.dispatcher === existing.dispatcher { state.dispatchers[name] = nil }
            }
        }
        return try await store.delete(name: name) || existing != nil
    }

    /// Every running subscription with where it came from.
    public func subscriptions() -> [(name: String, dispatcher: WebhookDispatcher, origin: Origin)] {
        state.withLock { state in state.dispatchers.map { ($0.key, $0.value.dispatcher, $0.value.origin) }.sorted { $0.name < $1.name } }
    }

    private func stopAll() async {
        let tasks = state.withLock { state in
            state.stopped = true
            return state.dispatchers.values.map(\.task)
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}
