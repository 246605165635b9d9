import EventBus
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

/// Outbox + real broker: the normal path, a broker down at commit time, and a crash between publish and mark.
@Suite(.timeLimit(.minutes(5))) struct SQLiteBrokerTests {
    /// Saved `NotPublished` (the publisher marks it) or already `InProgress` for the publisher: either way it goes
    /// out once, is marked `Published` after one send, and is handled once.
    @Test(arguments: [false, true])
    func aCommittedEventIsPublishedConfirmedAndMarkedPublished(claimForPublisher: Bool) async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let exchange = TestEnvironment.unique("exchange")
        let consumer = try await PriceChangedConsumer(exchange: exchange)
        let handled = consumer.handled, consumerService = consumer.service
        let producer = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange)
        consumer.start()
        producer.start()
        defer { BrokerControl.deleteTopology(of: consumerService, exchange: exchange) }
        try await waitUntilRoutable(producer.bus, eventType: "PriceChanged")

        let publisher = OutboxPublisher(log: store, bus: producer.bus)
        let event = PriceChanged(productId: 9, newPrice: 20, oldPrice: 19)
        let entry = try await store.write { db in
            try db.execute(sql: "INSERT INTO catalog_item (id, price) VALUES (9, '20')")
            return try SQLiteEventStore.save(event, in: db, claimForPublisher: claimForPublisher)
        }
        #expect(entry.state == (claimForPublisher ? .inProgress : .notPublished))
        await publisher.publish([entry])
        let saved = try #require(try await store.entry(eventID: event.id))
        #expect(saved.state == .published)
        #expect(saved.timesSent == 1)
        try await eventually("the consumer handles the event", timeout: .seconds(30)) { await handled.count(event.id.uuidString) == 1 }
        #expect(try await store.pendingSummary().count == 0)
        await producer.stop()
        await consumer.stop()
    }

    @Test func aBrokerDownAtCommitLeavesTheEventPublishedFailedAndTheRelayPublishesItOnceTheBrokerIsBack() async throws {
        // This test stops and starts its broker, so it runs its own node on port 5694.
        let port = 5694
        try await BrokerControl.run(["start", "--fresh"], port: port)
        do {
            try await brokerDownScenario(port: port)
        } catch {
            _ = try? await BrokerControl.run(["stop"], port: port)
            throw error
        }
        try await BrokerControl.run(["stop"], port: port)
    }

    private func brokerDownScenario(port: Int) async throws {
        let url = "amqp://guest:guest@127.0.0.1:\(port)/"
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let exchange = TestEnvironment.unique("exchange")
        let consumer = try await PriceChangedConsumer(exchange: exchange, url: url) { $0.exchangeDurable = true }
        let handled = consumer.handled
        let producer = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange, url: url) {
            $0.exchangeDurable = true
            $0.publishTimeout = .seconds(1)
        }
        consumer.start()
        producer.start()
        try await waitUntilRoutable(producer.bus, eventType: "PriceChanged")

        try await BrokerControl.run(["stop"], port: port)
        let publisher = OutboxPublisher(log: store, bus: producer.bus, retryBackoff: .milliseconds(100))
        let event = PriceChanged(productId: 5, newPrice: 7, oldPrice: 6)
        let entry = try await store.write { db in
            try db.execute(sql: "INSERT INTO catalog_item (id, price) VALUES (5, '7')")
            return try SQLiteEventStore.save(event, in: db)
        }
        await publisher.publish([entry])
        let failed = try #require(try await store.entry(eventID: event.id))
        #expect(failed.state == .publishedFailed)
        #expect(failed.timesSent == 1)
        #expect(failed.lastError?.isEmpty == false)
        #expect(failed.nextAttemptAt != nil)

        try await BrokerControl.run(["start"], port: port)
        let relay = RunningRelay(OutboxRelay(log: store, bus: producer.bus, configuration: .fast()))
        try await eventually("the relay publishes the event once the broker is back", timeout: .seconds(90)) {
            try await store.entry(eventID: event.id)?.state == .published
        }
        try await eventually("the consumer handles it", timeout: .seconds(60)) { await handled.count(event.id.uuidString) >= 1 }
        #expect(await handled.count(event.id.uuidString) == 1)
        #expect(try await store.pendingSummary().count == 0)
        await relay.stop()
        await producer.stop()
        await consumer.stop()
    }

    @Test func aCrashBetweenPublishAndMarkRepublishesAndTheConsumersDedupKeepsTheEffectSingle() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let catalog = try await makeStore(directory)
        let basket = try await makeStore(directory, name: "basket.sqlite")
        let exchange = TestEnvironment.unique("exchange")
        let consumerService = TestEnvironment.unique("basket")
        // The consumer's bus does not filter duplicates itself (redeliveredOnly): the handler's own transaction does.
        let consumer = try RunningBus(timing: .outbox, service: consumerService, exchange: exchange, store: basket)
        let calls = Tally()
        try await consumer.bus.subscribe(PriceChanged.self, options: try testSubscription(dedup: .redeliveredOnly)) { event, context in
            await calls.add(event.id.uuidString)
            try await basket.write { db in
                guard try SQLiteEventStore.markProcessed(consumer: context.consumer, messageID: context.eventID, in: db) else { return }
                try db.execute(
                    sql: "INSERT INTO price_effect (product_id, applied) VALUES (?, 1) ON CONFLICT(product_id) DO UPDATE SET applied = applied + 1",
                    arguments: [event.productId])
            }
        }
        // Publishes time out after 2 s, so the relay may take an event as stale after 4 s (twice that).
        let producer = try RunningBus(
            timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange, configure: { $0.publishTimeout = .seconds(2) })
        consumer.start()
        producer.start()
        defer { BrokerControl.deleteTopology(of: consumerService, exchange: exchange) }
        try await waitUntilRoutable(producer.bus, eventType: "PriceChanged")

        let event = PriceChanged(productId: 42, newPrice: 3, oldPrice: 2)
        let entry = try await catalog.write { db in try SQLiteEventStore.save(event, in: db) }
        // What OutboxPublisher does, up to the crash: mark InProgress, publish with confirm; the mark never happens.
        #expect(try await catalog.markInProgress(eventID: entry.eventID, now: Date()))
        try await producer.bus.publish(entry.rawEvent)
        #expect(try await catalog.entry(eventID: event.id)?.state == .inProgress)

        let relay = RunningRelay(OutboxRelay(log: catalog, bus: producer.bus, configuration: .fast(staleAfter: .seconds(4), publishTimeout: .seconds(2))))
        try await eventually("the relay re-sends the stale event", timeout: .seconds(30)) { try await catalog.entry(eventID: event.id)?.state == .published }
        #expect(try await catalog.entry(eventID: event.id)?.timesSent == 2)
        try await eventually("both copies reach the handler", timeout: .seconds(30)) { await calls.count(event.id.uuidString) == 2 }
        let applied = try await basket.database.read { db in try Int.fetchOne(db, sql: "SELECT applied FROM price_effect WHERE product_id = 42") }
        #expect(applied == 1)
        await relay.stop()
        await producer.stop()
        await consumer.stop()
    }

    @Test func theRelayRunsAsAServiceAndPublishesABacklogInBatches() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let exchange = TestEnvironment.unique("exchange")
        let consumerService = TestEnvironment.unique("basket")
        let consumer = try RunningBus(timing: .outbox, service: consumerService, exchange: exchange)
        let handled = Tally()
        try await consumer.bus.subscribe(eventType: "PriceChanged", options: try testSubscription(dedup: .redeliveredOnly)) { raw, _ in
            guard !raw.id.hasPrefix("probe-") else { return }
            await handled.add(raw.id)
        }
        let producer = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange)
        consumer.start()
        producer.start()
        defer { BrokerControl.deleteTopology(of: consumerService, exchange: exchange) }
        try await waitUntilRoutable(producer.bus, eventType: "PriceChanged")

        // Saved but never published by the service (it died after commit): the relay sends all of them, in
        // creation order (one relay, batches published in order, a consumer handling one event at a time).
        let total = 1_000
        let saved = try await saveBacklog(total, in: store)
        let published = Tally()
        let relay = RunningRelay(OutboxRelay(log: store, bus: CountingBus(inner: producer.bus, published: published), configuration: .fast(batchSize: 100)))
        try await eventually("the relay drains the backlog", timeout: .seconds(60)) { try await store.pendingSummary().count == 0 }
        await relay.stop()
        // Published after the relay stopped: once the marker is handled, a re-sent copy would have been seen.
        let marker = PriceChanged(productId: -1, newPrice: 1, oldPrice: 2)
        try await producer.bus.publish(marker)
        let markerID = marker.id.uuidString.lowercased()
        try await handled.expectEachAddedOnce(total, keys: Set(saved.map(\.rawEvent.id)), marker: markerID)
        #expect(await published.total == total)
        #expect(await handled.order == saved.map(\.rawEvent.id) + [markerID])
        await producer.stop()
        await consumer.stop()
    }

    @Test func aGracefulShutdownDuringABacklogPublishesTheBatchClaimedAheadAndLeavesNothingInProgress() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let exchange = TestEnvironment.unique("exchange")
        let consumer = try await PriceChangedConsumer(exchange: exchange)
        let consumerService = consumer.service
        let producer = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange)
        consumer.start()
        producer.start()
        defer { BrokerControl.deleteTopology(of: consumerService, exchange: exchange) }
        try await waitUntilRoutable(producer.bus, eventType: "PriceChanged")

        let total = 1_000
        _ = try await saveBacklog(total, in: store)
        // The shutdown comes while the third full batch is being published, when the fourth is claimed already.
        let published = Tally()
        let shutdown = ShutdownOnCall(3)
        let bus = CountingBus(inner: producer.bus, published: published, beforePublishAll: shutdown.called)
        let relay = OutboxRelay(log: store, bus: bus, configuration: .fast(batchSize: 100))
        let group = ServiceGroup(services: [relay], gracefulShutdownSignals: [], logger: Logger(label: "test.relay"))
        shutdown.trigger = { await group.triggerGracefulShutdown() }
        try await group.run()

        let status = try await store.status(failedLimit: 0)
        #expect(status.counts[.inProgress] == 0, "\(status.counts)")
        #expect(status.counts[.published] == 400, "\(status.counts)")
        #expect(status.counts[.notPublished] == total - 400, "\(status.counts)")
        #expect(await published.distinct == 400)
        #expect(await published.total == 400)
        await producer.stop()
        await consumer.stop()
    }
}

/// Calls `trigger` when `publishAll` is called for the `call`-th time.
private final class ShutdownOnCall: @unchecked Sendable {
    private let call: Int
    private let calls = Mutex(0)
    var trigger: (@Sendable () async -> Void)?

    init(_ call: Int) { self.call = call }

    func called() async {
        let number = calls.withLock { count -> Int in
            count += 1
            return count
        }
        if number == call { await trigger?() }
    }
}

/// `count` events saved `NotPublished` in one transaction, created 1 ms apart (creation order = index order), as a
/// service leaves them when it dies after its commits.
private func saveBacklog(_ count: Int, in store: SQLiteEventStore) async throws -> [IntegrationEventLogEntry] {
    let start = Date()
    return try await store.write { db in
        try (0..<count).map { index in
            let event = PriceChanged(creationDate: start.addingTimeInterval(Double(index) / 1_000), productId: index, newPrice: 1, oldPrice: 0)
            return try SQLiteEventStore.save(event, in: db)
        }
    }
}
