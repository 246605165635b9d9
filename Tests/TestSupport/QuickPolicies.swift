import EventBus

/// Subscription options for test consumers: one short retry delay, so few retry queues exist.
public func testSubscription(dedup: DedupMode = .always) throws -> SubscriptionOptions {
    SubscriptionOptions(retryPolicy: try RetryPolicy(maxDeliveryAttempts: 3, delays: [.milliseconds(50)]), dedupMode: dedup)
}

extension OutboxRelay.Configuration {
    /// A relay that polls every 20 ms and retries after 100 ms: tests wait for conditions, not for timers.
    public static func fast(staleAfter: Duration = .seconds(60), publishTimeout: Duration = .seconds(30), batchSize: Int = 100) -> Self {
        var configuration = OutboxRelay.Configuration()
        configuration.pollInterval = .milliseconds(20)
        configuration.initialBackoff = .milliseconds(100)
        configuration.maximumBackoff = .milliseconds(400)
        configuration.staleAfter = staleAfter
        configuration.publishTimeout = publishTimeout
        configuration.batchSize = batchSize
        return configuration
    }
}
