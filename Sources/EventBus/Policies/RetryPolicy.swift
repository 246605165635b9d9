/// How often and for how long a failing event is retried before it is dead-lettered (Event Grid's model).
///
/// Defaults: 30 delivery attempts, a time-to-live of 1 440 minutes (one day), and delays of 10 s, 30 s, 1 min,
/// 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then 12 h. Attempts must be in 1...30 and the time-to-live in
/// 1...1440 minutes; anything else throws ``EventBusError/retryPolicyOutOfRange(field:value:allowed:)``.
///
/// ```swift
/// let policy = try RetryPolicy(maxDeliveryAttempts: 5, eventTimeToLiveMinutes: 60)
/// let fast = try RetryPolicy(maxDeliveryAttempts: 3, delays: [.milliseconds(50)])  // tests
/// ```
public struct RetryPolicy: Sendable, Hashable {
    /// Deliveries in all (the first included) before ``DeadLetterReason/maxDeliveryAttemptsExceeded``.
    public let maxDeliveryAttempts: Int
    /// Age after which a failing event is dead-lettered with ``DeadLetterReason/timeToLiveExpired``.
    public let eventTimeToLive: Duration
    /// Delay before retry 1, 2, …; the last one repeats.
    public let delays: [Duration]

    /// Event Grid's schedule.
    public static let eventGridDelays: [Duration] = [
        .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(600), .seconds(1_800), .seconds(3_600),
        .seconds(10_800), .seconds(21_600), .seconds(43_200),
    ]

    /// The defaults: 30 attempts, 1 440 minutes, Event Grid's delays.
    public static let eventGrid = RetryPolicy(unchecked: 30, timeToLive: .seconds(1_440 * 60), delays: eventGridDelays)

    /// Creates a validated policy.
    public init(
        maxDeliveryAttempts: Int = 30,
        eventTimeToLiveMinutes: Int = 1_440,
        delays: [Duration] = RetryPolicy.eventGridDelays
    ) throws(EventBusError) {
        guard (1...30).contains(maxDeliveryAttempts) else {
            throw .retryPolicyOutOfRange(field: "maxDeliveryAttempts", value: "\(maxDeliveryAttempts)", allowed: "1...30")
        }
        guard (1...1_440).contains(eventTimeToLiveMinutes) else {
            throw .retryPolicyOutOfRange(field: "eventTimeToLiveMinutes", value: "\(eventTimeToLiveMinutes)", allowed: "1...1440")
        }
        guard !delays.isEmpty, delays.allSatisfy({ $0 >= .milliseconds(1) && $0 <= .seconds(86_400) }) else {
            throw .retryPolicyOutOfRange(field: "delays", value: "\(delays)", allowed: "1 ms...24 h each, at least one")
        }
        self.init(unchecked: maxDeliveryAttempts, timeToLive: .seconds(eventTimeToLiveMinutes * 60), delays: delays)
    }

    private init(unchecked attempts: Int, timeToLive: Duration, delays: [Duration]) {
        self.maxDeliveryAttempts = attempts
        self.eventTimeToLive = timeToLive
        self.delays = delays
    }

    /// The delay before the delivery numbered `attempt + 1`, after attempt `attempt` failed (1-based).
    public func delay(afterAttempt attempt: Int) -> Duration {
        delays[min(max(attempt, 1), delays.count) - 1]
    }

    /// The distinct delays this policy can use within its attempts.
    public var usedDelays: [Duration] {
        let count = min(delays.count, max(maxDeliveryAttempts - 1, 1))
        var seen: [Duration] = []
        for delay in delays.prefix(count) where !seen.contains(delay) { seen.append(delay) }
        return seen
    }
}
