/// The bus's lifecycle as a value: whether it runs, whether a shutdown began, the publishes and forwards still
/// pending, whether consuming ended, the consumer's connection, and who waits for what. No locks, no I/O:
/// ``RabbitMQEventBus`` keeps it in a mutex, feeds it events and resumes the waiters it returns outside the lock.
///
/// ```
///   idle ── start ──▶ running ── beginShutdown ──▶ shuttingDown ── (consumingEnded, 0 pending) ──▶ drained
///                       │  publishes: beginPublish / finishPublish     │ publishes refused; forwards still counted
///                       │  consumer: connected / started / gone        │ the consumer is cancelled once it starts
/// ```
///
/// Generic over the connection, the consumer and the waiter so that every transition is tested without a broker.
struct BusLifecycleStateMachine<Connection, Consumer, Waiter> {
    /// `run()` is active.
    private(set) var running = false
    /// A shutdown began (graceful or cancelled): no new publish, consuming winds down.
    private(set) var shuttingDown = false
    /// Publishes and forwards begun and not finished.
    private(set) var pendingPublishes = 0
    /// Consuming stopped for good (its handlers finished or were abandoned).
    private(set) var consumingEnded = false
    /// The consuming side's connection while it consumes.
    private(set) var consumerConnection: Connection?
    /// The consumer while it runs (cancelled at once when a shutdown begins).
    private(set) var activeConsumer: Consumer?
    /// Waits until consuming ended and nothing is pending (the publishing connection closes then).
    private var drainWaiters: [Waiter] = []
    /// The consuming supervisor waiting for a first subscription (or a shutdown).
    private var consumerWake: Waiter?

    /// Why `start()` refused.
    enum StartRefusal: Error { case alreadyRunning }

    /// Why a publish is refused.
    enum PublishRefusal: Error { case shuttingDown }

    /// `run()` begins.
    mutating func start() throws(StartRefusal) {
        guard !running else { throw .alreadyRunning }
        running = true
    }

    /// `run()` returned.
    mutating func ended() {
        running = false
    }

    /// A shutdown begins: returns the consuming supervisor to wake (it may be waiting for a subscription) and the
    /// consumer to cancel.
    mutating func beginShutdown() -> (wake: Waiter?, consumer: Consumer?) {
        shuttingDown = true
        defer { consumerWake = nil }
        return (consumerWake, activeConsumer)
    }

    /// A publish begins (refused once a shutdown began).
    mutating func beginPublish() throws(PublishRefusal) {
        guard !shuttingDown else { throw .shuttingDown }
        pendingPublishes += 1
    }

    /// A forward (to a retry or dead-letter queue) begins: taken while shutting down, as a handler that started may
    /// finish.
    mutating func beginForward() {
        pendingPublishes += 1
    }

    /// A publish or forward finished: returns the drain waiters to resume when it was the last one.
    mutating func finishPublish() -> [Waiter] {
        pendingPublishes -= 1
        return takeDrainWaitersIfDrained()
    }

    /// Consuming stopped for good: returns the drain waiters to resume when nothing is pending.
    mutating func endConsuming() -> [Waiter] {
        consumingEnded = true
        return takeDrainWaitersIfDrained()
    }

    /// Waits for the drain (consuming ended and nothing pending); returns `true` when it is drained already (resume
    /// `waiter` at once; it is not kept).
    mutating func waitForDrain(_ waiter: Waiter) -> Bool {
        if isDrained { return true }
        drainWaiters.append(waiter)
        return false
    }

    /// The consuming supervisor waits for a subscription; returns `true` when it need not wait (a subscription exists
    /// or a shutdown began; resume `waiter` at once).
    mutating func waitForSubscription(_ waiter: Waiter, hasSubscriptions: Bool) -> Bool {
        if shuttingDown || hasSubscriptions { return true }
        consumerWake = waiter
        return false
    }

    /// A subscription was added: returns the consuming supervisor to wake, and the connection to bind it on now
    /// (when consuming).
    mutating func subscriptionAdded() -> (wake: Waiter?, connection: Connection?) {
        defer { consumerWake = nil }
        return (consumerWake, consumerConnection)
    }

    /// The consuming side declared its queues on `connection`.
    mutating func consumerConnected(_ connection: Connection) {
        consumerConnection = connection
    }

    /// The consumer started; returns `true` when a shutdown began meanwhile (cancel it at once).
    mutating func consumerStarted(_ consumer: Consumer) -> Bool {
        activeConsumer = consumer
        return shuttingDown
    }

    /// The consuming connection ended.
    mutating func consumerGone() {
        consumerConnection = nil
        activeConsumer = nil
    }

    private var isDrained: Bool { pendingPublishes == 0 && consumingEnded }

    private mutating func takeDrainWaitersIfDrained() -> [Waiter] {
        guard isDrained else { return [] }
        defer { drainWaiters.removeAll() }
        return drainWaiters
    }
}
