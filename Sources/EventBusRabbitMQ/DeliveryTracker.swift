import EventBus
import Foundation

/// Collects the decisions of every subscription a delivery went to; the last one to finish carries them out
/// (forward copies, then ack). A delivery is acknowledged only when all its subscriptions are done with it.
final class DeliveryTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private var decisions: [DeliveryDecision] = []
    private let onDone: @Sendable ([DeliveryDecision]) async -> Void

    init(parts: Int, onDone: @escaping @Sendable ([DeliveryDecision]) async -> Void) {
        self.remaining = parts
        self.onDone = onDone
    }

    func complete(_ parts: [DeliveryDecision]) async {
        let all: [DeliveryDecision]? = lock.withLock {
            decisions += parts
            remaining -= 1
            return remaining == 0 ? decisions : nil
        }
        if let all { await onDone(all) }
    }
}

/// Gathers admitted events of one batch subscription into batches within its ``BatchPolicy``: optimistic, it takes
/// what has arrived and waits at most `maximumWait` for more, then hands the batch to the pipeline.
final class BatchCollector: @unchecked Sendable {
    typealias Item = (admitted: DeliveryPipeline.Admitted, tracker: DeliveryTracker)

    let subscription: Subscription
    private let pipeline: DeliveryPipeline
    private let policy: BatchPolicy
    private let lock = NSLock()
    private var buffer: [Item] = []
    private var bufferedBytes = 0
    private var waiter: CheckedContinuation<Bool, Never>?
    private var closed = false

    init(subscription: Subscription, policy: BatchPolicy, pipeline: DeliveryPipeline) {
        self.subscription = subscription
        self.policy = policy
        self.pipeline = pipeline
    }

    func add(_ item: Item) {
        let waiting = lock.withLock {
            buffer.append(item)
            bufferedBytes += item.admitted.event.size
            let taken = waiter
            waiter = nil
            return taken
        }
        waiting?.resume(returning: true)
    }

    /// Ends `run()` once the buffer is empty.
    func close() {
        let waiting = lock.withLock {
            closed = true
            let taken = waiter
            waiter = nil
            return taken
        }
        waiting?.resume(returning: false)
    }

    /// Hands batches to the handler until closed and drained.
    func run() async {
        while await itemsArrived() {
            if !isFull { try? await Task.sleep(for: policy.maximumWait) }
            let batch = takeBatch()
            guard !batch.isEmpty else { continue }
            let decisions = await pipeline.handle(batch.map(\.admitted), with: subscription)
            for (item, decision) in zip(batch, decisions) { await item.tracker.complete([decision]) }
        }
    }

    private var isFull: Bool {
        lock.withLock { buffer.count >= policy.maxEventsPerBatch || bufferedBytes >= policy.preferredBatchSizeInKilobytes * 1_024 }
    }

    private func itemsArrived() async -> Bool {
        await withCheckedContinuation { continuation in
            let ready: Bool? = lock.withLock {
                if !buffer.isEmpty { return true }
                if closed { return false }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func takeBatch() -> [Item] {
        lock.withLock {
            var count = 0
            var bytes = 0
            while count < buffer.count, policy.accepts(count: count, bytes: bytes, next: buffer[count].admitted.event.size) {
                bytes += buffer[count].admitted.event.size
                count += 1
            }
            let batch = Array(buffer.prefix(count))
            buffer.removeFirst(count)
            bufferedBytes -= bytes
            return batch
        }
    }
}
