import AMQP
import ArgumentParser
import Foundation

/// `eventbus tail`: prints events as they arrive, through a temporary queue bound to the exchange (it does not
/// take events from any service's queue).
struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print events published to an exchange as they arrive.")

    @OptionGroup var broker: BrokerOptions
    @Option(help: "Exchange.") var exchange = "event_bus"
    @Option(name: .customLong("type"), help: "Event type to follow (repeatable).") var types: [String]
    @Option(help: "Stop after this many events.") var count: Int?

    func run() async throws {
        guard !types.isEmpty else { throw ValidationError("give at least one --type") }
        let connection = try await broker.connect("tail")
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("", durable: false, exclusive: true, autoDelete: true)
        for type in types { try await channel.queueBind(queue.name, exchange: exchange, routingKey: type) }
        print("tailing \(types.joined(separator: ", ")) on \(exchange) (Ctrl-C to stop)")
        let consumer = try await channel.consume(queue: queue.name, prefetch: 100)
        var seen = 0
        for try await delivery in consumer {
            seen += 1
            print(describe(delivery, index: seen))
            try consumer.ack(delivery)
            if let count, seen >= count { break }
        }
        await connection.close()
    }
}
