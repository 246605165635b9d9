/// Results and deliveries the connection thread produced while handling one batch of commands and frames.
///
/// Resuming a continuation or yielding to a waiting consumer enqueues a task, which wakes a pool thread. Handing
/// out a whole batch at once (after the batch, see ``ConnectionDriver/flushCompletions()``) lets the woken threads
/// find many jobs per wake-up, and lets a consumer find several deliveries buffered instead of suspending after
/// each one.
struct Completions {
    private var resumes: [(UnsafeContinuation<Void, any Error>, AMQPError?)] = []
    /// Batches whose last message settled.
    private var finishedBatches: [PublishBatch] = []
    /// Deliveries per consumer, in order.
    private var staged: [(sink: DeliveryBuffer, deliveries: [AMQPDelivery?])] = []
    /// Storage left over from an earlier batch, for the next consumer's deliveries.
    private var spare: [AMQPDelivery?] = []

    var isEmpty: Bool { resumes.isEmpty && staged.isEmpty && finishedBatches.isEmpty }

    /// Queues a publish's outcome; a transient publish nobody waits for is ignored.
    mutating func resume(_ waiter: PublishWaiter, _ result: Result<Void, AMQPError>) {
        switch waiter {
        case .none:
            return
        case .caller(let continuation):
            switch result {
            case .success: resumes.append((continuation, nil))
            case .failure(let error): resumes.append((continuation, error))
            }
        case .batch(let batch, let index):
            if batch.settle(index, result) { finishedBatches.append(batch) }
        }
    }

    /// Queues a delivery for a consumer's sequence.
    mutating func yield(_ delivery: consuming AMQPDelivery, to sink: DeliveryBuffer) {
        var index = staged.count - 1
        while index >= 0, staged[index].sink !== sink { index -= 1 }
        if index < 0 {
            var deliveries: [AMQPDelivery?] = []
            swap(&deliveries, &spare)
            staged.append((sink, deliveries))
            index = staged.count - 1
        }
        staged[index].deliveries.append(delivery)
    }

    /// Performs everything queued, deliveries first, and empties the batch (keeping its storage).
    mutating func handOut() {
        for index in staged.indices { staged[index].sink.yield(moving: &staged[index].deliveries) }
        if !staged.isEmpty { swap(&spare, &staged[staged.count - 1].deliveries) }
        staged.removeAll(keepingCapacity: true)
        for (continuation, error) in resumes {
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
        resumes.removeAll(keepingCapacity: true)
        for batch in finishedBatches { batch.finish() }
        finishedBatches.removeAll(keepingCapacity: true)
    }
}

extension ConnectionDriver {
    /// Hands out the results and deliveries collected so far. Called after each batch, and before anything that
    /// completes other operations directly (RPC replies, closing channels), so the order stays the order of events.
    func flushCompletions() {
        guard !completions.isEmpty else { return }
        var batch = Completions()
        swap(&batch, &completions)
        batch.handOut()
        // Keep the storage: swap the emptied batch back unless something was queued meanwhile.
        if completions.isEmpty { swap(&batch, &completions) }
    }
}
