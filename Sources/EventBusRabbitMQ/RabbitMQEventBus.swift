import AMQP
import EventBus
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tracing

/// The event bus on RabbitMQ: a swift-service-lifecycle `Service`. Its `run()` owns the connections (one for
/// publishing, one for consuming: flow control on a publisher must not stall consumers), reconnects with
/// backoff and jitter when the broker drops or restarts, re-declares the topology and resumes consuming.
/// A graceful shutdown (swift-service-lifecycle) stops consuming, finishes in-flight handlers and waits for pending
/// confirms. Cancelling `run()` is a hard stop: connections close at once, and deliveries whose ack had not been
/// sent come back redelivered later (the processed-message store keeps their effect single).
///
/// ```swift
/// let bus = try RabbitMQEventBus(configuration: .init(url: url, serviceName: "basket"), store: store, logger: logger)
/// try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, context in
///     try await baskets.updatePrice(of: event.productId, from: event.oldPrice, to: event.newPrice)
/// }
/// let group = ServiceGroup(services: [bus], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// Delivery follows DESIGN section 5 exactly: decode → filter → dedup → handle → record → ack; failures go to
/// `<queue>.retry.<ms>` queues (no plug-ins) until the retry policy gives up, then to `<queue>.dead-letter` with
/// the reason headers. Several instances of one service share its queue as competing consumers.
public final class RabbitMQEventBus: EventBus, Service, @unchecked Sendable {
    /// The configuration the bus was created with.
    public let configuration: RabbitMQEventBusConfiguration
    let topology: Topology
    let registry = SubscriptionRegistry()
    let pipeline: DeliveryPipeline
    let logger: Logger
    let metrics: BusMetrics
    let publisher = ChannelLink()
    /// The last published event's header table, reused for the next event of the same shape.
    let publishHeaders = PublishHeaders()
    typealias Lifecycle = BusLifecycleStateMachine<AMQPConnection, AMQPConsumer, CheckedContinuation<Void, Never>>
    /// Running, shutting down, pending publishes, the consumer and who waits for what (``BusLifecycleStateMachine``).
    private let lifecycle = Mutex(Lifecycle())
    private let shutdown = ShutdownSignal()
    /// Deliveries in flight and the shutdown's phases on the consuming side (``ConsumingStateMachine``).
    private let consuming = Mutex(ConsumingStateMachine())
    /// Forwards (to retry and dead-letter queues) that failed in a row, per event.
    let forwardFailures = ForwardFailures()
    private let dedupWarning = Mutex(false)
    /// The dispatcher of the consumer running now, told when a subscription goes (its gathered batch dead-letters).
    private let activeDispatcher = Mutex<DeliveryDispatcher<AMQPDelivery>?>(nil)
    /// Test hook: runs after the consuming side read its subscriptions and before it became visible to `subscribe`.
    package var beforeConsumerIsRecorded: (@Sendable () async -> Void)?

    /// Creates the bus. Nothing connects until `run()`.
    public init(
        configuration: RabbitMQEventBusConfiguration,
        store: any ProcessedMessageStore = InMemoryProcessedMessageStore(),
        logger: Logger = Logger(label: "eventbus", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        try configuration.validate()
        var configuration = configuration
        // The codec reads what the bus reads: bodies up to the maximum event size.
        configuration.codec.maxBodySize = configuration.maxEventSize
        self.configuration = configuration
        self.topology = Topology(configuration)
        var logger = logger
        logger[metadataKey: "service"] = "\(configuration.serviceName)"
        self.logger = logger
        self.metrics = BusMetrics(service: configuration.serviceName)
        self.pipeline = DeliveryPipeline(
            registry: registry, store: store, serviceName: configuration.queue, logger: logger, metrics: metrics)
    }

    // MARK: - Service

    /// Connects, declares, consumes and publishes until cancelled or gracefully shut down; reconnects on failure.
    public func run() async throws {
        do {
            try lifecycle.withLock { machine throws(Lifecycle.StartRefusal) in try machine.start() }
        } catch {
            throw EventBusError.invalidConfiguration("run() was called twice")
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await self.superviseConsumer()
                        self.endConsuming()
                    }
                    group.addTask { await self.supervisePublisher() }
                    await group.waitForAll()
                }
            } onGracefulShutdown: {
                self.beginShutdown()
            }
        } onCancel: {
            self.beginShutdown()
        }
        lifecycle.withLock { $0.ended() }
    }

    private var isShuttingDown: Bool { lifecycle.withLock { $0.shuttingDown } }

    /// `true` while the bus has a live publishing connection and, when it has subscriptions, a live consumer.
    /// Cheap (no network): for health checks.
    public var isConnected: Bool {
        let publishing = publisher.isConnected
        let consuming = lifecycle.withLock { $0.consumerConnection?.isOpen ?? false }
        return publishing && (registry.all.isEmpty || consuming)
    }

    private func beginShutdown() {
        let (wake, consumer) = lifecycle.withLock { $0.beginShutdown() }
        let stop = consuming.withLock { $0.shutdownRequested() }
        wake?.resume()
        shutdown.fire()
        if case .stopConsuming(let running) = stop {
            logger.info(
                "event bus shutting down: consuming stops, handlers that started finish (at most \(configuration.shutdownGracePeriod)), the rest go back to the queue",
                metadata: ["handlers.running": "\(running)"])
        }
        if let consumer {
            Task {
                try? await consumer.cancel()
                // Deliveries prefetched but not started go back at once, even while a handler still runs.
                _ = try? consumer.giveBackBuffered()
            }
        }
    }

    private func connect(role: String) async throws -> AMQPConnection {
        var connection = configuration.connection
        connection.connectionName = "\(configuration.serviceName)-\(role)"
        return try await AMQPConnection.connect(connection, logger: logger)
    }

    /// Sleeps before reconnect attempt `attempt`; `false` when the bus is stopping.
    private func backoff(_ attempt: Int) async -> Bool {
        let delay = configuration.reconnect.delay(attempt: attempt)
        do { try await Task.sleep(for: delay) } catch { return false }
        return !isShuttingDown && !Task.isCancelled
    }

    // MARK: - Publishing

    private func supervisePublisher() async {
        var attempt = 0
        while !Task.isCancelled, !isShuttingDown {
            do {
                let connection = try await connect(role: "publisher")
                let channel = try await connection.openChannel()
                try await topology.declareExchange(on: channel)
                try await channel.confirmSelect(window: configuration.publishConfirmWindow)
                publisher.install(channel)
                attempt = 0
                logger.info("event bus publisher connected", metadata: ["exchange": "\(topology.exchange)"])
                let reason = await withTaskCancellationHandler {
                    await waitUntilClosedOrShutdown(connection)
                } onCancel: {
                    Task { await connection.close() }
                }
                if isShuttingDown, !Task.isCancelled {
                    // Graceful: the channel stays while consuming winds down (its handlers may forward retries) and
                    // until every pending publish is settled (each is bounded by its own timeout).
                    await drainPublishes()
                }
                publisher.retract(channel)
                if isShuttingDown || Task.isCancelled {
                    await connection.close()
                    break
                }
                logger.warning("event bus publisher connection lost; reconnecting", metadata: ["error": "\(reason.map { "\($0)" } ?? "closed")"])
            } catch {
                logger.warning("event bus publisher cannot connect; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            }
            guard await backoff(attempt) else { break }
            attempt += 1
        }
        publisher.stop(EventBusError.shuttingDown)
    }

    /// Waits for the connection to end, or for shutdown to begin (then returns `nil` with the connection open).
    private func waitUntilClosedOrShutdown(_ connection: AMQPConnection) async -> AMQPError? {
        await withTaskGroup(of: AMQPError?.self) { group in
            group.addTask {
                // The events stream ends when the task is cancelled, unlike closed().
                for await event in connection.events() {
                    if case .closed(let error) = event { return error }
                }
                return nil
            }
            group.addTask {
                await self.shutdown.wait()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Counts a publish call in (a graceful shutdown waits for it); throws when the bus is shutting down.
    func beginPublish() throws {
        do {
            try lifecycle.withLock { machine throws(Lifecycle.PublishRefusal) in try machine.beginPublish() }
        } catch {
            throw EventBusError.shuttingDown
        }
    }

    /// Counts a forward in: unlike a publish it is taken while shutting down (a handler that started may finish).
    func beginForward() {
        lifecycle.withLock { $0.beginForward() }
    }

    /// Counts a publish or forward out; the last one wakes a graceful shutdown waiting for publishes to finish.
    func finishPublish() {
        for waiter in lifecycle.withLock({ $0.finishPublish() }) { waiter.resume() }
    }

    private func endConsuming() {
        for waiter in lifecycle.withLock({ $0.endConsuming() }) { waiter.resume() }
    }

    /// Returns once consuming has ended and no publish or forward is pending.
    private func drainPublishes() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if lifecycle.withLock({ $0.waitForDrain(continuation) }) { continuation.resume() }
        }
    }

    // MARK: - Subscribing

    @discardableResult
    public func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID {
        try await add(.typed(type, options: options, handler: handler))
    }

    @discardableResult
    public func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        try await add(.batched(type, batch: batch, options: options, handler: handler))
    }

    @discardableResult
    public func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        try await add(.raw(eventType: eventType, options: options, handler: handler))
    }

    /// Calls `handler` with batches of undecoded events whose type name is `eventType`, bounded by `batch`, all or
    /// nothing (a throw retries the whole batch). For relays such as the webhook gateway that carry events without
    /// their Swift types.
    @discardableResult
    public func subscribe(
        batchesOfEventType eventType: String, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping RawBatchEventHandler
    ) async throws -> SubscriptionID {
        try await add(.rawBatched(eventType: eventType, batch: batch, options: options, handler: handler))
    }

    public func unsubscribe(_ subscription: SubscriptionID) async throws {
        let (removed, lastOfType) = try registry.remove(subscription)
        await activeDispatcher.withLock { $0 }?.removeSubscription(named: subscription.name)
        if lastOfType, let connection = lifecycle.withLock({ $0.consumerConnection }) {
            let channel = try await connection.openChannel()
            try await channel.queueUnbind(topology.queue, exchange: topology.exchange, routingKey: removed.eventType)
            await channel.close()
        }
    }

    private func add(_ subscription: Subscription) async throws -> SubscriptionID {
        let firstOfType = try registry.add(subscription)
        let (wake, connection) = lifecycle.withLock { $0.subscriptionAdded() }
        wake?.resume()
        if let connection {
            // Running already: bind the new type and declare its retry queues now (a reconnect re-declares all).
            let channel = try await connection.openChannel()
            try await topology.declareConsumerSide(
                on: channel, eventTypes: firstOfType ? [subscription.eventType] : [],
                retryDelays: Set(subscription.options.retryPolicy.usedDelays))
            await channel.close()
        }
        return subscription.id
    }

    // MARK: - Consuming

    private func superviseConsumer() async {
        var attempt = 0
        while !Task.isCancelled, !isShuttingDown {
            if registry.all.isEmpty {
                // A publish-only service needs no queue; wait until something subscribes.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let hasSubscriptions = !registry.all.isEmpty
                    if lifecycle.withLock({ $0.waitForSubscription(continuation, hasSubscriptions: hasSubscriptions) }) {
                        continuation.resume()
                    }
                }
                continue
            }
            do {
                let connection = try await connect(role: "consumer")
                attempt = 0
                let outcome = await withTaskCancellationHandler {
                    await consumeWithinGracePeriod(on: connection)
                } onCancel: {
                    Task { await connection.close() }
                }
                switch outcome {
                case .ended(nil), .graceExpired: break
                case .ended(let error?):
                    if !isShuttingDown {
                        logger.warning(
                            "event bus consumer connection lost; reconnecting (the broker redelivers what was not acknowledged)",
                            metadata: ["error": "\(error)"])
                    }
                }
                lifecycle.withLock { $0.consumerGone() }
                await connection.close()
            } catch {
                logger.warning("event bus consumer cannot connect; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            }
            guard !isShuttingDown, await backoff(attempt) else { break }
            attempt += 1
        }
    }

    private enum ConsumeOutcome: Sendable {
        /// Consuming ended (normally, or with the error that ended it).
        case ended((any Error)?)
        /// A graceful shutdown's grace period ran out with handlers still running: they are abandoned.
        case graceExpired
    }

    /// Consumes on `connection` until it ends; once a graceful shutdown begins, waits at most
    /// ``RabbitMQEventBusConfiguration/shutdownGracePeriod`` for handlers that started, so that a stuck handler
    /// cannot hang the shutdown (its delivery goes back to the queue when the connection closes).
    private func consumeWithinGracePeriod(on connection: AMQPConnection) async -> ConsumeOutcome {
        let outcome = FirstOutcome<ConsumeOutcome>()
        let work = Task {
            do {
                try await consume(on: connection)
                outcome.set(.ended(nil))
            } catch {
                outcome.set(.ended(error))
            }
        }
        let grace = configuration.shutdownGracePeriod
        let timer = Task {
            await shutdown.wait()
            try? await Task.sleep(for: grace)
            outcome.set(.graceExpired)
        }
        let result = await withTaskCancellationHandler {
            await outcome.wait()
        } onCancel: {
            // A hard stop: nothing waits for handlers.
            outcome.set(.graceExpired)
        }
        timer.cancel()
        if case .graceExpired = result, !Task.isCancelled {
            // Handlers that started and did not finish (a batch or a forward may be what is still running instead).
            let running = if case .abandon(let count) = consuming.withLock({ $0.graceExpired() }) { count } else { 0 }
            logger.warning(
                "handlers still running after the shutdown grace period; their deliveries go back to the queue",
                metadata: ["grace": "\(grace)", "handlers.running": "\(running)"])
        }
        _ = work
        return result
    }

    private func consume(on connection: AMQPConnection) async throws {
        let setup = try await connection.openChannel()
        let subscriptions = registry.all
        try await topology.declareConsumerSide(
            on: setup, eventTypes: Set(subscriptions.map(\.eventType)),
            retryDelays: Set(subscriptions.flatMap { $0.options.retryPolicy.usedDelays }))
        warnIfDedupIsInMemory()
        await beforeConsumerIsRecorded?()

        lifecycle.withLock { $0.consumerConnected(connection) }
        // A subscription added after `registry.all` above but before the connection was recorded saw no connection
        // and bound nothing: bind it now, before consuming (either this or `add` sees the other; declaring twice is
        // harmless).
        let late = registry.all.filter { added in !subscriptions.contains { $0.id == added.id } }
        if !late.isEmpty {
            try await topology.declareConsumerSide(
                on: setup, eventTypes: Set(late.map(\.eventType)),
                retryDelays: Set(late.flatMap { $0.options.retryPolicy.usedDelays }))
        }
        await setup.close()
        let channel = try await connection.openChannel()
        // A body over the event size limit is not read at all: it arrives empty, with its announced size.
        let consumer = try await channel.consume(
            queue: topology.queue, prefetch: configuration.prefetch, maxBodySize: configuration.maxEventSize)
        let stopNow = lifecycle.withLock { $0.consumerStarted(consumer) }
        if stopNow { try? await consumer.cancel() }
        logger.info("event bus consuming", metadata: ["queue": "\(topology.queue)", "subscriptions": "\(registry.all.map(\.id.name))"])

        let dispatcher = DeliveryDispatcher<AMQPDelivery>(pipeline: pipeline) { event, delivery, decisions in
            await self.finalize(delivery, event, decisions, consumer)
        }
        activeDispatcher.withLock { $0 = dispatcher }
        let context = ConsumeContext(consumer: consumer, dispatcher: dispatcher)
        let limit = configuration.handlerConcurrency
        try await withThrowingTaskGroup(of: Void.self) { group in
            var handlerTasks = 0
            var result: Result<Void, any Error> = .success(())
            do {
                let executor = configuration.consumesOnConnectionThread ? connection.taskExecutor : globalConcurrentExecutor
                try await withTaskExecutorPreference(executor) {
                    for try await delivery in consumer {
                        metrics.consumed.increment()
                        guard consuming.withLock({ $0.deliveryArrived() }) == .process else {
                            // Shutting down: a delivery that did not start goes back to the broker at once.
                            try? consumer.nack(delivery, requeue: true)
                            continue
                        }
                        if limit == 1 {
                            await process(delivery, context)
                            consuming.withLock { $0.deliveryFinished() }
                        } else {
                            if handlerTasks >= limit {
                                try await group.next()
                                handlerTasks -= 1
                            }
                            group.addTask(executorPreference: globalConcurrentExecutor) {
                                await self.process(delivery, context)
                                self.consuming.withLock { $0.deliveryFinished() }
                            }
                            handlerTasks += 1
                        }
                    }
                }
            } catch {
                result = .failure(error)
            }
            // Consuming stopped: let in-flight handlers finish, then the batches they gathered, before the
            // connection goes.
            try await group.waitForAll()
            activeDispatcher.withLock { if $0 === dispatcher { $0 = nil } }
            await dispatcher.finish()
            try result.get()
        }
    }

    /// Says once, in plain words, that duplicates are caught only while this process lives.
    private func warnIfDedupIsInMemory() {
        guard pipeline.store is InMemoryProcessedMessageStore else { return }
        let first = dedupWarning.withLock { warned in
            defer { warned = true }
            return !warned
        }
        guard first else { return }
        logger.warning(
            "deduplication is in memory only: after a restart this service may apply an event it handled before a second time; pass a SQLite or PostgreSQL ProcessedMessageStore to RabbitMQEventBus(configuration:store:logger:) to keep it")
    }

    struct ConsumeContext: Sendable {
        /// Acks go through the consumer, which batches them while deliveries are buffered.
        let consumer: AMQPConsumer
        /// Routes, fans out and batches; settles each delivery with ``finalize(_:_:_:_:)``.
        let dispatcher: DeliveryDispatcher<AMQPDelivery>
        /// The previous delivery's headers as strings, reused when the next one has the same names.
        let headerStrings = HeaderStrings()
    }

    nonisolated(nonsending) private func process(_ delivery: AMQPDelivery, _ context: ConsumeContext) async {
        if let omitted = delivery.omittedBodySize {
            rejectTooLarge(delivery, size: omitted, context.consumer)
            return
        }
        guard let event = WireFormat.inbound(delivery, codec: configuration.codec, reuse: context.headerStrings) else {
            let placeholder = InboundEvent(
                raw: RawEvent(eventType: delivery.properties.type ?? delivery.routingKey, id: "", payload: delivery.body),
                redelivered: delivery.redelivered, attempt: 1, targetSubscription: nil, firstDeliveredAt: Date())
            await finalize(delivery, placeholder, [.deadLetter(subscription: nil, reason: .unprocessable, error: "the message has no message_id and its body no Id")], context.consumer)
            return
        }
        logger.debug("event received", metadata: pipeline.metadata(event, nil).merging(["redelivered": "\(event.redelivered)"]) { $1 })
        guard BusTracing.isActive else {
            await context.dispatcher.dispatch(event, delivery)
            return
        }
        var traceContext = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(event.raw.headers, into: &traceContext, using: TraceHeaderExtractor())
        await withSpan("\(event.raw.eventType) process", context: traceContext, ofKind: .consumer) { span in
            if span.isRecording { span.attributes["messaging.message.id"] = event.raw.id }
            await context.dispatcher.dispatch(event, delivery)
        }
    }

    /// A body over ``RabbitMQEventBusConfiguration/maxEventSize``: rejected without requeue, so the broker moves it as it
    /// arrived to the dead-letter queue (the service queue's dead-letter route); the reason goes to the log and metrics.
    private func rejectTooLarge(_ delivery: AMQPDelivery, size: UInt64, _ consumer: AMQPConsumer) {
        metrics.deadLettered.increment()
        logger.warning("event dead-lettered", metadata: [
            "reason": "\(DeadLetterReason.tooLarge.rawValue)", "size": "\(size)", "limit": "\(configuration.maxEventSize)",
            "event.id": "\(delivery.properties.messageID ?? "")", "queue": "\(topology.deadLetterQueue)",
        ])
        do {
            try consumer.reject(delivery, requeue: false)
        } catch {
            logger.debug("could not reject a delivery; the broker redelivers it", metadata: ["error": "\(error)"])
        }
    }

    /// Carries out a delivery's decisions: forward retries and dead letters (confirmed, on the publishing connection),
    /// then ack. A forward that fails gives the delivery back after a growing pause; after
    /// ``RabbitMQEventBusConfiguration/maxForwardAttempts`` failures in a row (or at once when the copy can never be
    /// sent) the delivery is rejected, and the broker dead-letters it as it arrived. Nothing is lost either way.
    nonisolated(nonsending) private func finalize(_ delivery: AMQPDelivery, _ event: InboundEvent, _ decisions: [DeliveryDecision], _ consumer: AMQPConsumer) async {
        var copies: [AMQPOutboundMessage] = []
        for decision in decisions {
            switch decision {
            case .handled, .duplicate, .filtered:
                continue
            case .retry(let subscription, let attempt, let delay, let error):
                let properties = WireFormat.forwarded(delivery, event: event, headers: [
                    EventHeaders.deliveryAttempts: .int32(Int32(clamping: attempt)),
                    EventHeaders.subscription: .string(subscription),
                    EventHeaders.lastError: .string(String(error.prefix(1_000))),
                ])
                copies.append(AMQPOutboundMessage(delivery.body, routingKey: topology.retryQueue(delay: delay), mandatory: true, properties: properties))
            case .deadLetter(let subscription, let reason, let error, let details):
                var headers: AMQPTable = [
                    EventHeaders.deadLetterReason: .string(reason.rawValue),
                    EventHeaders.deliveryAttempts: .int32(Int32(clamping: event.attempt)),
                    EventHeaders.lastError: .string(String(error.prefix(1_000))),
                    EventHeaders.deadLetteredAt: .string(EventDate.format(Date())),
                ]
                // The handler error's own headers (DeadLetterDetails); the pipeline dropped names the bus owns.
                var added: [String] = []
                for (name, value) in details.sorted(by: { $0.key < $1.key }) where headers[name] == nil {
                    headers[name] = .string(value)
                    added.append(name)
                }
                if !added.isEmpty { headers[EventHeaders.deadLetterDetailNames] = .string(added.joined(separator: ",")) }
                if let subscription { headers[EventHeaders.subscription] = .string(subscription) }
                let properties = WireFormat.forwarded(delivery, event: event, headers: headers)
                copies.append(AMQPOutboundMessage(delivery.body, routingKey: topology.deadLetterQueue, mandatory: true, properties: properties))
            }
        }
        if !copies.isEmpty {
            guard await forward(copies, of: delivery, event, consumer) else { return }
            for decision in decisions {
                switch decision {
                case .retry(let subscription, _, let delay, let error):
                    metrics.retried.increment()
                    logger.info("event will be retried", metadata: pipeline.metadata(event, subscription).merging([
                        "delay_ms": "\(delay.milliseconds)", "error": "\(error)",
                    ]) { $1 })
                case .deadLetter(let subscription, let reason, let error, _):
                    metrics.deadLettered.increment()
                    logger.warning("event dead-lettered", metadata: pipeline.metadata(event, subscription).merging([
                        "reason": "\(reason.rawValue)", "error": "\(error)", "queue": "\(topology.deadLetterQueue)",
                    ]) { $1 })
                case .handled, .duplicate, .filtered:
                    continue
                }
            }
        }
        do {
            try consumer.ack(delivery)
            logger.debug("event acknowledged", metadata: pipeline.metadata(event, nil).merging(["decisions": "\(decisions)"]) { $1 })
        } catch {
            // When the connection went away every delivery it held ends here; the "connection lost" warning says it
            // once, and the broker redelivers them (the processed-message store absorbs what was handled already).
            let level: Logger.Level = consumer.channel.connection.isOpen ? .error : .debug
            logger.log(level: level, "could not acknowledge a delivery; the broker delivers it again", metadata: pipeline.metadata(event, nil).merging(["error": "\(error)"]) { $1 })
        }
    }

    /// Sends `copies` through the publishing channel with a deadline per confirm. Returns `true` when all are
    /// confirmed; otherwise settles the delivery itself (requeue after a pause, or reject) and returns `false`.
    private func forward(_ copies: [AMQPOutboundMessage], of delivery: AMQPDelivery, _ event: InboundEvent, _ consumer: AMQPConsumer) async -> Bool {
        let key = event.raw.id.isEmpty ? "tag:\(delivery.deliveryTag)" : event.raw.id
        beginForward()
        let outcomes = await sendConfirmed(copies, until: .now + configuration.forwardTimeout)
        finishPublish()
        var problem: String?
        var permanent = false
        var unroutable = false
        for (copy, outcome) in zip(copies, outcomes) {
            switch outcome {
            case .confirmed: continue
            case .returned(let code, let text, _, _):
                unroutable = true
                problem = "queue '\(copy.routingKey)' does not exist (\(code) \(text))"
            case .refused(let text):
                permanent = true
                problem = "the copy for '\(copy.routingKey)' can never be sent: \(text)"
            case .timedOut:
                problem = "no confirm from the broker within \(configuration.forwardTimeout)"
            case .stopped(let error):
                problem = "\(error)"
            }
        }
        guard let problem else {
            forwardFailures.clear(key)
            return true
        }
        metrics.forwardFailed.increment()
        if unroutable { redeclareConsumerSide(on: consumer.channel.connection) }
        // While the broker blocks publishing (a resource alarm) failures say nothing about the copy: do not count them.
        let failures = publisher.isBlocked ? 1 : forwardFailures.record(key)
        let metadata = pipeline.metadata(event, nil).merging([
            "error": "\(problem)", "forward.failures": "\(failures)", "queue": "\(topology.deadLetterQueue)",
        ]) { $1 }
        if permanent || failures >= configuration.maxForwardAttempts {
            forwardFailures.clear(key)
            metrics.deadLettered.increment()
            logger.error("could not forward an event to a retry or dead-letter queue; the broker dead-letters it as it arrived (no bus headers)", metadata: metadata)
            do {
                try consumer.reject(delivery, requeue: false)
            } catch {
                logger.debug("could not reject a delivery; the broker redelivers it", metadata: ["error": "\(error)"])
            }
            return false
        }
        logger.warning("could not forward an event to a retry or dead-letter queue; it goes back to the queue after a pause", metadata: metadata)
        try? await Task.sleep(for: ForwardFailures.backoff(after: failures))
        do {
            try consumer.nack(delivery, requeue: true)
        } catch {
            logger.debug("could not requeue a delivery; the broker redelivers it", metadata: ["error": "\(error)"])
        }
        return false
    }

    /// Declares the service's queues again (one was deleted under it), in the background.
    private func redeclareConsumerSide(on connection: AMQPConnection) {
        let subscriptions = registry.all, topology = self.topology, logger = self.logger
        Task {
            do {
                let channel = try await connection.openChannel()
                try await topology.declareConsumerSide(
                    on: channel, eventTypes: Set(subscriptions.map(\.eventType)),
                    retryDelays: Set(subscriptions.flatMap { $0.options.retryPolicy.usedDelays }))
                await channel.close()
                logger.warning("declared the service's queues again: a retry or dead-letter queue was missing")
            } catch {
                logger.warning("could not declare the service's queues again", metadata: ["error": "\(error)"])
            }
        }
    }
}
