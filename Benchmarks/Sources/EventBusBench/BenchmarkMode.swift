import CRawBaseline
import Foundation
import Synchronization

/// What one benchmark row measures. The `AMQP`-layer modes (`publish`, `publish-confirm`, `consume`) run the
/// Swift `AMQP` layer and the raw librabbitmq-c baseline (`CRawBaseline`); the bus modes (`bus-publish`,
/// `bus-consume`, `bus-e2e`) add `RabbitMQEventBus` as a third client, so all three are compared in the same run.
/// `bus-soak` (memory over a long consume run) and `outbox` (the transactional outbox) measure the bus alone.
enum BenchmarkMode: String, CaseIterable, Sendable {
    /// Transient publishes without confirms; the clock stops after one round trip following the last publish.
    case publish
    /// Persistent publishes in confirm mode with at most `window` unconfirmed messages.
    case publishConfirm = "publish-confirm"
    /// Consuming a pre-filled queue with a prefetch, one ack per message.
    case consume
    /// `RabbitMQEventBus.publish` (persistent, mandatory, confirmed) of a small event from concurrent tasks, next to
    /// confirmed publishes of the same size by C and the `AMQP` layer with the same window, and by C with the bus's
    /// wire format (`c-wire`).
    case busPublish = "bus-publish"
    /// A bus subscription consuming a pre-filled queue (decode → dedup in memory → trivial handler → ack), next to
    /// C and `AMQP` consumers of the same messages with the same prefetch.
    case busConsume = "bus-consume"
    /// End-to-end latency at a fixed publish rate: publisher bus → broker → consuming bus's handler, next to
    /// `raw_bench_latency` and the same loop on the `AMQP` layer.
    case busE2E = "bus-e2e"
    /// The bus consume path over a long run (1 000 000 events by default) with process RSS sampled as it goes.
    case busSoak = "bus-soak"
    /// The transactional outbox (save in a local transaction → publish → confirm) on SQLite or PostgreSQL.
    case outbox
    /// The HTTP gateway from `POST /api/events` to a webhook receiver on loopback (``WebhookBenchmark``), next to a
    /// plain HTTP client posting to that receiver alone. Runs only with `--mode webhook`, outside the row matrix.
    case webhook
    /// Instructions per event of the bus's publish and consume next to C's and the `AMQP` layer's, counted by callgrind
    /// in a child process (``BusCPUBenchmark``). Last in the matrix.
    case busCPU = "bus-cpu"

    /// The clients measured on this mode's rows, in report order.
    var clients: [BenchmarkClient] {
        switch self {
        case .publish, .publishConfirm, .consume: [.c, .amqp]
        case .busPublish: [.c, .cWire, .amqp, .bus]
        case .busConsume: [.c, .amqp, .bus]
        case .busE2E: [.c, .cDurable, .amqp, .bus]
        case .busSoak, .outbox, .webhook: [.bus]
        case .busCPU: [.c, .cWire, .amqp, .bus]
        }
    }

    /// Whether the runner adds a counted pass (``MallocCount``) to this mode's rows: the bus rows, whose AMQP and C
    /// clients give the figures to compare with.
    var countsAllocations: Bool { self == .busPublish || self == .busConsume }

    /// The client the mode's target applies to.
    var primaryClient: BenchmarkClient {
        switch self {
        case .publish, .publishConfirm, .consume: .amqp
        default: .bus
        }
    }

    /// The throughput ratio (client / C) the primary client must reach, for modes that compare throughput.
    var targetRatio: Double? {
        switch self {
        case .publish, .publishConfirm, .consume: 0.95
        case .busPublish, .busConsume: 0.8
        case .busE2E, .busSoak, .outbox, .webhook, .busCPU: nil
        }
    }

    /// Whether the mode reports latency percentiles rather than a throughput ratio.
    var isLatency: Bool { self == .busE2E }

    /// Messages per measurement when `--count` is not given.
    /// Messages per measurement when `--count` is not given. The AMQP publish rows run long enough (1–3 s per
    /// repetition) to measure the broker's sustained intake rather than a burst its socket buffers absorb: at 20 000
    /// messages a transient run lasted 0.3 s and the ratio of one binary swung by ±0.05 from run to run.
    var defaultCount: Int {
        switch self {
        case .publish: 100_000
        case .publishConfirm: 50_000
        case .busE2E: 10_000
        case .busSoak: 1_000_000
        case .busCPU: 3_000
        default: 20_000
        }
    }

    /// Repetitions when `--repeat` is not given.
    var defaultRepetitions: Int {
        switch self {
        case .publish, .publishConfirm, .consume: 5
        case .busPublish, .busConsume, .busE2E, .outbox, .webhook: 3
        case .busSoak, .busCPU: 1
        }
    }

    /// Whether the mode's rows take a confirm window.
    var usesWindow: Bool { self == .publishConfirm || self == .busPublish }
    /// Whether the mode's rows take a prefetch count.
    var usesPrefetch: Bool { self == .consume || self == .busConsume || self == .busSoak || self == .busE2E }
    /// Whether the mode's rows take a publish rate.
    var usesRate: Bool { self == .busE2E }
    /// Whether the mode runs a consuming bus (and so takes `--handler-concurrency`).
    var usesConsumingBus: Bool { self == .busConsume || self == .busE2E || self == .busSoak }
}

/// One line of the benchmark matrix: a mode and its parameters. Measured `repeat` times per client.
struct BenchmarkRow: Sendable, Hashable {
    var mode: BenchmarkMode
    /// Body size in bytes (for the bus modes: the size of the event's JSON body, padded to about this).
    var size: Int
    /// Messages per measurement.
    var count: Int
    /// Confirm window (publish-confirm, bus-publish).
    var window: Int?
    /// Prefetch count (consume, bus-consume, bus-soak; bus-e2e's consuming bus and AMQP consumer).
    var prefetch: Int?
    /// Target publish rate in msgs/s (bus-e2e); `nil` means as fast as possible.
    var rate: Int?
    /// The outbox store, `sqlite` or `postgres` (outbox); for bus-consume, `sqlite` makes the consuming bus record
    /// processed ids in a SQLite file and flush it before each ack (``BusConsumeBenchmark``); `nil` keeps them in memory.
    var store: String?
    /// How the outbox row saves (outbox only).
    var outbox: OutboxShape?

    /// The parameter column of the human table, e.g. `window 100`.
    var parameterLabel: String {
        if let window { return "window \(window)" }
        if let rate { return "rate \(rate)/s" }
        if mode == .busConsume, let store { return "prefetch \(prefetch ?? 100) durable \(store)" }
        if let store {
            return "store \(store)" + (outbox.map { " \($0.tasks)×\($0.eventsPerTransaction)" + ($0.relayDrain ? " relay drain" : "") } ?? "")
        }
        if let prefetch { return "prefetch \(prefetch)" }
        return ""
    }

    /// The size column: empty for the outbox (its event is its own).
    var sizeLabel: String { mode == .outbox ? "" : ByteCount.format(size) }

    /// The throughput ratio (bus / C) the row must reach: the mode's, but none for a durable bus-consume row, whose
    /// point is the cost of a flush per ack (C does not write to disk at all).
    var targetRatio: Double? { mode == .busConsume && store != nil ? nil : mode.targetRatio }

    /// `publish-confirm 256 B window 100`, for progress and error messages.
    var label: String {
        ["\(mode.rawValue)", sizeLabel, parameterLabel].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The default matrix `make bench` runs: transient publishes (256 B, 4 KiB), confirmed persistent
    /// publishes (256 B, 4 KiB × windows 100, 1000), consume-with-ack (256 B × prefetch 100, 1000); then the bus:
    /// bus-publish (256 B, window 100), bus-consume (256 B, prefetch 100), bus-e2e (256 B at 1 000 events/s), and
    /// the outbox on SQLite (and PostgreSQL when `postgres` is true), each as 64 tasks × 1 event and 16 tasks × 10
    /// events per transaction, and the relay alone draining a backlog saved 16 × 10. `count` overrides every row's
    /// default count; `nil` keeps them (publish 100 000, publish-confirm 50 000, others 20 000; bus-e2e 5 000 here).
    /// `bus-soak` only on request. Last, `bus-cpu`: instructions per event under callgrind (3 000 events per client).
    /// Other windows and prefetches: `--mode` with `--window` / `--prefetch`.
    static func matrix(count: Int?, postgres: Bool) -> [BenchmarkRow] {
        func n(_ mode: BenchmarkMode) -> Int { count ?? mode.defaultCount }
        var rows: [BenchmarkRow] = []
        for size in [256, 4_096] { rows.append(BenchmarkRow(mode: .publish, size: size, count: n(.publish))) }
        for size in [256, 4_096] {
            for window in [100, 1_000] {
                rows.append(BenchmarkRow(mode: .publishConfirm, size: size, count: n(.publishConfirm), window: window))
            }
        }
        for prefetch in [100, 1_000] {
            rows.append(BenchmarkRow(mode: .consume, size: 256, count: n(.consume), prefetch: prefetch))
        }
        rows.append(BenchmarkRow(mode: .busPublish, size: 256, count: n(.busPublish), window: 100))
        // Issue 19 compares the bus with the AMQP layer's own consume at both prefetches.
        for prefetch in [100, 1_000] {
            rows.append(BenchmarkRow(mode: .busConsume, size: 256, count: n(.busConsume), prefetch: prefetch))
        }
        // The same with processed ids in SQLite, made durable before each ack (issue 16): 5 000 events keep it short.
        rows.append(BenchmarkRow(mode: .busConsume, size: 256, count: count ?? 5_000, prefetch: 100, store: "sqlite"))
        // 5 000 events at 1 000/s: 5 s per client and repetition keeps the matrix near 10 minutes on 2 cores.
        rows.append(BenchmarkRow(mode: .busE2E, size: 256, count: count ?? 5_000, prefetch: 100, rate: 1_000))
        // One event per transaction from 64 tasks, then 10 per transaction from 16 (a service raising several events
        // in one change; fewer tasks keep the same number of events in flight).
        for store in postgres ? ["sqlite", "postgres"] : ["sqlite"] {
            for shape in [
                OutboxShape(tasks: 64, eventsPerTransaction: 1), OutboxShape(tasks: 16, eventsPerTransaction: 10),
                OutboxShape(tasks: 16, eventsPerTransaction: 10, relayDrain: true),
            ] {
                rows.append(BenchmarkRow(mode: .outbox, size: 256, count: n(.outbox), store: store, outbox: shape))
            }
        }
        // Instructions per event under callgrind (issue 19): 3 000 events per client keep it near 3 minutes.
        rows.append(BenchmarkRow(mode: .busCPU, size: 256, count: n(.busCPU)))
        return rows
    }

    /// The benchmark that measures this row.
    func makeBenchmark(target: BrokerTarget, options: BenchmarkOptions) -> any RowBenchmark {
        switch mode {
        case .publish:
            PublishBenchmark(target: target, size: size, count: count, confirm: false, window: nil, options: options)
        case .publishConfirm:
            PublishBenchmark(target: target, size: size, count: count, confirm: true, window: window ?? 100, options: options)
        case .consume:
            ConsumeBenchmark(target: target, size: size, count: count, prefetch: prefetch ?? 100, options: options)
        case .busPublish:
            BusPublishBenchmark(target: target, size: size, count: count, window: window ?? 100, options: options)
        case .busConsume:
            BusConsumeBenchmark(
                target: target, size: size, count: count, prefetch: prefetch ?? 100, durableStore: store == "sqlite", options: options)
        case .busE2E:
            BusLatencyBenchmark(
                target: target, size: size, count: count, rate: rate ?? 1_000, prefetch: prefetch ?? 100, options: options)
        case .busSoak:
            BusSoakBenchmark(target: target, size: size, count: count, prefetch: prefetch ?? 100, options: options)
        case .webhook, .busCPU:
            NotARowBenchmark(mode: mode)
        case .outbox:
            OutboxRowBenchmark(
                target: target, store: store ?? "sqlite", shape: outbox ?? OutboxShape(), count: count, options: options)
        }
    }
}

/// How the outbox row's services save: `tasks` concurrent tasks, each committing transactions of
/// `eventsPerTransaction` events (plus one domain row) one after the other. Shown as `tasks×events` in the table.
struct OutboxShape: Sendable, Hashable {
    var tasks = 64
    var eventsPerTransaction = 1
    /// Save everything first, then time the relay alone draining the backlog (shown as `relay drain`).
    var relayDrain = false
}

/// The implementations compared on a row (see ``BenchmarkMode/clients``).
enum BenchmarkClient: String, Sendable, CaseIterable {
    /// The raw librabbitmq-c baseline (`CRawBaseline`).
    case c
    /// The same C baseline publishing the bus's wire format (properties, headers, mandatory; `bus-publish` only).
    case cWire = "c-wire"
    /// The C latency loop with persistent messages into the durable queue, like the bus's (`bus-e2e` only).
    case cDurable = "c-durable"
    /// The Swift `AMQP` layer.
    case amqp
    /// The event bus (`RabbitMQEventBus`) over the `AMQP` layer.
    case bus

    /// Name for the human table.
    var displayName: String {
        switch self {
        case .c: "C"
        case .cWire: "C-wire"
        case .cDurable: "C-durable"
        case .amqp: "AMQP"
        case .bus: "Bus"
        }
    }
}

/// Knobs shared by all benchmarks that are not part of a row.
struct BenchmarkOptions: Sendable {
    /// Concurrent publishing tasks for transient Swift publishes (confirmed publishes use one per window slot).
    var transientWorkers = 64
    /// Concurrent publishing tasks for confirmed Swift and bus publishes; `nil` means one per window slot.
    var confirmWorkers: Int?
    /// Events per `publishAll` call in the bus's `bus-publish` measurement (1: `publish` one at a time).
    var publishAllBatch = 1
    /// How many handlers a consuming bus runs at once (its `handlerConcurrency`).
    var handlerConcurrency = 1
    /// Capacity of the consuming bus's `InMemoryProcessedMessageStore` in `bus-soak` (bounded, so the store itself
    /// cannot account for growth).
    var soakStoreCapacity = 100_000
    /// PostgreSQL for the outbox row (`EVENTBUS_POSTGRES_URL`).
    var postgresURL: String?
    /// How long a measurement or a queue-count check may go without progress before the row fails.
    var stallTimeout: Duration = .seconds(30)
}

/// One measurement of one client on one row.
struct Measurement: Sendable {
    /// Wall time of the measured part.
    var seconds: Double
    /// Messages completed.
    var messages: Int
    /// Latency percentiles, for latency modes only.
    var p50Milliseconds: Double?
    var p99Milliseconds: Double?
    /// CPU time (user + system) the whole process used while the client ran, connection setup included.
    /// On a small machine the broker competes for the same cores, so this explains throughput gaps.
    var cpuSeconds: Double?
    /// Process RSS over the run, for `bus-soak` only.
    var memory: MemoryProfile?
    /// `malloc` and `calloc` calls the whole process made while the client ran, in the runner's counted pass only
    /// (``MallocCount``).
    var mallocs: UInt64?
    /// Instructions the whole process executed while the client ran, under ``BusCPUBenchmark``'s callgrind only
    /// (``InstructionCount``).
    var instructions: UInt64?

    var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }

    /// `malloc` and `calloc` calls per message, when counted.
    var mallocsPerMessage: Double? {
        guard let mallocs, messages > 0 else { return nil }
        return Double(mallocs) / Double(messages)
    }

    /// Instructions per message, when counted.
    var instructionsPerMessage: Double? {
        guard let instructions, messages > 0 else { return nil }
        return Double(instructions) / Double(messages)
    }

    /// CPU microseconds per message, when measured.
    var cpuMicrosecondsPerMessage: Double? {
        guard let cpuSeconds, messages > 0 else { return nil }
        return cpuSeconds * 1e6 / Double(messages)
    }
}

/// Process CPU time (user + system), for ``Measurement/cpuSeconds``.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        guard getrusage(Int32(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return value(usage.ru_utime) + value(usage.ru_stime)
    }

    /// Runs `body` and stores the CPU time it took in the measurement it returns, and the `malloc` calls it made when
    /// the runner's counted pass armed ``MallocCount``.
    /// Under ``BusCPUBenchmark``'s callgrind it also stores the instructions the process executed
    /// (``InstructionCount``).
    static func measuring(_ body: () async throws -> Measurement) async throws -> Measurement {
        let counting = MallocCount.armed.load(ordering: .relaxed)
        let mallocsBefore = counting ? MallocCount.start() : 0
        defer { if counting { MallocCount.stop() } }
        let instructions = InstructionCount.armed.load(ordering: .relaxed)
        if instructions { InstructionCount.start() }
        let before = seconds()
        var measurement = try await body()
        measurement.cpuSeconds = seconds() - before
        if instructions { measurement.instructions = try InstructionCount.stop() }
        if counting { measurement.mallocs = raw_malloc_count() - mallocsBefore }
        return measurement
    }
}

/// The process's `malloc` and `calloc` calls, counted by the benchmark's own (CRawBaseline's `malloc_counter.c`, which
/// hands every call on to glibc's). Allocations per message do not move with the machine's load, unlike CPU time, so
/// a change to the hot path can be judged in one run. Counting costs an atomic add per call, so only the runner's
/// separate counted pass (one more run of each client on the bus rows) counts; the timed repetitions do not.
enum MallocCount {
    /// Set by the runner during its counted pass; ``ProcessCPU/measuring(_:)`` then counts around the measured part.
    static let armed = Atomic<Bool>(false)

    /// Switches counting on and returns the count so far.
    static func start() -> UInt64 {
        raw_malloc_counting(1)
        return raw_malloc_count()
    }

    /// Switches counting off.
    static func stop() {
        raw_malloc_counting(0)
    }
}

/// A benchmark for one row: measures one client against a fresh, empty, durable queue the runner declared
/// (and deletes afterwards). Implementations verify their own outcome (message counts) and throw
/// ``BenchmarkFailure`` when it is wrong.
protocol RowBenchmark: Sendable {
    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement
}

/// A mode that runs outside the row matrix (``BenchmarkMode/webhook``): measuring it as a row fails and says so.
struct NotARowBenchmark: RowBenchmark {
    let mode: BenchmarkMode
    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        throw BenchmarkFailure("\(mode.rawValue) runs only on its own, with --mode \(mode.rawValue)")
    }
}

/// The failure of a client that a row does not measure.
func unmeasuredClient(_ client: BenchmarkClient, on mode: BenchmarkMode) -> BenchmarkFailure {
    BenchmarkFailure("\(mode.rawValue) does not measure the \(client.rawValue) client")
}

/// A failure with a message fit for the user.
struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Byte-size formatting for labels.
enum ByteCount {
    static func format(_ bytes: Int) -> String {
        if bytes >= 1_024, bytes % 1_024 == 0 { return "\(bytes / 1_024) KiB" }
        return "\(bytes) B"
    }
}
