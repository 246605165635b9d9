import AMQP
import Foundation
import Logging

// `make demo` for the Foundation: publishes a few confirmed messages through the AMQP layer, consumes them back
// and prints each step. Reads the broker URL from EVENTBUS_URL.

@main
struct AMQPDemo {
    static func main() async {
        let url = ProcessInfo.processInfo.environment["EVENTBUS_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
        do {
            try await run(url: url)
        } catch {
            print("demo failed: \(error)")
            exit(1)
        }
    }

    static func run(url: String) async throws {
        let configuration = try AMQPConnectionConfiguration(url: url)
        print("connecting to \(configuration)")
        let connection = try await AMQPConnection.connect(configuration)
        let channel = try await connection.openChannel()
        let queue = "eventbus-demo-\(UInt32.random(in: 0...UInt32.max))"
        try await channel.queueDeclare(queue, durable: false, autoDelete: false)
        print("declared queue \(queue)")

        try await channel.confirmSelect()
        let prices = ["42.00", "39.90", "35.50"]
        for (index, price) in prices.enumerated() {
            let body = Data(#"{"productId":1,"newPrice":\#(price)}"#.utf8)
            try await channel.publish(
                body, routingKey: queue,
                properties: AMQPProperties(
                    contentType: "application/json", deliveryMode: .persistent, messageID: "demo-\(index + 1)",
                    type: "ProductPriceChangedIntegrationEvent"))
            print("published demo-\(index + 1) and the broker confirmed it")
        }

        let consumer = try await channel.consume(queue: queue, prefetch: 10)
        var received = 0
        for try await delivery in consumer {
            received += 1
            let text = String(decoding: delivery.body, as: UTF8.self)
            print("consumed \(delivery.properties.messageID ?? "?") (\(delivery.properties.type ?? "?")): \(text)")
            try consumer.ack(delivery)
            if received == prices.count { break }
        }
        try await consumer.cancel()
        let info = try await channel.queueDeclarePassive(queue)
        print("queue \(queue) now holds \(info.messageCount) messages")
        try await channel.queueDelete(queue)
        await connection.close()
        print("done: \(received) of \(prices.count) messages went through the broker and were acknowledged")
    }
}
