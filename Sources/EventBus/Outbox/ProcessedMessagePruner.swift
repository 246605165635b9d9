import Foundation
import Logging
import ServiceLifecycle

/// Forgets processed-message ids older than a retention, periodically: a swift-service-lifecycle `Service` to run
/// beside the bus of a consuming service whose ``ProcessedMessageStore`` lives in a database (DESIGN section 6).
///
/// Keep ``retention`` longer than the subscriptions' event time-to-live (default 1 day under
/// ``RetryPolicy/eventGrid``): an id forgotten while its event can still be redelivered no longer protects against
/// the duplicate. Each pass costs one store transaction (batched deletes on the SQL stores). Graceful shutdown and
/// cancellation both end `run()`.
public final class ProcessedMessagePruner: Service, Sendable {
    /// How long ids are kept. Default 2 days.
    public let retention: Duration
    /// How often the store is pruned. Default 1 h; the first pass runs at start.
    public let interval: Duration
    private let store: any ProcessedMessageStore
    private let logger: Logger
    private let stop = StopSignal()

    /// Creates a pruner for `store`. Nothing runs until `run()`.
    public init(
        store: any ProcessedMessageStore, retention: Duration = .seconds(2 * 86_400), interval: Duration = .seconds(3_600),
        logger: Logger = Logger(label: "eventbus.processed-messages", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    /// Prunes every ``interval`` until cancelled or gracefully shut down; failures are logged and retried.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled, !stop.isFired {
                await pruneOnce()
                await stop.pause(for: interval)
            }
        } onGracefulShutdown: {
            self.stop.fire()
        }
    }

    /// One pass; returns how many ids were forgotten (0 when the store failed, which is logged).
    @discardableResult
    public func pruneOnce() async -> Int {
        do {
            let count = try await store.prune(processedBefore: Date().addingTimeInterval(-retention.outboxSeconds))
            if count > 0 { logger.info("pruned processed-message ids", metadata: ["count": "\(count)"]) }
            return count
        } catch {
            logger.warning("pruning processed-message ids failed; will retry", metadata: ["error": "\(error)"])
            return 0
        }
    }
}
