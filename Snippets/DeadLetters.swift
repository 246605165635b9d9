// Where a service's retries and dead letters live, and how to read, replay and purge the dead letters from Swift.

// snippet.hide
import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation

// snippet.show
// snippet.names
func names() {
    let topology = RabbitMQTopology(queue: "basket")
    print(topology.deadLetterQueue)                          // basket.dead-letter
    print(topology.retryQueue(delay: .seconds(10)))          // basket.retry.10000
    print(topology.queues(retryDelays: RetryPolicy.eventGrid.usedDelays))
}
// snippet.end

// snippet.inspect
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

// snippet.provision
func provision(url: String) async throws {
    let configuration = try RabbitMQEventBusConfiguration(url: url, serviceName: "basket")
    let declared = try await RabbitMQEventBus.declareTopology(
        configuration, eventTypes: ["ProductPriceChangedIntegrationEvent"],
        retryPolicy: try RetryPolicy(maxDeliveryAttempts: 10, eventTimeToLiveMinutes: 60))
    print(declared.queue, declared.retryQueues, declared.deadLetterQueue)
}
// snippet.end
