import AMQP
import ArgumentParser
import EventBus
import EventBusRabbitMQ
import Foundation

/// `eventbus`: the operator's command line (DESIGN section 8). Every command takes the broker URL from
/// `--url` or `EVENTBUS_URL`, like the library.
@main
struct EventBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventbus",
        abstract: "Inspect and operate an EventBus deployment on RabbitMQ.",
        subcommands: [Publish.self, Tail.self, DeadLetters.self, Topology.self, Outbox.self, Subscriptions.self, Bench.self])
}

/// Options every command shares.
struct BrokerOptions: ParsableArguments {
    @Option(help: "Broker URL (default: $EVENTBUS_URL, else amqp://guest:guest@127.0.0.1:5672/).")
    var url: String?

    /// `--url`, else `EVENTBUS_URL`, else the local default.
    var resolvedURL: String {
        url ?? ProcessInfo.processInfo.environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    func connect(_ role: String) async throws -> AMQPConnection {
        try await AMQPConnection.connect(url: resolvedURL, connectionName: "eventbus-cli-\(role)")
    }
}

/// The counts of `queue`, checked on a channel of its own (a missing queue closes the channel that asks); a missing
/// queue is a ``CLIError`` that names it.
func existingQueue(_ queue: String, on connection: AMQPConnection, hint: String) async throws -> AMQPQueueInfo {
    let channel = try await connection.openChannel()
    do {
        let info = try await channel.queueDeclarePassive(queue)
        await channel.close()
        return info
    } catch AMQPError.channelClosedByBroker(let code, _) where code == .notFound {
        throw CLIError("no queue '\(queue)' on the broker; \(hint)")
    }
}

/// Prints a delivery as one readable block.
func describe(_ delivery: AMQPDelivery, index: Int? = nil) -> String {
    describe(delivery, index: index, explanation: nil)
}

/// Prints a dead letter as one readable block, with what its reason means.
func describe(_ letter: DeadLetter) -> String {
    describe(letter.message, index: letter.position, explanation: letter.reasonText == nil && !letter.rejectedAsItArrived ? nil : letter.explanation)
}

private func describe(_ delivery: AMQPDelivery, index: Int?, explanation: String?) -> String {
    var lines: [String] = []
    let type = delivery.properties.type ?? delivery.routingKey
    lines.append("\(index.map { "#\($0) " } ?? "")\(type) id=\(delivery.properties.messageID ?? "-") redelivered=\(delivery.redelivered)")
    if let explanation { lines.append("  reason: \(explanation)") }
    for key in delivery.headers.keys.sorted() {
        guard let value = delivery.headers[key] else { continue }
        let text: String
        switch value {
        case .string(let string): text = string
        default: text = value.intValue.map(String.init) ?? "\(value)"
        }
        lines.append("  \(key): \(text)")
    }
    let shown = delivery.body.prefix(4_096)
    let rest = delivery.body.count - shown.count
    lines.append("  body: \(String(decoding: shown, as: UTF8.self))\(rest > 0 ? " … (\(rest) more bytes)" : "")")
    return lines.joined(separator: "\n")
}

/// A failure the CLI explains in one line (no usage text: the arguments were fine).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
