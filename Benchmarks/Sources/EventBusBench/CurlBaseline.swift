import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The webhook rows' outside baseline: `curl` (a client that is not ours) POSTing bodies one after another on one
/// kept-alive connection, from one config file, so no process start is counted per request.
enum CurlBaseline {
    /// The curl executable, or `nil` when it is not installed (the rows are then left out).
    static var executable: String? {
        ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// POSTs each body to `url` in order with `content-type`; returns when curl has ended. Throws when it failed.
    static func post(_ bodies: [ByteBuffer], to url: String, contentType: String) async throws {
        guard let curl = executable else { throw BenchmarkFailure("curl is not installed") }
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var config = "silent\nshow-error\nfail\n"
        for (index, body) in bodies.enumerated() {
            if index > 0 { config += "next\n" }
            config += "url = \(quoted(url))\nheader = \(quoted("content-type: " + contentType))\n"
                + "data-binary = \(quoted(String(buffer: body)))\noutput = \"/dev/null\"\n"
        }
        let path = NSTemporaryDirectory() + "eventbus-bench-curl-\(UUID().uuidString).conf"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let status = try await run(curl, ["--config", path])
        guard status == 0 else { throw BenchmarkFailure("curl ended with status \(status)") }
    }

    /// Runs a program to its end on a thread of its own (posix_spawn and a blocking waitpid); its exit status.
    private static func run(_ path: String, _ arguments: [String]) async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
                defer { for pointer in argv { free(pointer) } }
                var pid = pid_t()
                let spawned = posix_spawn(&pid, path, nil, nil, &argv, environ)
                guard spawned == 0 else {
                    return continuation.resume(throwing: BenchmarkFailure("could not start \(path): \(String(cString: strerror(spawned)))"))
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                continuation.resume(returning: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }.start()
        }
    }
}
