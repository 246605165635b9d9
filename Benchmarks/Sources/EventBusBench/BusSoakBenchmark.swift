import EventBus
import EventBusRabbitMQ
import Foundation
import Synchronization

/// `bus-soak`: the bus consume path (decode → dedup → handle → record → ack) over a long run, `count` events
/// (1 000 000 by default), with the process's RSS sampled every 100 000 handled events (every `count / 10` for
/// shorter runs), to show whether memory stays flat: the slope is computed over the steady state (from twice the dedup
/// store's capacity on, see ``MemoryProfile/steadyFromEvents``).
///
/// A ``WireFormatFeeder`` (the `AMQP` layer, confirmed, in the bus's wire format) publishes while the bus consumes,
/// keeping at most `max(10 × prefetch, 20 000)` events in the queue, so the broker holds a bounded backlog and the
/// consumer is never starved. The consuming bus's `InMemoryProcessedMessageStore` is bounded (capacity
/// ``BenchmarkOptions/soakStoreCapacity``, 100 000 by default), so once it is full it cannot account for growth:
/// the store fills during the first 100 000 events and its eviction log during the next 100 000.
struct BusSoakBenchmark: RowBenchmark {
    let target: BrokerTarget
    let size: Int
    let count: Int
    let prefetch: Int
    let options: BenchmarkOptions

    /// Events between RSS samples.
    var sampleInterval: Int { count >= 1_000_000 ? 100_000 : max(1, min(100_000, count / 10)) }

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        guard client == .bus else { throw BenchmarkFailure("bus-soak measures the bus only") }
        try await admin.prepareBusQueue(queue)
        let exchange = try await admin.busExchange()
        let result: Result<Measurement, any Error>
        do {
            result = .success(try await ProcessCPU.measuring { try await soak(queue: queue, exchange: exchange) })
        } catch {
            result = .failure(error)
        }
        try await BusBench.checkAndCleanUp(queue: queue, admin: admin, options: options)
        return try result.get()
    }

    private func soak(queue: String, exchange: String) async throws -> Measurement {
        var configuration = try BusBench.configuration(
            target: target, role: "soak-consumer", exchange: exchange, queue: queue, options: options)
        configuration.prefetch = UInt16(prefetch)
        let store = InMemoryProcessedMessageStore(capacity: options.soakStoreCapacity)
        let bus = try RabbitMQEventBus(configuration: configuration, store: store)
        let latch = CompletionLatch(target: count)
        let samples = MemorySamples()
        let interval = sampleInterval
        try await bus.subscribe(BenchmarkEvent.self, options: BusBench.subscriptionOptions) { _, _ in
            let handled = latch.complete()
            if handled % interval == 0, let kib = ResidentMemory.kibibytes() {
                samples.append(MemoryProfile.Sample(events: handled, kibibytes: kib))
            }
        }
        let running = RunningBus(bus, name: "consuming bus")
        let feeder = WireFormatFeeder(
            target: target, exchange: exchange, routingKey: BenchmarkEvent.eventTypeName, shape: EventShape(size: size))
        let backlog = max(10 * prefetch, 20_000)
        let count = self.count
        let options = self.options
        let outcome: Result<(UInt64, Int), any Error>
        do {
            try await running.waitUntilConnected(timeout: options.stallTimeout)
            let startKiB = ResidentMemory.kibibytes() ?? 0
            let start = MonotonicClock.nanoseconds()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await feeder.feed(
                        count: count, backlog: backlog, consumed: { latch.count }, progress: nil,
                        stallTimeout: options.stallTimeout)
                }
                group.addTask {
                    try await withStallWatchdog(
                        timeout: options.stallTimeout, what: "bus soak", progress: latch.progress,
                        onStall: { latch.fail(BenchmarkFailure("bus soak: stalled after \(latch.count) of \(count) events")) }
                    ) { _ in try await latch.wait() }
                }
                do {
                    try await group.waitForAll()
                } catch {
                    latch.fail(error)
                    throw error
                }
            }
            outcome = .success((start, startKiB))
        } catch {
            outcome = .failure(error)
        }
        if let problem = await running.stop() { BenchmarkLog.warning(problem) }
        let (start, startKiB) = try outcome.get()
        guard let span = latch.span else { throw BenchmarkFailure("bus soak: nothing was handled") }
        var measurement = Measurement(seconds: Double(span.last - start) / 1e9, messages: count)
        measurement.memory = MemoryProfile(
            startKiB: startKiB, samples: samples.all, storeCapacity: options.soakStoreCapacity,
            storeCount: store.count)
        return measurement
    }
}

/// Process RSS over a `bus-soak` run: at the start (bus connected, nothing handled) and every `interval` events.
struct MemoryProfile: Sendable {
    /// RSS after `events` handled events.
    struct Sample: Sendable {
        var events: Int
        var kibibytes: Int
    }

    var startKiB: Int
    var samples: [Sample]
    /// The dedup store's capacity, and how many ids it held at the end.
    var storeCapacity: Int
    var storeCount: Int

    var firstKiB: Int { samples.first?.kibibytes ?? startKiB }
    var lastKiB: Int { samples.last?.kibibytes ?? startKiB }
    var maximumKiB: Int { max(samples.map(\.kibibytes).max() ?? startKiB, startKiB) }

    /// Where the steady state starts: the store fills to its capacity, then evicts, and its order log grows to
    /// about twice the capacity before it is compacted, so from `2 × capacity` events on it no longer grows. The
    /// first sample at or after that point (the first sample at all when the run is shorter).
    var steadyFromEvents: Int {
        let steady = samples.filter { $0.events >= 2 * storeCapacity }
        return steady.count >= 2 ? steady[0].events : (samples.first?.events ?? 0)
    }

    /// RSS growth from the start of the steady state to the last sample, in KiB.
    var steadyGrowthKiB: Int {
        let from = samples.first { $0.events >= steadyFromEvents }?.kibibytes ?? firstKiB
        return lastKiB - from
    }

    /// Least-squares slope of RSS over events from ``steadyFromEvents`` on, in KiB per 100 000 events (0 with fewer
    /// than two samples).
    var slopeKiBPer100k: Double {
        let steady = samples.filter { $0.events >= steadyFromEvents }
        guard steady.count >= 2 else { return 0 }
        let xs = steady.map { Double($0.events) / 100_000 }
        let ys = steady.map { Double($0.kibibytes) }
        let meanX = xs.reduce(0, +) / Double(xs.count)
        let meanY = ys.reduce(0, +) / Double(ys.count)
        var numerator = 0.0
        var denominator = 0.0
        for (x, y) in zip(xs, ys) {
            numerator += (x - meanX) * (y - meanY)
            denominator += (x - meanX) * (x - meanX)
        }
        return denominator > 0 ? numerator / denominator : 0
    }

    /// `events:MiB` pairs, for the log.
    var samplesText: String {
        samples.map { "\($0.events / 1_000)k:\(String(format: "%.1f", Double($0.kibibytes) / 1_024))" }.joined(separator: " ")
    }
}

/// RSS samples taken from a bus handler.
final class MemorySamples: Sendable {
    private let samples = Mutex<[MemoryProfile.Sample]>([])

    func append(_ sample: MemoryProfile.Sample) { samples.withLock { $0.append(sample) } }

    var all: [MemoryProfile.Sample] { samples.withLock { $0 } }
}
