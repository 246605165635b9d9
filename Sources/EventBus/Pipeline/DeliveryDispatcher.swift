import Synchronization

/// The one dispatch engine both buses use (DESIGN section 5): routes an event to its subscriptions, runs the
/// pipeline for each (one at a time, or gathered into batches by a ``BatchCollector`` per batch subscription), and
/// once every subscription is done with the event hands all their decisions to the transport's `settle`, with the
/// transport's own `Token` for the delivery (RabbitMQ's delivery to acknowledge; nothing for the in-memory bus).
package final class DeliveryDispatcher<Token: Sendable>: Sendable {
    /// Carries out an event's decisions: forward retries and dead letters, then acknowledge.
    package typealias Settle = nonisolated(nonsending) @Sendable (_ event: InboundEvent, _ token: Token, _ decisions: [DeliveryDecision]) async -> Void

    private struct State {
        var collectors: [String: BatchCollector] = [:]
        var runs: [Task<Void, Never>] = []
        var finished = false
    }

    package let pipeline: DeliveryPipeline
    private let settle: Settle
    private let state = Mutex(State())

    package init(pipeline: DeliveryPipeline, settle: @escaping Settle) {
        self.pipeline = pipeline
        self.settle = settle
    }

    /// Takes one event through the pipeline for every subscription it goes to. Returns once the event is settled,
    /// or, for a batch subscription, once the event is gathered (it is settled when its batch is handled).
    nonisolated(nonsending) package func dispatch(_ event: InboundEvent, _ token: Token) async {
        let subscriptions = pipeline.route(event)
        if subscriptions.isEmpty {
            await settle(event, token, [pipeline.unexpected(event)])
            return
        }
        if subscriptions.count == 1, subscriptions[0].batch == nil {
            // One subscription, no batching (the common case): its decision is the event's, no tracker needed.
            await settle(event, token, await pipeline.process(event, with: subscriptions[0]))
            return
        }
        let settle = self.settle
        let tracker = DeliveryTracker(parts: subscriptions.count) { decisions in await settle(event, token, decisions) }
        for subscription in subscriptions {
            guard let collector = collector(for: subscription) else {
                await tracker.complete(await pipeline.process(event, with: subscription))
                continue
            }
            // An earlier copy of this id waits in the batch: it must be handled and recorded before this copy can
            // pass the dedup gate, so its batch goes now instead of at the end of its wait.
            if collector.holds(eventID: event.raw.id) { collector.flush() }
            switch await pipeline.admit(event, to: subscription) {
            case .decided(let decision):
                await tracker.complete([decision])
            case .handle(let admitted):
                if !collector.add(BatchCollector.Item(admitted: admitted, tracker: tracker)) {
                    await tracker.complete(await pipeline.handle([admitted], with: subscription))
                }
            }
        }
    }

    /// The subscription's collector, started on its first event; `nil` when it does not batch or the dispatcher
    /// has finished.
    private func collector(for subscription: Subscription) -> BatchCollector? {
        guard let policy = subscription.batch else { return nil }
        let name = subscription.id.name
        return state.withLock { state in
            if state.finished { return nil }
            if let collector = state.collectors[name], collector.subscription.id == subscription.id { return collector }
            let collector = BatchCollector(subscription: subscription, policy: policy, pipeline: pipeline)
            state.collectors[name]?.close()
            state.collectors[name] = collector
            state.runs.append(Task { await collector.run() })
            return collector
        }
    }

    /// A subscription was removed: the events gathered for its batch and not yet handled are settled as events no
    /// subscription handles (dead-lettered with ``DeadLetterReason/unexpectedEventType``, as RabbitMQ does with a
    /// retry whose subscription is gone).
    package func removeSubscription(named name: String) async {
        guard let collector = state.withLock({ $0.collectors.removeValue(forKey: name) }) else { return }
        for item in collector.closeAndTakeAll() {
            pipeline.release(item.admitted)
            var event = item.admitted.event
            event.targetSubscription = name
            await item.tracker.complete([pipeline.unexpected(event)])
        }
    }

    /// Hands the gathered batches to their handlers and returns once they are settled. Call it when no more events
    /// come (a later event is handled on its own, unbatched).
    package func finish() async {
        let runs = state.withLock { state in
            state.finished = true
            for collector in state.collectors.values { collector.close() }
            return state.runs
        }
        for run in runs { await run.value }
    }
}
