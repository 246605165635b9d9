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
        /// Set by `finish`: the end to report once the buffer is empty; `.some(nil)` is a normal end.
        var end: (any Error)?? = nil
        /// The end was reported (or the iterating task was cancelled): only `nil` from now on.
        var done = false
        var onCancel: (@Sendable () -> Void)?

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
            if let error = end { return .failure(error) }
            return .success(nil)
        }
    }

    private let state = Mutex(State())

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
            state.end = .some(error)
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
                let ready = state.withLock { state -> Result<AMQPDelivery?, any Error>? in
                    if let result = state.take() { return result }
                    state.waiters.append(continuation)
                    return nil
                }
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
                state.end = .some(nil)
                if state.isEmpty { state.done = true }
            }
            return result
        }
        handler?()
        for waiter in waiters { waiter.resume(returning: nil) }
    }
}
