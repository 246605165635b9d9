@testable import AMQP
import Foundation
import TestSupport
import Testing

/// `AMQPConnection.taskExecutor`: a task that prefers it runs on the connection's own thread, where consuming,
/// acking and confirmed publishing work as anywhere else; once the connection has ended, the task goes on running
/// elsewhere instead of hanging.
@Suite(.timeLimit(.minutes(2))) struct ConnectionExecutorTests {
    @Test func consumingAckingAndPublishingOnTheConnectionThread() async throws {
        try await withQueue { connection, channel, queue in
            let target = TestBroker.uniqueName("executor-target")
            try await channel.queueDeclare(target, durable: true)
            try await channel.confirmSelect(window: 1_000)
            for index in 0..<500 { try await channel.publish(Data("\(index)".utf8), routingKey: queue) }
            #expect(try await TestBroker.waitForMessageCount(500, in: queue, on: channel) == 500)

            let connectionThread = ConnectionDriver.threadName(for: connection.configuration.connectionName)
            let (bodies, threads) = try await withTaskExecutorPreference(connection.taskExecutor) {
                let forward = try await connection.openChannel()
                try await forward.confirmSelect(window: 100)
                let consumer = try await connection.openChannel().consume(queue: queue, prefetch: 100)
                var bodies: [String] = []
                var threads: Set<String> = [currentThreadName()]
                for try await delivery in consumer {
                    bodies.append(String(decoding: delivery.body, as: UTF8.self))
                    // Each step resumes here on the connection thread: the confirm, then the next delivery.
                    try await forward.publish(delivery.body, routingKey: target)
                    threads.insert(currentThreadName())
                    try consumer.ack(delivery)
                    if bodies.count == 500 { break }
                }
                try await consumer.cancel()
                return (bodies, threads)
            }
            #expect(threads == [connectionThread])
            #expect(bodies == (0..<500).map { "\($0)" })
            #expect(try await TestBroker.waitForMessageCount(500, in: target, on: channel) == 500)
            // Every ack reached the broker: nothing is left or comes back.
            #expect(try await TestBroker.waitForMessageCount(0, in: queue, on: channel) == 0)
            _ = try await channel.queueDelete(target)
        }
    }

    @Test func aTaskThatHoldsTheConnectionThreadIsReportedAndTheConnectionSurvives() async throws {
        let log = LogCapture()
        var configuration = try TestBroker.configuration
        configuration.connectionName = "test-holds-the-thread"
        let connection = try await AMQPConnection.connect(configuration, logger: log.logger())
        await withTaskExecutorPreference(connection.taskExecutor) {
            // A handler doing synchronous work for 1.2 s on the connection's thread.
            _ = usleep(1_200_000)
        }
        // Logged by the thread once the stretch ends (the task may already be back on its own executor).
        try await eventually("the long stretch is logged") { !log.messages(at: .warning).isEmpty }
        let warnings = log.messages(at: .warning)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("sent no heartbeat meanwhile") == true)
        // The connection is still usable.
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("", durable: false, exclusive: true)
        #expect(queue.messageCount == 0)
        await connection.close()
    }

    @Test func aTaskPreferringAConnectionThatEndedKeepsRunning() async throws {
        let connection = try await TestBroker.connect()
        let connectionThread = ConnectionDriver.threadName(for: connection.configuration.connectionName)
        let (before, after) = try await withTaskExecutorPreference(connection.taskExecutor) {
            let channel = try await connection.openChannel()
            _ = try await channel.queueDeclare(TestBroker.uniqueName(), durable: false, exclusive: true)
            let before = currentThreadName()
            await connection.close()
            // The thread is gone: these resumptions run on the global executor.
            try await Task.sleep(for: .milliseconds(1))
            await Task.yield()
            return (before, currentThreadName())
        }
        #expect(before == connectionThread)
        #expect(after != connectionThread)
        #expect(!connection.isOpen)
    }
}
