// The AMQP layer alone: declare a queue, publish with a confirm, consume and acknowledge.

// snippet.hide
import AMQP
import Foundation

func handle(_ body: Data) throws {}

// snippet.show
func publishAndConsume(url: String) async throws {
    let connection = try await AMQPConnection.connect(url: url, connectionName: "amqp-basics")
    let channel = try await connection.openChannel()
    try await channel.queueDeclare("basket", durable: true, arguments: ["x-queue-type": "quorum"])

    try await channel.confirmSelect(window: 1_000)    // publish now returns once the broker confirmed
    try await channel.publish(
        Data(#"{"productId": 1}"#.utf8), routingKey: "basket", mandatory: true,
        properties: AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: UUID().uuidString))

    let consumer = try await channel.consume(queue: "basket", prefetch: 50)
    for try await delivery in consumer {
        try handle(delivery.body)
        try consumer.ack(delivery)
    }
    await connection.close()
}
