import EventBus

/// A bus that counts publishes per event id before forwarding them: shows what a relay sent.
public struct CountingBus: EventBus {
    public let inner: any EventBus
    public let published: Tally
    /// Runs before each `publishAll` is forwarded (e.g. to stop a service at a chosen batch).
    public let beforePublishAll: (@Sendable () async -> Void)?

    public init(inner: any EventBus, published: Tally, beforePublishAll: (@Sendable () async -> Void)? = nil) {
        self.inner = inner
        self.published = published
        self.beforePublishAll = beforePublishAll
    }

    public func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        try await inner.publish(event, subject: subject)
        await published.add(event.id.uuidString.lowercased())
    }

    public func publish(_ event: RawEvent) async throws {
        try await inner.publish(event)
        await published.add(event.id)
    }

    public func publishAll(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        await beforePublishAll?()
        let results = await inner.publishAll(events)
        for (event, result) in zip(events, results) {
            if case .success = result { await published.add(event.id) }
        }
        return results
    }

    public func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID {
        try await inner.subscribe(type, options: options, handler: handler)
    }

    public func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        try await inner.subscribe(batchesOf: type, batch: batch, options: options, handler: handler)
    }

    public func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        try await inner.subscribe(eventType: eventType, options: options, handler: handler)
    }

    public func unsubscribe(_ subscription: SubscriptionID) async throws {
        try await inner.unsubscribe(subscription)
    }
}
