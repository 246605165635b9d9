import Foundation
import TestSupport
import Testing

/// `eventbus bench` runs `eventbus-bench` with the arguments it was given.
@Suite(.timeLimit(.minutes(2))) struct BenchCommandTests {
    @Test func benchRunsTheBenchmarkWithItsArgumentsAndItsExitStatus() async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["EVENTBUS_URL"] = TestEnvironment.brokerURL
        let cli = try EventBusCLI.executable
        let rows = try await runProgram(cli, ["bench", "--mode", "publish", "--count", "2000", "--repeat", "1", "--json"], environment: environment)
        #expect(rows.status == 0, "\(rows.output)")
        #expect(rows.output.contains(#""client":"c","mode":"publish","size":256,"repeat":1,"messages":2000"#), "\(rows.output)")
        #expect(rows.output.contains(#""client":"amqp","mode":"publish","size":256,"repeat":1,"messages":2000"#), "\(rows.output)")

        let refused = try await runProgram(cli, ["bench", "--mode", "nonsense"], environment: environment)
        #expect(refused.failed)
        #expect(refused.output.contains("'nonsense' is invalid for '--mode"), "\(refused.output)")
    }
}
