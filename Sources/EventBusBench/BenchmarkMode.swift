import Foundation

/// What one benchmark row measures. Each mode is run once with the `AMQP` layer and once with the raw
/// librabbitmq-c baseline (`CRawBaseline`), so the two can be compared in the same run.
///
/// New modes (for example the event-bus modes `bus-publish`, `bus-consume`, `bus-e2e` with a `--rate` and
/// latency percentiles) are added here and in ``BenchmarkRow/makeBenchmark(target:options:)``.
enum BenchmarkMode: String, CaseIterable, Sendable {
    /// Transient publishes without confirms; the clock stops after one round trip following the last publish.
    case publish
    /// Persistent publishes in confirm mode with at most `window` unconfirmed messages.
    case publishConfirm = "publish-confirm"
    /// Consuming a pre-filled queue with a prefetch, one ack per message.
    case consume

    /// Whether the mode's rows take a confirm window.
    var usesWindow: Bool { self == .publishConfirm }
    /// Whether the mode's rows take a prefetch count.
    var usesPrefetch: Bool { self == .consume }
}

/// One line of the benchmark matrix: a mode and its parameters. Measured `repeat` times per client.
struct BenchmarkRow: Sendable, Hashable {
    var mode: BenchmarkMode
    /// Body size in bytes.
    var size: Int
    /// Messages per measurement.
    var count: Int
    /// Confirm window (publish-confirm only).
    var window: Int?
    /// Prefetch count (consume only).
    var prefetch: Int?
    /// Target publish rate in msgs/s, for future rate-limited (latency) modes; `nil` means as fast as possible.
    var rate: Int?

    /// The parameter column of the human table, e.g. `window 100`.
    var parameterLabel: String {
        if let window { return "window \(window)" }
        if let prefetch { return "prefetch \(prefetch)" }
        if let rate { return "rate \(rate)/s" }
        return ""
    }

    /// `publish-confirm 256 B window 100`, for progress and error messages.
    var label: String {
        ["\(mode.rawValue)", ByteCount.format(size), parameterLabel].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The default matrix `make bench` runs: transient publishes (256 B, 4 KiB), confirmed persistent
    /// publishes (256 B, 4 KiB × windows 100, 1000), consume-with-ack (256 B × prefetch 100, 1000).
    static func matrix(count: Int) -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        for size in [256, 4_096] { rows.append(BenchmarkRow(mode: .publish, size: size, count: count)) }
        for size in [256, 4_096] {
            for window in [100, 1_000] {
                rows.append(BenchmarkRow(mode: .publishConfirm, size: size, count: count, window: window))
            }
        }
        for prefetch in [100, 1_000] {
            rows.append(BenchmarkRow(mode: .consume, size: 256, count: count, prefetch: prefetch))
        }
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
        }
    }
}

/// The two implementations compared on every row.
enum BenchmarkClient: String, Sendable, CaseIterable {
    /// The raw librabbitmq-c baseline (`CRawBaseline`).
    case c
    /// The Swift `AMQP` layer.
    case swift

    /// Name for the human table.
    var displayName: String { self == .c ? "C" : "Swift" }
}

/// Knobs shared by all benchmarks that are not part of a row.
struct BenchmarkOptions: Sendable {
    /// Concurrent publishing tasks for transient Swift publishes (confirmed publishes use one per window slot).
    var transientWorkers = 64
    /// Concurrent publishing tasks for confirmed Swift publishes; `nil` means one per window slot.
    var confirmWorkers: Int?
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

    var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }

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

    /// Runs `body` and stores the CPU time it took in the measurement it returns.
    static func measuring(_ body: () async throws -> Measurement) async rethrows -> Measurement {
        let before = seconds()
        var measurement = try await body()
        measurement.cpuSeconds = seconds() - before
        return measurement
    }
}

/// A benchmark for one row: measures one client against a fresh, empty, durable queue the runner declared
/// (and deletes afterwards). Implementations verify their own outcome (message counts) and throw
/// ``BenchmarkFailure`` when it is wrong.
protocol RowBenchmark: Sendable {
    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement
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
