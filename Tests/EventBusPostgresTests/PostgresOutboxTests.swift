import EventBus
import EventBusPostgres
import Foundation
import PostgresNIO
import TestSupport
import Testing

struct TestFailure: Error {}

@Suite(.timeLimit(.minutes(3))) struct PostgresTransactionTests {
    @Test func aTransactionThatRollsBackLeavesNoEvent() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            try await createDomainTables(store)
            let logger = PostgresTestEnvironment.logger
            let event = PriceChanged(productId: 1, newPrice: 12, oldPrice: 10)
            await #expect(throws: TestFailure.self) {
                _ = try await store.withTransaction { connection -> IntegrationEventLogEntry in
                    try await connection.query("INSERT INTO catalog_item (id, price) VALUES (1, 12)", logger: logger)
                    let entry = try await PostgresEventStore.save(event, on: connection, logger: logger)
                    throw TestFailure()
                    return entry
                }
            }
            #expect(try await count(store, "integration_event_log") == 0)
            #expect(try await count(store, "catalog_item") == 0)
            #expect(try await store.entry(eventID: event.id) == nil)
        }
    }

    @Test func aTransactionThatCommitsLeavesExactlyOneEvent() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            try await createDomainTables(store)
            let logger = PostgresTestEnvironment.logger
            let event = PriceChanged(productId: 1, newPrice: 12.5, oldPrice: 10)
            let entry = try await store.withTransaction { connection in
                try await connection.query("INSERT INTO catalog_item (id, price) VALUES (1, 12.5)", logger: logger)
                return try await PostgresEventStore.save(event, on: connection, logger: logger)
            }
            #expect(try await count(store, "integration_event_log") == 1)
            #expect(try await count(store, "catalog_item") == 1)
            let saved = try #require(try await store.entry(eventID: event.id))
            #expect(saved.state == .notPublished)
            #expect(saved.timesSent == 0)
            #expect(saved.eventTypeName == "PriceChanged")
            #expect(saved.content == entry.content)
            // PostgreSQL's own transaction id when the caller gives none.
            #expect(entry.transactionID.flatMap(Int.init) != nil)
            #expect(saved.transactionID == entry.transactionID)
            #expect(try entry.rawEvent.decode(PriceChanged.self) == event)
            #expect(try await store.pendingSummary().count == 1)
        }
    }

    @Test func eventsSavedForThePublisherCommitInProgressAndTheRelayLeavesThemUntilStale() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            let dropped = PriceChanged(productId: 1, newPrice: 12, oldPrice: 10)
            await #expect(throws: TestFailure.self) {
                _ = try await store.withTransaction { connection -> IntegrationEventLogEntry in
                    let entry = try await PostgresEventStore.save(dropped, on: connection, claimForPublisher: true, logger: logger)
                    throw TestFailure()
                    return entry
                }
            }
            #expect(try await store.entry(eventID: dropped.id) == nil)

            let kept = [PriceChanged(productId: 2, newPrice: 5, oldPrice: 4), PriceChanged(productId: 3, newPrice: 6, oldPrice: 5)]
            let entries = try await store.withTransaction {
                try await PostgresEventStore.save(kept, on: $0, claimForPublisher: true, logger: logger)
            }
            try await expectClaimedForThePublisher(entries, of: kept, in: store) { try await store.entry(eventID: $0) }
        }
    }

    @Test func savingTheSameIdTwiceIsAClearError() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            let event = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
            _ = try await store.withTransaction { try await PostgresEventStore.save(event, on: $0, transactionID: "tx-1", logger: logger) }
            do {
                _ = try await store.withTransaction { try await PostgresEventStore.save(event, on: $0, logger: logger) }
                Issue.record("saving an id twice should fail")
            } catch let error as EventBusError {
                #expect("\(error)".contains("saved already"))
            }
            #expect(try await store.entry(eventID: event.id)?.transactionID == "tx-1")
        }
    }

    @Test func severalEventsSavedInOneStatementCommitTogetherInOrderAndADuplicateSavesNone() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            let events = (1...3).map { PriceChanged(productId: $0, newPrice: Decimal($0) + 0.25, oldPrice: 1) }
            let entries = try await store.withTransaction { connection in
                try await PostgresEventStore.save(events, on: connection, logger: logger)
            }
            #expect(entries.map(\.eventID) == events.map(\.id))
            #expect(try await count(store, "integration_event_log") == 3)
            for (event, entry) in zip(events, entries) {
                let saved = try #require(try await store.entry(eventID: event.id))
                #expect(saved.state == .notPublished)
                #expect(saved.transactionID == entries[0].transactionID)
                #expect(saved.content == entry.content)
                #expect(try saved.rawEvent.decode(PriceChanged.self) == event)
            }
            // One id already saved: the statement fails whole and the new event is not saved either.
            let fresh = PriceChanged(productId: 9, newPrice: 9, oldPrice: 8)
            do {
                _ = try await store.withTransaction { try await PostgresEventStore.save([fresh, events[1]], on: $0, logger: logger) }
                Issue.record("saving an id twice should fail")
            } catch let error as EventBusError {
                #expect("\(error)".contains("saved already"))
            }
            #expect(try await store.entry(eventID: fresh.id) == nil)
            #expect(try await count(store, "integration_event_log") == 3)
        }
    }

    @Test func aHandlerRecordsTheProcessedIdInItsOwnTransactionForAnExactlyOnceEffect() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            try await createDomainTables(store)
            let logger = PostgresTestEnvironment.logger
            let messageID = UUID().uuidString.lowercased()
            @Sendable func handle() async throws -> Bool {
                try await store.withTransaction { connection in
                    guard try await PostgresEventStore.markProcessed(consumer: "basket/PriceChanged", messageID: messageID, on: connection, logger: logger)
                    else { return false }
                    try await connection.query(
                        """
                        INSERT INTO price_effect (product_id, applied) VALUES (7, 1)
                        ON CONFLICT (product_id) DO UPDATE SET applied = price_effect.applied + 1
                        """, logger: logger)
                    return true
                }
            }
            await #expect(throws: TestFailure.self) {
                try await store.withTransaction { connection in
                    _ = try await PostgresEventStore.markProcessed(consumer: "basket/PriceChanged", messageID: messageID, on: connection, logger: logger)
                    throw TestFailure()
                }
            }
            #expect(try await store.contains(consumer: "basket/PriceChanged", messageID: messageID) == false)
            // Ten concurrent deliveries of one message: exactly one applies its effect.
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 { group.addTask { try await handle() } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await store.contains(consumer: "basket/PriceChanged", messageID: messageID))
            #expect(try await store.markProcessed(consumer: "basket/PriceChanged", messageID: messageID) == false)
            #expect(try await count(store, "price_effect") == 1)
            let rows = try await store.client.query("SELECT applied FROM price_effect WHERE product_id = 7", logger: logger)
            for try await applied in rows.decode(Int.self) { #expect(applied == 1) }
        }
    }
}

@Suite(.timeLimit(.minutes(3))) struct PostgresMaintenanceTests {
    @Test func migrationsRunTwiceWithoutHarm() async throws {
        try await withPostgresStores(count: 3) { stores in
            let logger = PostgresTestEnvironment.logger
            let event = PriceChanged(productId: 3, newPrice: 4, oldPrice: 5)
            _ = try await stores[0].withTransaction { try await PostgresEventStore.save(event, on: $0, logger: logger) }
            try await stores[0].migrate()
            // Several instances starting together.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores { group.addTask { try await store.migrate() } }
                try await group.waitForAll()
            }
            #expect(try await stores[1].entry(eventID: event.id)?.state == .notPublished)
            #expect(try await count(stores[0], "eventbus_migrations") == 2)  // versions 1 and 2, each once
        }
    }

    @Test func pruningRemovesOnlyOldPublishedEventsAndOldProcessedIds() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            let now = Date()
            let old = now.addingTimeInterval(-8 * 86_400)
            let events = [
                PriceChanged(creationDate: old, productId: 1, newPrice: 1, oldPrice: 0),  // old, published → pruned
                PriceChanged(creationDate: old, productId: 2, newPrice: 1, oldPrice: 0),  // old, failed → kept
                PriceChanged(creationDate: old, productId: 3, newPrice: 1, oldPrice: 0),  // old, not published → kept
                PriceChanged(creationDate: now, productId: 4, newPrice: 1, oldPrice: 0),  // new, published → kept
            ]
            _ = try await store.withTransaction { connection in
                var entries: [IntegrationEventLogEntry] = []
                for event in events { entries.append(try await PostgresEventStore.save(event, on: connection, logger: logger)) }
                return entries
            }
            #expect(try await store.markInProgress(eventIDs: [events[0].id, events[1].id, events[3].id], now: now).count == 3)
            try await store.markPublished(eventIDs: [events[0].id, events[3].id])
            try await store.markFailed(eventID: events[1].id, error: "broker down", nextAttemptAt: now)
            #expect(try await store.prunePublished(createdBefore: now.addingTimeInterval(-7 * 86_400)) == 1)
            #expect(try await store.entry(eventID: events[0].id) == nil)
            #expect(try await store.entry(eventID: events[1].id)?.state == .publishedFailed)
            #expect(try await store.entry(eventID: events[1].id)?.lastError == "broker down")
            #expect(try await store.entry(eventID: events[2].id)?.state == .notPublished)
            #expect(try await store.entry(eventID: events[3].id)?.state == .published)

            #expect(try await store.markProcessed(consumer: "basket", messageID: "old", at: old))
            #expect(try await store.markProcessed(consumer: "basket", messageID: "new", at: now))
            #expect(try await store.prune(processedBefore: now.addingTimeInterval(-2 * 86_400)) == 1)
            #expect(try await store.contains(consumer: "basket", messageID: "old") == false)
            #expect(try await store.contains(consumer: "basket", messageID: "new"))
        }
    }

    @Test func claimsPendingEventsInCreationOrderAndSkipsWhatIsNotDue() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            let base = Date().addingTimeInterval(-60)
            let events = [3, 0, 2, 1, 4].map { PriceChanged(creationDate: base.addingTimeInterval(Double($0)), productId: $0, newPrice: 1, oldPrice: 0) }
            _ = try await store.withTransaction { connection in
                for event in events { _ = try await PostgresEventStore.save(event, on: connection, logger: logger) }
            }
            let now = Date()
            let first = try await store.claimPending(limit: 2, staleAfter: .seconds(30), now: now)
            #expect(try first.map { try $0.rawEvent.decode(PriceChanged.self).productId } == [0, 1])
            #expect(first.allSatisfy { $0.state == .inProgress && $0.timesSent == 1 })
            let productZero = try #require(events.first { $0.productId == 0 })
            try await store.markFailed(eventID: productZero.id, error: "boom", nextAttemptAt: now.addingTimeInterval(60))
            let second = try await store.claimPending(limit: 10, staleAfter: .seconds(30), now: now)
            #expect(try second.map { try $0.rawEvent.decode(PriceChanged.self).productId } == [2, 3, 4])
            #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(30), now: now).isEmpty)
            let later = try await store.claimPending(limit: 10, staleAfter: .seconds(30), now: now.addingTimeInterval(61))
            #expect(try later.map { try $0.rawEvent.decode(PriceChanged.self).productId } == [0, 1, 2, 3, 4])
            #expect(later.first?.timesSent == 2)
            let summary = try await store.pendingSummary()
            #expect(summary.count == 5)
            #expect(summary.oldest.map { abs($0.timeIntervalSince(base)) < 0.001 } == true)
        }
    }

    @Test func eventsWithTheSameCreationTimeAreClaimedInTheOrderTheyWereSaved() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let logger = PostgresTestEnvironment.logger
            // One transaction raising 30 events stamped with the same instant: the relay must keep their order.
            let instant = Date().addingTimeInterval(-60)
            let events = (0..<30).map { PriceChanged(creationDate: instant, productId: $0, newPrice: 1, oldPrice: 0) }
            _ = try await store.withTransaction { connection in
                _ = try await PostgresEventStore.save(Array(events[0..<20]), on: connection, logger: logger)
                for event in events[20...] { _ = try await PostgresEventStore.save(event, on: connection, logger: logger) }
            }
            let claimed = try await store.claimPending(limit: 50, staleAfter: .seconds(30), now: Date())
            #expect(try claimed.map { try $0.rawEvent.decode(PriceChanged.self).productId } == Array(0..<30))
        }
    }

    @Test func anUnreachableDatabaseGivesAClearError() async throws {
        var configuration = try PostgresEventStore.clientConfiguration(url: "postgres://eventbus@127.0.0.1:1/eventbus")
        configuration.options.connectTimeout = .seconds(2)
        let client = PostgresClient(configuration: configuration, backgroundLogger: PostgresTestEnvironment.logger)
        let store = PostgresEventStore(client: client, operationTimeout: .seconds(3), logger: PostgresTestEnvironment.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do {
                try await withDeadline(.seconds(30), TestFailure()) { try await store.migrate() }
                Issue.record("migrating an unreachable database should fail")
            } catch let error as EventBusError {
                #expect("\(error)".contains("migrating the PostgreSQL outbox tables failed"))
                #expect("\(error)".contains("check that PostgreSQL is running"))
            }
            // The publisher never hangs on a database that is down: it gives up, the relay retries later.
            let entry = IntegrationEventLogEntry(eventID: UUID(), eventTypeName: "PriceChanged", creationTime: Date(), content: "{}")
            try await withDeadline(.seconds(30), TestFailure()) {
                await OutboxPublisher(log: store, bus: FailingBus()).publish([entry])
            }
        }
    }

    @Test func clientConfigurationParsesURLs() throws {
        let plain = try PostgresEventStore.clientConfiguration(url: "postgres://cat%40log:s3cr%2Ft@db.example:6543/catalog")
        #expect(plain.host == "db.example")
        #expect(plain.port == 6543)
        #expect(plain.username == "cat@log")
        #expect(plain.password == "s3cr/t")
        #expect(plain.database == "catalog")
        let defaults = try PostgresEventStore.clientConfiguration(url: "postgresql://basket@127.0.0.1")
        #expect(defaults.port == 5432)
        #expect(defaults.database == "basket")
        #expect(defaults.password == nil)
        _ = try PostgresEventStore.clientConfiguration(url: "postgres://u:p@h/d?sslmode=require")
        for bad in ["mysql://u@h/d", "postgres:///d", "postgres://h/d", "postgres://u:p@h/d?sslmode=sometimes"] {
            do {
                _ = try PostgresEventStore.clientConfiguration(url: bad)
                Issue.record("\(bad) should be refused")
            } catch let error as EventBusError {
                #expect(!"\(error)".contains(":p@"), "the password must be masked")
            }
        }
    }
}
