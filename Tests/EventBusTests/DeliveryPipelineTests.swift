import EventBus
import Foundation
import Logging
import Testing

@Suite("Delivery pipeline")
struct DeliveryPipelineTests {
    let registry = SubscriptionRegistry()
    let store = InMemoryProcessedMessageStore()

    var pipeline: DeliveryPipeline {
        DeliveryPipeline(registry: registry, store: store, serviceName: "svc", logger: Logger(label: "test"), metrics: BusMetrics(service: "svc"))
    }

    func inbound(_ event: OrderStartedIntegrationEvent, attempt: Int = 1, redelivered: Bool = false, target: String? = nil) throws -> InboundEvent {
        let raw = RawEvent(
            eventType: OrderStartedIntegrationEvent.eventTypeName, id: event.id.uuidString.lowercased(), time: event.creationDate,
            payload: try EventCodec().encode(event))
        return InboundEvent(raw: raw, redelivered: redelivered, attempt: attempt, targetSubscription: target, firstDeliveredAt: Date())
    }

    @Test func retriesRouteOnlyToTheirTargetSubscription() throws {
        try registry.add(.typed(OrderStartedIntegrationEvent.self, options: SubscriptionOptions(name: "a")) { _, _ in })
        try registry.add(.typed(OrderStartedIntegrationEvent.self, options: SubscriptionOptions(name: "b")) { _, _ in })
        let event = OrderStartedIntegrationEvent(userId: "u")
        #expect(pipeline.route(try inbound(event)).map(\.id.name) == ["a", "b"])
        #expect(pipeline.route(try inbound(event, attempt: 2, target: "b")).map(\.id.name) == ["b"])
        #expect(pipeline.route(try inbound(event, attempt: 2, target: "gone")).isEmpty)
    }

    @Test func failureSchedulesTheNextAttemptWithThePolicyDelay() throws {
        let policy = try RetryPolicy(maxDeliveryAttempts: 3, delays: [.milliseconds(5), .milliseconds(7)])
        let subscription = Subscription.typed(OrderStartedIntegrationEvent.self, options: SubscriptionOptions(name: "a", retryPolicy: policy)) { _, _ in }
        let event = OrderStartedIntegrationEvent(userId: "u")
        #expect(pipeline.failure(try inbound(event, attempt: 1), subscription, error: HandlerFailure())
            == .retry(subscription: "a", attempt: 2, delay: .milliseconds(5), error: "handler failed on purpose"))
        #expect(pipeline.failure(try inbound(event, attempt: 2), subscription, error: HandlerFailure())
            == .retry(subscription: "a", attempt: 3, delay: .milliseconds(7), error: "handler failed on purpose"))
        #expect(pipeline.failure(try inbound(event, attempt: 3), subscription, error: HandlerFailure())
            == .deadLetter(subscription: "a", reason: .maxDeliveryAttemptsExceeded, error: "handler failed on purpose"))
    }

    @Test func retriesAreCheckedAgainstTheStoreEvenWhenFirstDeliveriesAreTrusted() async throws {
        let options = SubscriptionOptions(name: "a", dedupMode: .redeliveredOnly)
        let subscription = Subscription.typed(OrderStartedIntegrationEvent.self, options: options) { _, _ in }
        let event = OrderStartedIntegrationEvent(userId: "u")
        try await store.markProcessed(consumer: "svc/a", messageID: event.id.uuidString.lowercased(), at: Date())
        func decision(_ inbound: InboundEvent) async -> DeliveryDecision? {
            if case .decided(let decision) = await pipeline.admit(inbound, to: subscription) { return decision }
            return nil
        }
        #expect(await decision(try inbound(event)) == nil)
        #expect(await decision(try inbound(event, redelivered: true)) == .duplicate(subscription: "a"))
        #expect(await decision(try inbound(event, attempt: 2, target: "a")) == .duplicate(subscription: "a"))
    }

    @Test func successfulHandlingRecordsTheEventAsProcessed() async throws {
        let subscription = Subscription.typed(OrderStartedIntegrationEvent.self, options: SubscriptionOptions(name: "a")) { _, _ in }
        let event = OrderStartedIntegrationEvent(userId: "u")
        guard case .handle(let admitted) = await pipeline.admit(try inbound(event), to: subscription) else {
            Issue.record("event not admitted")
            return
        }
        #expect(admitted.context.consumer == "svc/a")
        #expect(await pipeline.handle([admitted], with: subscription) == [.handled(subscription: "a")])
        #expect(try await store.contains(consumer: "svc/a", messageID: event.id.uuidString.lowercased()))
    }
}
