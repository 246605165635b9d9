import AMQP
import Foundation
import TestSupport
import Testing

/// The private broker the tests talk to (started by `make test` through scripts/with-services.sh). Tests never
/// skip when it is missing: connecting fails and the test fails with the connection error.
enum TestBroker {
    static let environment = ProcessInfo.processInfo.environment

    static var url: String { environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/" }

    static var configuration: AMQPConnectionConfiguration {
        get throws { try AMQPConnectionConfiguration(url: url) }
    }

    static var tlsPort: Int { Int(environment["EVENTBUS_TLS_PORT"] ?? "") ?? 5681 }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var tlsDirectory: String {
        environment["EVENTBUS_TLS_DIR"] ?? repositoryRoot.appendingPathComponent(".run/rabbitmq/tls").path
    }

    static var brokerScript: String {
        environment["EVENTBUS_BROKER_SCRIPT"] ?? repositoryRoot.appendingPathComponent("scripts/broker.sh").path
    }

    static func connect(_ name: String = #function, heartbeat: Int? = nil, frameMax: Int? = nil) async throws -> AMQPConnection {
        var configuration = try configuration
        configuration.connectionName = "test-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        if let heartbeat { configuration.heartbeatSeconds = heartbeat }
        if let frameMax { configuration.frameMax = frameMax }
        return try await AMQPConnection.connect(configuration)
    }

    /// A name no other test (or earlier run) uses.
    static func uniqueName(_ prefix: String = #function) -> String {
        let clean = prefix.prefix(while: { $0 != "(" })
        return "test.\(clean).\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Runs `rabbitmqctl` against the private node and returns its output.
    @discardableResult
    static func ctl(_ arguments: String...) async throws -> String {
        let result = try await runProgram(brokerScript, ["ctl"] + arguments)
        guard result.status == 0 else { throw BrokerControlError(arguments: arguments, output: result.output) }
        return result.output
    }

    struct BrokerControlError: Error, CustomStringConvertible {
        let arguments: [String]
        let output: String
        var description: String { "rabbitmqctl \(arguments.joined(separator: " ")) failed: \(output)" }
    }

    /// Waits until `queue` holds exactly `count` ready messages (confirms may run ahead of the queue's count by a
    /// moment), or until `timeout`; returns the last count seen.
    @discardableResult
    static func waitForMessageCount(
        _ count: UInt32, in queue: String, on channel: AMQPChannel, timeout: Duration = .seconds(30)
    ) async throws -> UInt32 {
        let deadline = ContinuousClock.now + timeout
        var seen = try await channel.queueDeclarePassive(queue).messageCount
        while seen != count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            seen = try await channel.queueDeclarePassive(queue).messageCount
        }
        return seen
    }
}

/// Runs `body` with a fresh connection, channel and a uniquely named queue, and deletes the queue afterwards.
func withQueue(
    _ name: String = #function,
    durable: Bool = true,
    arguments: AMQPTable = [:],
    frameMax: Int? = nil,
    _ body: (AMQPConnection, AMQPChannel, String) async throws -> Void
) async throws {
    let connection = try await TestBroker.connect(name, frameMax: frameMax)
    let channel = try await connection.openChannel()
    let queue = TestBroker.uniqueName(name)
    try await channel.queueDeclare(queue, durable: durable, arguments: arguments)
    do {
        try await body(connection, channel, queue)
    } catch {
        await cleanUp(connection, queue)
        throw error
    }
    await cleanUp(connection, queue)
}

private func cleanUp(_ connection: AMQPConnection, _ queue: String) async {
    if connection.isOpen, let channel = try? await connection.openChannel() {
        _ = try? await channel.queueDelete(queue)
    }
    await connection.close()
}

