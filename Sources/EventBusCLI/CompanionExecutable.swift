import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An executable of another package of this repository that an `eventbus` command hands over to (`bench` runs
/// `eventbus-bench`, `subscriptions` runs `eventbus-gateway subscriptions`): found beside `eventbus`, else on the PATH.
struct CompanionExecutable {
    /// The executable's name.
    let name: String
    /// How to build it, for the error when it is missing.
    let buildHint: String

    /// The executable beside this one, else the first on the PATH.
    func path() throws -> String {
        var candidates: [String] = []
        if let own = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(own.deletingLastPathComponent().appendingPathComponent(name).path)
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/\(name)")
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CLIError("\(name) was not found next to eventbus or on the PATH: \(buildHint)")
        }
        return found
    }

    /// Replaces this process with the executable at `path` run with `arguments`: its output, exit status and signals
    /// are the command's own. Returns only by throwing, when it cannot be started.
    static func exec(_ path: String, _ arguments: [String]) throws -> Never {
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        let reason = String(cString: strerror(errno))
        for pointer in argv { free(pointer) }
        throw CLIError("could not run \(path): \(reason)")
    }
}
