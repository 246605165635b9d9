import Foundation

/// Handles one event. Throw to have it retried under the subscription's ``RetryPolicy``; throw a
/// ``NonRetryableError`` to dead-letter it at once.
public typealias EventHandler<Event: IntegrationEvent> = @Sendable (Event, EventContext) async throws -> Void

/// Handles a batch of events, all or nothing: throwing retries every event of the batch.
public typealias BatchEventHandler<Event: IntegrationEvent> = @Sendable ([ReceivedEvent<Event>]) async throws -> Void

/// Handles one event whose Swift type is not known (a "dynamic" handler).
public typealias RawEventHandler = @Sendable (RawEvent, EventContext) async throws -> Void

/// Handles a batch of events whose Swift type is not known, all or nothing (the webhook gateway's batches).
public typealias RawBatchEventHandler = @Sendable ([ReceivedRawEvent]) async throws -> Void

/// An undecoded event of a batch, with its delivery's context.
public struct ReceivedRawEvent: Sendable {
    /// The event as it arrived.
    public var event: RawEvent
    /// Its delivery's metadata.
    public var context: EventContext
}

/// An event of a batch, with its delivery's context.
public struct ReceivedEvent<Event: IntegrationEvent>: Sendable {
    /// The decoded event.
    public var event: Event
    /// Its delivery's metadata.
    public var context: EventContext
}

/// Typed publish/subscribe of integration events (DESIGN section 5). Implemented by `RabbitMQEventBus` for
/// production and ``InMemoryEventBus`` for tests, with the same delivery rules: at-least-once delivery, a
/// processed-message store so a duplicate has no second effect, retries, dead letters, batches and filters.
public protocol EventBus: Sendable {
    /// Publishes an event and returns when the broker has confirmed it (persistent, mandatory): after this
    /// returns the event is not lost. Throws when it cannot be confirmed; then publish again (consumers deduplicate).
    func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws

    /// Publishes an event given as JSON (for relays and tools); same guarantees.
    func publish(_ event: RawEvent) async throws

    /// Publishes events given as JSON in the order given and returns each one's outcome (same order): `.success`
    /// once the broker has confirmed it, as `publish(_:)` would, or the error it would have thrown.
    /// A bus that can keep them all in flight at once does (`RabbitMQEventBus` sends them back to back and awaits
    /// the confirms together); the default publishes them one after the other.
    func publishAll(_ events: [RawEvent]) async -> [Result<Void, any Error>]

    /// Calls `handler` for each event of type `Event`.
    @discardableResult
    func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID

    /// Calls `handler` with batches of events of type `Event`, bounded by `batch`.
    @discardableResult
    func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions,
        handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID

    /// Calls `handler` for each event whose type name is `eventType`, undecoded.
    @discardableResult
    func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID

    /// Removes a subscription. Its event type is no longer bound when no other subscription needs it.
    func unsubscribe(_ subscription: SubscriptionID) async throws
}

extension EventBus {
    /// Publishes the events one after the other, each after the previous one's outcome.
    public func publishAll(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        var results: [Result<Void, any Error>] = []
        results.reserveCapacity(events.count)
        for event in events {
            do {
                try await publish(event)
                results.append(.success(()))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// Publishes an event without a subject.
    public func publish<Event: IntegrationEvent>(_ event: Event) async throws {
        try await publish(event, subject: nil)
    }

    /// Subscribes with default options (Event Grid retry policy, dedup `.always`, no filter).
    @discardableResult
    public func subscribe<Event: IntegrationEvent>(_ type: Event.Type, handler: @escaping EventHandler<Event>) async throws -> SubscriptionID {
        try await subscribe(type, options: SubscriptionOptions(), handler: handler)
    }

    /// Subscribes to batches with default options.
    @discardableResult
    public func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        try await subscribe(batchesOf: type, batch: batch, options: SubscriptionOptions(), handler: handler)
    }

    /// Subscribes a raw handler with default options.
    @discardableResult
    public func subscribe(eventType: String, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        try await subscribe(eventType: eventType, options: SubscriptionOptions(), handler: handler)
    }
}
