import Foundation

/// Fires once, when the bus begins shutting down. `wait()` returns then, or when the waiting task is cancelled.
final class ShutdownSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextID: UInt64 = 0

    var hasFired: Bool { lock.withLock { fired } }

    func fire() {
        let waiting = lock.withLock {
            fired = true
            let taken = waiters
            waiters.removeAll()
            return taken
        }
        for waiter in waiting.values { waiter.resume() }
    }

    func wait() async {
        let id: UInt64 = lock.withLock {
            nextID += 1
            return nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = lock.withLock {
                    if fired || Task.isCancelled { return true }
                    waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = lock.withLock { waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
