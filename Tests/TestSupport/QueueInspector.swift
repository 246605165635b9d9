import AMQP
import EventBus
import EventBusRabbitMQ
import Testing

/// A plain AMQP connection for inspecting queues and publishing as other clients would.
public struct Inspector: Sendable {
    public let connection: AMQPConnection
    public let channel: AMQPChannel

    public static func open(url: String = TestEnvironment.brokerURL) async throws -> Inspector {
        let connection = try await AMQPConnection.connect(url: url, connectionName: "test-inspector")
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        return Inspector(connection: connection, channel: channel)
    }

    /// The queue's consumer count, or `nil` when it does not exist (checked on a throwaway channel: a missing
    /// queue closes the channel that asked). The probe is closed before returning: polled every 25 ms on a busy
    /// machine, probes closed in the background could pile up towards the connection's channel limit.
    public func consumers(_ queue: String) async -> UInt32? {
        guard let probe = try? await connection.openChannel() else { return nil }
        let count = try? await probe.queueDeclarePassive(queue).consumerCount
        await probe.close()
        return count
    }

    /// Waits until `count` consumers consume `queue`: the bus declares and binds everything before consuming.
    public func waitForConsumers(_ queue: String, count: UInt32 = 1, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually("\(count) consumer(s) on \(queue)", sourceLocation: sourceLocation) { await consumers(queue) == count }
    }

    public func messageCount(_ queue: String) async throws -> UInt32 {
        try await channel.queueDeclarePassive(queue).messageCount
    }

    /// Takes every message of `queue`.
    public func drain(_ queue: String) async throws -> [AMQPDelivery] {
        var deliveries: [AMQPDelivery] = []
        while let delivery = try await channel.get(queue: queue, noAck: true) { deliveries.append(delivery) }
        return deliveries
    }

    /// Deletes a service's queues (service queue, dead letters, the retry queues of `retryDelays`, of
    /// ``testSubscription(dedup:)`` and of the default policy) and the exchange.
    public func cleanUp(queue: String, exchange: String, retryDelays: [Duration] = []) async {
        let cleanup = try? await connection.openChannel()
        let names = RabbitMQTopology(queue: queue)
        for name in names.queues(retryDelays: retryDelays + [.milliseconds(50)] + RetryPolicy.eventGrid.usedDelays) {
            _ = try? await cleanup?.queueDelete(name)
        }
        _ = try? await cleanup?.exchangeDelete(exchange)
        await connection.close()
    }
}
