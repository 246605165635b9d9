import EventBus
import EventBusRabbitMQ
import Foundation
import Logging
import Metrics

/// Delivers one webhook subscription: a bus of its own on the durable queue `<queuePrefix><name>`, bound to the
/// subscription's event types and consumed with the bus's pipeline, so dedup, retries and dead letters (the queues of
/// its ``topology``) are the bus's. Its handler is an HTTP POST: 200...204 acknowledges;
/// 400, 401, 403, 404 and 413 dead-letter at once (`NonRetryableError`); other statuses, timeouts and
/// connection errors are retried under the subscription's `RetryPolicy`.
///
/// Its own connections and its own HTTP client: a slow or failing endpoint never holds another subscription back.
/// `run()` owns the bus and the validation handshake; cancelling it stops both.
public final class WebhookDispatcher: Sendable {
    /// The subscription it delivers.
    public let settings: WebhookSettings
    /// The bus consuming the subscription's queue.
    public let bus: RabbitMQEventBus
    let endpoint: WebhookEndpointClient
    let gate = ValidationGate()
    let logger: Logger
    let handshakeRetryDelay: Duration
    let gatewayName: String
    private let delivered: Counter
    private let failed: Counter
    private let retried: Counter
    private let deadLettered: Counter
    private let filtered: Counter
    private let latency: Metrics.Timer

    /// The queue a subscription's events wait in.
    public static func queueName(prefix: String, subscription: String) -> String { prefix + subscription }

    /// Creates the dispatcher and its bus (nothing connects until ``run()``).
    /// - Parameters:
    ///   - settings: The validated subscription to deliver.
    ///   - base: The broker, exchange and timing every subscription's bus shares; the service name, queue, queue type
    ///     and concurrency are set here from `settings`.
    ///   - queuePrefix: Prepended to the subscription's name to make its queue (``queueName(prefix:subscription:)``).
    ///   - store: The processed-message store (dedup across redeliveries and restarts).
    ///   - gatewayName: The `topic` of the validation handshake's event.
    ///   - handshakeRetryDelay: The pause after a failed validation handshake; it doubles on each failure, up to
    ///     60 seconds.
    ///   - logger: Where the dispatcher and its bus log, with the subscription's name in the metadata.
    public init(
        settings: WebhookSettings, base: RabbitMQEventBusConfiguration, queuePrefix: String,
        store: any ProcessedMessageStore, gatewayName: String = "eventbus-gateway",
        handshakeRetryDelay: Duration = .seconds(5), logger: Logger
    ) throws {
        self.settings = settings
        var configuration = base
        let queue = Self.queueName(prefix: queuePrefix, subscription: settings.name)
        configuration.serviceName = queue
        configuration.queueName = queue
        configuration.queueType = settings.queueType == .quorum ? .quorum : .classic
        configuration.handlerConcurrency = settings.maxConcurrentDeliveries
        let batch = settings.batch?.maxEventsPerBatch ?? 1
        configuration.prefetch = UInt16(clamping: max(settings.maxConcurrentDeliveries * 2, batch * 2, 10))
        var logger = logger
        logger[metadataKey: "subscription"] = "\(settings.name)"
        self.logger = logger
        self.bus = try RabbitMQEventBus(configuration: configuration, store: store, logger: logger)
        self.endpoint = WebhookEndpointClient(endpoint: settings.endpoint, allowPrivateNetworks: settings.allowPrivateNetworks)
        self.handshakeRetryDelay = handshakeRetryDelay
        self.gatewayName = gatewayName
        let dimensions = [("subscription", settings.name)]
        delivered = Counter(label: "eventbus_gateway_delivered_total", dimensions: dimensions)
        failed = Counter(label: "eventbus_gateway_failed_total", dimensions: dimensions)
        retried = Counter(label: "eventbus_gateway_retried_total", dimensions: dimensions)
        deadLettered = Counter(label: "eventbus_gateway_dead_lettered_total", dimensions: dimensions)
        filtered = Counter(label: "eventbus_gateway_filtered_total", dimensions: dimensions)
        latency = Metrics.Timer(label: "eventbus_gateway_delivery_duration", dimensions: dimensions)
    }

    /// Whether the endpoint has passed the validation handshake (or needs none).
    public var isValidated: Bool { gate.isOpen }

    /// The queue this subscription's events wait in.
    public var queue: String { bus.configuration.queue }

    /// The subscription's queues on the broker: ``queue``, its retry queues and its dead-letter queue (read or replay
    /// it with `DeadLetterQueue` (EventBusRabbitMQ), or `eventbus dead-letters --queue <queue>`).
    public var topology: RabbitMQTopology { RabbitMQTopology(queue: queue) }

    /// Subscribes to the event types, then runs the bus and the handshake until cancelled.
    public func run() async throws {
        let options = SubscriptionOptions(retryPolicy: settings.retryPolicy, dedupMode: .always, filter: settings.filter)
        for type in settings.eventTypes {
            var typeOptions = options
            typeOptions.name = type
            if let batch = settings.batch {
                try await bus.subscribe(batchesOfEventType: type, batch: batch, options: typeOptions) { [self] items in
                    try await deliver(items.map(\.event), attempt: items.map(\.context.attempt).max() ?? 1)
                }
            } else {
                try await bus.subscribe(eventType: type, options: typeOptions) { [self] event, context in
                    try await deliver([event], attempt: context.attempt)
                }
            }
        }
        defer { Task { [endpoint] in await endpoint.shutdown() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The handshake ends when it succeeds; the bus runs until cancelled.
            group.addTask { await self.validate() }
            defer { group.cancelAll() }
            try await self.bus.run()
        }
    }

    /// Unbinds the subscription's event types, so no new event enters its queue (what is queued stays there).
    public func unbind() async {
        for type in settings.eventTypes {
            do {
                try await bus.unsubscribe(SubscriptionID(name: type))
            } catch {
                logger.warning("could not unbind an event type", metadata: ["event.type": "\(type)", "error": "\(error)"])
            }
        }
    }

    // MARK: - Delivery

    /// One attempt at delivering `events` (one, or a batch: all or nothing).
    func deliver(_ events: [RawEvent], attempt: Int) async throws {
        try await gate.wait()
        let passing = settings.advancedFilters.isEmpty ? events : events.filter(passesAdvancedFilters)
        if passing.count < events.count { filtered.increment(by: events.count - passing.count) }
        guard !passing.isEmpty else { return }
        let payload = WebhookPayload(events: passing, schema: settings.schema, batched: settings.batch != nil)
        var headers = [
            ("content-type", payload.contentType), ("aeg-event-type", "Notification"),
            ("aeg-subscription-name", settings.name), ("aeg-delivery-count", "\(max(attempt - 1, 0))"),
            ("user-agent", "eventbus-gateway"),
        ]
        if passing.count == 1 { headers.append(("webhook-id", passing[0].id)) }
        if let secret = settings.secret { headers.append((WebhookSignature.headerName, WebhookSignature.header(body: payload.body, secret: secret))) }
        let started = ContinuousClock.now
        let failure: WebhookDeliveryFailure
        let retryable: Bool
        do {
            let answer = try await endpoint.post(payload.body, headers: headers, timeout: settings.timeout, maxResponseBytes: 4_096)
            latency.recordNanoseconds((ContinuousClock.now - started).nanosecondsClamped)
            if (200...204).contains(answer.status) {
                delivered.increment(by: passing.count)
                return
            }
            let (outcome, canRetry) = DeliveryOutcome.forStatus(answer.status)
            failure = WebhookDeliveryFailure(outcome: outcome, status: answer.status, message: "the endpoint answered \(answer.status)")
            retryable = canRetry
        } catch {
            failure = error.failure
            retryable = error.retryable
        }
        failed.increment(by: passing.count)
        let last = !retryable || attempt >= settings.retryPolicy.maxDeliveryAttempts
        (last ? deadLettered : retried).increment(by: passing.count)
        logger.info("webhook delivery failed", metadata: [
            "event.id": "\(passing[0].id)", "events": "\(passing.count)", "attempt": "\(attempt)",
            "outcome": "\(failure.lastDeliveryOutcome.rawValue)", "status": "\(failure.lastHttpStatusCode.map(String.init) ?? "-")",
            "retryable": "\(retryable)",
        ])
        if retryable { throw failure }
        throw NonRetryableError(wrapping: failure)
    }

    private func passesAdvancedFilters(_ event: RawEvent) -> Bool {
        let data = try? JSONValue.parse(event.payload)
        return settings.advancedFilters.allSatisfy { $0.matches(event, data: data) }
    }

    // MARK: - Validation handshake

    /// Opens the gate at once when the subscription needs no handshake; otherwise sends Event Grid's
    /// `SubscriptionValidationEvent` until the endpoint echoes its code, with growing pauses (up to 60 s).
    func validate() async {
        guard settings.validationHandshake else {
            gate.open()
            return
        }
        var pause = handshakeRetryDelay
        while !Task.isCancelled {
            let problem = await handshake()
            guard let problem else {
                logger.info("webhook endpoint validated")
                gate.open()
                return
            }
            logger.warning("webhook endpoint did not pass the validation handshake; deliveries wait", metadata: ["problem": "\(problem)"])
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(60))
        }
    }

    /// One handshake; `nil` when the endpoint echoed the code, else why not.
    func handshake() async -> String? {
        let code = UUID().uuidString
        let event: JSONValue = .array([.object([
            "id": .string(UUID().uuidString.lowercased()), "topic": .string(gatewayName), "subject": .string(""),
            "eventType": .string("Microsoft.EventGrid.SubscriptionValidationEvent"),
            "eventTime": .string(EventDate.format(Date())), "metadataVersion": .string("1"), "dataVersion": .string("2"),
            "data": .object(["validationCode": .string(code), "validationUrl": .null]),
        ])])
        let body = event.jsonData()
        var headers = [
            ("content-type", "application/json"), ("aeg-event-type", "SubscriptionValidation"),
            ("aeg-subscription-name", settings.name), ("user-agent", "eventbus-gateway"),
        ]
        if let secret = settings.secret { headers.append((WebhookSignature.headerName, WebhookSignature.header(body: body, secret: secret))) }
        do {
            let answer = try await endpoint.post(body, headers: headers, timeout: settings.timeout)
            guard answer.status == 200 else { return "the endpoint answered \(answer.status), not 200" }
            guard case .object(let object)? = try? JSONValue.parse(answer.body), case .string(let echoed)? = object["validationResponse"] else {
                return "the answer has no {\"validationResponse\": \"<code>\"}"
            }
            return echoed == code ? nil : "the endpoint echoed another code"
        } catch {
            return error.failure.description
        }
    }
}
