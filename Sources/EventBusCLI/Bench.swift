import ArgumentParser
import Foundation

/// `eventbus bench`: runs `eventbus-bench` (the benchmark of the AMQP layer, the bus and the outbox against raw
/// librabbitmq-c) with the arguments given, so operators find it where the other commands are.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency against raw librabbitmq-c (runs eventbus-bench; `eventbus bench --help` shows its options).",
        discussion: """
            Looks for eventbus-bench next to this executable, then on the PATH. Build it in release mode for figures \
            worth quoting (make bench builds it and runs the whole matrix).
            """)

    @Argument(parsing: .captureForPassthrough, help: "Arguments for eventbus-bench (--mode, --size, --count, --json…).")
    var arguments: [String] = []

    static let benchmark = CompanionExecutable(
        name: "eventbus-bench",
        buildHint: "build it with `cd Benchmarks && swift build -c release --product eventbus-bench` (make bench builds and runs it)")

    func run() throws {
        let path = try Self.benchmark.path()
        if path.contains("/debug/") {
            FileHandle.standardError.write(Data("note: \(path) is a debug build; its figures are not comparable (make bench uses a release build)\n".utf8))
        }
        try CompanionExecutable.exec(path, arguments)
    }
}
