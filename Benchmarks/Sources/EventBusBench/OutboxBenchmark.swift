import AMQP
import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import GRDB
import PostgresNIO
import Synchronization

/// The event the outbox benchmark saves: a price change, as the Catalog sample's.
private struct OutboxBenchEvent: IntegrationEvent {
    static var eventTypeName: String { "OutboxBenchEvent" }
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

/// Outbox throughput (DESIGN section 6, issue "transactional outbox"): `shape.tasks` tasks each run, as fast as they
/// can, a transaction that updates one domain row and saves `shape.eventsPerTransaction` events (claimed for the
/// publisher: `claimForPublisher: true`), then hand the entries to ``OutboxPublisher`` (the normal path) while an
/// ``OutboxRelay`` runs beside them (default configuration). Events per second = events
/// confirmed by the broker / wall time until the last confirm; latency = from the commit returning to the broker's
/// confirm of that event (whoever published it: the publisher or the relay).
///
/// With `shape.relayDrain` the row measures the relay alone draining a backlog, as after the broker was away: the
/// tasks save every event `NotPublished` first, with no publisher and no relay running; then the relay starts
/// (default configuration) and the rate is events confirmed / time from its start to the last confirm (no latency:
/// the events waited for the backlog on purpose).
///
/// Durability is not traded for speed: PostgreSQL keeps `fsync` on and commits synchronously; SQLite commits in WAL
/// mode and the log is fsynced before any publish (the publisher's `makeCommitsDurable()`, the relay's claim). The broker queue the events are routed to keeps the
/// last 10 000 (`x-max-length`), so a long run does not fill the broker's disk; publishes stay persistent and
/// confirmed.
///
/// - Parameters:
///   - store: `"sqlite"` (a new file in a temporary directory) or `"postgres"` (a new schema, dropped afterwards).
///   - shape: How many tasks save, and how many events each transaction holds.
///   - count: How many events to save and publish.
///   - brokerURL: The broker.
///   - postgresURL: The PostgreSQL server, for `store == "postgres"`.
func runOutboxBenchmark(store: String, shape: OutboxShape, count: Int, brokerURL: String, postgresURL: String?) async throws
    -> (eventsPerSecond: Double, p50Ms: Double?, p99Ms: Double?)
{
    let concurrency = max(1, shape.tasks)
    let eventsPerTransaction = max(1, shape.eventsPerTransaction)
    let exchange = "outbox-bench.\(UInt32.random(in: 0...UInt32.max))"
    let queue = "\(exchange).events"
    let admin = try await AMQPConnection.connect(url: brokerURL, connectionName: "outbox-bench-admin")
    let channel: AMQPChannel
    do {
        channel = try await admin.openChannel()
    } catch {
        await admin.close()
        throw error
    }
    do {
        try await channel.exchangeDeclare(exchange, type: .direct, durable: false)
        try await channel.queueDeclare(queue, durable: true, arguments: ["x-max-length": .int32(10_000)])
        try await channel.queueBind(queue, exchange: exchange, routingKey: OutboxBenchEvent.eventTypeName)
        let result = try await runOutboxBenchmark(
            store: store, count: count, exchange: exchange, brokerURL: brokerURL, postgresURL: postgresURL, concurrency: concurrency,
            eventsPerTransaction: eventsPerTransaction, relayDrain: shape.relayDrain)
        _ = try? await channel.queueDelete(queue)
        try? await channel.exchangeDelete(exchange)
        await admin.close()
        return result
    } catch {
        _ = try? await channel.queueDelete(queue)
        try? await channel.exchangeDelete(exchange)
        await admin.close()
        throw error
    }
}

private func runOutboxBenchmark(
    store: String, count: Int, exchange: String, brokerURL: String, postgresURL: String?, concurrency: Int, eventsPerTransaction: Int,
    relayDrain: Bool
) async throws -> (eventsPerSecond: Double, p50Ms: Double?, p99Ms: Double?) {
    var configuration = try RabbitMQEventBusConfiguration(url: brokerURL, serviceName: "outbox-bench")
    configuration.exchange = exchange
    configuration.exchangeDurable = false
    let rabbit = try RabbitMQEventBus(configuration: configuration)
    let timings = OutboxTimings(count: count)
    let bus = TimingBus(inner: rabbit, timings: timings)

    switch store {
    case "sqlite":
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-outbox-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = try SQLiteEventStore(path: directory.appendingPathComponent("outbox.sqlite").path)
        try await sqlite.write { db in
            try db.execute(sql: "CREATE TABLE catalog_item (id INTEGER PRIMARY KEY, price TEXT NOT NULL)")
            for id in 0..<1_000 { try db.execute(sql: "INSERT INTO catalog_item (id, price) VALUES (?, '1.00')", arguments: [id]) }
        }
        return try await measureOutbox(
            log: sqlite, bus: bus, rabbit: rabbit, timings: timings, count: count, concurrency: concurrency,
            eventsPerTransaction: eventsPerTransaction, relayDrain: relayDrain
        ) { events in
            try await sqlite.write { db in
                try db.cachedStatement(sql: "UPDATE catalog_item SET price = ? WHERE id = ?")
                    .execute(arguments: ["\(events[0].newPrice)", events[0].productId])
                return try SQLiteEventStore.save(events, in: db, claimForPublisher: !relayDrain)
            }
        }
    case "postgres":
        guard let postgresURL else { throw EventBusError.invalidConfiguration("the postgres outbox benchmark needs a PostgreSQL URL") }
        let schema = "outbox_bench_\(UInt32.random(in: 0...UInt32.max))"
        var clientConfiguration = try PostgresEventStore.clientConfiguration(url: postgresURL)
        clientConfiguration.options.additionalStartupParameters = [("search_path", schema)]
        clientConfiguration.options.maximumConnections = concurrency + 8
        let client = PostgresClient(configuration: clientConfiguration)
        let postgres = PostgresEventStore(client: client)
        var logger = Logger(label: "outbox-bench")
        logger.logLevel = .critical
        let quiet = logger
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query("CREATE SCHEMA \(unescaped: schema)", logger: quiet)
            do {
                try await postgres.migrate()
                try await client.query("CREATE TABLE catalog_item (id integer PRIMARY KEY, price numeric NOT NULL)", logger: quiet)
                try await client.query(
                    "INSERT INTO catalog_item (id, price) SELECT i, 1.00 FROM generate_series(0, 999) AS i", logger: quiet)
                let result = try await measureOutbox(
                    log: postgres, bus: bus, rabbit: rabbit, timings: timings, count: count, concurrency: concurrency,
                    eventsPerTransaction: eventsPerTransaction, relayDrain: relayDrain
                ) { events in
                    try await postgres.withTransaction { connection in
                        try await connection.query(
                            "UPDATE catalog_item SET price = \(events[0].newPrice) WHERE id = \(events[0].productId)", logger: quiet)
                        return try await PostgresEventStore.save(events, on: connection, claimForPublisher: !relayDrain, logger: quiet)
                    }
                }
                _ = try? await client.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: quiet)
                return result
            } catch {
                _ = try? await client.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: quiet)
                throw error
            }
        }
    default:
        throw EventBusError.invalidConfiguration("outbox benchmark store must be sqlite or postgres, not '\(store)'")
    }
}

/// Runs the workers, the publisher and the relay; returns the rate and the commit→confirm percentiles.
private func measureOutbox(
    log: any IntegrationEventLog, bus: TimingBus, rabbit: RabbitMQEventBus, timings: OutboxTimings, count: Int, concurrency: Int,
    eventsPerTransaction: Int, relayDrain: Bool, saveInOneTransaction: @escaping @Sendable ([OutboxBenchEvent]) async throws -> [IntegrationEventLogEntry]
) async throws -> (eventsPerSecond: Double, p50Ms: Double?, p99Ms: Double?) {
    let publisher = OutboxPublisher(log: log, bus: bus)
    let relay = OutboxRelay(log: log, bus: bus)
    @Sendable func events(from first: Int) -> [OutboxBenchEvent] {
        (first..<min(first + eventsPerTransaction, count)).map { index in
            OutboxBenchEvent(productId: index % 1_000, newPrice: Decimal(index % 500) + 1, oldPrice: 1)
        }
    }
    return try await withThrowingTaskGroup(of: Void.self) { services in
        services.addTask { try await rabbit.run() }
        if !relayDrain { services.addTask { try await relay.run() } }
        defer { services.cancelAll() }
        // Warm up: the bus connects, the first publish goes through.
        let warmUp = try await saveInOneTransaction([OutboxBenchEvent(productId: 0, newPrice: 1, oldPrice: 1)])
        await publisher.publish(warmUp)
        let next = OutboxWorkCounter()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { workers in
            for _ in 0..<concurrency {
                workers.addTask {
                    while true {
                        let first = next.take() * eventsPerTransaction
                        guard first < count else { return }
                        let entries = try await saveInOneTransaction(events(from: first))
                        for entry in entries { timings.committed(entry.eventID) }
                        if !relayDrain { await publisher.publish(entries) }
                    }
                }
            }
            try await workers.waitForAll()
        }
        let drainStart = ContinuousClock.now
        if relayDrain { services.addTask { try await relay.run() } }
        // Events the relay took over (or that failed once) may still be on their way.
        let deadline = ContinuousClock.now + .seconds(120)
        while timings.confirmedCount < count + 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        guard let last = timings.lastConfirm, timings.confirmedCount >= count + 1 else {
            throw EventBusError.storeFailed("outbox benchmark: only \(timings.confirmedCount - 1) of \(count) events were confirmed within 120 s")
        }
        let from = relayDrain ? drainStart : start
        let seconds = Double((last - from).components.attoseconds) / 1e18 + Double((last - from).components.seconds)
        if relayDrain { return (Double(count) / seconds, nil, nil) }
        let latencies = timings.latenciesMilliseconds().sorted()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)]
        }
        return (Double(count) / seconds, percentile(0.50), percentile(0.99))
    }
}

/// Hands out event numbers to the workers.
private final class OutboxWorkCounter: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Commit and confirm instants per event.
private final class OutboxTimings: Sendable {
    private struct State {
        var commits: [UUID: ContinuousClock.Instant] = [:]
        var confirms: [String: ContinuousClock.Instant] = [:]
        var last: ContinuousClock.Instant?
    }

    private let state: Mutex<State>

    init(count: Int) {
        var state = State()
        state.commits.reserveCapacity(count + 1)
        state.confirms.reserveCapacity(count + 1)
        self.state = Mutex(state)
    }

    func committed(_ id: UUID) {
        let now = ContinuousClock.now
        state.withLock { $0.commits[id] = now }
    }

    func confirmed(_ id: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            if state.confirms[id] == nil {
                state.confirms[id] = now
                state.last = now
            }
        }
    }

    var confirmedCount: Int { state.withLock { $0.confirms.count } }
    var lastConfirm: ContinuousClock.Instant? { state.withLock { $0.last } }

    func latenciesMilliseconds() -> [Double] {
        state.withLock { state in
            state.commits.compactMap { id, committed in
                state.confirms[id.uuidString.lowercased()].map { confirmed in
                    let elapsed = confirmed - committed
                    return Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
                }
            }
        }
    }
}

/// Forwards to the real bus and notes when each publish is confirmed.
private struct TimingBus: EventBus {
    let inner: RabbitMQEventBus
    let timings: OutboxTimings

    func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        try await inner.publish(event, subject: subject)
        timings.confirmed(event.id.uuidString.lowercased())
    }

    func publish(_ event: RawEvent) async throws {
        try await inner.publish(event)
        timings.confirmed(event.id)
    }

    func publishAll(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        let results = await inner.publishAll(events)
        for (event, result) in zip(events, results) where (try? result.get()) != nil { timings.confirmed(event.id) }
        return results
    }

    func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID {
        try await inner.subscribe(type, options: options, handler: handler)
    }

    func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        try await inner.subscribe(batchesOf: type, batch: batch, options: options, handler: handler)
    }

    func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        try await inner.subscribe(eventType: eventType, options: options, handler: handler)
    }

    func unsubscribe(_ subscription: SubscriptionID) async throws {
        try await inner.unsubscribe(subscription)
    }
}
