import EventBus
import EventBusPostgres
import EventBusRabbitMQ
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// Outbox on PostgreSQL + real broker.
@Suite(.timeLimit(.minutes(6))) struct PostgresBrokerTests {
    /// Saved `NotPublished` (the publisher marks it) or already `InProgress` for the publisher: either way it goes
    /// out once, is marked `Published` after one send, and is handled once.
    @Test(arguments: [false, true])
    func aCommittedEventIsPublishedConfirmedAndMarkedPublished(claimForPublisher: Bool) async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
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
            let entry = try await store.withTransaction {
                try await PostgresEventStore.save(event, on: $0, claimForPublisher: claimForPublisher, logger: logger)
            }
            #expect(entry.state == (claimForPublisher ? .inProgress : .notPublished))
            await publisher.publish([entry])
            let saved = try #require(try await store.entry(eventID: event.id))
            #expect(saved.state == .published)
            #expect(saved.timesSent == 1)
            try await eventually("the consumer handles the event", timeout: .seconds(30)) { await handled.count(event.id.uuidString) == 1 }
            await producer.stop()
            await consumer.stop()
        }
    }

    @Test func aBrokerDownAtCommitLeavesTheEventPublishedFailedAndTheRelayPublishesItOnceABrokerAnswers() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            let exchange = TestEnvironment.unique("exchange")
            let consumer = try await PriceChangedConsumer(exchange: exchange)
            let handled = consumer.handled, consumerService = consumer.service
            // At commit time the service's broker does not answer (nothing listens on port 1).
            let down = try RunningBus(
                timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange, url: "amqp://guest:guest@127.0.0.1:1/"
            ) { $0.publishTimeout = .seconds(1) }
            let up = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog"), exchange: exchange)
            consumer.start()
            down.start()
            up.start()
            defer { BrokerControl.deleteTopology(of: consumerService, exchange: exchange) }
            try await waitUntilRoutable(up.bus, eventType: "PriceChanged")

            let event = PriceChanged(productId: 5, newPrice: 7, oldPrice: 6)
            let entry = try await store.withTransaction { try await PostgresEventStore.save(event, on: $0, logger: logger) }
            await OutboxPublisher(log: store, bus: down.bus, retryBackoff: .milliseconds(100)).publish([entry])
            let failed = try #require(try await store.entry(eventID: event.id))
            #expect(failed.state == .publishedFailed)
            #expect(failed.timesSent == 1)
            #expect(failed.lastError?.contains(event.id.uuidString.lowercased()) == true)
            #expect(failed.nextAttemptAt != nil)

            // The broker is back: the relay publishes it.
            let relay = RunningRelay(OutboxRelay(log: store, bus: up.bus, configuration: .fast()))
            try await eventually("the relay publishes the event", timeout: .seconds(60)) {
                try await store.entry(eventID: event.id)?.state == .published
            }
            try await eventually("the consumer handles it", timeout: .seconds(30)) { await handled.count(event.id.uuidString) >= 1 }
            #expect(await handled.count(event.id.uuidString) == 1)
            #expect(try await store.entry(eventID: event.id)?.timesSent == 2)
            await relay.stop()
            await down.stop()
            await up.stop()
            await consumer.stop()
        }
    }

    @Test func aCrashBetweenPublishAndMarkRepublishesAndTheConsumersDedupKeepsTheEffectSingle() async throws {
        try await withPostgresStores(count: 2) { stores in
            let (catalog, basket) = (stores[0], stores[1])
            try await createDomainTables(basket)
            let logger = PostgresTestEnvironment.logger
            let exchange = TestEnvironment.unique("exchange")
            let consumerService = TestEnvironment.unique("basket")
            let consumer = try RunningBus(timing: .outbox, service: consumerService, exchange: exchange, store: basket)
            let calls = Tally()
            try await consumer.bus.subscribe(PriceChanged.self, options: try testSubscription(dedup: .redeliveredOnly)) { event, context in
                await calls.add(event.id.uuidString)
                try await basket.withTransaction { connection in
                    guard try await PostgresEventStore.markProcessed(consumer: context.consumer, messageID: context.eventID, on: connection, logger: logger)
                    else { return }
                    try await connection.query(
                        """
                        INSERT INTO price_effect (product_id, applied) VALUES (\(event.productId), 1)
                        ON CONFLICT (product_id) DO UPDATE SET applied = price_effect.applied + 1
                        """, logger: logger)
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
            let entry = try await catalog.withTransaction { try await PostgresEventStore.save(event, on: $0, logger: logger) }
            // What OutboxPublisher does, up to the crash: mark InProgress, publish with confirm; the mark never happens.
            #expect(try await catalog.markInProgress(eventID: entry.eventID, now: Date()))
            try await producer.bus.publish(entry.rawEvent)

            let relay = RunningRelay(OutboxRelay(log: catalog, bus: producer.bus, configuration: .fast(staleAfter: .seconds(4), publishTimeout: .seconds(2))))
            try await eventually("the relay re-sends the stale event", timeout: .seconds(30)) { try await catalog.entry(eventID: event.id)?.state == .published }
            #expect(try await catalog.entry(eventID: event.id)?.timesSent == 2)
            try await eventually("both copies reach the handler", timeout: .seconds(30)) { await calls.count(event.id.uuidString) == 2 }
            let rows = try await basket.client.query("SELECT applied FROM price_effect WHERE product_id = 42", logger: logger)
            var applied: [Int] = []
            for try await value in rows.decode(Int.self) { applied.append(value) }
            #expect(applied == [1])
            await relay.stop()
            await producer.stop()
            await consumer.stop()
        }
    }

    @Test func twoRelaysOnOneDatabasePublish10000RowsWithNoRowPublishedTwice() async throws {
        try await withPostgresStores(count: 2) { stores in
            let logger = PostgresTestEnvironment.logger
            let exchange = TestEnvironment.unique("exchange")
            let consumerService = TestEnvironment.unique("basket")
            let consumer = try RunningBus(timing: .outbox, service: consumerService, exchange: exchange) {
                $0.prefetch = 500
                $0.handlerConcurrency = 4
            }
            let delivered = Tally()
            // No dedup by the consumer: a row published twice would show up here twice.
            try await consumer.bus.subscribe(eventType: "PriceChanged", options: try testSubscription(dedup: .redeliveredOnly)) { raw, _ in
                guard !raw.id.hasPrefix("probe-") else { return }
                await delivered.add(raw.id)
            }
            let firstBus = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog-1"), exchange: exchange)
            let secondBus = try RunningBus(timing: .outbox, service: TestEnvironment.unique("catalog-2"), exchange: exchange)
            consumer.start()
            firstBus.start()
            secondBus.start()
            defer { BrokerControl.deleteTopology(of: consumerService, exchange: exchange) }
            try await waitUntilRoutable(firstBus.bus, eventType: "PriceChanged")
            try await waitUntilRoutable(secondBus.bus, eventType: "PriceChanged")

            let total = 10_000
            try await withThrowingTaskGroup(of: Void.self) { group in
                for part in 0..<4 {
                    group.addTask {
                        for chunk in stride(from: part * total / 4, to: (part + 1) * total / 4, by: 500) {
                            try await stores[part % 2].withTransaction { connection in
                                for product in chunk..<(chunk + 500) {
                                    _ = try await PostgresEventStore.save(
                                        PriceChanged(productId: product, newPrice: 1, oldPrice: 0), on: connection, logger: logger)
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await stores[0].pendingSummary().count == total)

            let byFirst = Tally()
            let bySecond = Tally()
            let relays = [
                RunningRelay(OutboxRelay(log: stores[0], bus: CountingBus(inner: firstBus.bus, published: byFirst), configuration: .fast())),
                RunningRelay(OutboxRelay(log: stores[1], bus: CountingBus(inner: secondBus.bus, published: bySecond), configuration: .fast())),
            ]
            try await eventually("the relays drain the outbox", timeout: .seconds(180)) { try await stores[0].pendingSummary().count == 0 }
            for relay in relays { await relay.stop() }
            // Published after both relays stopped: once the marker is handled, a row sent twice would have been seen.
            let marker = PriceChanged(productId: -1, newPrice: 1, oldPrice: 2)
            try await firstBus.bus.publish(marker)
            try await delivered.expectEachAddedOnce(total, marker: marker.id.uuidString.lowercased(), timeout: .seconds(120))

            let first = await byFirst.counts
            let second = await bySecond.counts
            #expect(first.count + second.count == total, "every row published by exactly one relay")
            #expect(Set(first.keys).isDisjoint(with: second.keys), "no row published by both relays")
            #expect(first.values.allSatisfy { $0 == 1 } && second.values.allSatisfy { $0 == 1 }, "no row published twice by one relay")
            #expect(!first.isEmpty && !second.isEmpty, "both relays took part: \(first.count) / \(second.count)")
            let rows = try await stores[0].client.query(
                "SELECT count(*)::int8 FROM integration_event_log WHERE state = 'Published' AND times_sent = 1", logger: logger)
            for try await published in rows.decode(Int.self) { #expect(published == total) }
            await firstBus.stop()
            await secondBus.stop()
            await consumer.stop()
        }
    }
}
