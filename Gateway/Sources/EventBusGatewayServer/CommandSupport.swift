import AMQP
import ArgumentParser
import Foundation

/// The broker the `subscriptions` commands read queue counts from.
struct BrokerOptions: ParsableArguments {
    @Option(help: "Broker URL (default: $EVENTBUS_URL, else amqp://guest:guest@127.0.0.1:5672/).")
    var url: String?

    /// `--url`, else `EVENTBUS_URL`, else the local default.
    var resolvedURL: String {
        url ?? ProcessInfo.processInfo.environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    func connect(_ role: String) async throws -> AMQPConnection {
        try await AMQPConnection.connect(url: resolvedURL, connectionName: "eventbus-gateway-\(role)")
    }
}

/// A failure the command explains in one line (no usage text: the arguments were fine).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
