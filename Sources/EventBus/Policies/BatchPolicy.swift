/// Batch delivery (off by default): a batch handler gets up to ``maxEventsPerBatch`` events whose bodies add up to
/// about ``preferredBatchSizeInKilobytes``. Batching is optimistic: it takes what has arrived and waits at most
/// ``maximumWait`` to fill a batch. One event larger than the preferred size goes alone. All or nothing: success
/// acknowledges the whole batch, failure retries every event of it under the retry policy.
public struct BatchPolicy: Sendable, Hashable {
    /// At most this many events per batch (1...5000).
    public let maxEventsPerBatch: Int
    /// Preferred upper bound of a batch's total body size, in kilobytes (1...1024).
    public let preferredBatchSizeInKilobytes: Int
    /// How long to wait for more events once one has arrived.
    public let maximumWait: Duration

    /// Creates a validated batch policy.
    public init(maxEventsPerBatch: Int, preferredBatchSizeInKilobytes: Int = 64, maximumWait: Duration = .milliseconds(20)) throws(EventBusError) {
        guard (1...5_000).contains(maxEventsPerBatch) else {
            throw .batchPolicyOutOfRange(field: "maxEventsPerBatch", value: "\(maxEventsPerBatch)", allowed: "1...5000")
        }
        guard (1...1_024).contains(preferredBatchSizeInKilobytes) else {
            throw .batchPolicyOutOfRange(field: "preferredBatchSizeInKilobytes", value: "\(preferredBatchSizeInKilobytes)", allowed: "1...1024")
        }
        guard maximumWait >= .zero, maximumWait <= .seconds(10) else {
            throw .batchPolicyOutOfRange(field: "maximumWait", value: "\(maximumWait)", allowed: "0...10 s")
        }
        self.maxEventsPerBatch = maxEventsPerBatch
        self.preferredBatchSizeInKilobytes = preferredBatchSizeInKilobytes
        self.maximumWait = maximumWait
    }

    /// Whether `next` (of `size` bytes) still fits a batch that holds `count` events of `bytes` in all.
    public func accepts(count: Int, bytes: Int, next size: Int) -> Bool {
        if count == 0 { return true }
        return count < maxEventsPerBatch && bytes + size <= preferredBatchSizeInKilobytes * 1_024
    }
}
