import EventBus

/// The names one consuming service's bus uses on the broker, in one place: its queue, the queue its dead letters
/// go to, the queues its retries wait in, and the headers and queue arguments that tie them together (DESIGN
/// section 3). Use it to find, inspect or replay what a bus declared instead of spelling the names by hand;
/// ``DeadLetterQueue`` works on it.
///
/// ```swift
/// let topology = RabbitMQTopology(queue: "basket")
/// topology.deadLetterQueue                       // "basket.dead-letter"
/// topology.retryQueue(delay: .seconds(10))       // "basket.retry.10000"
/// ```
public struct RabbitMQTopology: Sendable, Hashable {
    /// The service's queue (``RabbitMQEventBusConfiguration/queue``): one per consuming service, bound to the
    /// exchange once per event type it subscribes to.
    public let queue: String

    /// The topology of the service whose queue is `queue`.
    public init(queue: String) {
        self.queue = queue
    }

    /// `<queue>.dead-letter`: events the service gave up on, each with its reason (``deadLetterHeaders``); nothing
    /// consumes it. Inspect, replay or purge it with ``DeadLetterQueue``.
    public var deadLetterQueue: String { "\(queue)\(Self.deadLetterSuffix)" }

    /// `<queue>.retry.<milliseconds>`: where retries wait out one delay of the retry policy (the queue's message
    /// time-to-live), then go back to `<queue>` through the default exchange. A delay under a millisecond counts as
    /// one.
    public func retryQueue(delay: Duration) -> String { "\(queue)\(Self.retryInfix)\(Self.milliseconds(delay))" }

    /// The retry delay of `name` when it is one of this service's retry queues (`<queue>.retry.<milliseconds>`),
    /// else `nil`.
    public func retryDelay(ofQueue name: String) -> Duration? {
        let prefix = "\(queue)\(Self.retryInfix)"
        guard name.hasPrefix(prefix), let milliseconds = Int64(name.dropFirst(prefix.count)), milliseconds > 0 else { return nil }
        return .milliseconds(milliseconds)
    }

    /// Every queue of the service: `queue`, its retry queues for `retryDelays`, and its dead-letter queue.
    public func queues(retryDelays: some Sequence<Duration>) -> [String] {
        [queue] + Set(retryDelays.map(Self.milliseconds)).sorted().map { "\(queue)\(Self.retryInfix)\($0)" } + [deadLetterQueue]
    }

    // MARK: - Headers

    /// The headers the bus writes on a dead letter: `EventHeaders.deadLetterReason` (a `DeadLetterReason`),
    /// `EventHeaders.deliveryAttempts`, `EventHeaders.lastError`, `EventHeaders.deadLetteredAt` and
    /// `EventHeaders.subscription`. A dead letter that has none of them was moved by the broker as it arrived
    /// (see ``brokerDeathsHeader``).
    public static let deadLetterHeaders = [
        EventHeaders.deadLetterReason, EventHeaders.deliveryAttempts, EventHeaders.lastError, EventHeaders.deadLetteredAt,
        EventHeaders.subscription,
    ]

    /// The headers of the retry and dead-letter bookkeeping, bus-written (``deadLetterHeaders``,
    /// `EventHeaders.firstDeliveredAt`, `EventHeaders.deadLetterDetailNames`) and broker-written
    /// (``brokerDeathsHeader`` and its `x-first-death-*` / `x-last-death-*` companions). A replay removes them, and
    /// the headers a handler's error added (those `EventHeaders.deadLetterDetailNames` lists): the event starts
    /// over, with its id, so consumers still deduplicate it.
    public static let bookkeepingHeaders = deadLetterHeaders + [
        EventHeaders.firstDeliveredAt, EventHeaders.deadLetterDetailNames, brokerDeathsHeader,
        "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
        "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
    ]

    /// `x-death`: RabbitMQ's own record of each time it dead-lettered the message (queue, reason, count). Alone on a
    /// dead letter it means the service rejected the message without reading or forwarding it: a body over
    /// ``RabbitMQEventBusConfiguration/maxEventSize``, or an event it could not forward to a retry queue.
    public static let brokerDeathsHeader = "x-death"

    // MARK: - Queue arguments

    /// Queue argument: the exchange a queue dead-letters to (the bus uses the default exchange, `""`).
    public static let deadLetterExchangeArgument = "x-dead-letter-exchange"
    /// Queue argument: the routing key a queue dead-letters with (the service queue: its dead-letter queue; a retry
    /// queue: the service queue).
    public static let deadLetterRoutingKeyArgument = "x-dead-letter-routing-key"
    /// Queue argument: `classic` or `quorum` (``RabbitMQEventBusConfiguration/QueueType``).
    public static let queueTypeArgument = "x-queue-type"
    /// Queue argument: how long a message waits in the queue, in milliseconds (the retry queues' delay).
    public static let messageTTLArgument = "x-message-ttl"
    /// Queue argument: the most messages the queue keeps (the dead-letter queue's optional limit).
    public static let maxLengthArgument = "x-max-length"
    /// Queue argument of quorum queues: `at-least-once` dead-lettering, which the bus sets so that a move from one
    /// queue to another is confirmed.
    public static let deadLetterStrategyArgument = "x-dead-letter-strategy"
    /// Queue argument: what a full queue does with a new message (`reject-publish` with at-least-once dead-lettering).
    public static let overflowArgument = "x-overflow"

    static let deadLetterSuffix = ".dead-letter"
    static let retryInfix = ".retry."

    static func milliseconds(_ delay: Duration) -> Int64 { max(delay.milliseconds, 1) }
}
