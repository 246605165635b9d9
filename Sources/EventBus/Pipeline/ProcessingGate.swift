import Foundation

/// Lets one copy of an event at a time through the dedup check and the handler, per consumer and event id: a second
/// copy (a redelivery, an outbox re-send, a duplicate inside one batch window) waits until the first is handled and
/// recorded, then finds it in the processed-message store. Across instances the store's unique key decides.
package final class ProcessingGate: @unchecked Sendable {
    /// One event id of one consumer. Holds the two strings as they are (no joined text to allocate per event).
    package struct Key: Hashable, Sendable {
        package let consumer: String
        package let messageID: String

        /// The id alone (consumer names are few and the same for every delivery; `==` tells them apart).
        package func hash(into hasher: inout Hasher) {
            hasher.combine(messageID)
        }
    }

    private let lock = NSLock()
    /// Keys being processed, each with the copies waiting for it (first come, first served).
    private var held: [Key: [CheckedContinuation<Void, Never>]] = [:]

    package init() {}

    /// Returns once the caller holds `key`; pair every call with ``leave(_:)``.
    nonisolated(nonsending) package func enter(_ key: Key) async {
        let entered = lock.withLock {
            guard held[key] == nil else { return false }
            held[key] = []
            return true
        }
        if entered { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock {
                guard held[key] != nil else {
                    held[key] = []
                    return true
                }
                held[key, default: []].append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Gives `key` to the next waiting copy, or frees it.
    package func leave(_ key: Key) {
        let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard var waiting = held[key] else { return nil }
            guard !waiting.isEmpty else {
                held[key] = nil
                return nil
            }
            let first = waiting.removeFirst()
            held[key] = waiting
            return first
        }
        next?.resume()
    }

    /// How many keys are held now (for tests).
    package var heldCount: Int { lock.withLock { held.count } }
}
