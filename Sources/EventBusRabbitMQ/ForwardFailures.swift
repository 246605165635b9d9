import Foundation

/// Counts, per event, the forwards to a retry or dead-letter queue that failed in a row, so that a forward that can
/// never succeed ends (the delivery is rejected and the broker dead-letters it) instead of looping. Bounded: past
/// ``capacity`` events the oldest counts are forgotten (such an event then gets a few more tries, never fewer).
final class ForwardFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var order: [String] = []
    private let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Records one more failure for `key`; returns how many in a row it has had.
    func record(_ key: String) -> Int {
        lock.withLock {
            if let count = counts[key] {
                counts[key] = count + 1
                return count + 1
            }
            if order.count >= capacity {
                let dropped = order.prefix(capacity / 2)
                for old in dropped { counts[old] = nil }
                order.removeFirst(dropped.count)
            }
            counts[key] = 1
            order.append(key)
            return 1
        }
    }

    /// Forgets `key` (its forward succeeded, or the delivery was settled for good).
    func clear(_ key: String) {
        lock.withLock {
            if counts.removeValue(forKey: key) != nil { order.removeAll { $0 == key } }
        }
    }

    /// The pause before a delivery whose forward failed `count` times in a row goes back to the queue: 100 ms,
    /// doubling, at most 5 s.
    static func backoff(after count: Int) -> Duration {
        .milliseconds(min(100 << min(max(count - 1, 0), 6), 5_000))
    }
}
