import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A program running beside a test: the test reads its output while it runs, learns at once when it ends, and
/// stops it with a signal.
///
/// A thread of its own reaps the child (see ``runProgram(_:_:environment:)`` for why not Foundation's `Process`).
public final class BackgroundProgram: Sendable {
    /// The child's process id.
    public let pid: pid_t
    private let path: String
    private let outputPath: String
    private let exit = Exit()

    /// How the child ended, shared with the thread that reaps it.
    private final class Exit: Sendable {
        let state = Mutex<State>(State())
    }

    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    /// Starts `path`; standard output and standard error go to a temporary file that ``output`` reads.
    public init(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        self.path = path
        outputPath = NSTemporaryDirectory() + "eventbus-background-\(UUID().uuidString).out"
        pid = try spawnProgram(path, arguments, environment: environment, outputPath: outputPath)
        let pid = pid
        let thread = Thread { [exit] in
            let status = (try? reapProgram(pid, path: path)) ?? -1
            let waiters = exit.state.withLock { state in
                state.status = status
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        thread.start()
    }

    deinit {
        if exitStatus == nil { Glibc.kill(pid, SIGKILL) }
        unlink(outputPath)
    }

    /// Everything the program has written so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// The exit status once the program has ended (128 + signal number when a signal ended it), else nil.
    public var exitStatus: Int32? { exit.state.withLock { $0.status } }

    /// Waits until the program's output has a line containing `text` and returns that line.
    ///
    /// Fails at once, with the output, if the program ends first; records an issue after `timeout`.
    public func line(
        containing text: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Substring {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let output = output
            if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) { return line }
            if let status = exitStatus {
                Issue.record("\(path) ended (status \(status)) before writing \"\(text)\":\n\(output.suffix(4_000))", sourceLocation: sourceLocation)
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("\(path) wrote no \"\(text)\" in \(timeout):\n\(output.suffix(4_000))", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// Sends `signal` (SIGTERM by default) unless the program has ended, then waits for it to end.
    public func stop(signal: Int32 = SIGTERM) async -> ProgramResult {
        if exitStatus == nil { Glibc.kill(pid, signal) }
        let status = await withCheckedContinuation { continuation in
            let ended = exit.state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let ended { continuation.resume(returning: ended) }
        }
        return ProgramResult(status: status, output: output)
    }
}
