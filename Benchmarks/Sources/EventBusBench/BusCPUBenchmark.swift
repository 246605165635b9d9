import Foundation

/// `bus-cpu`: instructions per event of the bus's publish and consume, next to C's and the `AMQP` layer's for the same
/// messages, counted by valgrind's callgrind (``InstructionCount``): a figure that does not move with the machine's
/// load, so one run judges a change on the hot path.
///
/// The row runs the benchmark again as a child process under `valgrind --tool=callgrind` (`--instruction-pass`, not for
/// users). The child runs each phase's clients exactly as ``BusPublishBenchmark`` (window 100) and
/// ``BusConsumeBenchmark`` (prefetch 100) measure them, each twice: once to warm up (the Swift runtime's lazy set-up,
/// first-use code paths), then counted, from callgrind's counters zeroed before the client starts to their dump after
/// it finished: every thread of the process, connection set-up included, as the CPU figures are. It prints one JSON
/// object per phase and client; this process reads them into the row.
struct BusCPUBenchmark {
    let target: BrokerTarget
    let admin: AdminSession
    let options: BenchmarkOptions
    let log: @Sendable (String) -> Void

    /// What the row counts: a phase, its bus row, and the clients counted on it.
    enum Phase: String, CaseIterable, Sendable {
        case publish
        case consume

        var clients: [BenchmarkClient] {
            switch self {
            case .publish: [.cWire, .amqp, .bus]
            case .consume: [.c, .amqp, .bus]
            }
        }

        /// The client the bus is compared with: C-wire for publish (the bus's wire format from C), the `AMQP` layer for
        /// consume (issue 19's two targets).
        var reference: BenchmarkClient {
            self == .publish ? .cWire : .amqp
        }

        func row(size: Int, count: Int) -> BenchmarkRow {
            switch self {
            case .publish: BenchmarkRow(mode: .busPublish, size: size, count: count, window: 100)
            case .consume: BenchmarkRow(mode: .busConsume, size: size, count: count, prefetch: 100)
            }
        }
    }

    /// One counted client: instructions per message.
    struct Figure: Sendable, Hashable {
        var phase: Phase
        var client: BenchmarkClient
    }

    // MARK: The row (this process)

    /// Runs the child under callgrind and returns the row with its figures, or with the reason it failed.
    func run(_ row: BenchmarkRow) async -> RowResult {
        var result = RowResult(row: row, repetitions: 1)
        do {
            result.instructionsPerMessage = try await runChild(size: row.size, count: row.count)
        } catch {
            result.failure = "\(error)"
            log("\(row.label): FAILED: \(error)")
        }
        return result
    }

    private func runChild(size: Int, count: Int) async throws -> [Figure: Double] {
        guard let valgrind = Self.executable(named: "valgrind") else {
            throw BenchmarkFailure("valgrind is not installed (Debian: apt-get install valgrind; make bench's setup installs it)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-bench-callgrind-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outFile = directory.appendingPathComponent("callgrind.out").path
        let executable = try strippedCopy(in: directory)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: valgrind)
        process.arguments = [
            "-q", "--tool=callgrind", "--callgrind-out-file=\(outFile)",
            executable, "--mode", BenchmarkMode.busCPU.rawValue, "--instruction-pass", "--size", "\(size)", "--count", "\(count)",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment[InstructionCount.outputVariable] = outFile
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        log("bus-cpu: counting instructions under callgrind (\(count) events per client; about 50× slower than native)")
        // A child that stops making progress (a broker gone, a wedged valgrind) is ended: its own stall timeouts cover
        // the measurements, this covers the rest.
        let limit = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(max(600, count / 10)), execute: limit)
        defer { limit.cancel() }
        let data: Data = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    try process.run()
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: data)
                } catch {
                    continuation.resume(throwing: BenchmarkFailure("cannot start valgrind: \(error)"))
                }
            }
        }
        guard process.terminationStatus == 0 else {
            throw BenchmarkFailure("the counted run under callgrind exited with status \(process.terminationStatus) (its output is above)")
        }
        var figures: [Figure: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let phase = (object["phase"] as? String).flatMap(Phase.init(rawValue:)),
                let client = (object["client"] as? String).flatMap(BenchmarkClient.init(rawValue:)),
                let perMessage = object["instructions_per_msg"] as? Double
            else { throw BenchmarkFailure("unexpected line from the counted run: \(line)") }
            figures[Figure(phase: phase, client: client)] = perMessage
        }
        for phase in Phase.allCases {
            for client in phase.clients where figures[Figure(phase: phase, client: client)] == nil {
                throw BenchmarkFailure("the counted run gave no figure for \(phase.rawValue) \(client.displayName)")
            }
        }
        return figures
    }

    /// This executable without its debug information: valgrind 3.19 cannot read the DWARF 5 that Swift writes and gives
    /// up on the whole program. Callgrind's totals need no symbols.
    private func strippedCopy(in directory: URL) throws -> String {
        guard let strip = Self.executable(named: "strip") ?? Self.executable(named: "llvm-strip") else {
            throw BenchmarkFailure("neither strip (binutils) nor llvm-strip is installed")
        }
        let copy = directory.appendingPathComponent("eventbus-bench").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: strip)
        process.arguments = ["--strip-debug", "-o", copy, URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchmarkFailure("\(strip) --strip-debug exited with status \(process.terminationStatus)")
        }
        return copy
    }

    private static func executable(named name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    // MARK: The counted run (the child under callgrind)

    /// Runs every phase's clients, each once to warm up and once counted, and returns one JSON object per phase and
    /// client (`phase`, `client`, `messages`, `instructions`, `instructions_per_msg`).
    func countInstructions(size: Int, count: Int) async throws -> [String] {
        guard InstructionCount.underValgrind else {
            throw BenchmarkFailure("--instruction-pass runs under valgrind --tool=callgrind only; use --mode bus-cpu")
        }
        var lines: [String] = []
        for phase in Phase.allCases {
            let row = phase.row(size: size, count: count)
            let benchmark = row.makeBenchmark(target: target, options: options)
            for client in phase.clients {
                _ = try await measure(benchmark, row: row, client: client)
                InstructionCount.armed.store(true, ordering: .sequentiallyConsistent)
                defer { InstructionCount.armed.store(false, ordering: .sequentiallyConsistent) }
                let measurement = try await measure(benchmark, row: row, client: client)
                guard let instructions = measurement.instructions, let perMessage = measurement.instructionsPerMessage else {
                    throw BenchmarkFailure("\(row.label): \(client.displayName) was not counted")
                }
                log("bus-cpu: \(phase.rawValue) \(client.displayName) \(Format.rate(perMessage)) instructions/msg")
                var object = JSONObject()
                object.add("phase", phase.rawValue)
                object.add("client", client.rawValue)
                object.add("messages", measurement.messages)
                object.add("instructions", Int(instructions))
                object.add("instructions_per_msg", perMessage, decimals: 1)
                lines.append(object.text)
            }
        }
        return lines
    }

    private func measure(_ benchmark: any RowBenchmark, row: BenchmarkRow, client: BenchmarkClient) async throws -> Measurement {
        let queue = await admin.uniqueQueueName(row: row, client: client)
        try await admin.declareEmptyQueue(queue)
        let measurement: Measurement
        do {
            measurement = try await benchmark.measure(client: client, queue: queue, admin: admin)
        } catch {
            _ = await admin.deleteQueue(queue)
            throw error
        }
        if let error = await admin.deleteQueue(queue) { log("warning: could not delete queue \(queue): \(error)") }
        return measurement
    }
}
