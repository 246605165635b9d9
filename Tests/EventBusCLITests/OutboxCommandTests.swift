import EventBus
import EventBusPostgres
import EventBusSQLite
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// `eventbus outbox status|retry` on a real SQLite file and a real PostgreSQL database: an outbox with one event in
/// each state but `InProgress`, as a service leaves it after a publish failed.
@Suite(.timeLimit(.minutes(2))) struct OutboxCommandTests {
    /// The status as `--json` prints it.
    struct Report: Decodable {
        struct Failed: Decodable {
            let id: String
            let type: String
            let timesSent: Int
            let nextAttemptAt: String?
            let lastError: String?
            let failedForGood: Bool?
        }
        let counts: [String: Int]
        let pending: Int
        let oldestPendingCreatedAt: String?
        let oldestPendingAgeSeconds: Double?
        let failed: [Failed]
    }

    static let failure = "broker unreachable: connection refused"

    /// Three events saved at `created`: the first stays `NotPublished`, the second is `Published`, the third failed
    /// with ``failure`` and is due in an hour.
    static func events(created: Date) -> [PriceChanged] {
        (1...3).map { PriceChanged(creationDate: created, productId: $0, newPrice: Decimal($0), oldPrice: 1) }
    }

    static func outbox(_ arguments: [String], environment: [String: String]? = nil) async throws -> ProgramResult {
        try await runProgram(try EventBusCLI.executable, ["outbox"] + arguments, environment: environment)
    }

    static func report(_ result: ProgramResult) throws -> Report {
        #expect(!result.failed, "\(result.output)")
        return try JSONDecoder().decode(Report.self, from: Data(result.output.utf8))
    }

    @Test func statusShowsCountsAgeAndFailuresAndRetryMakesFailedEventsDueOnSQLite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        let store = try SQLiteEventStore(path: path)
        let created = Date().addingTimeInterval(-120)
        let events = Self.events(created: created)
        _ = try await store.write { db in try events.map { try SQLiteEventStore.save($0, in: db) } }
        try await store.markPublished(eventID: events[1].id)
        try await store.markFailed(eventID: events[2].id, error: Self.failure, nextAttemptAt: Date().addingTimeInterval(3_600))

        let report = try Self.report(try await Self.outbox(["status", "--sqlite", path, "--json"]))
        #expect(report.counts == ["NotPublished": 1, "InProgress": 0, "Published": 1, "PublishedFailed": 1])
        #expect(report.pending == 2)
        #expect((report.oldestPendingAgeSeconds ?? 0) >= 119)
        #expect(report.failed.map(\.id) == [events[2].id.uuidString.lowercased()])
        #expect(report.failed.first?.type == PriceChanged.eventTypeName)
        #expect(report.failed.first?.lastError == Self.failure)

        let text = try await Self.outbox(["status", "--sqlite", path])
        #expect(!text.failed, "\(text.output)")
        #expect(text.output.contains("PublishedFailed  1"), "\(text.output)")
        #expect(text.output.contains("last error: \(Self.failure)"), "\(text.output)")
        #expect(text.output.contains("next attempt in 59 min"), "\(text.output)")

        // Not due yet: a relay would leave it alone for an hour.
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(600), now: Date()).map(\.eventID) == [events[0].id])
        let retry = try await Self.outbox(["retry", "--sqlite", path, "--all"])
        #expect(!retry.failed, "\(retry.output)")
        #expect(retry.output.contains("1 failed event(s) are due now"), "\(retry.output)")
        // Due now: the relay's next claim takes it.
        #expect(try await store.claimPending(limit: 10, staleAfter: .seconds(600), now: Date()).map(\.eventID) == [events[2].id])
        let after = try Self.report(try await Self.outbox(["status", "--sqlite", path, "--json"]))
        #expect(after.counts["InProgress"] == 2)
        #expect(after.counts["PublishedFailed"] == 0)
    }

    @Test func aMissingFileOrAMissingChoiceIsAClearErrorAndCreatesNothing() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-cli-missing-\(UUID().uuidString).sqlite").path
        let missing = try await Self.outbox(["status", "--sqlite", path])
        #expect(missing.failed)
        #expect(missing.output.contains("no SQLite database at \(path)"), "\(missing.output)")
        #expect(!FileManager.default.fileExists(atPath: path))

        let noChoice = try await Self.outbox(["retry", "--sqlite", path])
        #expect(noChoice.failed)
        #expect(noChoice.output.contains("give either --all or one or more --id"), "\(noChoice.output)")

        let noStore = try await Self.outbox(["status"], environment: ProcessInfo.processInfo.environment.filter { $0.key != "EVENTBUS_POSTGRES_URL" })
        #expect(noStore.failed)
        #expect(noStore.output.contains("give --sqlite PATH or --postgres URL"), "\(noStore.output)")
    }

    @Test func statusAndRetryWorkOnPostgreSQLWithTheServicesSchema() async throws {
        try await withPostgresStores { stores, schema in
            let store = stores[0]
            let events = Self.events(created: Date().addingTimeInterval(-30))
            _ = try await store.withTransaction { connection in
                try await PostgresEventStore.save(events, on: connection, logger: PostgresTestEnvironment.logger)
            }
            try await store.markPublished(eventID: events[1].id)
            try await store.markFailed(eventID: events[2].id, error: Self.failure, nextAttemptAt: Date().addingTimeInterval(3_600))
            let url = PostgresTestEnvironment.url

            let report = try Self.report(try await Self.outbox(["status", "--postgres", url, "--schema", schema, "--json"]))
            #expect(report.counts == ["NotPublished": 1, "InProgress": 0, "Published": 1, "PublishedFailed": 1])
            #expect(report.pending == 2)
            #expect(report.failed.map(\.id) == [events[2].id.uuidString.lowercased()])
            #expect(report.failed.first?.lastError == Self.failure)

            // One failed id and one published one: only the failed event changes.
            let retry = try await Self.outbox([
                "retry", "--postgres", url, "--schema", schema,
                "--id", events[2].id.uuidString, "--id", events[1].id.uuidString,
            ])
            #expect(!retry.failed, "\(retry.output)")
            #expect(retry.output.contains("1 failed event(s) are due now"), "\(retry.output)")
            #expect(retry.output.contains("1 of the given ids are not PublishedFailed"), "\(retry.output)")
            let claimed = try await store.claimPending(limit: 10, staleAfter: .seconds(600), now: Date())
            #expect(Set(claimed.map(\.eventID)) == [events[0].id, events[2].id])
            #expect(try await store.entry(eventID: events[1].id)?.state == .published)
        }
    }

    @Test func statusOfRowsWithInfiniteOrHugeTimesPrintsClampedTimesInsteadOfTrapping() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        let store = try SQLiteEventStore(path: path)
        let tooLarge = PriceChanged(productId: 1, newPrice: 2, oldPrice: 1)
        _ = try await store.write { db in try SQLiteEventStore.save(tooLarge, in: db) }
        try await store.markFailedPermanently(eventID: tooLarge.id, error: "the event is 2000000 bytes, more than the maximum")
        // Rows as an older version or a hand edit may leave them: times of -infinity, 1e300 and text.
        try await store.database.write { db in
            for time in ["-9e999", "1e300", "'yesterday'"] {
                try db.execute(
                    sql: """
                        INSERT INTO integration_event_log (event_id, event_type_name, state, times_sent, creation_time, content, updated_at)
                        VALUES (?, 'PriceChanged', 'NotPublished', 1e30, \(time), '{}', 0)
                        """,
                    arguments: [UUID().uuidString.lowercased()])
            }
        }

        let report = try Self.report(try await Self.outbox(["status", "--sqlite", path, "--json"]))
        #expect(report.pending == 4)
        #expect(report.oldestPendingCreatedAt?.hasPrefix("0001-01-0") == true, "\(report.oldestPendingCreatedAt ?? "-")")
        #expect((report.oldestPendingAgeSeconds ?? 0) > 6e10)
        #expect(report.failed.first?.failedForGood == true)
        let text = try await Self.outbox(["status", "--sqlite", path])
        #expect(!text.failed, "\(text.output)")
        #expect(text.output.contains("the oldest created 0001-01-0"), "\(text.output)")
        #expect(text.output.contains("failed for good, not retried"), "\(text.output)")

        try await withPostgresStores { stores, schema in
            try await stores[0].client.query(
                """
                INSERT INTO integration_event_log (event_id, event_type_name, state, times_sent, creation_time, content, next_attempt_at)
                VALUES (\(UUID()), 'PriceChanged', 'PublishedFailed', 3, '-infinity', '{}', 'infinity')
                """, logger: PostgresTestEnvironment.logger)
            let url = PostgresTestEnvironment.url
            let report = try Self.report(try await Self.outbox(["status", "--postgres", url, "--schema", schema, "--json"]))
            #expect(report.oldestPendingCreatedAt?.hasPrefix("0001-01-0") == true, "\(report.oldestPendingCreatedAt ?? "-")")
            #expect(report.failed.first?.nextAttemptAt == "9999-12-31T23:59:59Z")
            let text = try await Self.outbox(["status", "--postgres", url, "--schema", schema])
            #expect(!text.failed, "\(text.output)")
        }
    }

    @Test func anUnreachablePostgreSQLIsAClearErrorWithoutThePassword() async throws {
        let result = try await Self.outbox(["status", "--postgres", "postgres://operator:s3cret@127.0.0.1:1/catalog", "--timeout", "2"])
        #expect(result.failed)
        #expect(result.output.contains("PostgreSQL postgres://operator:***@127.0.0.1:1/catalog"), "\(result.output)")
        #expect(result.output.contains("did not answer within 2"), "\(result.output)")
        #expect(!result.output.contains("s3cret"), "\(result.output)")
    }
}
