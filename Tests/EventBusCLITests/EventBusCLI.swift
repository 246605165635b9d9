import Foundation
import TestSupport

/// The built `eventbus` executable, run as an operator would.
enum EventBusCLI {
    /// Where the build put `eventbus` (beside the test executable); `EVENTBUS_CLI` overrides it.
    static var executable: String {
        get throws { try BuiltExecutable.path("eventbus", override: "EVENTBUS_CLI") }
    }

    /// Runs `eventbus` with `arguments` against the broker at `url` (`--url`).
    static func run(_ arguments: [String], url: String = TestEnvironment.brokerURL) async throws -> ProgramResult {
        try await runProgram(try executable, arguments + ["--url", url])
    }
}
