import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation

/// The benchmark's own connection for everything around a measurement: declaring, purging and deleting the
/// queues, and checking message counts. It is reopened when the broker closed it or its channel. For the bus
/// modes it also owns the run's exchange (``busExchange()``), deleted by ``close()``.
actor AdminSession {
    let target: BrokerTarget
    private var connection: AMQPConnection?
    private var openChannel: AMQPChannel?
    private var queueSerial = 0
    private let runID = UInt32.random(in: 0...UInt32.max)
    private var declaredExchange: String?

    init(target: BrokerTarget) {
        self.target = target
    }

    /// An open channel, reconnecting when needed.
    func channel() async throws -> AMQPChannel {
        if let openChannel, openChannel.isOpen, openChannel.connection.isOpen { return openChannel }
        if let connection, connection.isOpen {
            let channel = try await connection.openChannel()
            openChannel = channel
            return channel
        }
        let connection = try await AMQPConnection.connect(url: target.url, connectionName: "eventbus-bench-admin")
        self.connection = connection
        let channel = try await connection.openChannel()
        openChannel = channel
        return channel
    }

    /// A queue name no other measurement (of this or another run) uses.
    func uniqueQueueName(row: BenchmarkRow, client: BenchmarkClient) -> String {
        queueSerial += 1
        return "eventbus-bench-\(row.mode.rawValue)-\(client.rawValue)-\(String(runID, radix: 16))-\(queueSerial)"
    }

    /// Declares a classic durable queue and purges it, so the measurement starts from an empty queue.
    func declareEmptyQueue(_ queue: String) async throws {
        let channel = try await channel()
        try await channel.queueDeclare(queue, durable: true, exclusive: false, autoDelete: false)
        try await channel.queuePurge(queue)
    }

    /// Deletes a queue; failures are returned rather than thrown (cleanup must not hide the real outcome).
    func deleteQueue(_ queue: String) async -> (any Error)? {
        do {
            _ = try await channel().queueDelete(queue)
            return nil
        } catch {
            return error
        }
    }

    /// The number of ready messages in `queue`.
    func messageCount(_ queue: String) async throws -> Int {
        Int(try await channel().queueDeclarePassive(queue).messageCount)
    }

    /// Polls the queue until it holds exactly `expected` ready messages; throws when the count has not changed
    /// for `stallTimeout` (or overshoots).
    func waitForMessageCount(_ queue: String, _ expected: Int, stallTimeout: Duration, who: String) async throws {
        let clock = ContinuousClock()
        var last = -1
        var lastChange = clock.now
        while true {
            let count = try await messageCount(queue)
            if count == expected { return }
            if count != last {
                last = count
                lastChange = clock.now
            } else if lastChange.duration(to: clock.now) > stallTimeout {
                throw BenchmarkFailure("\(who): queue \(queue) holds \(count) messages, expected \(expected)")
            }
            if count > expected, expected > 0 {
                throw BenchmarkFailure("\(who): queue \(queue) holds \(count) messages, more than the \(expected) expected")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    // MARK: - Bus modes

    /// The exchange this run's buses publish to and bind on (`eventbus-bench-<run>`, direct, durable, as the bus
    /// declares it), declared on first use.
    func busExchange() async throws -> String {
        if let declaredExchange { return declaredExchange }
        let name = "eventbus-bench-\(String(runID, radix: 16))"
        try await channel().exchangeDeclare(name, type: .direct, durable: true)
        declaredExchange = name
        return name
    }

    /// Binds `queue` to the run's exchange for ``BenchmarkEvent``s, so bus publishes (mandatory) are routed to it.
    func bindForEvents(_ queue: String) async throws {
        let exchange = try await busExchange()
        try await channel().queueBind(queue, exchange: exchange, routingKey: BenchmarkEvent.eventTypeName)
    }

    /// Re-declares the runner's queue as the bus declares a service queue (durable, `x-queue-type` classic, dead
    /// letters to `<queue>.dead-letter`: the arguments must match or the bus's own declare fails) and binds it for
    /// ``BenchmarkEvent``s.
    func prepareBusQueue(_ queue: String) async throws {
        let channel = try await channel()
        _ = try await channel.queueDelete(queue)
        try await channel.queueDeclare(queue, durable: true, arguments: [
            RabbitMQTopology.queueTypeArgument: "classic", RabbitMQTopology.deadLetterExchangeArgument: "",
            RabbitMQTopology.deadLetterRoutingKeyArgument: .string(RabbitMQTopology(queue: queue).deadLetterQueue),
        ])
        try await bindForEvents(queue)
    }

    /// Deletes the retry and dead-letter queues a consuming bus declared beside `queue`; failures are ignored
    /// (a queue the bus never got to declare).
    func deleteBusSideQueues(of queue: String) async {
        for side in BusBench.retryQueues(of: queue) + [BusBench.deadLetterQueue(of: queue)] {
            _ = await deleteQueue(side)
        }
    }

    /// The dead-letter reason and last error headers of the first message in `queue`, in words.
    func firstDeadLetterReason(_ queue: String) async -> String {
        do {
            guard let message = try await channel().get(queue: queue, noAck: false) else { return "none left" }
            let headers = message.headers
            let reason = headers[EventHeaders.deadLetterReason]?.stringValue ?? "no reason header"
            let error = headers[EventHeaders.lastError]?.stringValue ?? ""
            return error.isEmpty ? reason : "\(reason): \(error)"
        } catch {
            return "could not read it: \(error)"
        }
    }

    /// Closes the connection, deleting the run's exchange first when one was declared.
    func close() async {
        if let declaredExchange {
            _ = try? await channel().exchangeDelete(declaredExchange)
            self.declaredExchange = nil
        }
        await connection?.close()
        connection = nil
        openChannel = nil
    }
}
