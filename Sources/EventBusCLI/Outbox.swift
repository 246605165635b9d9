import ArgumentParser
import EventBus
#if PostgreSQL
import EventBusPostgres
#endif
#if SQLite
import EventBusSQLite
#endif
import Foundation
#if PostgreSQL
import PostgresNIO
#endif

/// `eventbus outbox`: what a service's transactional outbox holds, and failed events sent again now.
struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect a service's transactional outbox (integration_event_log) on SQLite or PostgreSQL.",
        subcommands: [Status.self, Retry.self])

    /// Shows counts per state, the age of the oldest unpublished event, and the failed events with their errors.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Counts per state, the oldest unpublished event's age, and the failed events with their last error.")
        @OptionGroup var store: OutboxStoreOptions
        @Option(help: "Show at most this many failed events.") var failedLimit = 20
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            if failedLimit < 0 { throw ValidationError("--failed-limit must be 0 or more") }
        }

        func run() async throws {
            let status = try await store.withLog { try await $0.status(failedLimit: failedLimit) }
            let now = Date()
            if json {
                print(try OutboxStatusReport(status, now: now).json())
                return
            }
            print("outbox in \(store.description)")
            for state in [EventState.notPublished, .inProgress, .publishedFailed, .published] {
                print("  \(state.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(status.counts[state] ?? 0)")
            }
            if let oldest = status.oldestPending {
                print("pending: \(status.pending), the oldest created \(OutboxStatusReport.timestamp(oldest)) (\(Self.age(now.timeIntervalSince(oldest))) ago)")
            } else {
                print("pending: 0 (every event is published)")
            }
            let failedTotal = status.counts[.publishedFailed] ?? 0
            guard failedTotal > 0, failedLimit > 0 else { return }
            print("failed events, oldest first (\(status.failed.count) of \(failedTotal)):")
            for entry in status.failed {
                let next = entry.nextAttemptAt.map { date in
                    date <= now ? "due now" : "next attempt in \(Self.age(date.timeIntervalSince(now)))"
                } ?? "failed for good, not retried (fix the cause, then retry it)"
                print("  \(entry.eventID.uuidString.lowercased()) \(entry.eventTypeName), sent \(entry.timesSent)×, \(next)")
                print("    last error: \(entry.lastError ?? "-")")
            }
            print("send them again now: eventbus outbox retry \(store.arguments) --all")
        }

        /// A duration in words; any number (a time read from the database may be anything) gives some text.
        static func age(_ seconds: TimeInterval) -> String {
            // Clamped to ±10 000 years first, so the conversion to Int cannot trap.
            let bounded = seconds.isNaN ? 0 : min(max(seconds, -315_576_000_000), 315_576_000_000)
            let whole = Int(bounded.rounded(.down))
            if whole < 60 { return "\(max(whole, 0)) s" }
            if whole < 3_600 { return "\(whole / 60) min \(whole % 60) s" }
            if whole < 86_400 { return "\(whole / 3_600) h \(whole % 3_600 / 60) min" }
            return "\(whole / 86_400) d \(whole % 86_400 / 3_600) h"
        }
    }

    /// Makes failed events due now, so the service's relay sends them at its next poll instead of after its back-off.
    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make PublishedFailed events due now: the service's running relay sends them at its next poll.",
            discussion: """
                The command does not publish anything itself: the relay (OutboxRelay, in the service) sends the events \
                in creation order with the service's own bus, as it does after a back-off. Events in other states are \
                left alone. Use it once the cause (broker down, a missing binding) is fixed.
                """)
        @OptionGroup var store: OutboxStoreOptions
        @Option(name: .customLong("id"), help: "A failed event's id (repeat for several).") var ids: [String] = []
        @Flag(help: "Every PublishedFailed event.") var all = false

        func validate() throws {
            if all == !ids.isEmpty { throw ValidationError("give either --all or one or more --id") }
            for id in ids where UUID(uuidString: id) == nil { throw ValidationError("--id \(id) is not a UUID") }
        }

        func run() async throws {
            let eventIDs = all ? nil : ids.compactMap(UUID.init(uuidString:))
            let due = try await store.withLog { try await $0.retryFailed(eventIDs: eventIDs, now: Date()) }
            print("\(due) failed event(s) are due now; the service's relay sends them at its next poll")
            if let eventIDs, due < eventIDs.count {
                print("\(eventIDs.count - due) of the given ids are not PublishedFailed (published or being sent already, or unknown)")
            }
        }
    }
}

/// Which outbox a command reads: a SQLite file, or a PostgreSQL database.
struct OutboxStoreOptions: ParsableArguments {
    @Option(help: "The service's SQLite database file.") var sqlite: String?
    @Option(help: "The service's PostgreSQL database, postgres://user:password@host:port/database (default: $EVENTBUS_POSTGRES_URL when --sqlite is not given).")
    var postgres: String?
    @Option(help: "PostgreSQL schema holding the outbox tables, when not the first of the search_path.") var schema: String?
    @Option(help: "Give up on PostgreSQL after this many seconds.") var timeout = 10

    func validate() throws {
        if sqlite != nil, postgres != nil { throw ValidationError("give --sqlite or --postgres, not both") }
        #if !SQLite
        if sqlite != nil { throw ValidationError("this eventbus was built without the SQLite trait: --sqlite is not available") }
        #endif
        #if !PostgreSQL
        if sqlite == nil { throw ValidationError("this eventbus was built without the PostgreSQL trait: give --sqlite PATH") }
        #endif
        if sqlite == nil, resolvedPostgres == nil {
            throw ValidationError("give --sqlite PATH or --postgres URL (or set EVENTBUS_POSTGRES_URL)")
        }
        if timeout < 1 { throw ValidationError("--timeout must be at least 1 second") }
    }

    private var resolvedPostgres: String? {
        if let postgres { return postgres }
        if let url = ProcessInfo.processInfo.environment["EVENTBUS_POSTGRES_URL"], !url.isEmpty { return url }
        return nil
    }

    /// The store for messages, with the PostgreSQL password masked.
    var description: String {
        if let sqlite { return "SQLite file \(sqlite)" }
        return "PostgreSQL \(Self.masked(resolvedPostgres ?? ""))\(schema.map { " schema \($0)" } ?? "")"
    }

    /// The options again, for a hint to copy (password masked).
    var arguments: String {
        if let sqlite { return "--sqlite \(sqlite)" }
        return (postgres.map { "--postgres \(Self.masked($0))" } ?? "") + (schema.map { " --schema \($0)" } ?? "")
    }

    /// `url` with its password masked.
    private static func masked(_ url: String) -> String {
        #if PostgreSQL
        PostgresEventStore.maskedURL(url)
        #else
        "(a PostgreSQL URL)"
        #endif
    }

    /// Opens the outbox, runs `body` on it, and closes it.
    func withLog<T: Sendable>(_ body: @escaping @Sendable (any IntegrationEventLog) async throws -> T) async throws -> T {
        if let sqlite {
            // Opening creates a missing file: an operator's typo must not leave an empty database behind.
            guard FileManager.default.fileExists(atPath: sqlite) else {
                throw CLIError("no SQLite database at \(sqlite); --sqlite names the service's database file")
            }
            #if SQLite
            return try await body(try SQLiteEventStore(path: sqlite))
            #else
            throw CLIError("this eventbus was built without the SQLite trait")
            #endif
        }
        #if PostgreSQL
        var configuration = try PostgresEventStore.clientConfiguration(url: resolvedPostgres ?? "")
        if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        let client = PostgresClient(configuration: configuration)
        let store = PostgresEventStore(client: client, operationTimeout: .seconds(timeout))
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    await client.run()
                    return nil
                }
                defer { group.cancelAll() }
                return try await body(store)
            }
        } catch {
            throw CLIError("\(description): \(error)")
        }
        #else
        throw CLIError("this eventbus was built without the PostgreSQL trait")
        #endif
    }
}

/// `eventbus outbox status --json`: the status as one JSON object (times in ISO 8601, ages in seconds).
struct OutboxStatusReport: Encodable {
    struct Failed: Encodable {
        let id: String
        let type: String
        let timesSent: Int
        let createdAt: String
        let nextAttemptAt: String?
        /// No next attempt: the relay will not retry it (too large, unreadable) until `eventbus outbox retry`.
        let failedForGood: Bool
        let lastError: String?
    }

    let counts: [String: Int]
    let pending: Int
    let oldestPendingCreatedAt: String?
    let oldestPendingAgeSeconds: Double?
    let failed: [Failed]

    init(_ status: OutboxStatus, now: Date) {
        counts = Dictionary(uniqueKeysWithValues: status.counts.map { ($0.key.rawValue, $0.value) })
        pending = status.pending
        oldestPendingCreatedAt = status.oldestPending.map(Self.timestamp)
        oldestPendingAgeSeconds = status.oldestPending.map { Self.seconds(now.timeIntervalSince($0)) }
        failed = status.failed.map { entry in
            Failed(
                id: entry.eventID.uuidString.lowercased(), type: entry.eventTypeName, timesSent: entry.timesSent,
                createdAt: Self.timestamp(entry.creationTime), nextAttemptAt: entry.nextAttemptAt.map(Self.timestamp),
                failedForGood: entry.failedPermanently,
                lastError: entry.lastError)
        }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A time in ISO 8601, clamped to the years 1...9999 (a time read from the database may be anything).
    static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let bounded = seconds.isNaN ? 0 : min(max(seconds, -62_135_596_800), 253_402_300_799)
        return Date(timeIntervalSince1970: bounded).formatted(.iso8601)
    }

    /// Seconds to the millisecond, finite (JSON has no infinity), within ±10 000 years.
    static func seconds(_ interval: TimeInterval) -> Double {
        let bounded = interval.isNaN ? 0 : min(max(interval, -315_576_000_000), 315_576_000_000)
        return (bounded * 1_000).rounded() / 1_000
    }
}
