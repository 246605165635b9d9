import EventBus
import Logging

extension SampleDatabase {
    /// The shortest time a sample keeps a processed-message id: 2 days.
    public static let minimumProcessedRetention: Duration = .seconds(2 * 86_400)

    /// A service that forgets processed-message ids older than twice `eventTimeToLive` (at least
    /// ``minimumProcessedRetention``), once at start and then hourly, so `processed_messages` does not grow without
    /// bound. Pass the longest event time-to-live of the service's subscriptions: an id must outlive every redelivery
    /// of its event, or the duplicate it guards against gets through.
    public func processedMessagePruner(eventTimeToLive: Duration, logger: Logger) -> ProcessedMessagePruner {
        ProcessedMessagePruner(
            store: processedMessages, retention: max(Self.minimumProcessedRetention, eventTimeToLive * 2), logger: logger)
    }
}
