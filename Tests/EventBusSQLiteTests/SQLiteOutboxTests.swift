import EventBus
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import GRDB
import TestSupport
import Testing

/// A store on a new file, with a `catalog_item` table standing for the service's own data.
func makeStore(_ directory: URL, name: String = "catalog.sqlite") async throws -> SQLiteEventStore {
    let store = try SQLiteEventStore(path: directory.appendingPathComponent(name).path)
    try await store.write { db in
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS catalog_item (id INTEGER PRIMARY KEY, price TEXT NOT NULL)")
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS price_effect (product_id INTEGER PRIMARY KEY, applied INTEGER NOT NULL)")
    }
    return store
}

func eventCount(_ store: SQLiteEventStore) async throws -> Int {
    try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM integration_event_log") ?? 0 }
}

struct TestFailure: Error {}

@Suite(.timeLimit(.minutes(3))) struct SQLiteTransactionTests {
    @Test func aTransactionThatRollsBackLeavesNoEvent() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let event = PriceChanged(productId: 1, newPrice: 12, oldPrice: 10)
        await #expect(throws: TestFailure.self) {
            _ = try await store.write { db -> IntegrationEventLogEntry in
                try db.execute(sql: "INSERT INTO catalog_item (id, price) VALUES (1, '12')")
                let entry = try SQLiteEventStore.save(event, in: db)
                throw TestFailure()
                return entry
            }
        }
        #expect(try await eventCount(store) == 0)
        #expect(try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM catalog_item") } == 0)
        #expect(try await store.entry(eventID: event.id) == nil)
    }

    @Test func aTransactionThatCommitsLeavesExactlyOneEvent() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let event = PriceChanged(productId: 1, newPrice: 12.5, oldPrice: 10)
        let entry = try await store.write { db in
            try db.execute(sql: "INSERT INTO catalog_item (id, price) VALUES (1, '12.5')")
            return try SQLiteEventStore.save(event, in: db, transactionID: "tx-1")
        }
        #expect(try await eventCount(store) == 1)
        let saved = try #require(try await store.entry(eventID: event.id))
        #expect(saved.state == .notPublished)
        #expect(saved.timesSent == 0)
        #expect(saved.transactionID == "tx-1")
        #expect(saved.eventTypeName == "PriceChanged")
        #expect(saved.content == entry.content)
        #expect(try entry.rawEvent.decode(PriceChanged.self) == event)
        #expect(try await store.pendingSummary().count == 1)
    }

    @Test func eventsSavedForThePublisherCommitInProgressAndTheRelayLeavesThemUntilStale() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let dropped = PriceChanged(productId: 1, newPrice: 12, oldPrice: 10)
        await #expect(throws: TestFailure.self) {
            _ = try await store.write { db -> IntegrationEventLogEntry in
                let entry = try SQLiteEventStore.save(dropped, in: db, claimForPublisher: true)
                throw TestFailure()
                return entry
            }
        }
        #expect(try await store.entry(eventID: dropped.id) == nil)

        let kept = [PriceChanged(productId: 2, newPrice: 5, oldPrice: 4), PriceChanged(productId: 3, newPrice: 6, oldPrice: 5)]
        let entries = try await store.write { db in try SQLiteEventStore.save(kept, in: db, claimForPublisher: true) }
        try await expectClaimedForThePublisher(entries, of: kept, in: store) { try await store.entry(eventID: $0) }
    }

    @Test func savingOutsideATransactionOrTwiceIsAClearError() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let event = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
        do {
            try await store.database.writeWithoutTransaction { db in _ = try SQLiteEventStore.save(event, in: db) }
            Issue.record("saving outside a transaction should fail")
        } catch let error as EventBusError {
            #expect("\(error)".contains("not inside a transaction"))
        }
        _ = try await store.write { db in try SQLiteEventStore.save(event, in: db) }
        do {
            _ = try await store.write { db in try SQLiteEventStore.save(event, in: db) }
            Issue.record("saving an id twice should fail")
        } catch let error as EventBusError {
            #expect("\(error)".contains("saved already"))
        }
        #expect(try await eventCount(store) == 1)
    }

    @Test func aHandlerRecordsTheProcessedIdInItsOwnTransactionForAnExactlyOnceEffect() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory, name: "basket.sqlite")
        let messageID = UUID().uuidString.lowercased()
        @Sendable func handle() async throws -> Bool {
            try await store.write { db in
                guard try SQLiteEventStore.markProcessed(consumer: "basket/PriceChanged", messageID: messageID, in: db) else { return false }
                try db.execute(sql: "INSERT INTO price_effect (product_id, applied) VALUES (7, 1) ON CONFLICT(product_id) DO UPDATE SET applied = applied + 1")
                return true
            }
        }
        // A handler whose transaction rolls back records nothing.
        await #expect(throws: TestFailure.self) {
            try await store.write { db in
                _ = try SQLiteEventStore.markProcessed(consumer: "basket/PriceChanged", messageID: messageID, in: db)
                throw TestFailure()
            }
        }
        #expect(try await store.contains(consumer: "basket/PriceChanged", messageID: messageID) == false)
        #expect(try await handle() == true)
        #expect(try await handle() == false)
        #expect(try await store.contains(consumer: "basket/PriceChanged", messageID: messageID))
        #expect(try await store.contains(consumer: "other", messageID: messageID) == false)
        #expect(try await store.markProcessed(consumer: "basket/PriceChanged", messageID: messageID) == false)
        let applied = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT applied FROM price_effect WHERE product_id = 7") }
        #expect(applied == 1)
    }
}

@Suite(.timeLimit(.minutes(3))) struct SQLiteMaintenanceTests {
    @Test func migrationsRunTwiceWithoutHarm() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let path = directory.appendingPathComponent("outbox.sqlite").path
        let first = try SQLiteEventStore(path: path)
        let event = PriceChanged(productId: 3, newPrice: 4, oldPrice: 5)
        _ = try await first.write { db in try SQLiteEventStore.save(event, in: db) }
        try first.migrate()
        try first.migrate()
        let second = try SQLiteEventStore(path: path)
        try second.migrate()
        #expect(try await second.entry(eventID: event.id)?.state == .notPublished)
        let versions = try await second.database.read { db in try Int.fetchAll(db, sql: "SELECT version FROM eventbus_migrations") }
        #expect(versions == [1])
    }

    @Test func pruningRemovesOnlyOldPublishedEventsAndOldProcessedIds() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let now = Date()
        let old = now.addingTimeInterval(-8 * 86_400)
        let events = [
            PriceChanged(creationDate: old, productId: 1, newPrice: 1, oldPrice: 0),  // old, published → pruned
            PriceChanged(creationDate: old, productId: 2, newPrice: 1, oldPrice: 0),  // old, failed → kept
            PriceChanged(creationDate: old, productId: 3, newPrice: 1, oldPrice: 0),  // old, not published → kept
            PriceChanged(creationDate: now, productId: 4, newPrice: 1, oldPrice: 0),  // new, published → kept
        ]
        _ = try await store.write { db in try events.map { try SQLiteEventStore.save($0, in: db) } }
        #expect(try await store.markInProgress(eventIDs: [events[0].id, events[1].id, events[3].id], now: now).count == 3)
        try await store.markPublished(eventIDs: [events[0].id, events[3].id])
        try await store.markFailed(eventID: events[1].id, error: "broker down", nextAttemptAt: now)
        #expect(try await store.prunePublished(createdBefore: now.addingTimeInterval(-7 * 86_400)) == 1)
        #expect(try await store.entry(eventID: events[0].id) == nil)
        #expect(try await store.entry(eventID: events[1].id)?.state == .publishedFailed)
        #expect(try await store.entry(eventID: events[2].id)?.state == .notPublished)
        #expect(try await store.entry(eventID: events[3].id)?.state == .published)

        #expect(try await store.markProcessed(consumer: "basket", messageID: "old", at: old))
        #expect(try await store.markProcessed(consumer: "basket", messageID: "new", at: now))
        #expect(try await store.prune(processedBefore: now.addingTimeInterval(-2 * 86_400)) == 1)
        #expect(try await store.contains(consumer: "basket", messageID: "old") == false)
        #expect(try await store.contains(consumer: "basket", messageID: "new"))
    }

    @Test func pruningManyRowsWorksInBatches() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let old = Date().addingTimeInterval(-30 * 86_400)
        let ids = try await store.write { db in
            try (0..<12_000).map { index in
                try SQLiteEventStore.save(PriceChanged(creationDate: old, productId: index, newPrice: 1, oldPrice: 0), in: db).eventID
            }
        }
        for start in stride(from: 0, to: ids.count, by: 1_000) {
            let slice = Array(ids[start..<min(start + 1_000, ids.count)])
            _ = try await store.markInProgress(eventIDs: slice, now: Date())
            try await store.markPublished(eventIDs: slice)
        }
        #expect(try await store.prunePublished(createdBefore: Date().addingTimeInterval(-7 * 86_400)) == 12_000)
        #expect(try await eventCount(store) == 0)
    }

    @Test func aCorruptFileGivesAClearErrorNotACrash() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let path = directory.appendingPathComponent("corrupt.sqlite").path
        try Data(repeating: 0x5A, count: 64 * 1_024).write(to: URL(fileURLWithPath: path))
        do {
            _ = try SQLiteEventStore(path: path)
            Issue.record("opening a corrupt file should fail")
        } catch let error as EventBusError {
            let text = "\(error)"
            #expect(text.contains(path))
            #expect(text.contains("not a valid SQLite database"))
            #expect(text.contains("restore it from a backup"))
        }
    }

    @Test func aMissingDirectoryGivesAClearError() async throws {
        let path = "/nonexistent-\(UUID().uuidString)/outbox.sqlite"
        do {
            _ = try SQLiteEventStore(path: path)
            Issue.record("opening a file in a missing directory should fail")
        } catch let error as EventBusError {
            #expect("\(error)".contains(path))
            #expect("\(error)".contains("directory"))
        }
    }

    @Test func aLockedFileGivesAClearErrorAndTheStoreWorksAgainOnceReleased() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let path = directory.appendingPathComponent("locked.sqlite").path
        let store = try SQLiteEventStore(path: path, busyTimeout: .milliseconds(200))
        // Another "process" holds a write lock: its own connection, in an exclusive transaction, on another thread.
        let holder = try DatabaseQueue(path: path)
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? holder.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN EXCLUSIVE")
                locked.signal()
                release.wait()
                try db.execute(sql: "ROLLBACK")
            }
            finished.signal()
        }
        locked.wait()
        do {
            _ = try SQLiteEventStore(path: path, busyTimeout: .milliseconds(200))
            Issue.record("opening a locked file should fail")
        } catch let error as EventBusError {
            #expect("\(error)".contains(path))
            #expect("\(error)".contains("lock"))
        }
        do {
            _ = try await store.write { db in try SQLiteEventStore.save(PriceChanged(productId: 1, newPrice: 1, oldPrice: 0), in: db) }
            Issue.record("writing to a locked file should fail")
        } catch let error as EventBusError {
            #expect("\(error)".contains("fuser"))
        }
        release.signal()
        finished.wait()
        _ = try await store.write { db in try SQLiteEventStore.save(PriceChanged(productId: 2, newPrice: 1, oldPrice: 0), in: db) }
        #expect(try await eventCount(store) == 1)
    }
}

@Suite(.timeLimit(.minutes(3))) struct SQLiteClaimTests {
    @Test func claimsPendingEventsInCreationOrderAndSkipsWhatIsNotDue() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let base = Date().addingTimeInterval(-60)
        // Saved out of order; claimed oldest first.
        let events = [3, 0, 2, 1, 4].map { PriceChanged(creationDate: base.addingTimeInterval(Double($0)), productId: $0, newPrice: 1, oldPrice: 0) }
        _ = try await store.write { db in try events.map { try SQLiteEventStore.save($0, in: db) } }
        let now = Date()
        let first = try await store.claimPending(limit: 2, staleAfter: .seconds(30), now: now)
        #expect(try first.map { try $0.rawEvent.decode(PriceChanged.self).productId } == [0, 1])
        #expect(first.allSatisfy { $0.state == .inProgress && $0.timesSent == 1 })
        // Claimed rows are not stale yet; a failure not due yet is skipped too.
        let byProduct = Dictionary(uniqueKeysWithValues: events.map { ($0.productId, $0.id) })
        try await store.markFailed(eventID: try #require(byProduct[0]), error: "boom", nextAttemptAt: now.addingTimeInterval(60))
        let second = try await store.claimPending(limit: 10, staleAfter: .seconds(30), now: now)
        #expect(try second.map { try $0.rawEvent.decode(PriceChanged.self).productId } == [2, 3, 4])
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(30), now: now).isEmpty)
        // Later: the failure is due, and the InProgress rows are stale.
        let later = try await store.claimPending(limit: 10, staleAfter: .seconds(30), now: now.addingTimeInterval(61))
        #expect(try later.map { try $0.rawEvent.decode(PriceChanged.self).productId } == [0, 1, 2, 3, 4])
        #expect(later.first?.timesSent == 2)
        #expect(try await store.pendingSummary().count == 5)
        #expect(try await store.pendingSummary().oldest.map { abs($0.timeIntervalSince(base)) < 0.001 } == true)
    }

    @Test func eventsWithTheSameCreationTimeAreClaimedInTheOrderTheyWereSaved() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        // One transaction raising 30 events stamped with the same instant: the relay must keep their order.
        let instant = Date().addingTimeInterval(-60)
        let events = (0..<30).map { PriceChanged(creationDate: instant, productId: $0, newPrice: 1, oldPrice: 0) }
        _ = try await store.write { db in
            _ = try SQLiteEventStore.save(Array(events[0..<20]), in: db)
            for event in events[20...] { _ = try SQLiteEventStore.save(event, in: db) }
        }
        let claimed = try await store.claimPending(limit: 50, staleAfter: .seconds(30), now: Date())
        #expect(try claimed.map { try $0.rawEvent.decode(PriceChanged.self).productId } == Array(0..<30))
    }

    @Test func twoStoresOnOneFileNeverClaimTheSameRow() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let first = try await makeStore(directory)
        let second = try SQLiteEventStore(path: directory.appendingPathComponent("catalog.sqlite").path)
        _ = try await first.write { db in
            try (0..<2_000).map { try SQLiteEventStore.save(PriceChanged(productId: $0, newPrice: 1, oldPrice: 0), in: db) }
        }
        let claimed = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in [first, second] {
                group.addTask {
                    while true {
                        let batch = try await store.claimPending(limit: 50, staleAfter: .seconds(3_600), now: Date())
                        if batch.isEmpty { return }
                        for entry in batch { await claimed.add(entry.eventID.uuidString) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await claimed.distinct == 2_000)
        #expect(await claimed.maximum == 1)
    }

    @Test func theRelayBacksOffExponentiallyWhileTheBusFails() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let event = PriceChanged(productId: 1, newPrice: 1, oldPrice: 0)
        _ = try await store.write { db in try SQLiteEventStore.save(event, in: db) }
        var configuration = OutboxRelay.Configuration.fast()
        configuration.initialBackoff = .seconds(10)
        configuration.maximumBackoff = .seconds(35)
        let relay = OutboxRelay(log: store, bus: FailingBus(), configuration: configuration)
        // The backoff counts from the failure, which happens somewhere inside relayOnce(): bracket it by the times
        // before and after the call (a busy machine can take a second or more for it), not by a tolerance.
        var windows: [ClosedRange<Double>] = []
        for attempt in 1...4 {
            let before = Date()
            #expect(try await relay.relayOnce() == 0)
            let after = Date()
            let entry = try #require(try await store.entry(eventID: event.id))
            #expect(entry.state == .publishedFailed)
            #expect(entry.timesSent == attempt)
            #expect(entry.lastError?.contains("no broker here") == true)
            let next = try #require(entry.nextAttemptAt)
            windows.append((next.timeIntervalSince(after) - 0.01)...(next.timeIntervalSince(before) + 0.01))
            // Make it due again at once.
            try await store.markFailed(eventID: event.id, error: "no broker here", nextAttemptAt: Date().addingTimeInterval(-1))
        }
        let expected: [Double] = [10, 20, 35, 35]
        for (window, expected) in zip(windows, expected) { #expect(window.contains(expected), "\(windows)") }
    }
}

/// The SQLite store, recording in `steps` when the publisher marks events and makes commits durable (and failing
/// the latter when `durabilityFails`).
struct RecordingLog: IntegrationEventLog {
    let store: SQLiteEventStore
    let steps: Tally
    var durabilityFails = false

    func claimPending(limit: Int, staleAfter: Duration, now: Date) async throws -> [IntegrationEventLogEntry] {
        try await store.claimPending(limit: limit, staleAfter: staleAfter, now: now)
    }
    func markInProgress(eventID: UUID, now: Date) async throws -> Bool { try await store.markInProgress(eventID: eventID, now: now) }
    func markInProgress(eventIDs: [UUID], now: Date) async throws -> Set<UUID> {
        await steps.add("mark")
        return try await store.markInProgress(eventIDs: eventIDs, now: now)
    }
    func markPublished(eventID: UUID) async throws { try await store.markPublished(eventID: eventID) }
    func markPublished(eventIDs: [UUID]) async throws { try await store.markPublished(eventIDs: eventIDs) }
    func markFailed(eventID: UUID, error: String, nextAttemptAt: Date) async throws {
        try await store.markFailed(eventID: eventID, error: error, nextAttemptAt: nextAttemptAt)
    }
    func prunePublished(createdBefore date: Date) async throws -> Int { try await store.prunePublished(createdBefore: date) }
    func pendingSummary() async throws -> (count: Int, oldest: Date?) { try await store.pendingSummary() }
    func status(failedLimit: Int) async throws -> OutboxStatus { try await store.status(failedLimit: failedLimit) }
    func retryFailed(eventIDs: [UUID]?, now: Date) async throws -> Int { try await store.retryFailed(eventIDs: eventIDs, now: now) }
    func makeCommitsDurable() async throws {
        await steps.add("durable")
        if durabilityFails { throw TestFailure() }
        try await store.makeCommitsDurable()
    }
}

@Suite(.timeLimit(.minutes(3))) struct SQLitePublisherTests {
    @Test func eventsSavedForThePublisherAreMadeDurableThenPublishedWithoutAMarkingTransaction() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let steps = Tally()
        let publisher = OutboxPublisher(
            log: RecordingLog(store: store, steps: steps), bus: CountingBus(inner: InMemoryEventBus(), published: steps))
        let events = [PriceChanged(productId: 1, newPrice: 2, oldPrice: 1), PriceChanged(productId: 2, newPrice: 3, oldPrice: 2)]
        let entries = try await store.write { db in try SQLiteEventStore.save(events, in: db, claimForPublisher: true) }
        await publisher.publish(entries)
        #expect(await steps.order == ["durable"] + events.map(\.id.lowercasedText))
        for event in events {
            let saved = try #require(try await store.entry(eventID: event.id))
            #expect(saved.state == .published)
            #expect(saved.timesSent == 1)
        }

        // Saved NotPublished: marked (whose commit is durable), no separate durability step.
        let plain = PriceChanged(productId: 3, newPrice: 4, oldPrice: 3)
        let entry = try await store.write { db in try SQLiteEventStore.save(plain, in: db) }
        await publisher.publish([entry])
        #expect(await steps.order.suffix(2) == ["mark", plain.id.lowercasedText])
        #expect(try await store.entry(eventID: plain.id)?.state == .published)
    }

    @Test func eventsThatCannotBeMadeDurableAreNotPublishedAndWaitForTheRelay() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let store = try await makeStore(directory)
        let steps = Tally()
        let publisher = OutboxPublisher(
            log: RecordingLog(store: store, steps: steps, durabilityFails: true),
            bus: CountingBus(inner: InMemoryEventBus(), published: steps))
        let event = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
        let entry = try await store.write { db in try SQLiteEventStore.save(event, in: db, claimForPublisher: true) }
        await publisher.publish([entry])
        #expect(await steps.order == ["durable"])
        let saved = try #require(try await store.entry(eventID: event.id))
        #expect(saved.state == .inProgress)
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(3_600), now: Date().addingTimeInterval(7_200)).map(\.eventID) == [event.id])
    }
}
