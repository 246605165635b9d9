import Foundation
import Logging
import Synchronization

/// An event that the ``InMemoryEventBus`` gave up on, as RabbitMQ's dead-letter queue would hold it.
public struct DeadLetteredEvent: Sendable, Hashable {
    /// The event as it was last delivered, with the dead-letter headers added (`x-dead-letter-reason`,
    /// `x-delivery-attempts`, `x-last-error`, `x-first-delivered-at`, `x-dead-lettered-at`).
    public var event: RawEvent
    /// Why it was dead-lettered.
    public var reason: DeadLetterReason
    /// The last error, in words (a handler error, a decoding error, a filter rejection).
    public var lastError: String
    /// The delivery attempt on which it was dead-lettered (1 for the first delivery).
    public var attempts: Int
    /// The subscription that gave up on it; `nil` when no subscription handles its type.
    public var subscription: String?
    /// When it was first delivered.
    public var firstDeliveredAt: Date
    /// When it was dead-lettered.
    public var deadLetteredAt: Date
}

/// An in-process ``EventBus`` with the delivery rules of the RabbitMQ bus (DESIGN section 5), for unit tests of
/// handlers without a broker.
///
/// Every published event goes to one queue, as all events of a service do on RabbitMQ, and is delivered by a
/// background task, one delivery at a time, through the same pipeline as the RabbitMQ bus: decode, filter,
/// deduplicate, handle, record, then retry after the policy's delay or dead-letter. Call ``waitUntilIdle()``
/// before asserting:
///
/// ```swift
/// let bus = InMemoryEventBus()
/// try await bus.subscribe(OrderPaidIntegrationEvent.self) { event, _ in await ledger.record(event) }
/// try await bus.publish(OrderPaidIntegrationEvent(orderId: 7))
/// await bus.waitUntilIdle()
/// #expect(bus.handledCount == 1 && bus.deadLetters.isEmpty)
/// ```
///
/// Nothing is persisted: events, dead letters and (with the default store) processed ids live as long as the bus.
public final class InMemoryEventBus: EventBus {
    private let engine: Engine
    private let serviceName: String
    private let source: String?

    /// Creates a bus and starts its delivery task. Costs one suspended task; no I/O.
    ///
    /// - Parameters:
    ///   - serviceName: The consuming service's name: processed ids are recorded as `<serviceName>/<subscription>`.
    ///   - store: Where processed event ids are recorded. Pass a shared store to see its effect across buses.
    ///   - source: The CloudEvents `source` of published events; defaults to `serviceName`.
    ///   - logger: Where the delivery pipeline logs; silent by default.
    public init(
        serviceName: String = "in-memory",
        store: any ProcessedMessageStore = InMemoryProcessedMessageStore(),
        source: String? = nil,
        logger: Logger = Logger(label: "eventbus.in-memory", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.serviceName = serviceName
        self.source = source
        let pipeline = DeliveryPipeline(
            registry: SubscriptionRegistry(), store: store, serviceName: serviceName, logger: logger,
            metrics: BusMetrics(service: serviceName))
        engine = Engine(pipeline: pipeline)
        let engine = engine
        Task { await engine.run() }
    }

    deinit {
        engine.stop()
    }

    // MARK: Publishing

    /// Encodes `event` as JSON (camelCase, .NET-style dates) with the CloudEvents headers of DESIGN section 4 and
    /// queues it. Returns before the event is delivered; costs one encode and one lock, no I/O.
    ///
    /// - Throws: ``EventBusError/encodingFailed(eventType:reason:)`` when the event cannot be encoded.
    public func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        let source = source ?? serviceName
        var raw = try RawEvent(encoding: event, subject: subject, source: source, codec: EventCodec())
        raw.headers = [
            EventHeaders.specVersion: "1.0",
            EventHeaders.id: raw.id,
            EventHeaders.source: source,
            EventHeaders.type: Event.eventTypeName,
            EventHeaders.time: EventDate.format(event.creationDate),
        ]
        if let subject { raw.headers[EventHeaders.subject] = subject }
        engine.publish(raw)
    }

    /// Queues `event` exactly as given: no header is added, so tests can inject malformed bodies, unknown types
    /// or foreign sources. Returns before the event is delivered; costs one lock, no I/O.
    public func publish(_ event: RawEvent) async throws {
        engine.publish(event)
    }

    // MARK: Subscribing

    /// Calls `handler` for each event of type `Event`, one at a time. Costs one lock.
    ///
    /// - Throws: ``EventBusError/duplicateSubscription(name:)`` when a subscription has this name already.
    @discardableResult
    public func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID {
        try add(.typed(type, options: options, handler: handler))
    }

    /// Calls `handler` with batches of events of type `Event` bounded by `batch`: the events queued now, plus
    /// those that arrive within `batch.maximumWait`. A failing batch is retried whole. Costs one lock.
    ///
    /// - Throws: ``EventBusError/duplicateSubscription(name:)`` when a subscription has this name already.
    @discardableResult
    public func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions,
        handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        try add(.batched(type, batch: batch, options: options, handler: handler))
    }

    /// Calls `handler` for each event whose type name is `eventType`, undecoded (its body must still be JSON).
    /// Costs one lock.
    ///
    /// - Throws: ``EventBusError/duplicateSubscription(name:)`` when a subscription has this name already.
    @discardableResult
    public func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        try add(.raw(eventType: eventType, options: options, handler: handler))
    }

    /// Removes a subscription: it gets no further deliveries. Events already gathered for one of its batches
    /// but not yet handled are dead-lettered with ``DeadLetterReason/unexpectedEventType``, as RabbitMQ would for
    /// a retry whose subscription is gone. Costs one lock.
    ///
    /// - Throws: ``EventBusError/unknownSubscription(_:)`` when no subscription has this id.
    public func unsubscribe(_ subscription: SubscriptionID) async throws {
        _ = try engine.pipeline.registry.remove(subscription)
        await engine.removeSubscription(named: subscription.name)
    }

    private func add(_ subscription: Subscription) throws -> SubscriptionID {
        try engine.pipeline.registry.add(subscription)
        return subscription.id
    }

    // MARK: Observing

    /// Returns once nothing is queued, being handled, gathered into a batch or waiting for a retry delay; at once
    /// when the bus is idle already. Costs one lock and, when busy, one suspension until the bus is idle (retry
    /// delays included, so keep them short in tests).
    public func waitUntilIdle() async {
        await engine.waitUntilIdle()
    }

    /// The events dead-lettered so far, oldest first. Costs one lock and a copy.
    public var deadLetters: [DeadLetteredEvent] { engine.state.withLock { $0.deadLetters } }

    /// How many events were published to this bus (typed and raw). Costs one lock.
    public var publishedCount: Int { engine.state.withLock { $0.publishedCount } }

    /// How many deliveries a handler completed and the store recorded, counted per subscription: one event
    /// handled by two subscriptions counts twice, a batch of five counts five. Costs one lock.
    public var handledCount: Int { engine.state.withLock { $0.handledCount } }

    /// How many deliveries were acknowledged without calling the handler because the event id was processed
    /// before. Costs one lock.
    public var duplicateCount: Int { engine.state.withLock { $0.duplicateCount } }

    /// How many deliveries a subscription's filter did not want (acknowledged without handling).
    public var filteredCount: Int { engine.state.withLock { $0.filteredCount } }

    /// How many deliveries failed and were scheduled for another attempt. Costs one lock.
    public var retriedCount: Int { engine.state.withLock { $0.retriedCount } }
}

// MARK: - Engine

/// The queue, the delivery task and what it records. Kept apart from the bus so that the delivery task does not
/// keep the bus alive. Routing, fan-out and batching are the shared ``DeliveryDispatcher``'s; this engine carries out
/// its decisions the way the RabbitMQ transport does (count an ack, re-deliver later, dead-letter).
private final class Engine: Sendable {
    struct State: Sendable {
        var queue: [InboundEvent] = []
        var head = 0
        /// The delivery task is taking or delivering something (not waiting for a signal).
        var busy = false
        /// Events dispatched and not yet settled (gathered into a batch, or being handled).
        var unsettled = 0
        var pendingRetries = 0
        var signalled = false
        var stopped = false
        var worker: CheckedContinuation<Void, Never>?
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        var deadLetters: [DeadLetteredEvent] = []
        var publishedCount = 0
        var handledCount = 0
        var duplicateCount = 0
        var filteredCount = 0
        var retriedCount = 0

        var queueIsEmpty: Bool { head == queue.count }

        var isIdle: Bool { !busy && queueIsEmpty && pendingRetries == 0 && unsettled == 0 }

        mutating func enqueue(_ event: InboundEvent) {
            queue.append(event)
            signalled = true
        }

        mutating func dequeue() -> InboundEvent? {
            guard head < queue.count else { return nil }
            let event = queue[head]
            head += 1
            // Compact once the consumed prefix dominates, so dequeuing stays amortised O(1).
            if head > 1_024, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return event
        }

        /// The worker's continuation when a signal is due for it.
        mutating func takeWorker() -> CheckedContinuation<Void, Never>? {
            guard signalled, let worker else { return nil }
            self.worker = nil
            signalled = false
            return worker
        }
    }

    private enum Step {
        case deliver(InboundEvent)
        case wait(idleWaiters: [CheckedContinuation<Void, Never>])
        case stop
    }

    let pipeline: DeliveryPipeline
    let state = Mutex(State())
    private let dispatcher = Mutex<DeliveryDispatcher<Void>?>(nil)

    init(pipeline: DeliveryPipeline) {
        self.pipeline = pipeline
        // Weak: the dispatcher's settle must not keep the engine (and its dispatcher) alive after the bus is gone.
        let dispatcher = DeliveryDispatcher<Void>(pipeline: pipeline) { [weak self] event, _, decisions in
            self?.settle(event, decisions)
        }
        self.dispatcher.withLock { $0 = dispatcher }
    }

    private var currentDispatcher: DeliveryDispatcher<Void>? { dispatcher.withLock { $0 } }

    // MARK: Inputs

    func publish(_ raw: RawEvent) {
        let event = InboundEvent(raw: raw, redelivered: false, attempt: 1, targetSubscription: nil, firstDeliveredAt: Date())
        let worker = state.withLock { state in
            state.publishedCount += 1
            state.enqueue(event)
            return state.takeWorker()
        }
        worker?.resume()
    }

    func signal() {
        let worker = state.withLock { state in
            state.signalled = true
            return state.takeWorker()
        }
        worker?.resume()
    }

    func stop() {
        let (worker, waiters) = state.withLock { state in
            state.stopped = true
            state.signalled = true
            let waiters = state.idleWaiters
            state.idleWaiters = []
            return (state.takeWorker(), waiters)
        }
        worker?.resume()
        for waiter in waiters { waiter.resume() }
    }

    /// A removed subscription's gathered events dead-letter (the dispatcher settles them as unexpected).
    func removeSubscription(named name: String) async {
        await currentDispatcher?.removeSubscription(named: name)
    }

    func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if state.isIdle || state.stopped { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    // MARK: The delivery task

    func run() async {
        guard let dispatcher = currentDispatcher else { return }
        while true {
            let step = state.withLock { state -> Step in
                if state.stopped { return .stop }
                if let event = state.dequeue() {
                    state.busy = true
                    state.unsettled += 1
                    return .deliver(event)
                }
                state.busy = false
                guard state.isIdle else { return .wait(idleWaiters: []) }
                let waiters = state.idleWaiters
                state.idleWaiters = []
                return .wait(idleWaiters: waiters)
            }
            switch step {
            case .stop:
                await dispatcher.finish()
                self.dispatcher.withLock { $0 = nil }
                return
            case .deliver(let event):
                await dispatcher.dispatch(event, ())
            case .wait(let waiters):
                for waiter in waiters { waiter.resume() }
                await waitForSignal()
            }
        }
    }

    private func waitForSignal() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state in
                if state.signalled || state.stopped {
                    state.signalled = false
                    return true
                }
                state.worker = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    // MARK: Decisions

    /// An event's decisions from the dispatcher: carried out, then the event no longer counts as unsettled (and the
    /// delivery task is woken to see whether the bus became idle).
    private func settle(_ event: InboundEvent, _ decisions: [DeliveryDecision]) {
        for decision in decisions { carryOut(decision, for: event) }
        state.withLock { $0.unsettled -= 1 }
        signal()
    }

    /// Does what the RabbitMQ transport does with a decision: ack (count), re-deliver later, or dead-letter.
    private func carryOut(_ decision: DeliveryDecision, for event: InboundEvent) {
        switch decision {
        case .handled:
            state.withLock { $0.handledCount += 1 }
        case .duplicate:
            state.withLock { $0.duplicateCount += 1 }
        case .filtered:
            state.withLock { $0.filteredCount += 1 }
        case .retry(let subscription, let attempt, let delay, _):
            scheduleRetry(event, for: subscription, attempt: attempt, after: delay)
        case .deadLetter(let subscription, let reason, let error, let details):
            let now = Date()
            var raw = event.raw
            // The handler's own headers first: the bus's below win (the pipeline already dropped reserved names).
            raw.headers.merge(details) { _, new in new }
            raw.headers[EventHeaders.deadLetterReason] = reason.rawValue
            raw.headers[EventHeaders.deliveryAttempts] = "\(event.attempt)"
            raw.headers[EventHeaders.lastError] = error
            raw.headers[EventHeaders.firstDeliveredAt] = EventDate.format(event.firstDeliveredAt)
            raw.headers[EventHeaders.deadLetteredAt] = EventDate.format(now)
            let record = DeadLetteredEvent(
                event: raw, reason: reason, lastError: error, attempts: event.attempt, subscription: subscription,
                firstDeliveredAt: event.firstDeliveredAt, deadLetteredAt: now)
            pipeline.logger.warning(
                "event dead-lettered",
                metadata: pipeline.metadata(event, subscription).merging(["reason": "\(reason.rawValue)", "error": "\(error)"]) { $1 })
            pipeline.metrics.deadLettered.increment()
            state.withLock { $0.deadLetters.append(record) }
        }
    }

    private func scheduleRetry(_ event: InboundEvent, for subscription: String, attempt: Int, after delay: Duration) {
        var retry = event
        retry.attempt = attempt
        retry.targetSubscription = subscription
        retry.redelivered = false
        retry.raw.headers[EventHeaders.deliveryAttempts] = "\(attempt)"
        retry.raw.headers[EventHeaders.subscription] = subscription
        retry.raw.headers[EventHeaders.firstDeliveredAt] = EventDate.format(event.firstDeliveredAt)
        pipeline.metrics.retried.increment()
        state.withLock { state in
            state.retriedCount += 1
            state.pendingRetries += 1
        }
        Task { [self] in
            try? await Task.sleep(for: delay)
            // Enqueue and stop counting the retry as pending in one step, so the bus never looks idle in between.
            let worker = state.withLock { state in
                state.pendingRetries -= 1
                state.enqueue(retry)
                return state.takeWorker()
            }
            worker?.resume()
        }
    }
}
