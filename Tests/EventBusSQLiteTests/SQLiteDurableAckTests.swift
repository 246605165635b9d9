import EventBus
import Foundation
import GRDB
import Logging
import Synchronization
import TestSupport
import Testing

@testable import EventBusSQLite

/// Acknowledging after the effect is on disk (issue 16, item 4), and the processed-id record across connections
/// (item 8), on a real SQLite file.
@Suite(.timeLimit(.minutes(2))) struct SQLiteDurableAckTests {
    /// What each handled event saw: the flush rounds started when its handler's transaction had committed, and the
    /// rounds completed when the pipeline decided to acknowledge it.
    final class Observations: Sendable {
        private let state = Mutex<(committed: [String: Int], decided: [String: Int])>(([:], [:]))
        func committed(_ id: String, roundsStarted: Int) { state.withLock { $0.committed[id] = roundsStarted } }
        func decided(_ id: String, roundsCompleted: Int) { state.withLock { $0.decided[id] = roundsCompleted } }
        var decidedCount: Int { state.withLock { $0.decided.count } }
        var snapshot: (committed: [String: Int], decided: [String: Int]) { state.withLock { $0 } }
    }

    @Test func concurrentHandlersShareOneFsyncAndNoneIsAcknowledgedBeforeItsEffectIsOnDisk() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await makeStore(directory, name: "basket.sqlite")
        let barrier = store.walSync
        let observations = Observations()
        // A handler as the Basket sample writes it: the effect and the processed id in one transaction of its own.
        let subscription = Subscription.raw(eventType: "PriceChanged", options: try testSubscription()) { raw, context in
            try await store.write { db in
                guard try SQLiteEventStore.markProcessed(consumer: context.consumer, messageID: context.eventID, in: db) else { return }
                try db.execute(
                    sql: "INSERT INTO price_effect (product_id, applied) VALUES (?, 1)",
                    arguments: [Int(raw.id.dropFirst(6)) ?? 0])
            }
            observations.committed(raw.id, roundsStarted: barrier.counters.started)
        }
        let registry = SubscriptionRegistry()
        _ = try registry.add(subscription)
        let pipeline = DeliveryPipeline(
            registry: registry, store: store, serviceName: "basket", logger: Logger(label: "test"), metrics: BusMetrics(service: "basket"))

        // The flush queue held: every handled event must pile up at the barrier, none may be decided meanwhile.
        let hold = DispatchSemaphore(value: 0)
        barrier.queue.async { hold.wait() }
        let roundsBefore = barrier.counters.completed
        let count = 20
        let events = (1...count).map { index in
            InboundEvent(
                raw: RawEvent(eventType: "PriceChanged", id: "event-\(index)", payload: Data("{}".utf8)), redelivered: false,
                attempt: 1, targetSubscription: nil, firstDeliveredAt: Date())
        }
        let decisions = Task {
            await withTaskGroup(of: [DeliveryDecision].self) { group in
                for event in events {
                    group.addTask {
                        let decision = await pipeline.process(event, with: subscription)
                        observations.decided(event.raw.id, roundsCompleted: barrier.counters.completed)
                        return decision
                    }
                }
                var all: [DeliveryDecision] = []
                for await decision in group { all += decision }
                return all
            }
        }
        do {
            try await eventually("all \(count) handled events wait for the flush", timeout: .seconds(30)) { barrier.counters.waiting == count }
        } catch {
            hold.signal()
            _ = await decisions.value
            throw error
        }
        let effects = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM price_effect") }
        #expect(effects == count)
        #expect(observations.decidedCount == 0)
        hold.signal()

        let all = await decisions.value
        #expect(all == Array(repeating: .handled(subscription: subscription.id.name), count: count))
        // One flush covered every event (fewer than one per event), and it started after each handler's commit.
        let rounds = barrier.counters.completed - roundsBefore
        #expect(rounds == 1, "\(rounds) flushes for \(count) events")
        let seen = observations.snapshot
        for event in events {
            let committed = try #require(seen.committed[event.raw.id])
            let decided = try #require(seen.decided[event.raw.id])
            #expect(decided >= committed + 1, "\(event.raw.id): decided after \(decided) flushes, committed when \(committed) had started")
        }
    }

    @Test func aFailedFlushSendsTheEventsBackToTheFailurePathInsteadOfAcknowledgingThem() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = FlushFailingStore()
        let subscription = Subscription.raw(eventType: "PriceChanged", options: try testSubscription()) { _, _ in }
        let registry = SubscriptionRegistry()
        _ = try registry.add(subscription)
        let pipeline = DeliveryPipeline(
            registry: registry, store: store, serviceName: "basket", logger: Logger(label: "test"), metrics: BusMetrics(service: "basket"))
        let event = InboundEvent(
            raw: RawEvent(eventType: "PriceChanged", id: "event-1", payload: Data("{}".utf8)), redelivered: false, attempt: 1,
            targetSubscription: nil, firstDeliveredAt: Date())
        let decisions = await pipeline.process(event, with: subscription)
        guard case .retry(_, let attempt, _, let error) = decisions.first else {
            Issue.record("expected a retry, got \(decisions)")
            return
        }
        #expect(attempt == 2)
        #expect(error.contains("disk gone"))
    }

    @Test func twoConnectionsRecordingOneIdAtOnceLetExactlyOneWinAndApplyTheEffectOnce() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Two stores on one file: two instances of a service, each with its own connections.
        let first = try await makeStore(directory, name: "shared.sqlite")
        let second = try SQLiteEventStore(path: directory.appendingPathComponent("shared.sqlite").path)
        let ids = (1...50).map { "message-\($0)" }
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for id in ids {
                for store in [first, second] {
                    group.addTask { try await store.markProcessed(consumer: "basket/prices", messageID: id, at: Date()) }
                }
            }
            var wins = 0
            for try await won in group where won { wins += 1 }
            return wins
        }
        #expect(wins == ids.count)

        // In the handlers' own transactions: whoever records second gets false and applies nothing.
        let applied = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (index, store) in [first, second, first, second].enumerated() {
                group.addTask {
                    try await store.write { db -> Bool in
                        guard try SQLiteEventStore.markProcessed(consumer: "basket/prices", messageID: "price-42", in: db) else { return false }
                        try db.execute(sql: "INSERT INTO price_effect (product_id, applied) VALUES (42, ?)", arguments: [index])
                        return true
                    }
                }
            }
            var applied = 0
            for try await won in group where won { applied += 1 }
            return applied
        }
        #expect(applied == 1)
        let effects = try await first.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM price_effect WHERE product_id = 42") }
        #expect(effects == 1)
    }
}

/// A processed-message store whose flush fails, as a disk that went away.
struct FlushFailingStore: ProcessedMessageStore {
    struct DiskGone: Error, CustomStringConvertible {
        var description: String { "disk gone" }
    }

    let inner = InMemoryProcessedMessageStore()
    func contains(consumer: String, messageID: String) async throws -> Bool {
        try await inner.contains(consumer: consumer, messageID: messageID)
    }
    func markProcessed(consumer: String, messageID: String, at date: Date) async throws -> Bool {
        try await inner.markProcessed(consumer: consumer, messageID: messageID, at: date)
    }
    func prune(processedBefore date: Date) async throws -> Int { try await inner.prune(processedBefore: date) }
    func makeDurable() async throws { throw DiskGone() }
}
