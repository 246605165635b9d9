import AMQP
import Foundation
import EventBus

/// Controls a private broker through scripts/broker.sh (start, stop, restart, `ctl` for rabbitmqctl), run with
/// ``runProgram(_:_:environment:)``.
public enum BrokerControl {
    /// Runs scripts/broker.sh with `arguments` for the broker on `port`; returns its output, throws when it fails.
    @discardableResult
    public static func run(_ arguments: [String], port: Int = TestEnvironment.brokerPort) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["EVENTBUS_BROKER_PORT"] = "\(port)"
        environment.removeValue(forKey: "EVENTBUS_BROKER_TLS_PORT")
        let result = try await runProgram(TestEnvironment.brokerScript, arguments, environment: environment)
        guard result.status == 0 else { throw BrokerScriptError(arguments: arguments, output: result.output) }
        return result.output
    }

    /// Closes, from the broker side, the connection whose client-provided name is `name` (the client sees
    /// `CONNECTION_FORCED - <reason>`).
    public static func closeConnection(
        named name: String, reason: String = "test kills this connection", port: Int = TestEnvironment.brokerPort
    ) async throws {
        let pid = try await connectionProcess(named: name, port: port)
        try await closeConnection(process: pid, reason: reason, port: port)
    }

    /// The broker's process id of the connection whose client-provided name is `name`, for
    /// ``closeConnection(process:reason:port:)``: each rabbitmqctl run takes seconds on a busy machine, so a test that
    /// must close a connection at a precise moment looks it up beforehand.
    public static func connectionProcess(named name: String, port: Int = TestEnvironment.brokerPort) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let listing = try await run(["ctl", "list_connections", "--no-table-headers", "--silent", "pid", "client_properties"], port: port)
            for line in listing.split(separator: "\n") where line.contains("{\"connection_name\",\"\(name)\"}") {
                if let pid = line.split(separator: "\t").first { return String(pid) }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrokerScriptError(arguments: ["close_connection", name], output: "no such connection")
    }

    /// Closes, from the broker side, the connection whose broker process id is `process`.
    public static func closeConnection(
        process: String, reason: String = "test kills this connection", port: Int = TestEnvironment.brokerPort
    ) async throws {
        try await run(["ctl", "close_connection", process, reason], port: port)
    }

    /// Deletes a consuming service's queues (the bus declares them durable: service queue, dead letters, the retry
    /// queues of `retryDelays` (milliseconds) and of the default policy) and the exchange, over AMQP, in the
    /// background: leftovers on the test broker are harmless, and a fresh `make test` starts from an empty broker.
    public static func deleteTopology(of service: String, exchange: String, retryDelays: [Int] = [50]) {
        let defaults = RetryPolicy.eventGrid.usedDelays.map { max(Int($0 / .milliseconds(1)), 1) }
        let queues = [service, "\(service).dead-letter"] + Set(retryDelays + defaults).map { "\(service).retry.\($0)" }
        Task.detached {
            guard let connection = try? await AMQPConnection.connect(url: TestEnvironment.brokerURL, connectionName: "cleanup"),
                let channel = try? await connection.openChannel()
            else { return }
            for queue in queues { _ = try? await channel.queueDelete(queue) }
            try? await channel.exchangeDelete(exchange)
            await connection.close()
        }
    }
}

/// Controls the local three-node cluster of scripts/cluster.sh (DESIGN section 11), next to scripts/broker.sh.
public enum ClusterControl {
    /// The cluster's URL, all three nodes in order (node 1 first): a client moves to the next when one is down.
    public static var url: String { "amqp://guest:guest@127.0.0.1:\(port(ofNode: 1)),127.0.0.1:\(port(ofNode: 2)),127.0.0.1:\(port(ofNode: 3))/" }

    /// The AMQP port of node `node` (1-3): `EVENTBUS_CLUSTER_PORT` (5701) for node 1 and the two ports after it.
    public static func port(ofNode node: Int) -> Int {
        (Int(TestEnvironment.environment["EVENTBUS_CLUSTER_PORT"] ?? "") ?? 5701) + node - 1
    }

    /// Runs scripts/cluster.sh with `arguments` (`start --fresh`, `stop`, `stop-node 1`, ...); returns its output,
    /// throws when it fails.
    @discardableResult
    public static func run(_ arguments: [String]) async throws -> String {
        let script = URL(fileURLWithPath: TestEnvironment.brokerScript).deletingLastPathComponent().appendingPathComponent("cluster.sh").path
        let result = try await runProgram(script, arguments)
        guard result.status == 0 else { throw BrokerScriptError(arguments: ["cluster.sh"] + arguments, output: result.output) }
        return result.output
    }
}

/// scripts/broker.sh exited non-zero.
public struct BrokerScriptError: Error, CustomStringConvertible {
    public let arguments: [String]
    public let output: String
    public var description: String { "broker.sh \(arguments.joined(separator: " ")) failed: \(output)" }
}
