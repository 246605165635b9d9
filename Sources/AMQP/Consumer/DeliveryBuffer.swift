import Synchronization

/// The deliveries of one consumer on their way from the connection thread to the task iterating the consumer.
///
/// It replaces an `AsyncThrowingStream` with the same semantics for this use (unbounded buffer, which the prefetch
/// bounds; buffered deliveries are still handed out after the end; an error is thrown once, then `nil`; cancelling
/// the waiting task ends the sequence and calls `onCancel` unless it already ended) at a fraction of the cost: it
/// is not generic, takes a whole batch of deliveries under one lock with at most one wake-up (moving them, not
/// copying), and `next()` takes a buffered delivery without suspending.
final class DeliveryBuffer: Sendable {
    private struct State {
        /// `deliveries[head...]` are waiting; slots before `head` were moved out (`nil`).
        var deliveries: [AMQPDelivery?] = []
        var head = 0
        var waiters: [UnsafeContinuation<AMQPDelivery?, any Error>] = []
        /// Set by `finish`: the end to report once the buffer is empty.
        var end: End?
        /// The end was reported (or the iterating task was cancelled): only `nil` from now on.
        var done = false
        var onCancel: (@Sendable () -> Void)?
        /// Acknowledgements were queued for the connection thread without waking it (``holdWhileBuffered(_:)``):
        /// the iterating task wakes it before it waits.
        var heldAcknowledgements = false

        var isEmpty: Bool { head == deliveries.count }

        mutating func pop() -> AMQPDelivery? {
            let delivery = deliveries.moveOut(at: head)
            head += 1
            if head == deliveries.count {
                deliveries.removeAll(keepingCapacity: true)
                head = 0
            }
            return delivery
        }

        /// What a `next()` gets without waiting: a delivery, the end (once), `nil` after it, or nothing yet.
        mutating func take() -> Result<AMQPDelivery?, any Error>? {
            if !isEmpty { return .success(pop()) }
            if done { return .success(nil) }
            guard let end else { return nil }
            done = true
            if case .failed(let error) = end { return .failure(error) }
            return .success(nil)
        }
    }

    private let state = Mutex(State())
    /// Wakes the connection thread for commands queued without waking it.
    private let wakeConnection: @Sendable () -> Void
    /// The largest body this consumer's deliveries are read with; a larger one arrives empty, with its size in
    /// ``AMQPDelivery/omittedBodySize``.
    let bodyLimit: UInt64

    init(bodyLimit: UInt64 = .max, wakeConnection: @escaping @Sendable () -> Void = {}) {
        self.bodyLimit = bodyLimit
        self.wakeConnection = wakeConnection
    }

    /// For an acknowledgement that may wait for the connection thread's next turn: while deliveries are still
    /// buffered for the iterating task (which comes back for them, and wakes the thread before it waits for more),
    /// runs `enqueueQuietly` under the buffer's lock and returns its result; otherwise returns `nil` without running
    /// it (send the acknowledgement the usual way). The consumer's acks then reach the thread in batches, with one
    /// wake-up per batch of deliveries instead of one per ack.
    func holdWhileBuffered(_ enqueueQuietly: () -> AMQPError?) -> HeldAcknowledgement {
        state.withLock { state in
            guard state.waiters.isEmpty, !state.isEmpty, state.end == nil, !state.done else { return .notHeld }
            state.heldAcknowledgements = true
            return .held(enqueueQuietly())
        }
    }

    /// What ``holdWhileBuffered(_:)`` did.
    enum HeldAcknowledgement {
        /// Not queued: send the acknowledgement the usual way.
        case notHeld
        /// Queued for the thread's next turn; `error` when queueing it failed (the channel is closed).
        case held(AMQPError?)
    }

    /// How the sequence ends.
    enum End {
        /// Normally: `next()` returns `nil`.
        case finished
        /// With an error, thrown once.
        case failed(any Error)
    }

    /// Takes every buffered delivery out (the iterating task will not see them), in order.
    func takeBuffered() -> [AMQPDelivery] {
        state.withLock { state in
            var taken: [AMQPDelivery] = []
            taken.reserveCapacity(state.deliveries.count - state.head)
            while !state.isEmpty { if let delivery = state.pop() { taken.append(delivery) } }
            return taken
        }
    }

    /// Deliveries buffered and not yet taken, and whether acks are held (for tests).
    var snapshot: (buffered: Int, holdingAcknowledgements: Bool) {
        state.withLock { ($0.deliveries.count - $0.head, $0.heldAcknowledgements) }
    }

    /// Called once when a task waiting in (or entering) `next()` is cancelled.
    func setOnCancel(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.onCancel = handler }
    }

    // MARK: - Producer (the connection thread)

    /// Moves a batch of deliveries in, in order, under one lock, and empties `batch` (keeping its capacity: it
    /// usually trades storage with the buffer). Waiting tasks get one delivery each. Dropped after the end.
    func yield(moving batch: inout [AMQPDelivery?]) {
        var firstWaiter: (UnsafeContinuation<AMQPDelivery?, any Error>, AMQPDelivery?)?
        var otherWaiters: [(UnsafeContinuation<AMQPDelivery?, any Error>, AMQPDelivery?)] = []
        state.withLock { state in
            guard state.end == nil, !state.done else { return }
            // Waiters exist only while the buffer is empty; each takes one delivery.
            var given = 0
            while given < batch.count, !state.waiters.isEmpty {
                let waiter = (state.waiters.removeFirst(), batch.moveOut(at: given))
                if firstWaiter == nil { firstWaiter = waiter } else { otherWaiters.append(waiter) }
                given += 1
            }
            if state.isEmpty {
                // The usual case: the consumer kept up. Trade storage instead of moving element by element.
                swap(&state.deliveries, &batch)
                state.head = min(given, state.deliveries.count)
                if state.isEmpty {
                    state.deliveries.removeAll(keepingCapacity: true)
                    state.head = 0
                }
            } else {
                for index in given..<batch.count { state.deliveries.append(batch.moveOut(at: index)) }
            }
        }
        batch.removeAll(keepingCapacity: true)
        if let (waiter, delivery) = firstWaiter { waiter.resume(returning: delivery) }
        for (waiter, delivery) in otherWaiters { waiter.resume(returning: delivery) }
    }

    /// Ends the sequence after the buffered deliveries, normally or with `error`. Only the first end counts.
    func finish(throwing error: (any Error)? = nil) {
        let waiters: [UnsafeContinuation<AMQPDelivery?, any Error>] = state.withLock { state in
            guard state.end == nil, !state.done else { return [] }
            state.end = error.map { .failed($0) } ?? .finished
            state.onCancel = nil
            // Waiters exist only while the buffer is empty: the first one gets the end.
            let waiters = state.waiters
            state.waiters.removeAll()
            if !waiters.isEmpty { state.done = true }
            return waiters
        }
        for (index, waiter) in waiters.enumerated() {
            if index == 0, let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    // MARK: - Consumer (the iterating task)

    func next(isolation actor: isolated (any Actor)? = #isolation) async throws -> AMQPDelivery? {
        if Task.isCancelled { cancel() }
        if let result = state.withLock({ $0.take() }) { return try result.get() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<AMQPDelivery?, any Error>) in
                var wake = false
                let ready = state.withLock { state -> Result<AMQPDelivery?, any Error>? in
                    if let result = state.take() { return result }
                    state.waiters.append(continuation)
                    wake = state.heldAcknowledgements
                    state.heldAcknowledgements = false
                    return nil
                }
                if wake { wakeConnection() }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The iterating task was cancelled: the sequence ends (waiting `next()` calls return `nil`; what is buffered is
    /// still handed out) and `onCancel` runs once.
    private func cancel() {
        let (waiters, handler) = state.withLock { state in
            let result = (state.waiters, state.onCancel)
            state.waiters.removeAll()
            state.onCancel = nil
            // A normal end unless an error is already waiting to be thrown.
            if state.end == nil {
                state.end = .finished
                if state.isEmpty { state.done = true }
            }
            return result
        }
        handler?()
        for waiter in waiters { waiter.resume(returning: nil) }
    }
}
