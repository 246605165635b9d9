import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a program run by ``runProgram(_:_:environment:)``.
public struct ProgramResult: Sendable {
    /// The exit status (128 + signal number when killed by a signal).
    public var status: Int32
    /// Standard output and standard error, interleaved.
    public var output: String
}

/// Runs a program to completion without blocking a Swift concurrency thread.
///
/// Foundation's `Process` does not reliably notice a child's exit here (both `waitUntilExit()` and
/// `terminationHandler` were seen to hang after the child had exited), so this spawns with `posix_spawn` and reaps
/// with a blocking `waitpid` on a thread of its own. Output goes to a temporary file: a chatty program cannot fill
/// a pipe and stall.
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> ProgramResult {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try spawnAndWait(path, arguments, environment: environment) })
        }
        thread.start()
    }
}

/// Why a program could not be started.
public struct ProgramLaunchError: Error, CustomStringConvertible {
    public var path: String
    public var code: Int32
    public var description: String { "could not start \(path): \(String(cString: strerror(code)))" }
}

private func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String]?) throws -> ProgramResult {
    let outputPath = NSTemporaryDirectory() + "eventbus-program-\(UUID().uuidString).out"
    defer { unlink(outputPath) }
    let pid = try spawnProgram(path, arguments, environment: environment, outputPath: outputPath)
    let status = try reapProgram(pid, path: path)
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return ProgramResult(status: status, output: output)
}

/// Starts `path` with standard input from /dev/null and standard output and error into `outputPath`.
func spawnProgram(_ path: String, _ arguments: [String], environment: [String: String]?, outputPath: String) throws -> pid_t {
    let environment = environment ?? ProcessInfo.processInfo.environment
    var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var pid = pid_t()
    let spawned = posix_spawn(&pid, path, &actions, nil, &argv, &envp)
    guard spawned == 0 else { throw ProgramLaunchError(path: path, code: spawned) }
    return pid
}

/// Waits for child `pid` to end (blocking the calling thread) and returns its exit status (128 + signal number when
/// a signal ended it).
func reapProgram(_ pid: pid_t, path: String) throws -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { throw ProgramLaunchError(path: path, code: errno) }
    }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
