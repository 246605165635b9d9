import EventBus
import EventBusSQLite
import Foundation
import GRDB
import TestSupport
import Testing

/// Writes an outbox row by hand, as an older version, another program or an operator might: every column is taken
/// as given (any SQLite value), so a test can put what the library itself never writes.
func insertRow(
    _ store: SQLiteEventStore, id: String = UUID().uuidString.lowercased(), type: String = "PriceChanged",
    state: String = "NotPublished", timesSent: any DatabaseValueConvertible & Sendable = 0,
    creationTime: any DatabaseValueConvertible & Sendable = Date().timeIntervalSince1970, content: String = "{}",
    nextAttemptAt: (any DatabaseValueConvertible & Sendable)? = nil, literalCreationTime: String? = nil
) async throws -> String {
    try await store.write { db in
        try db.execute(
            sql: """
                INSERT INTO integration_event_log
                    (event_id, event_type_name, state, times_sent, creation_time, content, next_attempt_at, updated_at)
                VALUES (?, ?, ?, ?, \(literalCreationTime ?? "?"), ?, ?, ?)
                """,
            arguments: StatementArguments(
                [id, type, state, timesSent] + (literalCreationTime == nil ? [creationTime] : [])
                    + [content, nextAttemptAt, Date().timeIntervalSince1970]))
    }
    return id
}

/// A bus that accepts every event but those whose id is in `refused`, which fail with `error`.
struct RefusingBus: EventBus {
    let inner: any EventBus
    let refused: Set<String>
    let error: EventBusError

    func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        try await inner.publish(event, subject: subject)
    }
    func publish(_ event: RawEvent) async throws {
        if refused.contains(event.id) { throw error }
        try await inner.publish(event)
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
    func unsubscribe(_ subscription: SubscriptionID) async throws { try await inner.unsubscribe(subscription) }
}

@Suite(.timeLimit(.minutes(2))) struct SQLiteOutboxHardeningTests {
    @Test func anEventThatCanNeverBePublishedEndsFailedWithItsReasonAndIsNotRetried() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await makeStore(directory)
        let fine = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
        let unencodable = PriceChanged(productId: 2, newPrice: 3, oldPrice: 2)
        _ = try await store.write { db in try [fine, unencodable].map { try SQLiteEventStore.save($0, in: db) } }
        let huge = try await insertRow(store, content: "{\"note\":\"" + String(repeating: "x", count: 5_000) + "\"}")
        let badType = try await insertRow(store, type: String(repeating: "T", count: 300))
        let sent = Tally()
        let bus = CountingBus(
            inner: RefusingBus(
                inner: InMemoryEventBus(), refused: [unencodable.id.lowercasedText],
                error: .encodingFailed(eventType: "PriceChanged", reason: "not representable")),
            published: sent)
        var configuration = OutboxRelay.Configuration.fast()
        configuration.maximumEventSize = 4_096
        let relay = OutboxRelay(log: store, bus: bus, configuration: configuration)

        #expect(try await relay.relayOnce() == 1)
        #expect(await sent.order == [fine.id.lowercasedText])
        let hugeID = try #require(UUID(uuidString: huge))
        let tooLarge = try #require(try await store.entry(eventID: hugeID))
        #expect(tooLarge.state == .publishedFailed)
        #expect(tooLarge.failedPermanently)
        #expect(tooLarge.lastError?.contains("more than the maximum event size of 4096 bytes") == true, "\(tooLarge.lastError ?? "")")
        let refused = try #require(try await store.entry(eventID: unencodable.id))
        #expect(refused.failedPermanently)
        #expect(refused.lastError?.contains("not representable") == true)
        let badTypeID = try #require(UUID(uuidString: badType))
        #expect(try await store.entry(eventID: badTypeID)?.failedPermanently == true)

        // Not retried: later passes claim nothing, however far in the future.
        #expect(try await relay.relayOnce() == 0)
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: Date().addingTimeInterval(86_400 * 365)).isEmpty)
        let status = try await store.status(failedLimit: 10)
        #expect(status.counts[.publishedFailed] == 3)
        #expect(status.failed.allSatisfy { $0.failedPermanently && $0.lastError != nil })
        // An operator who fixed the cause makes them due again.
        #expect(try await store.retryFailed(eventIDs: [unencodable.id], now: Date()) == 1)
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: Date()).map(\.eventID) == [unencodable.id])
    }

    @Test func theRelayKeepsRetryingATransientFailureWithBackoff() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await makeStore(directory)
        let event = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
        _ = try await store.write { db in try SQLiteEventStore.save(event, in: db) }
        let relay = OutboxRelay(log: store, bus: FailingBus(), configuration: .fast())
        #expect(try await relay.relayOnce() == 0)
        let entry = try #require(try await store.entry(eventID: event.id))
        #expect(entry.state == .publishedFailed)
        #expect(!entry.failedPermanently)
        #expect(entry.nextAttemptAt != nil)
    }

    @Test func rowsWithHugeOrTextTimesAndCountsAreReadNotTrappedAndAnUnreadableRowEndsFailed() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await makeStore(directory)
        let past = Date().addingTimeInterval(-60).timeIntervalSince1970
        let farFuture = try await insertRow(store, timesSent: 1e30, creationTime: 1e300)
        let minusInfinity = try await insertRow(store, timesSent: "many", literalCreationTime: "-9e999")
        let textTime = try await insertRow(store, timesSent: Int64.max, creationTime: "yesterday")
        let failedForever = try await insertRow(store, state: "PublishedFailed", creationTime: past, nextAttemptAt: 9e999 as Double)
        let unreadable = try await insertRow(store, id: "not-a-uuid", creationTime: past)

        // Status reads every row: times within the years 1...9999, counts within 0...Int32.max.
        let status = try await store.status(failedLimit: 10)
        #expect(status.counts[.notPublished] == 4)
        let oldest = try #require(status.oldestPending)
        #expect(oldest.timeIntervalSince1970 == -62_135_596_800)
        #expect(status.failed.map(\.eventID.lowercasedText) == [failedForever])
        #expect(try #require(status.failed.first?.nextAttemptAt).timeIntervalSince1970 == 253_402_300_799)
        #expect(try await store.pendingSummary().count == 5)

        // The claim takes the readable rows and ends the unreadable one failed with the reason, instead of failing.
        let claimed = try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: Date())
        #expect(Set(claimed.map(\.eventID.lowercasedText)) == [farFuture, minusInfinity, textTime])
        let byID = Dictionary(uniqueKeysWithValues: claimed.map { ($0.eventID.lowercasedText, $0) })
        #expect(byID[farFuture]?.timesSent == Int(Int32.max))
        #expect(byID[farFuture]?.creationTime.timeIntervalSince1970 == 253_402_300_799)
        #expect(byID[minusInfinity]?.timesSent == 1)
        #expect(byID[minusInfinity]?.creationTime.timeIntervalSince1970 == -62_135_596_800)
        #expect(byID[textTime]?.timesSent == Int(Int32.max))
        let after = try await store.status(failedLimit: 10)
        #expect(after.counts[.publishedFailed] == 2)
        #expect(after.failed.map(\.eventID.lowercasedText) == [failedForever])
        let broken = try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT state, last_error, next_attempt_at FROM integration_event_log WHERE event_id = ?", arguments: [unreadable])
        }
        #expect(broken?["state"] == "PublishedFailed")
        #expect((broken?["last_error"] as String?)?.contains("unexpected shape") == true)
        #expect((broken?["next_attempt_at"] as Double?) == nil)
        // A second claim does not trip over it again.
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: Date()).isEmpty)
    }

    @Test func aRenewedClaimIsNotStaleWhileInFlightAndARenewalOfARowTakenByAnotherSenderFails() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await makeStore(directory)
        let events = (1...2).map { PriceChanged(productId: $0, newPrice: 2, oldPrice: 1) }
        _ = try await store.write { db in try events.map { try SQLiteEventStore.save($0, in: db) } }
        let claimedAt = Date()
        let claimed = try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: claimedAt)
        #expect(claimed.count == 2)
        // Claimed ahead, its publish starts 50 s later: renewed then, it is not stale 70 s after the claim.
        #expect(try await store.renewClaims(claimed, now: claimedAt.addingTimeInterval(50)) == Set(events.map(\.id)))
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: claimedAt.addingTimeInterval(70)).isEmpty)
        // Stale for real (no renewal for 60 s): another sender takes them; the old claim can no longer renew them.
        let retaken = try await store.claimPending(limit: 10, staleAfter: .seconds(60), now: claimedAt.addingTimeInterval(111))
        #expect(retaken.count == 2)
        #expect(try await store.renewClaims(claimed, now: claimedAt.addingTimeInterval(112)).isEmpty)
        #expect(try await store.renewClaims(retaken, now: claimedAt.addingTimeInterval(112)) == Set(events.map(\.id)))
    }

    @Test func aRelayWhoseStalenessIsNotTwiceThePublishTimeoutRefusesToStartAndSaysWhatToSet() async throws {
        #expect(throws: Never.self) { try OutboxRelay.Configuration().validate() }
        var configuration = OutboxRelay.Configuration()
        configuration.staleAfter = .seconds(30)
        configuration.publishTimeout = .seconds(30)
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = OutboxRelay(log: try await makeStore(directory), bus: FailingBus(), configuration: configuration)
        do {
            try await relay.run()
            Issue.record("run() started with staleAfter equal to publishTimeout")
        } catch EventBusError.invalidConfiguration(let text) {
            #expect(text.contains("staleAfter (30.0 seconds)"), "\(text)")
            #expect(text.contains("publishTimeout (30.0 seconds)"), "\(text)")
            #expect(text.contains("set staleAfter to 60.0 seconds or more"), "\(text)")
        }
    }
}
