import CRawBaseline
import Foundation
import Synchronization

/// Instructions the whole process executed around a measured part, counted by valgrind's callgrind (the `bus-cpu`
/// row, ``BusCPUBenchmark``). Unlike CPU time the count does not move with the machine's load, so one run judges a
/// change on the hot path.
///
/// Only a process started by ``BusCPUBenchmark`` under `valgrind --tool=callgrind` counts: ``ProcessCPU/measuring(_:)``
/// zeroes callgrind's counters (every thread's) before the measured part and dumps them after; callgrind writes each
/// dump to `<out-file>.<n>`, whose `totals:` line is the count. `<out-file>` comes from ``outputVariable``.
enum InstructionCount {
    /// Set while ``BusCPUBenchmark``'s child process runs its counted clients.
    static let armed = Atomic<Bool>(false)
    /// The environment variable holding callgrind's `--callgrind-out-file` for the child process.
    static let outputVariable = "EVENTBUS_BENCH_CALLGRIND_OUT"
    private static let dumps = Atomic<Int>(0)

    /// Whether this process runs under valgrind (and the benchmark was built with valgrind's headers).
    static var underValgrind: Bool { raw_callgrind_running() != 0 }

    /// Zeroes callgrind's counters.
    static func start() {
        raw_callgrind_zero()
    }

    /// Dumps callgrind's counters and returns the instructions since ``start()``.
    static func stop() throws -> UInt64 {
        raw_callgrind_dump("measured")
        let part = dumps.add(1, ordering: .sequentiallyConsistent).newValue
        guard let base = ProcessInfo.processInfo.environment[outputVariable], !base.isEmpty else {
            throw BenchmarkFailure("\(outputVariable) is not set: run the bus-cpu row through eventbus-bench --mode bus-cpu")
        }
        let path = "\(base).\(part)"
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BenchmarkFailure("cannot read callgrind's dump \(path): \(error)")
        }
        // The dump ends with `totals: <Ir>` (older valgrinds also write `summary: <Ir>`, the same figure).
        for line in text.split(separator: "\n").reversed() where line.hasPrefix("totals:") || line.hasPrefix("summary:") {
            if let value = UInt64(line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)) {
                return value
            }
        }
        throw BenchmarkFailure("callgrind's dump \(path) has no totals line")
    }
}
