import EventBus

/// A bus whose every publish fails with "no broker here", for outbox tests that need the failure path but no broker.
public struct FailingBus: EventBus {
    public struct Down: Error, CustomStringConvertible {
        public var description: String { "no broker here" }
    }

    public init() {}

    public func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws { throw Down() }
    public func publish(_ event: RawEvent) async throws { throw Down() }
    public func subscribe<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) async throws -> SubscriptionID {
        SubscriptionID(name: "none")
    }
    public func subscribe<Event: IntegrationEvent>(
        batchesOf type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping BatchEventHandler<Event>
    ) async throws -> SubscriptionID {
        SubscriptionID(name: "none")
    }
    public func subscribe(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) async throws -> SubscriptionID {
        SubscriptionID(name: "none")
    }
    public func unsubscribe(_ subscription: SubscriptionID) async throws {}
}
