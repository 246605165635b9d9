import EventBus
import EventBusRabbitMQ
import EventBusSQLite
import Foundation

/// `bus-consume`: consume throughput of a `RabbitMQEventBus` subscription next to C and the `AMQP` layer, all three
/// consuming the same messages: `count` ``BenchmarkEvent``s (≈`size` bytes of JSON) published in the bus's wire
/// format by ``WireFormatFeeder`` (the `AMQP` layer, confirmed) before the clock starts.
///
/// - C: `raw_bench_consume` (prefetch, one ack per message). AMQP: the `consume` mode's loop.
/// - bus: a bus whose service queue is the runner's queue (re-declared as the bus declares it and bound), one
///   subscription with dedup `.always` on an `InMemoryProcessedMessageStore`, a handler that only counts, the
///   row's prefetch and `--handler-concurrency`. Per delivery the bus decodes the properties and the JSON body,
///   consults and records the store, calls the handler and acks. The clock runs from the first handler call to the
///   `count`-th, scaled by `count / (count - 1)` for the interval before the first (so connecting and declaring
///   are not counted, as the other clients' clocks start at `basic.consume`).
///
/// With `durableStore` (`--store sqlite`, the matrix's `durable sqlite` row) the bus records processed ids in a
/// `SQLiteEventStore` on a new file instead, and acks each delivery only after the WAL flush that makes the record
/// durable (shared by the handlers of `--handler-concurrency`): the cost of surviving a power loss.
///
/// Afterwards the queue must be empty (every ack arrived) and the bus's dead-letter queue too.
struct BusConsumeBenchmark: RowBenchmark {
    let target: BrokerTarget
    let size: Int
    let count: Int
    let prefetch: Int
    var durableStore = false
    let options: BenchmarkOptions

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        let shape = EventShape(size: size)
        let exchange = try await admin.busExchange()
        switch client {
        case .c, .amqp:
            let feeder = WireFormatFeeder(target: target, exchange: "", routingKey: queue, shape: shape)
            try await feeder.feed(count: count, progress: nil, stallTimeout: options.stallTimeout)
            try await admin.waitForMessageCount(queue, count, stallTimeout: options.stallTimeout, who: "queue fill")
            let measurement = try await ProcessCPU.measuring {
                if client == .c {
                    let result = await RawBaseline.consume(target: target, queue: queue, count: count, prefetch: prefetch)
                    return try result.measurement(expecting: count)
                }
                return try await ConsumeBenchmark.measureAMQP(
                    target: target, queue: queue, count: count, prefetch: prefetch, options: options)
            }
            try await admin.waitForMessageCount(
                queue, 0, stallTimeout: options.stallTimeout, who: "\(client.displayName) consume check")
            return measurement
        case .bus:
            try await admin.prepareBusQueue(queue)
            let feeder = WireFormatFeeder(target: target, exchange: exchange, routingKey: BenchmarkEvent.eventTypeName, shape: shape)
            try await feeder.feed(count: count, progress: nil, stallTimeout: options.stallTimeout)
            try await admin.waitForMessageCount(queue, count, stallTimeout: options.stallTimeout, who: "queue fill")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventbus-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let result: Result<Measurement, any Error>
            do {
                let store: any ProcessedMessageStore
                if durableStore {
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    store = try SQLiteEventStore(path: directory.appendingPathComponent("processed.sqlite").path)
                } else {
                    store = InMemoryProcessedMessageStore()
                }
                result = .success(try await ProcessCPU.measuring {
                    try await measureBus(queue: queue, exchange: exchange, store: store)
                })
            } catch {
                result = .failure(error)
            }
            try await BusBench.checkAndCleanUp(queue: queue, admin: admin, options: options)
            return try result.get()
        case .cWire, .cDurable:
            throw unmeasuredClient(client, on: .busConsume)
        }
    }

    private func measureBus(queue: String, exchange: String, store: any ProcessedMessageStore) async throws -> Measurement {
        var configuration = try BusBench.configuration(
            target: target, role: "consumer", exchange: exchange, queue: queue, options: options)
        configuration.prefetch = UInt16(prefetch)
        let bus = try RabbitMQEventBus(configuration: configuration, store: store)
        let latch = CompletionLatch(target: count)
        try await bus.subscribe(BenchmarkEvent.self, options: BusBench.subscriptionOptions) { _, _ in
            latch.complete()
        }
        let running = RunningBus(bus, name: "consuming bus")
        let outcome: Result<Void, any Error>
        do {
            try await running.waitUntilConnected(timeout: options.stallTimeout)
            try await withStallWatchdog(
                timeout: options.stallTimeout, what: "bus consume", progress: latch.progress,
                onStall: { latch.fail(BenchmarkFailure("bus consume: stalled after \(latch.count) of \(count) events")) }
            ) { _ in
                try await latch.wait()
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        if let problem = await running.stop() { BenchmarkLog.warning(problem) }
        try outcome.get()
        guard let span = latch.span else { throw BenchmarkFailure("bus consume: nothing was handled") }
        let handledSpan = Double(span.last - span.first) / 1e9
        let seconds = count > 1 ? handledSpan * Double(count) / Double(count - 1) : handledSpan
        return Measurement(seconds: seconds, messages: count)
    }
}
