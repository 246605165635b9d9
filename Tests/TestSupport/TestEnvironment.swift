import Foundation

/// Where the tests find their broker and scripts: the environment `make test` (scripts/with-services.sh) sets up,
/// with the private broker's defaults when a variable is missing.
public enum TestEnvironment {
    public static let environment = ProcessInfo.processInfo.environment

    /// The broker under test (`EVENTBUS_URL`).
    public static var brokerURL: String { environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/" }

    /// The PostgreSQL server under test (`EVENTBUS_POSTGRES_URL`, which scripts/with-services.sh sets), or the private
    /// cluster of scripts/postgres.sh. Tests that need it fail, never skip, when it does not answer.
    public static var postgresURL: String {
        environment["EVENTBUS_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "postgres://eventbus@127.0.0.1:5433/eventbus"
    }

    /// The port of the broker under test (from `EVENTBUS_URL`): broker controls default to it.
    public static var brokerPort: Int { URL(string: brokerURL)?.port ?? 5682 }

    /// The repository's root directory: the nearest directory above this file with scripts/broker.sh (this file is
    /// Tests/TestSupport/TestEnvironment.swift, which the Gateway and Samples packages reach through a link).
    public static var repositoryRoot: URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            directory = directory.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("scripts/broker.sh").path) { return directory }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// scripts/broker.sh (`EVENTBUS_BROKER_SCRIPT`).
    public static var brokerScript: String {
        environment["EVENTBUS_BROKER_SCRIPT"] ?? repositoryRoot.appendingPathComponent("scripts/broker.sh").path
    }

    /// A name no other test (or earlier run) uses: `prefix.<random>`.
    public static func unique(_ prefix: String) -> String { "\(prefix).\(UInt64.random(in: 0...UInt64.max))" }
}
