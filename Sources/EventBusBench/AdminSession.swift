import AMQP
import Foundation

/// The benchmark's own connection for everything around a measurement: declaring, purging and deleting the
/// queues, and checking message counts. It is reopened when the broker closed it or its channel.
actor AdminSession {
    let target: BrokerTarget
    private var connection: AMQPConnection?
    private var openChannel: AMQPChannel?
    private var queueSerial = 0
    private let runID = UInt32.random(in: 0...UInt32.max)

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

    /// Closes the connection.
    func close() async {
        await connection?.close()
        connection = nil
        openChannel = nil
    }
}
