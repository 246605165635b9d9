import Foundation
import TestSupport

/// The built `eventbus` executable, run as an operator would.
enum EventBusCLI {
    /// Where the build put `eventbus`: next to the test executable (`swift build --build-tests` builds every
    /// product into the same directory). `EVENTBUS_CLI` overrides it.
    static var executable: String {
        get throws {
            if let path = TestEnvironment.environment["EVENTBUS_CLI"], !path.isEmpty { return path }
            #if os(macOS)
            let products = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
            #else
            let products = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
            #endif
            guard let path = products?.appendingPathComponent("eventbus").path, FileManager.default.isExecutableFile(atPath: path) else {
                throw MissingExecutable(directory: products?.path ?? "?")
            }
            return path
        }
    }

    /// Runs `eventbus` with `arguments` against the broker at `url` (`--url`).
    static func run(_ arguments: [String], url: String = TestEnvironment.brokerURL) async throws -> ProgramResult {
        try await runProgram(try executable, arguments + ["--url", url])
    }

    struct MissingExecutable: Error, CustomStringConvertible {
        let directory: String
        var description: String {
            "no eventbus executable in \(directory): build with `swift build --build-tests` (it builds every product) or set EVENTBUS_CLI"
        }
    }
}

extension ProgramResult {
    /// Whether the command failed.
    var failed: Bool { status != 0 }
}
