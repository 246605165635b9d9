import Foundation
import Logging
import Synchronization

/// The delivery rules of DESIGN section 5, independent of any broker: route → filter → decode → dedup →
/// handle → record, and the failure path (retry or dead-letter). A transport feeds it deliveries and carries out
/// the ``DeliveryDecision``s (ack, publish to a retry queue, publish to the dead-letter queue).
package struct DeliveryPipeline: Sendable {
    package let registry: SubscriptionRegistry
    package let store: any ProcessedMessageStore
    /// The consuming service's name (its queue): processed ids are recorded as `<service>/<subscription>`.
    package let serviceName: String
    package let logger: Logger
    package let metrics: BusMetrics
    /// One copy of an id at a time through dedup, handler and record (DESIGN section 5, step 2).
    package let gate = ProcessingGate()
    /// `<service>/<subscription>` per subscription, made once rather than per delivery.
    private let consumerNames = ConsumerNames()

    package init(registry: SubscriptionRegistry, store: any ProcessedMessageStore, serviceName: String, logger: Logger, metrics: BusMetrics) {
        self.registry = registry
        self.store = store
        self.serviceName = serviceName
        self.logger = logger
        self.metrics = metrics
    }

    /// An event admitted to a subscription's handler.
    package struct Admitted: Sendable {
        package let event: InboundEvent
        package let value: any Sendable
        package let context: EventContext
        /// The ``ProcessingGate`` key this event holds until it is handled (or ``release(_:)``d).
        let gateKey: ProcessingGate.Key?
    }

    /// The outcome of the steps before handling.
    package enum Admission: Sendable {
        case handle(Admitted)
        case decided(DeliveryDecision)
    }

    package func consumerName(_ subscription: Subscription) -> String {
        consumerNames.name(for: subscription.id.name, of: serviceName)
    }

    /// The subscriptions an event goes to; empty when none handles its type (then dead-letter it).
    package func route(_ event: InboundEvent) -> [Subscription] {
        let candidates = registry.subscriptions(for: event.raw.eventType)
        guard let target = event.targetSubscription else { return candidates }
        return candidates.filter { $0.id.name == target }
    }

    /// The decision for an event no subscription handles.
    package func unexpected(_ event: InboundEvent) -> DeliveryDecision {
        .deadLetter(subscription: event.targetSubscription, reason: .unexpectedEventType,
                    error: "no subscription of '\(serviceName)' handles event type '\(event.raw.eventType)'")
    }

    /// Filter, decode and dedup steps for one subscription. An event admitted holds its id in the ``gate`` until
    /// ``handle(_:with:)`` (or ``release(_:)``) is done with it.
    nonisolated(nonsending) package func admit(_ event: InboundEvent, to subscription: Subscription) async -> Admission {
        let name = subscription.id.name
        // The filter reads only metadata: an event this subscription does not want is not its to judge by its body.
        if let rejection = subscription.options.filter.rejection(source: event.raw.source, subject: event.raw.subject) {
            guard subscription.options.deadLettersFilteredEvents else {
                metrics.filtered.increment()
                logger.debug("event filtered out", metadata: metadata(event, name).merging(["why": "\(rejection)"]) { $1 })
                return .decided(.filtered(subscription: name))
            }
            return .decided(.deadLetter(subscription: name, reason: .filteredOut, error: rejection))
        }
        let value: any Sendable
        do {
            value = try subscription.decode(event.raw)
        } catch {
            let reason: DeadLetterReason = if case EventCodecError.bodyTooLarge = error { .tooLarge } else { .unprocessable }
            return .decided(.deadLetter(subscription: name, reason: reason, error: "cannot decode \(event.raw.eventType): \(error)"))
        }
        let consumer = consumerName(subscription)
        let mustCheck = subscription.options.dedupMode == .always || event.redelivered || event.attempt > 1
        var gateKey: ProcessingGate.Key?
        if mustCheck {
            // A second copy in flight waits here for the first to be recorded, then is found in the store below.
            let key = ProcessingGate.Key(consumer: consumer, messageID: event.raw.id)
            await gate.enter(key)
            do {
                if try await store.contains(consumer: consumer, messageID: event.raw.id) {
                    gate.leave(key)
                    metrics.duplicates.increment()
                    logger.debug("duplicate event acknowledged without handling", metadata: metadata(event, name))
                    return .decided(.duplicate(subscription: name))
                }
            } catch {
                gate.leave(key)
                // The store is down: retrying later is safe, handling now could double the effect.
                return .decided(failure(event, subscription, error: EventBusError.storeFailed("\(error)")))
            }
            gateKey = key
        }
        let context = EventContext(
            eventID: event.raw.id, eventType: event.raw.eventType, source: event.raw.source, subject: event.raw.subject,
            attempt: event.attempt, redelivered: event.redelivered, time: event.raw.time, consumer: consumer,
            headers: event.raw.headers)
        return .handle(Admitted(event: event, value: value, context: context, gateKey: gateKey))
    }

    /// Lets go of an admitted event that will not be handled (its batch was given back): the next copy may enter.
    package func release(_ admitted: borrowing Admitted) {
        if let key = admitted.gateKey { gate.leave(key) }
    }

    /// Admits one event to a subscription that does not batch and, when admitted, handles it: the whole of section 5
    /// for one event and one subscription. Returns its decision.
    nonisolated(nonsending) package func process(_ event: InboundEvent, with subscription: Subscription) async -> [DeliveryDecision] {
        switch await admit(event, to: subscription) {
        case .decided(let decision): return [decision]
        case .handle(let admitted): return await handle([admitted], with: subscription)
        }
    }

    /// Handles admitted events (one, or a batch) with the subscription's handler, all or nothing, then records
    /// them as processed. Returns one decision per event, in order.
    nonisolated(nonsending) package func handle(_ admitted: [Admitted], with subscription: Subscription) async -> [DeliveryDecision] {
        let name = subscription.id.name
        let started = ContinuousClock.now
        // Loops over indices, not elements: `for item in admitted` copies each `Admitted`, retaining every reference
        // in its event and context (about forty per event), and releasing them again.
        defer { for index in admitted.indices { release(admitted[index]) } }
        var items: [(value: any Sendable, context: EventContext)] = []
        items.reserveCapacity(admitted.count)
        for index in admitted.indices { items.append((admitted[index].value, admitted[index].context)) }
        do {
            try await subscription.handle(items)
        } catch {
            metrics.failed.increment(by: admitted.count)
            return admitted.map { failure($0.event, subscription, error: error) }
        }
        metrics.handleDuration.recordNanoseconds(Int64((ContinuousClock.now - started).nanoseconds))
        var decisions: [DeliveryDecision] = []
        decisions.reserveCapacity(admitted.count)
        for index in admitted.indices {
            do {
                try await store.markProcessed(
                    consumer: admitted[index].context.consumer, messageID: admitted[index].event.raw.id, at: Date())
                decisions.append(.handled(subscription: name))
                metrics.handled.increment()
            } catch {
                // Handled but not recorded: retrying risks a second effect unless the handler recorded the id in its
                // own transaction; losing the event would be worse, so it is retried and the store consulted again.
                let event = admitted[index].event
                logger.error("could not record a processed event", metadata: metadata(event, name).merging(["error": "\(error)"]) { $1 })
                decisions.append(failure(event, subscription, error: EventBusError.storeFailed("\(error)")))
            }
        }
        // Ack only once the effects and ids are on disk (one shared flush per batch); else the same failure path.
        if decisions.contains(.handled(subscription: name)) {
            do {
                try await store.makeDurable()
            } catch {
                logger.error("could not make processed events durable", metadata: metadata(admitted[0].event, name).merging(["error": "\(error)"]) { $1 })
                decisions = zip(admitted, decisions).map { item, decision in
                    decision == .handled(subscription: name) ? failure(item.event, subscription, error: EventBusError.storeFailed("\(error)")) : decision
                }
            }
        }
        return decisions
    }

    /// The failure path: retry, or dead-letter with the reason.
    package func failure(_ event: InboundEvent, _ subscription: Subscription, error: any Error) -> DeliveryDecision {
        let name = subscription.id.name
        let policy = subscription.options.retryPolicy
        let text = "\(error)"
        let headers = DeadLetterDetailsHeaders.of(error)
        if error is NonRetryableError {
            return .deadLetter(subscription: name, reason: .nonRetryable, error: text, headers: headers)
        }
        if event.attempt >= policy.maxDeliveryAttempts {
            return .deadLetter(subscription: name, reason: .maxDeliveryAttemptsExceeded, error: text, headers: headers)
        }
        let born = event.raw.time ?? event.firstDeliveredAt
        // Compared as seconds: a time from the wire may be absurd, and a Duration built from it could trap.
        let age = Date().timeIntervalSince(born)
        let ttl = policy.eventTimeToLive.components
        if !(age < Double(ttl.seconds) + Double(ttl.attoseconds) / 1e18) {
            return .deadLetter(subscription: name, reason: .timeToLiveExpired, error: text, headers: headers)
        }
        return .retry(subscription: name, attempt: event.attempt + 1, delay: policy.delay(afterAttempt: event.attempt), error: text)
    }

    package func metadata(_ event: InboundEvent, _ subscription: String?) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["event.id": "\(event.raw.id)", "event.type": "\(event.raw.eventType)", "attempt": "\(event.attempt)"]
        if let subscription { metadata["subscription"] = "\(subscription)" }
        return metadata
    }
}

extension Duration {
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    package var milliseconds: Int64 { nanoseconds / 1_000_000 }
}

/// The consumer names of a pipeline's subscriptions, made on first use: joining the two names per delivery would cost
/// an allocation each time.
private final class ConsumerNames: Sendable {
    private let names = Mutex<[String: String]>([:])

    func name(for subscription: String, of service: String) -> String {
        names.withLock { names in
            if let name = names[subscription] { return name }
            let name = "\(service)/\(subscription)"
            // Bounded for a service that subscribes and unsubscribes under ever new names.
            if names.count >= 1_024 { names.removeAll() }
            names[subscription] = name
            return name
        }
    }
}
