import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The event the bus benchmarks publish and consume: a small ``IntegrationEvent`` whose JSON body is padded to about
/// the row's size (≈256 B by default). `sentAtNanoseconds` carries the publisher's `CLOCK_MONOTONIC` send time for
/// `bus-e2e` (the process is both publisher and consumer, so one clock serves both ends).
struct BenchmarkEvent: IntegrationEvent {
    static var eventTypeName: String { "EventBusBenchEvent" }

    var id: UUID
    var creationDate: Date
    var sequence: Int
    var sentAtNanoseconds: UInt64
    var padding: String

    /// A new event (fresh id, now) numbered `sequence`. Its id comes from `UUID.newEventID()`, as the README
    /// recommends: `UUID()` on Linux costs about 3 µs more per event (it opens /dev/urandom for every id).
    init(sequence: Int, padding: String, sentAtNanoseconds: UInt64 = 0) {
        id = UUID.newEventID()
        creationDate = Date()
        self.sequence = sequence
        self.sentAtNanoseconds = sentAtNanoseconds
        self.padding = padding
    }
}

/// The padding that brings a ``BenchmarkEvent``'s JSON body to about `size` bytes, and the size it ends up with.
struct EventShape: Sendable {
    /// The padding string every event of the row carries.
    let padding: String
    /// The body size of a typical event (sequence and send time vary by a few digits).
    let bodySize: Int

    /// The smallest body an event can have (no padding).
    static let minimumSize = Self.encodedSize(padding: "")

    init(size: Int) {
        let pad = max(0, size - Self.minimumSize)
        padding = String(repeating: "x", count: pad)
        bodySize = Self.encodedSize(padding: padding)
    }

    private static func encodedSize(padding: String) -> Int {
        // A mid-run event: six-digit sequence, a thirteen-digit monotonic time.
        let sample = BenchmarkEvent(sequence: 123_456, padding: padding, sentAtNanoseconds: 1_234_567_890_123)
        return (try? EventCodec().encode(sample).count) ?? 200
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock `raw_bench_latency` stamps with, so the latency rows compare alike.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

/// The process's resident set size, from `/proc/self/statm` (Linux).
enum ResidentMemory {
    /// RSS in KiB, or `nil` when `/proc/self/statm` cannot be read.
    static func kibibytes() -> Int? {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let read = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count - 1) }
        guard read > 0 else { return nil }
        // "size resident shared text lib data dt", in pages.
        let fields = String(decoding: buffer[0..<read], as: UTF8.self).split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1_024
    }
}

/// Nearest-rank percentile of sorted values, as `raw_bench_latency` computes it.
func nearestRankPercentile(_ sorted: [Double], _ percent: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = min(max(Int((percent / 100 * Double(sorted.count)).rounded(.up)), 1), sorted.count)
    return sorted[rank - 1]
}

/// Publishes ``BenchmarkEvent``s with the `AMQP` layer exactly as the bus's wire format puts them on the wire
/// (DESIGN section 4: JSON body, `message_id`, `type`, `timestamp`, `content_type`, `app_id`, persistent, the
/// `cloudEvents_*` headers), confirmed, from concurrent tasks. Fills queues for `bus-consume` and feeds `bus-soak`
/// faster than a bus publisher would, without involving the code under test.
struct WireFormatFeeder: Sendable {
    let target: BrokerTarget
    let exchange: String
    let routingKey: String
    let shape: EventShape
    /// The `app_id` / `cloudEvents_source` of the events.
    var source = "eventbus-bench-feeder"
    /// Publishes in flight at once (the confirm window).
    var window = 1_000
    /// Concurrent publishing tasks.
    var workers = 128

    /// The AMQP properties the bus would give `event` (see `WireFormat.properties(for:)` in EventBusRabbitMQ).
    func properties(for event: BenchmarkEvent) -> AMQPProperties {
        let id = event.id.uuidString.lowercased()
        let headers: AMQPTable = [
            EventHeaders.specVersion: "1.0",
            EventHeaders.id: .string(id),
            EventHeaders.type: .string(BenchmarkEvent.eventTypeName),
            EventHeaders.source: .string(source),
            EventHeaders.time: .string(EventDate.format(event.creationDate)),
        ]
        return AMQPProperties(
            contentType: "application/json", headers: headers, deliveryMode: .persistent, messageID: id,
            timestamp: event.creationDate, type: BenchmarkEvent.eventTypeName, appID: source)
    }

    /// Publishes `count` events, numbered from 0. Before publishing event `n` it waits while `n - consumed()`
    /// exceeds `backlog` (when given), so a long feed keeps a bounded queue. Progress advances per confirm.
    func feed(count: Int, backlog: Int? = nil, consumed: (@Sendable () -> Int)? = nil, progress: Progress?, stallTimeout: Duration)
        async throws
    {
        let connection = try await AMQPConnection.connect(url: target.url, connectionName: "eventbus-bench-feeder")
        do {
            try await feed(on: connection, count: count, backlog: backlog, consumed: consumed, progress: progress, stallTimeout: stallTimeout)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }

    private func feed(
        on connection: AMQPConnection, count: Int, backlog: Int?, consumed: (@Sendable () -> Int)?, progress: Progress?,
        stallTimeout: Duration
    ) async throws {
        let channel = try await connection.openChannel()
        try await channel.confirmSelect(window: window)
        let next = SharedCounter()
        let codec = EventCodec()
        let feeder = self
        let workers = max(1, min(workers, count))
        try await withStallWatchdog(timeout: stallTimeout, what: "wire-format feeder", onStall: { await connection.close() }) { watch in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<workers {
                    group.addTask {
                        while true {
                            let sequence = next.takeNext()
                            guard sequence < count else { return }
                            if let backlog, let consumed {
                                while sequence - consumed() > backlog { try await Task.sleep(for: .milliseconds(1)) }
                            }
                            let event = BenchmarkEvent(sequence: sequence, padding: feeder.shape.padding)
                            let body = try codec.encode(event)
                            try await channel.publish(
                                body, exchange: feeder.exchange, routingKey: feeder.routingKey, mandatory: true,
                                properties: feeder.properties(for: event))
                            watch.advance()
                            progress?.advance()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// Counts completions towards a target and lets one task wait for the target (or a failure). Records the
/// monotonic time of the first and the last completion.
final class CompletionLatch: Sendable {
    private struct State {
        var done = 0
        var firstNanoseconds: UInt64?
        var lastNanoseconds: UInt64?
        var failure: (any Error)?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    let target: Int
    private let state = Mutex(State())
    /// Completions, for the stall watchdog.
    let progress = Progress()

    init(target: Int) {
        self.target = target
    }

    /// Records one completion at monotonic time `now`; returns how many there are now.
    @discardableResult
    func complete(at now: UInt64 = MonotonicClock.nanoseconds()) -> Int {
        let (done, waiter) = state.withLock { state -> (Int, CheckedContinuation<Void, any Error>?) in
            state.done += 1
            if state.firstNanoseconds == nil { state.firstNanoseconds = now }
            state.lastNanoseconds = now
            guard state.done >= target, let waiter = state.waiter else { return (state.done, nil) }
            state.waiter = nil
            return (state.done, waiter)
        }
        progress.advance()
        waiter?.resume()
        return done
    }

    /// Makes ``wait()`` throw `error` (unless the target was reached already).
    func fail(_ error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.failure == nil { state.failure = error }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume(throwing: error)
    }

    /// Completions so far.
    var count: Int { state.withLock { $0.done } }

    /// Monotonic times of the first and last completion.
    var span: (first: UInt64, last: UInt64)? {
        state.withLock { state in
            guard let first = state.firstNanoseconds, let last = state.lastNanoseconds else { return nil }
            return (first, last)
        }
    }

    /// Returns when `target` completions happened; throws the failure given to ``fail(_:)``.
    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error>? = state.withLock { state in
                if state.done >= target { return .success(()) }
                if let failure = state.failure { return .failure(failure) }
                state.waiter = continuation
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}

/// A `RabbitMQEventBus` running for one measurement, as a service would run it: in a `ServiceGroup`, stopped by a
/// graceful shutdown (the bus stops consuming, finishes in-flight handlers and their acks, waits for pending
/// confirms). Cancelling `run()` instead closes the connections at once and loses the acks of in-flight deliveries.
final class RunningBus: Sendable {
    let bus: RabbitMQEventBus
    let name: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts the bus in a service group of its own.
    init(_ bus: RabbitMQEventBus, name: String) {
        self.bus = bus
        self.name = name
        let group = ServiceGroup(
            services: [bus], logger: Logger(label: "eventbus-bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Waits until the bus has its connections (and its consumer, when it has subscriptions).
    func waitUntilConnected(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !bus.isConnected {
            guard ContinuousClock.now < deadline else {
                throw BenchmarkFailure("\(name) did not connect and start consuming within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Shuts the bus down gracefully and waits up to `timeout` for it to finish; then cancels it. Returns a
    /// description of what went wrong, if anything.
    func stop(timeout: Duration = .seconds(15)) async -> String? {
        await group.triggerGracefulShutdown()
        let task = self.task
        if await firstOf(timeout: timeout, { _ = await task.result }) { return nil }
        task.cancel()
        return "\(name): no graceful shutdown within \(timeout); cancelled"
    }
}

/// Runs `operation` in a task of its own and returns `true` when it completes within `timeout`, `false` when the
/// timeout comes first (the operation is then left running).
func firstOf(timeout: Duration, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
    let once = SharedCounter()
    return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        @Sendable func finish(_ value: Bool) {
            if once.takeNext() == 0 { continuation.resume(returning: value) }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            finish(false)
        }
        Task {
            await operation()
            timer.cancel()
            finish(true)
        }
    }
}

/// What the bus benchmarks share: the bus configuration they use and the checks after a consuming run.
enum BusBench {
    /// A retry policy that never delays anything in practice (handlers do not fail) and declares a single retry
    /// queue, so the clean-up knows every queue the bus declared.
    static let retryPolicy: RetryPolicy = {
        // 1 attempt, 60 minutes, one 1 s delay level: valid by construction.
        (try? RetryPolicy(maxDeliveryAttempts: 1, eventTimeToLiveMinutes: 60, delays: [.seconds(1)])) ?? .eventGrid
    }()

    /// The subscription options the consuming benchmarks use: dedup `.always` (the store is consulted for every
    /// delivery, the default and the costlier path).
    static var subscriptionOptions: SubscriptionOptions {
        SubscriptionOptions(name: "bench", retryPolicy: retryPolicy, dedupMode: .always)
    }

    /// The configuration of a benchmark bus on the run's exchange. A consuming bus uses `queue` as its service
    /// queue (declared beforehand by ``AdminSession/prepareBusQueue(_:exchange:)``).
    static func configuration(
        target: BrokerTarget, role: String, exchange: String, queue: String? = nil, options: BenchmarkOptions
    ) throws -> RabbitMQEventBusConfiguration {
        var configuration = try RabbitMQEventBusConfiguration(url: target.url, serviceName: "eventbus-bench-\(role)")
        configuration.exchange = exchange
        configuration.queueName = queue
        configuration.handlerConcurrency = options.handlerConcurrency
        configuration.publishTimeout = options.stallTimeout
        return configuration
    }

    /// After a consuming bus stopped: its queue must be empty (every ack arrived) and nothing may have been
    /// dead-lettered. The retry and dead-letter queues it declared are deleted either way.
    static func checkAndCleanUp(queue: String, admin: AdminSession, options: BenchmarkOptions) async throws {
        do {
            try await admin.waitForMessageCount(queue, 0, stallTimeout: options.stallTimeout, who: "bus consume check")
            let deadLetterQueue = Self.deadLetterQueue(of: queue)
            let deadLetters = try await admin.messageCount(deadLetterQueue)
            if deadLetters > 0 {
                let reason = await admin.firstDeadLetterReason(deadLetterQueue)
                throw BenchmarkFailure("the bus dead-lettered \(deadLetters) events (first: \(reason))")
            }
        } catch {
            await admin.deleteBusSideQueues(of: queue)
            throw error
        }
        await admin.deleteBusSideQueues(of: queue)
    }

    /// The dead-letter queue the bus declares for `queue`.
    static func deadLetterQueue(of queue: String) -> String { RabbitMQTopology(queue: queue).deadLetterQueue }

    /// The retry queues the bus declares for `queue` with ``retryPolicy``.
    static func retryQueues(of queue: String) -> [String] {
        let names = RabbitMQTopology(queue: queue)
        return retryPolicy.usedDelays.map(names.retryQueue(delay:))
    }
}

/// An atomic counter shared by concurrent tasks (a class, so closures can capture it).
final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// The current value, then adds one.
    func takeNext() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
