import ArgumentParser
import Foundation

/// `eventbus-bench`: measures the Swift `AMQP` layer and the event bus (`RabbitMQEventBus`) against the raw
/// librabbitmq-c baseline in one run.
///
/// Without `--mode` it runs the whole matrix (see ``BenchmarkRow/matrix(count:postgres:)``); with `--mode` only that
/// row. The broker comes from `EVENTBUS_URL`, PostgreSQL for the outbox row from `EVENTBUS_POSTGRES_URL`. Human
/// output goes to stdout, or to stderr with `--json`, when stdout carries one JSON object per row and client.
/// Exits non-zero when a row failed.
struct EventBusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventbus-bench",
        abstract: "Measures the AMQP layer and the event bus against raw librabbitmq-c (broker from EVENTBUS_URL).",
        discussion: """
            Without --mode, runs the whole matrix: publish 256 B and 4 KiB; publish-confirm 256 B and 4 KiB \
            × window 100 and 1000; consume 256 B × prefetch 100 and 1000 (C and AMQP); then bus-publish window \
            100, bus-consume prefetch 100 and 1000, bus-e2e 5000 events at 1000/s (C, AMQP and bus; bus-e2e also C-durable, \
            C's latency loop with persistent messages like the Swift clients'; bus-publish also C-wire: \
            the C baseline publishing the bus's wire format, i.e. its properties, cloudEvents_* headers and mandatory \
            flag, so bus / C-wire is the cost of the Swift code alone); and \
            outbox on SQLite (and PostgreSQL when EVENTBUS_POSTGRES_URL is set), 64 tasks × 1 event per transaction \
            and 16 tasks × 10 events per transaction (shown as tasks×events), and the relay alone draining a \
            backlog saved 16 × 10 (relay drain: no publisher; events/s from the relay's start to the last confirm); last, bus-cpu: \
            instructions per event of bus-publish and bus-consume next to C's and the AMQP layer's, counted by valgrind's callgrind \
            in a child run of this benchmark (needs valgrind). bus-soak (RSS over 1 000 000 \
            consumed events) runs only with --mode bus-soak. Each row rotates its clients, repeats --repeat times and \
            reports medians, the min–max spread and the ratio client / C (targets: AMQP layer ≥ 0.95, bus ≥ 0.8; \
            bus-e2e p99 ≤ 2 ms). Bus events are JSON bodies padded to about --size bytes. The AMQP client's \
            publishers and consume loops run on their connection's thread (AMQPConnection.taskExecutor), as the bus \
            consumes.
            """)

    @Option(help: "Run only this row: \(BenchmarkMode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: BenchmarkMode?

    @Option(help: "Body size in bytes (with --mode; default 256; bus modes pad the event's JSON to about this).")
    var size: Int?

    @Option(help: "Messages per measurement (default 20000; publish 100000, publish-confirm 50000, --mode bus-e2e 10000 (matrix 5000), bus-soak 1000000).")
    var count: Int?

    @Option(help: "Confirm window (with --mode publish-confirm or bus-publish; default 100).")
    var window: Int?

    @Option(help: "Prefetch count (with --mode consume, bus-consume, bus-e2e or bus-soak; default 100).")
    var prefetch: Int?

    @Option(help: "Publish rate in events/s for the latency run (with --mode bus-e2e; default 1000).")
    var rate: Int?

    @Option(help: "Outbox store, sqlite or postgres (with --mode outbox; default sqlite; postgres needs EVENTBUS_POSTGRES_URL); with --mode bus-consume, sqlite records processed ids durably (flushed before each ack).")
    var store: String?

    @Option(help: "Outbox: concurrent tasks saving (with --mode outbox; default 64).")
    var outboxTasks: Int?

    @Option(help: "Outbox: events saved per transaction (with --mode outbox; default 1).")
    var eventsPerTransaction: Int?

    @Flag(help: "Outbox: save every event first, then time the relay alone draining the backlog (with --mode outbox).")
    var relayDrain = false

    @Option(name: .customLong("repeat"), help: "Repetitions per client and row; medians are reported (default 5; bus modes and outbox 3, bus-soak 1).")
    var repetitions: Int?

    @Option(help: "Concurrent publishing tasks for transient Swift publishes.")
    var workers: Int = 64

    @Option(help: "Concurrent publishing tasks for publish-confirm and bus-publish (default: the window, so the window is what is in flight).")
    var confirmWorkers: Int?

    @Option(help: "bus-publish: each task publishes this many events per publishAll call (default 1: publish one at a time). Issue 19's row is --confirm-workers 16 --publish-all 10.")
    var publishAll: Int = 1

    @Option(help: "Handlers a consuming bus runs at once (bus-consume, bus-e2e, bus-soak).")
    var handlerConcurrency: Int = 1

    @Option(help: "Capacity of the bus-soak consumer's in-memory dedup store (bounded, so it cannot account for growth).")
    var storeCapacity: Int = 100_000

    @Option(help: "Events in the latency run (with --mode webhook; default 5000).")
    var latencyCount: Int?

    @Flag(help: "Print one JSON object per row and client on stdout (human output goes to stderr).")
    var json = false

    /// The `bus-cpu` row's counted run, which the row starts under callgrind (``BusCPUBenchmark``).
    @Flag(help: .hidden)
    var instructionPass = false

    static let postgresURLVariable = "EVENTBUS_POSTGRES_URL"

    /// `EVENTBUS_POSTGRES_URL`, when set and not empty.
    static var postgresURL: String? {
        ProcessInfo.processInfo.environment[postgresURLVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let repetitions, repetitions < 1 { throw ValidationError("--repeat must be at least 1") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard handlerConcurrency >= 1 else { throw ValidationError("--handler-concurrency must be at least 1") }
        guard storeCapacity >= 1 else { throw ValidationError("--store-capacity must be at least 1") }
        if let confirmWorkers, confirmWorkers < 1 { throw ValidationError("--confirm-workers must be at least 1") }
        if publishAll < 1 { throw ValidationError("--publish-all must be at least 1") }
        if let size, !(0...(64 << 20)).contains(size) { throw ValidationError("--size must be in 0...\(64 << 20)") }
        if let window, window < 1 { throw ValidationError("--window must be at least 1") }
        if let prefetch, !(0...65_535).contains(prefetch) { throw ValidationError("--prefetch must be in 0...65535") }
        if let rate, !(1...1_000_000).contains(rate) { throw ValidationError("--rate must be in 1...1000000") }
        if let store, !["sqlite", "postgres"].contains(store) { throw ValidationError("--store must be sqlite or postgres") }
        if instructionPass, mode != .busCPU { throw ValidationError("--instruction-pass belongs to --mode bus-cpu") }
        guard let mode else {
            if size != nil || window != nil || prefetch != nil || rate != nil || store != nil {
                throw ValidationError("--size, --window, --prefetch, --rate and --store select one row: use them with --mode")
            }
            return
        }
        if window != nil, !mode.usesWindow { throw ValidationError("--window applies to --mode publish-confirm or bus-publish only") }
        if prefetch != nil, !mode.usesPrefetch {
            throw ValidationError("--prefetch applies to --mode consume, bus-consume, bus-e2e or bus-soak only")
        }
        if let prefetch, prefetch < 1, mode.usesConsumingBus { throw ValidationError("a consuming bus needs --prefetch ≥ 1") }
        if rate != nil, !mode.usesRate, mode != .webhook { throw ValidationError("--rate applies to --mode bus-e2e or webhook only") }
        if latencyCount != nil, mode != .webhook { throw ValidationError("--latency-count applies to --mode webhook only") }
        if let latencyCount, latencyCount < 1 { throw ValidationError("--latency-count must be at least 1") }
        if store != nil, mode != .outbox, mode != .busConsume {
            throw ValidationError("--store applies to --mode outbox and bus-consume only")
        }
        if store == "postgres", mode == .busConsume { throw ValidationError("--mode bus-consume takes --store sqlite only") }
        if outboxTasks != nil || eventsPerTransaction != nil || relayDrain, mode != .outbox {
            throw ValidationError("--outbox-tasks, --events-per-transaction and --relay-drain apply to --mode outbox only")
        }
        if mode == .outbox, store == "postgres", Self.postgresURL == nil {
            throw ValidationError("--store postgres needs \(Self.postgresURLVariable) (e.g. postgres://user:pass@127.0.0.1:5432/db)")
        }
    }

    /// The rows this invocation runs.
    var rows: [BenchmarkRow] {
        guard let mode else { return BenchmarkRow.matrix(count: count, postgres: Self.postgresURL != nil) }
        return [BenchmarkRow(
            mode: mode, size: size ?? 256, count: count ?? mode.defaultCount,
            window: mode.usesWindow ? (window ?? 100) : nil,
            prefetch: mode.usesPrefetch ? (prefetch ?? 100) : nil,
            rate: mode.usesRate ? (rate ?? 1_000) : nil,
            store: mode == .outbox ? (store ?? "sqlite") : (mode == .busConsume ? store : nil),
            outbox: mode == .outbox
                ? OutboxShape(
                    tasks: max(1, outboxTasks ?? 64), eventsPerTransaction: max(1, eventsPerTransaction ?? 1), relayDrain: relayDrain)
                : nil)]
    }

    func run() async throws {
        let target: BrokerTarget
        do {
            target = try BrokerTarget.fromEnvironment()
        } catch {
            Self.printError("eventbus-bench: \(error)")
            throw ExitCode.failure
        }
        let log: @Sendable (String) -> Void = { Self.printError($0) }
        let toStderr = json
        let human: @Sendable (String) -> Void = { text in
            if toStderr { Self.printError(text) } else { print(text) }
        }

        let admin = AdminSession(target: target)
        do {
            _ = try await admin.channel()
        } catch {
            Self.printError("eventbus-bench: cannot reach the broker at \(target.maskedURL): \(error)")
            throw ExitCode.failure
        }
        if instructionPass {
            let benchmark = BusCPUBenchmark(target: target, admin: admin, options: BenchmarkOptions(), log: log)
            do {
                let lines = try await benchmark.countInstructions(size: size ?? 256, count: count ?? BenchmarkMode.busCPU.defaultCount)
                await admin.close()
                for line in lines { print(line) }
            } catch {
                await admin.close()
                Self.printError("eventbus-bench: bus-cpu counted run failed: \(error)")
                throw ExitCode.failure
            }
            return
        }
        if mode == .webhook {
            let benchmark = WebhookBenchmark(
                target: target, admin: admin, count: count ?? 20_000, latencyCount: latencyCount ?? 5_000, rate: rate ?? 1_000,
                repetitions: repetitions ?? BenchmarkMode.webhook.defaultRepetitions, concurrency: handlerConcurrency, log: log)
            log("eventbus-bench: broker \(target.maskedURL), webhook mode")
            let outcome: (lines: [String], json: [String], met: Bool)
            do {
                outcome = try await benchmark.run()
            } catch {
                await admin.close()
                Self.printError("eventbus-bench: webhook failed: \(error)")
                throw ExitCode.failure
            }
            await admin.close()
            human("")
            for line in outcome.lines { human(line) }
            if json { for line in outcome.json { print(line) } }
            return
        }
        var options = BenchmarkOptions()
        options.transientWorkers = workers
        options.confirmWorkers = confirmWorkers
        options.publishAllBatch = publishAll
        options.handlerConcurrency = handlerConcurrency
        options.soakStoreCapacity = storeCapacity
        options.postgresURL = Self.postgresURL
        let runner = BenchmarkRunner(target: target, admin: admin, options: options, log: log)

        let rows = self.rows
        let defaults = Set(rows.map(\.mode.defaultRepetitions))
        let repetitionsText = repetitions.map(String.init)
            ?? (defaults.count == 1 ? "\(defaults.first ?? 5)" : "5 (bus modes and outbox 3)")
        log("eventbus-bench: broker \(target.maskedURL), \(rows.count) rows, \(repetitionsText) repetitions")
        if let busRow = rows.first(where: { $0.mode.clients.contains(.bus) && $0.mode != .outbox }) {
            let shape = EventShape(size: busRow.size)
            log("bus events: \(BenchmarkEvent.eventTypeName), JSON body ≈\(shape.bodySize) B, dedup InMemoryProcessedMessageStore "
                + "(bus-soak capacity \(Format.rate(Double(storeCapacity)))), handler concurrency \(handlerConcurrency)")
        }
        var results: [RowResult] = []
        for row in rows {
            results.append(await runner.run(row, repetitions: repetitions ?? row.mode.defaultRepetitions))
        }
        await admin.close()

        let report = BenchmarkReport(results: results)
        human("\n" + BenchmarkReport.heading(
            repetitions: repetitionsText, wireFormat: rows.contains { $0.mode.clients.contains(.cWire) },
            durable: rows.contains { $0.mode.clients.contains(.cDurable) },
            counted: rows.contains { $0.mode.countsAllocations }, instructions: rows.contains { $0.mode == .busCPU }))
        human(report.table())
        if json {
            for line in report.jsonLines() { print(line) }
        }
        let failed = results.filter { $0.failure != nil }
        if !failed.isEmpty {
            Self.printError("eventbus-bench: \(failed.count) of \(results.count) rows failed")
            throw ExitCode.failure
        }
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

extension BenchmarkMode: ExpressibleByArgument {}

/// The entry point. A synchronous `main` that waits for the command on a semaphore, instead of an `async` one:
/// Debian's valgrind 3.19 crashes in libdispatch's `dispatch_main` (which an `async` main ends in), and the `bus-cpu`
/// row runs this executable under callgrind.
@main
enum EventBusBenchMain {
    static func main() {
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await EventBusBench.main()
            done.signal()
        }
        done.wait()
    }
}
