import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import Synchronization

/// `bus-e2e`: end-to-end latency at a fixed publish rate (`--rate`, default 1 000/s) for `count` events, p50 and
/// p99 (nearest rank, as the C side computes them), for three clients in the same run:
///
/// - C: `raw_bench_latency`: transient publishes on an absolute schedule, a second connection consumes (prefetch
///   100, one ack each) and records receive time − send time (`CLOCK_MONOTONIC` in the body).
/// - C-durable (`c-durable`): the same C loop with persistent messages (delivery mode 2) into the same durable queue,
///   still without confirms: what the broker's persistence alone does to latency, the baseline for the AMQP and bus
///   rows, whose messages are persistent too.
/// - AMQP: the same loop on the `AMQP` layer but with the bus's delivery guarantees, so that AMQP − C is what
///   persistence and confirms cost (broker and layer) and bus − AMQP is what the bus itself adds: persistent,
///   mandatory, confirmed publishes (a task per message, the schedule does not wait for confirms) with the wire
///   format's properties and headers, through the run's exchange; the consumer (row's prefetch) acks each one.
/// - bus: a publishing bus and a consuming bus (separate instances, as two services would be). On the schedule a
///   task per event stamps `sentAtNanoseconds` and calls `publish` (persistent, mandatory, confirmed; the schedule
///   does not wait for confirms); the consuming bus's handler records `now − sentAtNanoseconds`, i.e. after
///   decode and the dedup look-up, before the record and the ack.
///
/// `seconds` is from the first scheduled publish to the last receive, so `msgs_per_sec` ≈ the rate when the
/// receiver keeps up.
struct BusLatencyBenchmark: RowBenchmark {
    let target: BrokerTarget
    let size: Int
    let count: Int
    let rate: Int
    let prefetch: Int
    let options: BenchmarkOptions

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        let shape = EventShape(size: size)
        switch client {
        case .c, .cDurable:
            let persistent = client == .cDurable
            return try await ProcessCPU.measuring {
                let result = await RawBaseline.latency(
                    target: target, queue: queue, count: count, size: max(shape.bodySize, 8), rate: rate, persistent: persistent)
                return try result.latencyMeasurement(expecting: count)
            }
        case .amqp:
            try await admin.bindForEvents(queue)
            let exchange = try await admin.busExchange()
            return try await ProcessCPU.measuring {
                try await measureAMQP(queue: queue, exchange: exchange, shape: shape)
            }
        case .bus:
            try await admin.prepareBusQueue(queue)
            let exchange = try await admin.busExchange()
            let result: Result<Measurement, any Error>
            do {
                result = .success(try await ProcessCPU.measuring {
                    try await measureBus(queue: queue, exchange: exchange, shape: shape)
                })
            } catch {
                result = .failure(error)
            }
            try await BusBench.checkAndCleanUp(queue: queue, admin: admin, options: options)
            return try result.get()
        case .cWire:
            throw unmeasuredClient(client, on: .busE2E)
        }
    }

    /// When event `index` is due, counting from `start`.
    private func due(_ index: Int, from start: ContinuousClock.Instant) -> ContinuousClock.Instant {
        start + .nanoseconds(Int64((Double(index) * 1e9 / Double(rate)).rounded()))
    }

    private static func sleep(until deadline: ContinuousClock.Instant) async throws {
        if ContinuousClock.now < deadline { try await Task.sleep(until: deadline, tolerance: .microseconds(20), clock: .continuous) }
    }

    // MARK: - Bus

    private func measureBus(queue: String, exchange: String, shape: EventShape) async throws -> Measurement {
        var consumerConfiguration = try BusBench.configuration(
            target: target, role: "e2e-consumer", exchange: exchange, queue: queue, options: options)
        consumerConfiguration.prefetch = UInt16(prefetch)
        let consumer = try RabbitMQEventBus(configuration: consumerConfiguration, store: InMemoryProcessedMessageStore())
        let publisher = try RabbitMQEventBus(
            configuration: try BusBench.configuration(target: target, role: "e2e-publisher", exchange: exchange, options: options))
        let latencies = LatencyRecorder(capacity: count)
        let latch = CompletionLatch(target: count)
        try await consumer.subscribe(BenchmarkEvent.self, options: BusBench.subscriptionOptions) { event, _ in
            let now = MonotonicClock.nanoseconds()
            latencies.record(sentAt: event.sentAtNanoseconds, receivedAt: now)
            latch.complete(at: now)
        }
        let runningConsumer = RunningBus(consumer, name: "consuming bus")
        let runningPublisher = RunningBus(publisher, name: "publishing bus")
        let outcome: Result<UInt64, any Error>
        do {
            try await runningConsumer.waitUntilConnected(timeout: options.stallTimeout)
            try await runningPublisher.waitUntilConnected(timeout: options.stallTimeout)
            outcome = .success(try await publishOnSchedule(publisher, shape: shape, latch: latch))
        } catch {
            outcome = .failure(error)
        }
        if let problem = await runningPublisher.stop() { BenchmarkLog.warning(problem) }
        if let problem = await runningConsumer.stop() { BenchmarkLog.warning(problem) }
        let started = try outcome.get()
        return try latencies.measurement(count: count, startedAt: started, lastReceive: latch.span?.last)
    }

    /// Publishes `count` events on the schedule, a task per event, then waits until all were handled. Returns the
    /// monotonic time of the first scheduled publish.
    private func publishOnSchedule(_ bus: RabbitMQEventBus, shape: EventShape, latch: CompletionLatch) async throws -> UInt64 {
        let count = self.count
        let padding = shape.padding
        return try await withStallWatchdog(
            timeout: options.stallTimeout, what: "bus e2e", progress: latch.progress,
            onStall: { latch.fail(BenchmarkFailure("bus e2e: stalled after \(latch.count) of \(count) events were handled")) }
        ) { _ in
            let startNanoseconds = MonotonicClock.nanoseconds()
            let start = ContinuousClock.now
            try await withThrowingDiscardingTaskGroup { group in
                for index in 0..<count {
                    try await Self.sleep(until: due(index, from: start))
                    group.addTask {
                        var event = BenchmarkEvent(sequence: index, padding: padding)
                        event.sentAtNanoseconds = MonotonicClock.nanoseconds()
                        try await bus.publish(event)
                    }
                }
            }
            try await latch.wait()
            return startNanoseconds
        }
    }

    // MARK: - AMQP layer

    private func measureAMQP(queue: String, exchange: String, shape: EventShape) async throws -> Measurement {
        let consumerConnection = try await AMQPConnection.connect(url: target.url, connectionName: "eventbus-bench-e2e-consumer")
        let publisherConnection: AMQPConnection
        do {
            publisherConnection = try await AMQPConnection.connect(url: target.url, connectionName: "eventbus-bench-e2e-publisher")
        } catch {
            await consumerConnection.close()
            throw error
        }
        let result: Result<Measurement, any Error>
        do {
            result = .success(try await latencyLoop(
                consumerConnection, publisherConnection, queue: queue, exchange: exchange, shape: shape))
        } catch {
            result = .failure(error)
        }
        await publisherConnection.close()
        await consumerConnection.close()
        return try result.get()
    }

    private func latencyLoop(
        _ consumerConnection: AMQPConnection, _ publisherConnection: AMQPConnection, queue: String, exchange: String,
        shape: EventShape
    ) async throws -> Measurement {
        let count = self.count
        let consumerChannel = try await consumerConnection.openChannel()
        let consumer = try await consumerChannel.consume(queue: queue, prefetch: UInt16(prefetch))
        let channel = try await publisherConnection.openChannel()
        try await channel.confirmSelect(window: 1_000)
        let latencies = LatencyRecorder(capacity: count)
        let latch = CompletionLatch(target: count)
        let wireFormat = WireFormatFeeder(
            target: target, exchange: exchange, routingKey: BenchmarkEvent.eventTypeName, shape: shape, source: "eventbus-bench-e2e")
        let size = max(shape.bodySize, 8)

        let started = try await withStallWatchdog(
            timeout: options.stallTimeout, what: "AMQP e2e", progress: latch.progress,
            onStall: {
                latch.fail(BenchmarkFailure("AMQP e2e: stalled after \(latch.count) of \(count) messages"))
                await consumerConnection.close()
            }
        ) { _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                // On the consuming connection's thread, as the bus consumes: no hand-off per delivery.
                group.addTask(executorPreference: consumerConnection.taskExecutor) {
                    var deliveries = consumer.makeAsyncIterator()
                    while latch.count < count {
                        guard let delivery = try await deliveries.next() else {
                            throw BenchmarkFailure("AMQP e2e: the consumer ended after \(latch.count) of \(count) messages")
                        }
                        let now = MonotonicClock.nanoseconds()
                        let sent = delivery.body.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                        latencies.record(sentAt: sent, receivedAt: now)
                        try consumer.ack(delivery)
                        latch.complete(at: now)
                    }
                    try await consumer.cancel()
                }
                let template = PublishBenchmark.body(size: size)
                let startNanoseconds = MonotonicClock.nanoseconds()
                let start = ContinuousClock.now
                try await withThrowingDiscardingTaskGroup { publishes in
                    for index in 0..<count {
                        try await Self.sleep(until: due(index, from: start))
                        publishes.addTask {
                            let event = BenchmarkEvent(sequence: index, padding: "")
                            var body = template
                            let sent = MonotonicClock.nanoseconds()
                            body.withUnsafeMutableBytes { $0.storeBytes(of: sent, as: UInt64.self) }
                            try await channel.publish(
                                body, exchange: wireFormat.exchange, routingKey: wireFormat.routingKey, mandatory: true,
                                properties: wireFormat.properties(for: event))
                        }
                    }
                }
                try await group.waitForAll()
                return startNanoseconds
            }
        }
        return try latencies.measurement(count: count, startedAt: started, lastReceive: latch.span?.last)
    }
}

/// Latencies (receive − send, in milliseconds) recorded from a handler or a consumer loop.
final class LatencyRecorder: Sendable {
    private let values: Mutex<[Double]>

    init(capacity: Int) {
        var values: [Double] = []
        values.reserveCapacity(capacity)
        self.values = Mutex(values)
    }

    func record(sentAt: UInt64, receivedAt: UInt64) {
        let milliseconds = receivedAt >= sentAt ? Double(receivedAt - sentAt) / 1e6 : 0
        values.withLock { $0.append(milliseconds) }
    }

    /// The measurement: `count` messages from `startedAt` to `lastReceive` (monotonic ns), with p50 and p99.
    func measurement(count: Int, startedAt: UInt64, lastReceive: UInt64?) throws -> Measurement {
        let sorted = values.withLock { $0 }.sorted()
        guard sorted.count == count, let lastReceive else {
            throw BenchmarkFailure("latency: \(sorted.count) of \(count) messages were received")
        }
        var measurement = Measurement(seconds: Double(lastReceive &- startedAt) / 1e9, messages: count)
        measurement.p50Milliseconds = nearestRankPercentile(sorted, 50)
        measurement.p99Milliseconds = nearestRankPercentile(sorted, 99)
        return measurement
    }
}
