import Foundation

/// A value that the first of several racing parties sets, and one task awaits: lets the bus wait for "whichever
/// comes first" (consumption ending, or a shutdown's grace period running out) without waiting for the loser, which
/// may never finish (a handler stuck in user code).
final class FirstOutcome<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    private var waiter: CheckedContinuation<Value, Never>?

    init() {}

    /// Sets the value unless it is set already; wakes the waiter.
    func set(_ newValue: Value) {
        let waiting = lock.withLock { () -> CheckedContinuation<Value, Never>? in
            guard value == nil else { return nil }
            value = newValue
            let taken = waiter
            waiter = nil
            return taken
        }
        waiting?.resume(returning: newValue)
    }

    /// The value, once some party has set it. One waiter at a time.
    func wait() async -> Value {
        await withCheckedContinuation { continuation in
            let now = lock.withLock { () -> Value? in
                if let value { return value }
                waiter = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}
