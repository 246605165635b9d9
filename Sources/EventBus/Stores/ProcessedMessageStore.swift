import Foundation

/// Remembers which event ids a consumer has handled, so a duplicate delivery never has its effect twice.
///
/// Keys are (`consumer`, `messageID`), unique in the store (the SQL stores' primary key); ``EventContext/consumer``
/// names the consumer of a subscription. The bus consults the store, calls the handler, records the id
/// (``markProcessed(consumer:messageID:at:)``), waits for ``makeDurable()``, and only then acknowledges.
///
/// Recording is idempotent and atomic per key: when two instances record the same id at once, exactly one gets `true`
/// and the other `false`, whatever the order. SQL stores also let a handler record the id inside its own transaction,
/// making the effect exactly-once; the bus then records it again harmlessly. A handler doing so must apply its effect
/// only when that in-transaction record returns `true`: when another instance recorded the id already (or records it
/// concurrently: PostgreSQL makes the second transaction wait for the first to commit), it returns `false`, and the
/// handler must skip the effect or throw so that its transaction rolls back. Either way the event has its effect once.
public protocol ProcessedMessageStore: Sendable {
    /// Whether `messageID` was recorded for `consumer`. One store round trip.
    func contains(consumer: String, messageID: String) async throws -> Bool
    /// Records `messageID` for `consumer`; returns `false` when it was recorded already (by anyone, including a
    /// concurrent call from another instance). One store round trip.
    @discardableResult
    func markProcessed(consumer: String, messageID: String, at date: Date) async throws -> Bool
    /// Forgets ids recorded before `date`; returns how many. Keep the retention longer than the event time-to-live.
    @discardableResult
    func prune(processedBefore date: Date) async throws -> Int
    /// Returns once everything this store committed so far is on disk: the recorded ids, and the handlers'
    /// transactions committed on the same database before the call. The bus calls it after recording a delivery's id
    /// and before acknowledging it, so an acknowledged effect survives a power loss. Concurrent calls may share one
    /// flush. The default does nothing: for stores whose commits are durable when they return (PostgreSQL) or that
    /// promise no durability (in memory).
    func makeDurable() async throws
}

extension ProcessedMessageStore {
    /// Nothing to do: commits are durable when they return, or the store is not durable at all.
    public func makeDurable() async throws {}
}

/// A bounded in-memory ``ProcessedMessageStore`` for tests and single-instance services that accept losing the
/// record on restart. Holds at most `capacity` ids (the oldest go first) and forgets ids older than `retention`.
public final class InMemoryProcessedMessageStore: ProcessedMessageStore, @unchecked Sendable {
    private struct Key: Hashable {
        let consumer: String
        let messageID: String

        /// The id alone: a service has a handful of consumer names, and hashing one (30-odd bytes) on every lookup
        /// would cost as much as the id. Keys of two consumers with the same id share a hash and differ by `==`.
        func hash(into hasher: inout Hasher) {
            hasher.combine(messageID)
        }
    }

    private let lock = NSLock()
    private var recorded: [Key: Date] = [:]
    private var order: [(key: Key, at: Date)] = []
    private var head = 0
    private let capacity: Int
    private let retention: Duration

    /// Creates a store holding at most `capacity` ids for at most `retention`.
    public init(capacity: Int = 1_000_000, retention: Duration = .seconds(2 * 86_400)) {
        self.capacity = max(1, capacity)
        self.retention = retention
    }

    /// How many ids are recorded now.
    public var count: Int { lock.withLock { recorded.count } }

    public func contains(consumer: String, messageID: String) async throws -> Bool {
        lock.withLock { recorded[Key(consumer: consumer, messageID: messageID)] != nil }
    }

    @discardableResult
    public func markProcessed(consumer: String, messageID: String, at date: Date = Date()) async throws -> Bool {
        lock.withLock {
            let key = Key(consumer: consumer, messageID: messageID)
            // One hash on the usual path (a new id); a duplicate keeps the time it was first recorded at.
            if let first = recorded.updateValue(date, forKey: key) {
                recorded[key] = first
                return false
            }
            order.append((key, date))
            evict(now: date)
            return true
        }
    }

    @discardableResult
    public func prune(processedBefore date: Date) async throws -> Int {
        lock.withLock {
            let before = recorded.count
            recorded = recorded.filter { $0.value >= date }
            order = order[head...].filter { recorded[$0.key] != nil }
            head = 0
            return before - recorded.count
        }
    }

    private func evict(now: Date) {
        let (seconds, attoseconds) = retention.components
        let cutoff = now.addingTimeInterval(-(Double(seconds) + Double(attoseconds) / 1e18))
        // `order` from `head` holds exactly the recorded keys, oldest first, with their times: the oldest is checked
        // without a lookup.
        while head < order.count {
            let (key, at) = order[head]
            guard recorded.count > capacity || at < cutoff else { break }
            recorded[key] = nil
            head += 1
        }
        if head > 4_096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
