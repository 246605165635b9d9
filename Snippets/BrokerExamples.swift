// The broker side: the AMQP layer alone (AMQP's landing page), interoperating with .NET and Python services (EventBus's
// Wire format), retries and dead letters, and a cluster configuration (EventBusRabbitMQ's articles). Each article
// quotes one slice.

// snippet.hide
import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation

func handle(_ body: Data) throws {}

// snippet.show
// The AMQP layer alone: declare a queue, publish with a confirm, consume and acknowledge.

// snippet.amqp-basics
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
// snippet.end

// Interoperating with .NET and Python services: type names, key style, and events without a Swift type.

// snippet.interop-event
struct OrderStartedIntegrationEvent: IntegrationEvent {
    // The .NET class is Ordering.API's OrderStartedIntegrationEvent: same name, so nothing to set.
    var id = UUID()
    var creationDate = Date()
    var userId: String
}

struct PriceChanged: IntegrationEvent {
    static let eventTypeName = "ProductPriceChangedIntegrationEvent"    // the name on the wire
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}
// snippet.end

// snippet.interop-eshop
func eShopConfiguration(url: String) throws -> RabbitMQEventBusConfiguration {
    var configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: "Basket")
    configuration.exchange = "eshop_event_bus"    // eShop's exchange: direct, not durable
    configuration.exchangeDurable = false
    configuration.codec = EventCodec(keyStyle: .pascalCase)    // ProductId, NewPrice, ... in what this service publishes
    return configuration
}
// snippet.end

// snippet.interop-raw
func subscribeWithoutSwiftType(bus: RabbitMQEventBus) async throws {
    try await bus.subscribe(eventType: "OrderPaymentSucceededIntegrationEvent") { event, context in
        let body = try JSONSerialization.jsonObject(with: event.payload) as? [String: Any]
        print(event.id, event.source ?? "-", context.headers[EventHeaders.time] ?? "-", body?["OrderId"] ?? "-")
    }
}
// snippet.end

// Where a service's retries and dead letters live, and how to read, replay and purge the dead letters from Swift.

// snippet.dead-letter-names
func names() {
    let topology = RabbitMQTopology(queue: "basket")
    print(topology.deadLetterQueue)                          // basket.dead-letter
    print(topology.retryQueue(delay: .seconds(10)))          // basket.retry.10000
    print(topology.queues(retryDelays: RetryPolicy.eventGrid.usedDelays))
}
// snippet.end

// snippet.dead-letter-inspect
func inspectDeadLetters(url: String) async throws {
    let connection = try await AMQPConnection.connect(url: url, connectionName: "basket-ops")
    let deadLetters = DeadLetterQueue(topology: RabbitMQTopology(queue: "basket"), connection: connection)

    print("\(try await deadLetters.count()) dead letters")
    for letter in try await deadLetters.peek(limit: 20) {    // read and given back: nothing is taken
        print(letter.eventID ?? "-", letter.eventType ?? "-", letter.reason?.rawValue ?? "-", letter.explanation)
        if let error = letter.lastError { print("  last error:", error) }
    }

    // After fixing the cause: send the ones that failed for a handler bug back to the service.
    let retryable = try await deadLetters.peek()
        .filter { $0.reason == .maxDeliveryAttemptsExceeded }
        .compactMap(\.eventID)
    let replayed = try await deadLetters.replay(eventIDs: Set(retryable))
    print("replayed \(replayed.count)")

    await connection.close()
}
// snippet.end

// snippet.dead-letter-provision
func provision(url: String) async throws {
    let configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: "basket")
    let declared = try await RabbitMQEventBus.declareTopology(
        configuration, eventTypes: ["ProductPriceChangedIntegrationEvent"],
        retryPolicy: try RetryPolicy(maxDeliveryAttempts: 10, eventTimeToLiveMinutes: 60))
    print(declared.queue, declared.retryQueues, declared.deadLetterQueue)
}
// snippet.end

// A service on a three-node RabbitMQ cluster: every node in the URL, quorum queues.

// snippet.cluster
func clusterConfiguration() throws -> RabbitMQEventBusConfiguration {
    var configuration = try RabbitMQEventBusConfiguration(
        url: "amqp://basket:secret@rabbit1:5672,rabbit2:5672,rabbit3:5672/?heartbeat=10",
        serviceName: "basket")
    configuration.queueType = .quorum    // the service queue, its retry queues and its dead-letter queue
    return configuration
}
// snippet.end
