import AMQP
import Foundation

/// Publish throughput through the default exchange to one queue: transient without confirms, or persistent in
/// confirm mode with a window. Mirrors `raw_bench_publish` (see `raw_baseline.h`):
///
/// - transient: the clock runs from the first publish until every publish returned plus one round trip
///   (`queue.declare` passive) on the publishing channel, so every message has reached the broker. The Swift
///   layer returns from a transient publish once it is written, so ``BenchmarkOptions/transientWorkers`` tasks
///   publish concurrently to keep the connection thread busy.
/// - confirmed: `confirmSelect(window:)` and `window` tasks each publishing their share one after another, so
///   `window` messages are unconfirmed at once like the C loop; the clock stops when every publish is confirmed.
///
/// Afterwards the queue must hold exactly `count` messages, otherwise the measurement fails.
struct PublishBenchmark: RowBenchmark {
    let target: BrokerTarget
    let size: Int
    let count: Int
    let confirm: Bool
    let window: Int?
    let options: BenchmarkOptions

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        let measurement = try await ProcessCPU.measuring {
            switch client {
            case .c:
                let result = await RawBaseline.publish(
                    target: target, queue: queue, count: count, size: size, confirm: confirm, window: window ?? 1)
                return try result.measurement(expecting: count)
            case .amqp, .bus:
                return try await measureSwift(queue: queue)
            case .cWire, .cDurable:
                throw unmeasuredClient(client, on: confirm ? .publishConfirm : .publish)
            }
        }
        try await admin.waitForMessageCount(
            queue, count, stallTimeout: options.stallTimeout, who: "\(client.displayName) publish check")
        return measurement
    }

    /// The body both clients send: the same byte pattern as the C baseline.
    static func body(size: Int) -> Data {
        Data((0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) })
    }

    private func measureSwift(queue: String) async throws -> Measurement {
        let connection = try await AMQPConnection.connect(url: target.url, connectionName: "eventbus-bench-publish")
        do {
            let measurement = try await publish(on: connection, queue: queue)
            await connection.close()
            return measurement
        } catch {
            await connection.close()
            throw error
        }
    }

    private func publish(on connection: AMQPConnection, queue: String) async throws -> Measurement {
        let channel = try await connection.openChannel()
        if confirm, let window { try await channel.confirmSelect(window: window) }
        let body = Self.body(size: size)
        let properties = AMQPProperties(deliveryMode: confirm ? .persistent : .transient)
        let workers = max(1, min(confirm ? (options.confirmWorkers ?? window ?? 1) : options.transientWorkers, count))
        let count = self.count
        let confirm = self.confirm

        let seconds = try await withStallWatchdog(
            timeout: options.stallTimeout, what: "AMQP publish", onStall: { await connection.close() }
        ) { progress in
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    let share = count / workers + (worker < count % workers ? 1 : 0)
                    // On the connection's thread: a confirm resumes its publisher without a thread hand-off.
                    group.addTask(executorPreference: connection.taskExecutor) {
                        for _ in 0..<share {
                            try await channel.publish(body, routingKey: queue, properties: properties)
                            progress.advance()
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Without confirms, a round trip on the same channel proves the broker has processed every publish.
            if !confirm { _ = try await channel.queueDeclarePassive(queue) }
            return Self.seconds(start.duration(to: clock.now))
        }
        return Measurement(seconds: seconds, messages: count)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
