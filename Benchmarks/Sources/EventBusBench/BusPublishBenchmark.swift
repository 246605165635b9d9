import EventBus
import EventBusRabbitMQ
import Foundation
import Synchronization

/// `bus-publish`: confirmed publish throughput of `RabbitMQEventBus.publish` next to C and the `AMQP` layer.
///
/// - bus: a publish-only bus on the run's exchange (window `window` = its `publishConfirmWindow`); the runner's
///   queue is bound for ``BenchmarkEvent`` so the mandatory publishes are routable. `confirmWorkers ?? window`
///   tasks publish their share one after another (each `publish` returns after the broker's confirm), so `window`
///   events are in flight like the C loop (with `--publish-all N`, each task publishes N at a time with `publishAll`).
///   Every publish encodes a fresh event (JSON, ≈`size` bytes) with the
///   wire format's properties and headers; that is part of what is measured. The clock runs from the first publish
///   (bus already connected) until every publish returned.
/// - C / AMQP: exactly `publish-confirm` (``PublishBenchmark``) with bodies of the event's JSON size: persistent,
///   confirmed, same window, default exchange.
/// - C-wire (`c-wire`): the C baseline publishing what the bus puts on the wire (`raw_bench_publish_wire`): bodies of
///   the event's JSON size, mandatory, to the bus's exchange with the event type as routing key, with the wire
///   format's properties and `cloudEvents_*` headers (a fresh id and time per message, the bus's source), confirmed
///   with the same window. Bus / C-wire is the cost of the Swift code alone; C-wire / C the cost of the wire format.
///
/// Afterwards the queue must hold exactly `count` messages.
struct BusPublishBenchmark: RowBenchmark {
    let target: BrokerTarget
    let size: Int
    let count: Int
    let window: Int
    let options: BenchmarkOptions

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        let shape = EventShape(size: size)
        switch client {
        case .c, .amqp:
            let plain = PublishBenchmark(
                target: target, size: shape.bodySize, count: count, confirm: true, window: window, options: options)
            return try await plain.measure(client: client, queue: queue, admin: admin)
        case .cWire:
            try await admin.bindForEvents(queue)
            let exchange = try await admin.busExchange()
            let source = try BusBench.configuration(target: target, role: "publisher", exchange: exchange, options: options).serviceName
            let measurement = try await ProcessCPU.measuring {
                let result = await RawBaseline.publishWire(
                    target: target, exchange: exchange, routingKey: BenchmarkEvent.eventTypeName, count: count,
                    size: shape.bodySize, window: window, eventType: BenchmarkEvent.eventTypeName, source: source)
                return try result.measurement(expecting: count)
            }
            try await admin.waitForMessageCount(queue, count, stallTimeout: options.stallTimeout, who: "C-wire publish check")
            return measurement
        case .cDurable:
            throw unmeasuredClient(client, on: .busPublish)
        case .bus:
            try await admin.bindForEvents(queue)
            let measurement = try await ProcessCPU.measuring {
                try await measureBus(shape: shape, exchange: try await admin.busExchange())
            }
            try await admin.waitForMessageCount(queue, count, stallTimeout: options.stallTimeout, who: "bus publish check")
            return measurement
        }
    }

    private func measureBus(shape: EventShape, exchange: String) async throws -> Measurement {
        var configuration = try BusBench.configuration(target: target, role: "publisher", exchange: exchange, options: options)
        configuration.publishConfirmWindow = window
        let running = RunningBus(try RabbitMQEventBus(configuration: configuration), name: "publishing bus")
        let result: Result<Double, any Error>
        do {
            try await running.waitUntilConnected(timeout: options.stallTimeout)
            result = .success(try await publish(on: running, shape: shape))
        } catch {
            result = .failure(error)
        }
        if let problem = await running.stop() { BenchmarkLog.warning(problem) }
        return Measurement(seconds: try result.get(), messages: count)
    }

    private func publish(on running: RunningBus, shape: EventShape) async throws -> Double {
        let bus = running.bus
        let count = self.count
        let workers = max(1, min(options.confirmWorkers ?? window, count))
        let padding = shape.padding
        let batch = options.publishAllBatch
        let codec = bus.configuration.codec
        return try await withStallWatchdog(
            timeout: options.stallTimeout, what: "bus publish", onStall: { _ = await running.stop(timeout: .seconds(1)) }
        ) { progress in
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    let share = count / workers + (worker < count % workers ? 1 : 0)
                    if batch > 1 {
                        group.addTask {
                            // publishAll takes encoded events: encoding is part of what is measured, as for publish.
                            var index = 0
                            while index < share {
                                let events = try (index..<min(index + batch, share)).map { index in
                                    try RawEvent(
                                        encoding: BenchmarkEvent(sequence: index * workers + worker, padding: padding),
                                        codec: codec)
                                }
                                for result in await bus.publishAll(events) {
                                    try result.get()
                                    progress.advance()
                                }
                                index += events.count
                            }
                        }
                        continue
                    }
                    group.addTask {
                        for index in 0..<share {
                            try await bus.publish(BenchmarkEvent(sequence: index * workers + worker, padding: padding))
                            progress.advance()
                        }
                    }
                }
                try await group.waitForAll()
            }
            return PublishBenchmark.seconds(start.duration(to: clock.now))
        }
    }
}

/// Warnings during a run (stderr), for problems that do not fail a measurement.
enum BenchmarkLog {
    static func warning(_ text: String) {
        FileHandle.standardError.write(Data(("warning: " + text + "\n").utf8))
    }
}
