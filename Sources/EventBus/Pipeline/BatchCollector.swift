import Synchronization

/// Gathers the admitted events of one batch subscription into batches within its ``BatchPolicy`` and hands each
/// batch to the pipeline: optimistic, a batch is what has arrived, plus what arrives within `maximumWait` of its
/// first event, and goes at once when it is full. Runs as a task of its own (``run()``), so a delivery loop that
/// waits for a batch's outcome (a second copy of an id, at the dedup gate) never waits on itself.
final class BatchCollector: Sendable {
    struct Item: Sendable {
        let admitted: DeliveryPipeline.Admitted
        let tracker: DeliveryTracker
    }

    /// What ``run()`` is waiting for.
    private enum Awaiting {
        /// The first event of the next batch.
        case firstEvent
        /// The batch to fill up, a flush request or the close.
        case fullBatch
    }

    private struct State {
        var buffer: [Item] = []
        var bytes = 0
        var closed = false
        /// A flush was asked for (the batch's time is up, or an id in it arrived again).
        var flushRequested = false
        var waiter: (continuation: CheckedContinuation<Void, Never>, awaiting: Awaiting)?

        func isFull(_ policy: BatchPolicy) -> Bool {
            buffer.count >= policy.maxEventsPerBatch || bytes >= policy.preferredBatchSizeInKilobytes * 1_024
        }

        /// Whether what ``run()`` waits for has happened.
        func isReady(for awaiting: Awaiting, _ policy: BatchPolicy) -> Bool {
            switch awaiting {
            case .firstEvent: !buffer.isEmpty || closed
            case .fullBatch: closed || flushRequested || isFull(policy)
            }
        }

        mutating func takeWaiterIfReady(_ policy: BatchPolicy) -> CheckedContinuation<Void, Never>? {
            guard let waiter, isReady(for: waiter.awaiting, policy) else { return nil }
            self.waiter = nil
            return waiter.continuation
        }
    }

    let subscription: Subscription
    private let policy: BatchPolicy
    private let pipeline: DeliveryPipeline
    private let state = Mutex(State())

    init(subscription: Subscription, policy: BatchPolicy, pipeline: DeliveryPipeline) {
        self.subscription = subscription
        self.policy = policy
        self.pipeline = pipeline
    }

    /// Adds an admitted event; `false` when the collector is closed (the caller handles the event itself).
    func add(_ item: Item) -> Bool {
        let (added, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.closed else { return (false, nil) }
            state.buffer.append(item)
            state.bytes += item.admitted.event.size
            return (true, state.takeWaiterIfReady(policy))
        }
        waiter?.resume()
        return added
    }

    /// Whether an event with this id is gathered and not yet handled.
    func holds(eventID: String) -> Bool {
        state.withLock { state in state.buffer.contains { $0.admitted.event.raw.id == eventID } }
    }

    /// Hands the gathered batch to the handler now instead of at the end of its wait.
    func flush() {
        let waiter = state.withLock { state in
            state.flushRequested = true
            return state.takeWaiterIfReady(policy)
        }
        waiter?.resume()
    }

    /// Ends ``run()`` once what is gathered has been handled.
    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            return state.takeWaiterIfReady(policy)
        }
        waiter?.resume()
    }

    /// Closes the collector and takes what it gathered, unhandled (its subscription was removed).
    func closeAndTakeAll() -> [Item] {
        let (items, waiter) = state.withLock { state in
            state.closed = true
            defer { state.buffer = []; state.bytes = 0 }
            return (state.buffer, state.takeWaiterIfReady(policy))
        }
        waiter?.resume()
        return items
    }

    /// Hands batches to the handler until closed and drained.
    func run() async {
        while true {
            await wait(for: .firstEvent)
            if policy.maximumWait > .zero {
                let wait = policy.maximumWait
                let timer = Task { [weak self] in
                    do { try await Task.sleep(for: wait) } catch { return }
                    self?.flush()
                }
                await self.wait(for: .fullBatch)
                timer.cancel()
            }
            let batch = takeBatch()
            if batch.isEmpty { return }
            let decisions = await pipeline.handle(batch.map(\.admitted), with: subscription)
            for (item, decision) in zip(batch, decisions) { await item.tracker.complete([decision]) }
        }
    }

    private func wait(for awaiting: Awaiting) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.isReady(for: awaiting, policy) { return true }
                state.waiter = (continuation, awaiting)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The longest prefix of the buffer within the policy (at least one event); empty only when closed and drained.
    private func takeBatch() -> [Item] {
        state.withLock { state in
            state.flushRequested = false
            var count = 0
            var bytes = 0
            while count < state.buffer.count, policy.accepts(count: count, bytes: bytes, next: state.buffer[count].admitted.event.size) {
                bytes += state.buffer[count].admitted.event.size
                count += 1
            }
            let batch = Array(state.buffer.prefix(count))
            state.buffer.removeFirst(count)
            state.bytes -= bytes
            return batch
        }
    }
}
