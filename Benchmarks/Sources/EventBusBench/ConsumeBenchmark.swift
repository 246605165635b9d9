import AMQP
import Foundation

/// Consume-with-ack throughput. Before each client's measurement its queue is filled with `count` messages of
/// `size` bytes (by the C publisher with confirms, window 1000) and the fill is checked. Mirrors
/// `raw_bench_consume`: basic.qos `prefetch`, then the clock runs from `basic.consume` until the last message
/// is acknowledged (one `basic.ack` per message). Afterwards the queue must be empty, which proves every ack
/// reached the broker.
struct ConsumeBenchmark: RowBenchmark {
    let target: BrokerTarget
    let size: Int
    let count: Int
    let prefetch: Int
    let options: BenchmarkOptions

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        let fill = await RawBaseline.publish(target: target, queue: queue, count: count, size: size, confirm: true, window: 1_000)
        guard fill.ok else { throw BenchmarkFailure("filling the queue: \(fill.error)") }
        try await admin.waitForMessageCount(queue, count, stallTimeout: options.stallTimeout, who: "queue fill")

        let measurement = try await ProcessCPU.measuring {
            switch client {
            case .c:
                let result = await RawBaseline.consume(target: target, queue: queue, count: count, prefetch: prefetch)
                return try result.measurement(expecting: count)
            case .amqp, .bus:
                return try await Self.measureAMQP(target: target, queue: queue, count: count, prefetch: prefetch, options: options)
            case .cWire, .cDurable:
                throw unmeasuredClient(client, on: .consume)
            }
        }
        try await admin.waitForMessageCount(
            queue, 0, stallTimeout: options.stallTimeout, who: "\(client.displayName) consume check")
        return measurement
    }

    /// The `AMQP` layer's consume-with-ack of `count` messages from a filled `queue` (also used by `bus-consume`).
    static func measureAMQP(target: BrokerTarget, queue: String, count: Int, prefetch: Int, options: BenchmarkOptions)
        async throws -> Measurement
    {
        let connection = try await AMQPConnection.connect(url: target.url, connectionName: "eventbus-bench-consume")
        do {
            let measurement = try await consume(on: connection, queue: queue, count: count, prefetch: prefetch, options: options)
            await connection.close()
            return measurement
        } catch {
            await connection.close()
            throw error
        }
    }

    private static func consume(
        on connection: AMQPConnection, queue: String, count: Int, prefetch: Int, options: BenchmarkOptions
    ) async throws -> Measurement {
        let channel = try await connection.openChannel()
        // basic.qos before the clock starts, as the C side does.
        try await channel.basicQos(prefetchCount: UInt16(prefetch))
        let seconds = try await withStallWatchdog(
            timeout: options.stallTimeout, what: "AMQP consume", onStall: { await connection.close() }
        ) { progress in
            // On the connection's thread: each delivery resumes this loop without a thread hand-off.
            try await withTaskExecutorPreference(connection.taskExecutor) {
                let clock = ContinuousClock()
                let start = clock.now
                let consumer = try await channel.consume(queue: queue)
                var deliveries = consumer.makeAsyncIterator()
                var received = 0
                while received < count {
                    guard let delivery = try await deliveries.next() else {
                        throw BenchmarkFailure("AMQP consume: the consumer ended after \(received) of \(count) messages")
                    }
                    try consumer.ack(delivery)
                    received += 1
                    progress.advance()
                }
                let seconds = PublishBenchmark.seconds(start.duration(to: clock.now))
                try await consumer.cancel()
                withExtendedLifetime(deliveries) {}
                return seconds
            }
        }
        return Measurement(seconds: seconds, messages: count)
    }
}
