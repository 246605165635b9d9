/// The consuming side's deliveries and shutdown phases as a value: how many handlers run, whether a delivery that
/// arrives now is handled or given back, and what a shutdown and its grace period do. No locks, no I/O:
/// ``RabbitMQEventBus`` keeps it in a mutex, asks it on every delivery and carries out what it returns.
///
/// ```
///   consuming ── shutdownRequested ──▶ draining ── last running handler finishes ──▶ drained
///   (deliveries handled,               (deliveries given back,     │
///    inFlight counts them)               started handlers finish)   └── graceExpired ──▶ abandoned
///                                                                       (handlers still running; their
///                                                                        deliveries go back with the connection)
/// ```
///
/// A shutdown with no handler running goes straight to `drained`. A lost connection does not change the phase: the
/// consume loop waits for its handlers before it reconnects, so `inFlight` is back to 0 by then.
struct ConsumingStateMachine: Sendable {
    enum Phase: Sendable, Equatable {
        case consuming, draining, drained, abandoned
    }

    /// What to do with a delivery that just arrived.
    enum DeliveryAction: Sendable, Equatable {
        /// Handle it (it now counts as in flight until ``deliveryFinished()``).
        case process
        /// A shutdown began: give it back to the broker at once (requeue), unhandled.
        case giveBack
    }

    /// What a shutdown request means for consuming.
    enum ShutdownAction: Sendable, Equatable {
        /// Consuming stopped already (a second request).
        case none
        /// Cancel the consumer and give back what is buffered; `handlersRunning` handlers may still finish.
        case stopConsuming(handlersRunning: Int)
    }

    /// What the end of the shutdown grace period means.
    enum GraceAction: Sendable, Equatable {
        /// Every handler finished in time.
        case none
        /// `handlersRunning` handlers are still running: stop waiting for them.
        case abandon(handlersRunning: Int)
    }

    private(set) var phase = Phase.consuming
    /// Deliveries being handled: from arrival until the dispatcher is done with them (settled, or gathered into a
    /// batch, which the consume loop hands out before it ends).
    private(set) var inFlight = 0

    mutating func deliveryArrived() -> DeliveryAction {
        guard phase == .consuming else { return .giveBack }
        inFlight += 1
        return .process
    }

    /// A delivery's handling is over (settled, or given up on with its connection).
    mutating func deliveryFinished() {
        inFlight -= 1
        if inFlight == 0, phase == .draining { phase = .drained }
    }

    mutating func shutdownRequested() -> ShutdownAction {
        guard phase == .consuming else { return .none }
        phase = inFlight == 0 ? .drained : .draining
        return .stopConsuming(handlersRunning: inFlight)
    }

    mutating func graceExpired() -> GraceAction {
        guard phase == .draining else { return .none }
        phase = .abandoned
        return .abandon(handlersRunning: inFlight)
    }
}
