import EventBus
import EventBusPostgres
import Foundation
import PostgresNIO
import Synchronization
import TestSupport
import Testing

/// Writes an outbox row by hand (as an older version, another program or an operator might): `creationTime` and
/// `nextAttemptAt` are SQL literals, so a test can put `infinity` there.
func insertRow(
    _ store: PostgresEventStore, id: UUID = UUID(), type: String = "PriceChanged", state: String = "NotPublished",
    content: String = "{}", creationTime: String = "now()", nextAttemptAt: String = "NULL"
) async throws -> UUID {
    try await store.client.query(
        """
        INSERT INTO integration_event_log (event_id, event_type_name, state, times_sent, creation_time, content, next_attempt_at)
        VALUES (\(id), \(type), \(state), 0, \(unescaped: creationTime), \(content), \(unescaped: nextAttemptAt))
        """, logger: PostgresTestEnvironment.logger)
    return id
}

/// A flag one task raises and another waits for.
final class Signal: Sendable {
    private let raised = Mutex(false)
    func raise() { raised.withLock { $0 = true } }
    func wait() async throws { try await eventually("the other transaction's record", timeout: .seconds(10)) { self.raised.withLock { $0 } } }
}

@Suite(.timeLimit(.minutes(3))) struct PostgresHardeningTests {
    @Test func anEventThatCanNeverBePublishedEndsFailedWithItsReasonAndIsNotRetried() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let fine = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
            _ = try await store.withTransaction { try await PostgresEventStore.save(fine, on: $0, logger: PostgresTestEnvironment.logger) }
            let huge = try await insertRow(store, content: "{\"note\":\"" + String(repeating: "x", count: 5_000) + "\"}")
            let badType = try await insertRow(store, type: String(repeating: "T", count: 300))
            let sent = Tally()
            var configuration = OutboxRelay.Configuration.fast()
            configuration.maximumEventSize = 4_096
            let relay = OutboxRelay(log: store, bus: CountingBus(inner: InMemoryEventBus(), published: sent), configuration: configuration)

            #expect(try await relay.relayOnce() == 1)
            #expect(await sent.order == [fine.id.lowercasedText])
            let tooLarge = try #require(try await store.entry(eventID: huge))
            #expect(tooLarge.failedPermanently)
            #expect(tooLarge.lastError?.contains("more than the maximum event size of 4096 bytes") == true, "\(tooLarge.lastError ?? "")")
            let typeless = try #require(try await store.entry(eventID: badType))
            #expect(typeless.failedPermanently)
            #expect(typeless.lastError?.contains("event type name is 300 bytes") == true)

            #expect(try await relay.relayOnce() == 0)
            #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: Date().addingTimeInterval(86_400 * 365)).isEmpty)
            let status = try await store.status(failedLimit: 10)
            #expect(status.counts[.publishedFailed] == 2)
            #expect(status.failed.allSatisfy { $0.failedPermanently })
            #expect(try await store.retryFailed(eventIDs: [huge], now: Date()) == 1)
            #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: Date()).map(\.eventID) == [huge])
        }
    }

    @Test func rowsWithInfiniteTimesAreReadWithinTheYears1To9999() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let early = try await insertRow(store, creationTime: "'-infinity'")
            let failed = try await insertRow(store, state: "PublishedFailed", creationTime: "'infinity'", nextAttemptAt: "'infinity'")
            let status = try await store.status(failedLimit: 10)
            #expect(status.oldestPending?.timeIntervalSince1970 == -62_135_596_800)
            #expect(status.failed.map(\.eventID) == [failed])
            #expect(status.failed.first?.creationTime.timeIntervalSince1970 == 253_402_300_799)
            #expect(status.failed.first?.nextAttemptAt?.timeIntervalSince1970 == 253_402_300_799)
            #expect(try await store.pendingSummary().oldest?.timeIntervalSince1970 == -62_135_596_800)
            let claimed = try await store.claimPending(limit: 10, staleAfter: .seconds(Int64.max), now: Date())
            #expect(claimed.map(\.eventID) == [early])
            #expect(try await store.prunePublished(createdBefore: Date.distantFuture.addingTimeInterval(1e300)) == 0)
            #expect(try await store.prune(processedBefore: Date(timeIntervalSince1970: -1e300)) == 0)
        }
    }

    @Test func aRenewedClaimIsNotStaleWhileInFlightAndARenewalOfARowTakenByAnotherSenderFails() async throws {
        try await withPostgresStores { stores in
            let store = stores[0]
            let events = (1...2).map { PriceChanged(productId: $0, newPrice: 2, oldPrice: 1) }
            _ = try await store.withTransaction { try await PostgresEventStore.save(events, on: $0, logger: PostgresTestEnvironment.logger) }
            let claimedAt = Date()
            let claimed = try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: claimedAt)
            #expect(claimed.count == 2)
            #expect(try await store.renewClaims(claimed, now: claimedAt.addingTimeInterval(50)) == Set(events.map(\.id)))
            #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: claimedAt.addingTimeInterval(70)).isEmpty)
            let retaken = try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: claimedAt.addingTimeInterval(111))
            #expect(retaken.count == 2)
            #expect(try await store.renewClaims(claimed, now: claimedAt.addingTimeInterval(112)).isEmpty)
            #expect(try await store.renewClaims(retaken, now: claimedAt.addingTimeInterval(112)) == Set(events.map(\.id)))
        }
    }

    @Test func twoInstancesRecordingOneIdAtOnceLetExactlyOneWin() async throws {
        try await withPostgresStores(count: 2) { stores in
            let ids = (1...50).map { "message-\($0)" }
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in ids {
                    for store in stores {
                        group.addTask { try await store.markProcessed(consumer: "basket/prices", messageID: id, at: Date()) }
                    }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == ids.count)
        }
    }

    /// A handler recording the id in its own transaction while another instance's transaction holds the same id
    /// uncommitted: it waits for that one, then gets `false` (commit) or `true` (rollback), so the effect happens once.
    @Test(arguments: [true, false])
    func aHandlerRecordingAnIdAnotherInstanceHoldsAppliesTheEffectOnlyIfThatOneRollsBack(firstCommits: Bool) async throws {
        try await withPostgresStores(count: 2) { stores in
            try await createDomainTables(stores[0])
            let logger = PostgresTestEnvironment.logger
            let recorded = Signal()
            func apply(_ store: PostgresEventStore, hold: Bool) async throws -> Bool {
                try await store.withTransaction { connection -> Bool in
                    guard try await PostgresEventStore.markProcessed(consumer: "basket/prices", messageID: "price-42", on: connection, logger: logger)
                    else { return false }
                    try await connection.query("INSERT INTO price_effect (product_id, applied) VALUES (42, 1)", logger: logger)
                    if hold {
                        recorded.raise()
                        // Keeps the record uncommitted while the other transaction tries to record the same id.
                        try await Task.sleep(for: .milliseconds(300))
                        if !firstCommits { throw TestFailure() }
                    }
                    return true
                }
            }
            // The first one's rollback (a thrown TestFailure) counts as not applied.
            async let first = try? apply(stores[0], hold: true)
            try await recorded.wait()
            let second = try await apply(stores[1], hold: false)
            let firstApplied = await first ?? false
            #expect(firstApplied == firstCommits)
            #expect(second == !firstCommits)
            #expect(try await count(stores[0], "price_effect") == 1)
        }
    }
}
