import ArgumentParser
import Foundation

/// `eventbus-bench`: measures the Swift `AMQP` layer against the raw librabbitmq-c baseline in one run.
///
/// Without `--mode` it runs the whole matrix (see ``BenchmarkRow/matrix(count:)``); with `--mode` only that row.
/// The broker comes from `EVENTBUS_URL`. Human output goes to stdout, or to stderr with `--json`, when stdout
/// carries one JSON object per row and client. Exits non-zero when a row failed.
@main
struct EventBusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventbus-bench",
        abstract: "Measures the AMQP layer against raw librabbitmq-c (broker from EVENTBUS_URL).",
        discussion: """
            Without --mode, runs the whole matrix: publish 256 B and 4 KiB; publish-confirm 256 B and 4 KiB \
            × window 100 and 1000; consume 256 B × prefetch 100 and 1000. Each row alternates the two clients, \
            repeats --repeat times and reports medians, the min–max spread and the ratio Swift / C \
            (target ≥ \(BenchmarkReport.targetRatio)).
            """)

    @Option(help: "Run only this row: \(BenchmarkMode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: BenchmarkMode?

    @Option(help: "Body size in bytes (with --mode; default 256).")
    var size: Int?

    @Option(help: "Messages per measurement.")
    var count: Int = 20_000

    @Option(help: "Confirm window (with --mode publish-confirm; default 100).")
    var window: Int?

    @Option(help: "Prefetch count (with --mode consume; default 100).")
    var prefetch: Int?

    @Option(name: .customLong("repeat"), help: "Repetitions per client and row; medians are reported.")
    var repetitions: Int = 5

    @Option(help: "Concurrent publishing tasks for transient Swift publishes.")
    var workers: Int = 64

    @Option(help: "Concurrent publishing tasks for publish-confirm (default: the window, so the window is what is in flight).")
    var confirmWorkers: Int?

    @Flag(help: "Print one JSON object per row and client on stdout (human output goes to stderr).")
    var json = false

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        if let confirmWorkers, confirmWorkers < 1 { throw ValidationError("--confirm-workers must be at least 1") }
        if let size, !(0...(64 << 20)).contains(size) { throw ValidationError("--size must be in 0...\(64 << 20)") }
        if let window, window < 1 { throw ValidationError("--window must be at least 1") }
        if let prefetch, !(0...65_535).contains(prefetch) { throw ValidationError("--prefetch must be in 0...65535") }
        guard let mode else {
            if size != nil || window != nil || prefetch != nil {
                throw ValidationError("--size, --window and --prefetch select one row: use them with --mode")
            }
            return
        }
        if window != nil, !mode.usesWindow { throw ValidationError("--window applies to --mode publish-confirm only") }
        if prefetch != nil, !mode.usesPrefetch { throw ValidationError("--prefetch applies to --mode consume only") }
    }

    /// The rows this invocation runs.
    var rows: [BenchmarkRow] {
        guard let mode else { return BenchmarkRow.matrix(count: count) }
        return [BenchmarkRow(
            mode: mode, size: size ?? 256, count: count,
            window: mode.usesWindow ? (window ?? 100) : nil,
            prefetch: mode.usesPrefetch ? (prefetch ?? 100) : nil)]
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
        var options = BenchmarkOptions()
        options.transientWorkers = workers
        options.confirmWorkers = confirmWorkers
        let runner = BenchmarkRunner(target: target, admin: admin, options: options, repetitions: repetitions, log: log)

        log("eventbus-bench: broker \(target.maskedURL), \(count) messages per measurement, \(repetitions) repetitions")
        var results: [RowResult] = []
        for row in rows {
            results.append(await runner.run(row))
        }
        await admin.close()

        let report = BenchmarkReport(results: results)
        human("\nmedian msgs/s [min–max over \(repetitions) repetitions], ratio = Swift / C (target ≥ \(BenchmarkReport.targetRatio))")
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
