import EventBus
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

/// The dispatch engine both buses share, without a broker: fan-out, batching and removal settle every event once,
/// with every subscription's decision.
@Suite("Delivery dispatcher", .timeLimit(.minutes(1)))
struct DeliveryDispatcherTests {
    /// What `settle` was called with, per event id.
    final class Settled: Sendable {
        private let state = Mutex<[String: [[DeliveryDecision]]]>([:])
        func record(_ event: InboundEvent, _ decisions: [DeliveryDecision]) {
            state.withLock { $0[event.raw.id, default: []].append(decisions) }
        }
        var byID: [String: [[DeliveryDecision]]] { state.withLock { $0 } }
        var count: Int { state.withLock { $0.values.reduce(0) { $0 + $1.count } } }
    }

    /// The batches a handler saw, as lists of event ids.
    final class Batches: Sendable {
        private let state = Mutex<[[String]]>([])
        func record(_ ids: [String]) { state.withLock { $0.append(ids) } }
        var all: [[String]] { state.withLock { $0 } }
    }

    let registry = SubscriptionRegistry()
    let settled = Settled()

    func dispatcher() -> DeliveryDispatcher<Void> {
        let pipeline = DeliveryPipeline(
            registry: registry, store: InMemoryProcessedMessageStore(), serviceName: "svc", logger: Logger(label: "test"),
            metrics: BusMetrics(service: "svc"))
        let settled = settled
        return DeliveryDispatcher(pipeline: pipeline) { event, _, decisions in settled.record(event, decisions) }
    }

    func inbound(_ event: OrderStartedIntegrationEvent, redelivered: Bool = false) throws -> InboundEvent {
        let raw = RawEvent(
            eventType: OrderStartedIntegrationEvent.eventTypeName, id: event.id.lowercasedText, time: event.creationDate,
            payload: try EventCodec().encode(event))
        return InboundEvent(raw: raw, redelivered: redelivered, attempt: 1, targetSubscription: nil, firstDeliveredAt: Date())
    }

    func batchSubscription(_ name: String, maxEvents: Int, wait: Duration, dedup: DedupMode = .always, into batches: Batches) throws -> Subscription {
        .batched(
            OrderStartedIntegrationEvent.self, batch: try BatchPolicy(maxEventsPerBatch: maxEvents, maximumWait: wait),
            options: SubscriptionOptions(name: name, dedupMode: dedup)
        ) { received in batches.record(received.map(\.context.eventID)) }
    }

    @Test func anEventForTwoSubscriptionsIsSettledOnceWithBothDecisions() async throws {
        try registry.add(.typed(OrderStartedIntegrationEvent.self, options: SubscriptionOptions(name: "a")) { _, _ in })
        try registry.add(.typed(OrderStartedIntegrationEvent.self, options: SubscriptionOptions(name: "b")) { _, _ in throw HandlerFailure() })
        let engine = dispatcher()
        let event = try inbound(OrderStartedIntegrationEvent(userId: "u"))
        await engine.dispatch(event, ())
        let decisions = try #require(settled.byID[event.raw.id])
        #expect(decisions.count == 1)
        #expect(decisions[0].count == 2)
        #expect(decisions[0].first == .handled(subscription: "a"))
        guard case .retry(subscription: "b", attempt: 2, _, _) = decisions[0].last else {
            Issue.record("b's failure should schedule a retry, got \(decisions[0])")
            return
        }
    }

    @Test func anEventNoSubscriptionHandlesIsSettledAsUnexpected() async throws {
        let engine = dispatcher()
        let event = try inbound(OrderStartedIntegrationEvent(userId: "u"))
        await engine.dispatch(event, ())
        guard case .deadLetter(nil, .unexpectedEventType, _, _) = settled.byID[event.raw.id]?.first?.first else {
            Issue.record("expected an unexpected-type dead letter, got \(settled.byID)")
            return
        }
    }

    @Test func aFullBatchGoesWithoutWaitingForItsMaximumWait() async throws {
        let batches = Batches()
        try registry.add(try batchSubscription("b", maxEvents: 3, wait: .seconds(10), into: batches))
        let engine = dispatcher()
        let events = try (0..<3).map { _ in try inbound(OrderStartedIntegrationEvent(userId: "u")) }
        for event in events { await engine.dispatch(event, ()) }
        // The batch's wait is 10 s: the handler must see it well before that.
        try await eventually("the full batch is handled", timeout: .seconds(5)) { batches.all.count == 1 }
        #expect(batches.all == [events.map(\.raw.id)])
        try await eventually("the batch's events are settled", timeout: .seconds(5)) { settled.count == 3 }
        #expect(events.map { settled.byID[$0.raw.id] } == Array(repeating: [[.handled(subscription: "b")]], count: 3))
    }

    @Test func finishHandsOutWhatIsGatheredAndLaterEventsGoAlone() async throws {
        let batches = Batches()
        try registry.add(try batchSubscription("b", maxEvents: 100, wait: .seconds(10), into: batches))
        let engine = dispatcher()
        let gathered = try (0..<2).map { _ in try inbound(OrderStartedIntegrationEvent(userId: "u")) }
        for event in gathered { await engine.dispatch(event, ()) }
        #expect(settled.count == 0)
        await engine.finish()
        #expect(batches.all == [gathered.map(\.raw.id)])
        #expect(settled.count == 2)
        let late = try inbound(OrderStartedIntegrationEvent(userId: "u"))
        await engine.dispatch(late, ())
        #expect(batches.all.last == [late.raw.id])
        #expect(settled.byID[late.raw.id] == [[.handled(subscription: "b")]])
    }

    @Test func aSecondCopyOfAGatheredIdFlushesTheBatchAndIsADuplicate() async throws {
        let batches = Batches()
        try registry.add(try batchSubscription("b", maxEvents: 100, wait: .seconds(10), into: batches))
        let engine = dispatcher()
        let event = try inbound(OrderStartedIntegrationEvent(userId: "u"))
        await engine.dispatch(event, ())
        // Waits at the dedup gate until the first copy's batch is handled and recorded: that batch must go now, not
        // at the end of its 10 s wait.
        let copy = try inbound(try OrderStartedIntegrationEvent.decodedCopy(of: event), redelivered: true)
        async let second: Void = engine.dispatch(copy, ())
        try await eventually("both copies are settled", timeout: .seconds(5)) { settled.count == 2 }
        await second
        #expect(batches.all == [[event.raw.id]])
        #expect(settled.byID[event.raw.id] == [[.handled(subscription: "b")], [.duplicate(subscription: "b")]])
    }

    @Test func removingASubscriptionDeadLettersItsGatheredEvents() async throws {
        let batches = Batches()
        try registry.add(try batchSubscription("b", maxEvents: 100, wait: .seconds(10), into: batches))
        let engine = dispatcher()
        let event = try inbound(OrderStartedIntegrationEvent(userId: "u"))
        await engine.dispatch(event, ())
        _ = try registry.remove(SubscriptionID(name: "b"))
        await engine.removeSubscription(named: "b")
        #expect(batches.all.isEmpty)
        guard case .deadLetter("b", .unexpectedEventType, _, _) = settled.byID[event.raw.id]?.first?.first else {
            Issue.record("expected the gathered event dead-lettered for 'b', got \(settled.byID)")
            return
        }
        await engine.finish()
        #expect(settled.count == 1)
    }
}

extension OrderStartedIntegrationEvent {
    /// The same event (same id) as `inbound` carries it, decoded from its body.
    static func decodedCopy(of inbound: InboundEvent) throws -> OrderStartedIntegrationEvent {
        try EventCodec().decode(OrderStartedIntegrationEvent.self, from: inbound.raw.payload)
    }
}
