import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

    func run() throws {
        let path = try Self.benchmarkExecutable()
        if path.contains("/debug/") {
            FileHandle.standardError.write(Data("note: \(path) is a debug build; its figures are not comparable (make bench uses a release build)\n".utf8))
        }
        // Replaces this process: the benchmark's output, exit status and signals are the command's own.
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        let reason = String(cString: strerror(errno))
        for pointer in argv { free(pointer) }
        throw CLIError("could not run \(path): \(reason)")
    }

    /// `eventbus-bench` beside this executable, else the first on the PATH.
    static func benchmarkExecutable() throws -> String {
        var candidates: [String] = []
        if let own = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(own.deletingLastPathComponent().appendingPathComponent("eventbus-bench").path)
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/eventbus-bench")
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CLIError(
                "eventbus-bench was not found next to eventbus or on the PATH: build it with `swift build -c release --product eventbus-bench` (make bench builds and runs it)")
        }
        return found
    }
}
