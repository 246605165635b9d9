import Foundation

/// A subscription with its handler, its Swift type erased: what transports route deliveries to.
package struct Subscription: Sendable {
    package let id: SubscriptionID
    package let eventType: String
    package let options: SubscriptionOptions
    package let batch: BatchPolicy?
    /// Decodes the payload into the subscription's event type (throws when the body does not fit).
    package let decode: @Sendable (RawEvent) throws -> any Sendable
    /// Calls the user's handler with decoded events (one, or a batch).
    /// Runs on the caller's executor (`nonisolated(nonsending)`): calling it is no executor hop of its own.
    package let handle: nonisolated(nonsending) @Sendable ([(value: any Sendable, context: EventContext)]) async throws -> Void

    package static func typed<Event: IntegrationEvent>(
        _ type: Event.Type, options: SubscriptionOptions, handler: @escaping EventHandler<Event>
    ) -> Subscription {
        Subscription(
            id: SubscriptionID(name: options.name ?? Event.eventTypeName), eventType: Event.eventTypeName,
            options: options, batch: nil,
            decode: { raw in try raw.decode(Event.self) },
            handle: { items in
                for item in items { try await handler(item.value as! Event, item.context) }
            })
    }

    package static func batched<Event: IntegrationEvent>(
        _ type: Event.Type, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping BatchEventHandler<Event>
    ) -> Subscription {
        Subscription(
            id: SubscriptionID(name: options.name ?? Event.eventTypeName), eventType: Event.eventTypeName,
            options: options, batch: batch,
            decode: { raw in try raw.decode(Event.self) },
            handle: { items in
                try await handler(items.map { ReceivedEvent(event: $0.value as! Event, context: $0.context) })
            })
    }

    package static func rawBatched(
        eventType: String, batch: BatchPolicy, options: SubscriptionOptions, handler: @escaping RawBatchEventHandler
    ) -> Subscription {
        Subscription(
            id: SubscriptionID(name: options.name ?? eventType), eventType: eventType, options: options, batch: batch,
            decode: { raw in
                _ = try JSONSerialization.jsonObject(with: raw.payload, options: [.fragmentsAllowed])
                return raw
            },
            handle: { items in
                try await handler(items.map { ReceivedRawEvent(event: $0.value as! RawEvent, context: $0.context) })
            })
    }

    package static func raw(eventType: String, options: SubscriptionOptions, handler: @escaping RawEventHandler) -> Subscription {
        Subscription(
            id: SubscriptionID(name: options.name ?? eventType), eventType: eventType, options: options, batch: nil,
            decode: { raw in
                // A raw handler still needs JSON: a body that is not JSON is unprocessable for everyone.
                _ = try JSONSerialization.jsonObject(with: raw.payload, options: [.fragmentsAllowed])
                return raw
            },
            handle: { items in
                for item in items { try await handler(item.value as! RawEvent, item.context) }
            })
    }
}

/// The subscriptions of one bus, by name and by event type. Thread-safe.
package final class SubscriptionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var byName: [String: Subscription] = [:]
    private var order: [String] = []
    /// The subscriptions of each event type in subscription order, rebuilt on every change: every delivery
    /// looks its type up, subscriptions change rarely.
    private var byType: [String: [Subscription]] = [:]

    package init() {}

    /// Adds a subscription; throws ``EventBusError/duplicateSubscription(name:)`` when its name is taken.
    /// Returns `true` when it is the first subscription for its event type.
    @discardableResult
    package func add(_ subscription: Subscription) throws -> Bool {
        try lock.withLock {
            guard byName[subscription.id.name] == nil else { throw EventBusError.duplicateSubscription(name: subscription.id.name) }
            let first = !byName.values.contains { $0.eventType == subscription.eventType }
            byName[subscription.id.name] = subscription
            order.append(subscription.id.name)
            rebuildByType()
            return first
        }
    }

    /// Removes a subscription; returns it and whether it was the last one of its event type.
    package func remove(_ id: SubscriptionID) throws -> (Subscription, lastOfType: Bool) {
        try lock.withLock {
            guard let removed = byName.removeValue(forKey: id.name) else { throw EventBusError.unknownSubscription(id.name) }
            order.removeAll { $0 == id.name }
            rebuildByType()
            return (removed, !byName.values.contains { $0.eventType == removed.eventType })
        }
    }

    package func subscriptions(for eventType: String) -> [Subscription] {
        lock.withLock { byType[eventType] ?? [] }
    }

    /// Called with the lock held.
    private func rebuildByType() {
        var rebuilt: [String: [Subscription]] = [:]
        for name in order {
            if let subscription = byName[name] { rebuilt[subscription.eventType, default: []].append(subscription) }
        }
        byType = rebuilt
    }

    package func subscription(named name: String) -> Subscription? {
        lock.withLock { byName[name] }
    }

    package var all: [Subscription] {
        lock.withLock { order.compactMap { byName[$0] } }
    }

    package var eventTypes: Set<String> {
        lock.withLock { Set(byName.values.map(\.eventType)) }
    }
}
