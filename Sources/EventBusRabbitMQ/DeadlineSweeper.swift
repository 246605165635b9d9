import Foundation
import Synchronization

/// Fails operations that outlive their deadline, with one timer for everything a ``ChannelLink`` waits on instead of
/// a timer (and its tasks) per operation.
///
/// Registrations sit in a table; a single timer task sleeps until the earliest deadline, expires what is overdue and
/// sleeps again until the next one. An operation that finishes in time only removes its entry (a lock and a table
/// update), so the common case costs no timer at all. With one bound for all operations (the publish timeout) new
/// deadlines come after the armed one and the timer is not re-armed; an earlier deadline re-arms it.
final class DeadlineSweeper: @unchecked Sendable {
    private struct Entry {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private let lock = NSLock()
    private var entries: [UInt64: Entry] = [:]
    private var nextID: UInt64 = 0
    /// When the current timer task wakes; `nil` when none is armed.
    private var armedUntil: ContinuousClock.Instant?
    /// Generation of the current timer task; an older one sweeps when it wakes but does not re-arm.
    private var generation: UInt64 = 0
    private var timer: Task<Void, Never>?

    /// Calls `expire` (once, outside any lock) when `deadline` passes, unless ``cancel(_:)`` removes the
    /// registration first. Returns the registration's id.
    func register(deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> UInt64 {
        lock.withLock {
            nextID &+= 1
            let id = nextID
            entries[id] = Entry(deadline: deadline, expire: expire)
            if let armedUntil, armedUntil <= deadline { return id }
            arm(until: deadline)
            return id
        }
    }

    /// Removes a registration (its operation finished in time). Returns `false` when it expired already.
    @discardableResult
    func cancel(_ id: UInt64) -> Bool {
        lock.withLock { entries.removeValue(forKey: id) != nil }
    }

    /// Releases the timer when nothing is registered (the link is done); registrations left are still expired.
    func stop() {
        let idle = lock.withLock { () -> Task<Void, Never>? in
            guard entries.isEmpty else { return nil }
            let idle = timer
            timer = nil
            armedUntil = nil
            generation &+= 1
            return idle
        }
        idle?.cancel()
    }

    /// Starts a timer task for `deadline`, replacing the armed one. Called with the lock held.
    private func arm(until deadline: ContinuousClock.Instant) {
        timer?.cancel()
        generation &+= 1
        let current = generation
        armedUntil = deadline
        timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            self?.sweep(generation: current)
        }
    }

    /// Expires overdue registrations, earliest deadline first; the current timer then re-arms for the earliest one left.
    private func sweep(generation swept: UInt64) {
        let now = ContinuousClock.now
        let overdue = lock.withLock { () -> [Entry] in
            var overdueIDs: [UInt64] = []
            var earliest: ContinuousClock.Instant?
            for (id, entry) in entries {
                if entry.deadline <= now {
                    overdueIDs.append(id)
                } else if earliest.map({ entry.deadline < $0 }) ?? true {
                    earliest = entry.deadline
                }
            }
            // Earliest first, also when a late wake-up finds several overdue.
            let overdue = overdueIDs.compactMap { entries.removeValue(forKey: $0) }.sorted { $0.deadline < $1.deadline }
            if swept == generation {
                timer = nil
                armedUntil = nil
                if let earliest { arm(until: earliest) }
            }
            return overdue
        }
        for entry in overdue { entry.expire() }
    }

    /// Starts an operation that reports its result to the ``Waiter`` that `start` gets (``Waiter/finish(_:)``) and
    /// returns that result, or throws `timeoutError()` once `deadline` passes, whichever comes first; a later result is
    /// dropped. No task is created: the caller suspends until the operation or the timer resumes it. An operation
    /// whose deadline passed already is not started.
    ///
    /// With a `checkpoint`, `checkpoint.run` is called once at `checkpoint.at`, or at the deadline (before the timeout)
    /// when that comes first, if the operation is still running then: e.g. to act on an operation that stalls. The
    /// operation holds one registration at a time (first for the checkpoint, then for the deadline), and its state is
    /// one object that every callback captures alone, so the common case, an operation that finishes before its
    /// checkpoint, costs one allocation, one registration and one removal.
    nonisolated(nonsending) func wait<T: Sendable>(
        until deadline: ContinuousClock.Instant, checkpoint: Checkpoint? = nil,
        timeoutError: @escaping @Sendable () -> any Error,
        _ start: (Waiter<T>) -> Void
    ) async throws -> T {
        guard ContinuousClock.now < deadline else { throw timeoutError() }
        return try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
            let waiter = Waiter(continuation, sweeper: self, deadline: deadline, checkpoint: checkpoint, timeoutError: timeoutError)
            if let checkpoint, checkpoint.at < deadline {
                let id = register(deadline: checkpoint.at) { waiter.reachCheckpoint() }
                // A checkpoint already due may have run and registered the deadline in between: keep that id.
                _ = waiter.registration.compareExchange(expected: 0, desired: id, ordering: .sequentiallyConsistent)
            } else {
                let id = register(deadline: deadline) { waiter.expire() }
                waiter.registration.store(id, ordering: .sequentiallyConsistent)
            }
            start(waiter)
        }
    }

    /// A call made once while an operation of ``wait(until:checkpoint:timeoutError:_:)`` is still running.
    struct Checkpoint: Sendable {
        /// When to call ``run``.
        let at: ContinuousClock.Instant
        /// What to do then (outside any lock).
        let run: @Sendable () -> Void
    }

    /// One operation of ``wait(until:checkpoint:timeoutError:_:)``: the first of its result and its timeout resumes
    /// the caller; later attempts do nothing.
    final class Waiter<T: Sendable>: Sendable {
        private let continuation: UnsafeContinuation<T, any Error>
        private let resumed = Atomic<Bool>(false)
        /// The sweeper registration that currently bounds the operation.
        fileprivate let registration = Atomic<UInt64>(0)
        private let sweeper: DeadlineSweeper
        private let deadline: ContinuousClock.Instant
        private let checkpoint: Checkpoint?
        private let timeoutError: @Sendable () -> any Error

        fileprivate init(
            _ continuation: UnsafeContinuation<T, any Error>, sweeper: DeadlineSweeper, deadline: ContinuousClock.Instant,
            checkpoint: Checkpoint?, timeoutError: @escaping @Sendable () -> any Error
        ) {
            self.continuation = continuation
            self.sweeper = sweeper
            self.deadline = deadline
            self.checkpoint = checkpoint
            self.timeoutError = timeoutError
        }

        /// Whether the caller was resumed already.
        var isResumed: Bool { resumed.load(ordering: .sequentiallyConsistent) }

        /// The operation's result: resumes the caller (unless the timeout did already) and removes the registration.
        /// Sequentially consistent with ``reachCheckpoint()``, which stores a new registration and then reads whether
        /// the caller was resumed: at least one of the two sees the other's write, so the new registration is removed.
        func finish(_ result: Result<T, any Error>) {
            guard resume(with: result) else { return }
            sweeper.cancel(registration.load(ordering: .sequentiallyConsistent))
        }

        /// The deadline passed (a checkpoint at or after it runs first).
        fileprivate func expire() {
            if let checkpoint, checkpoint.at >= deadline, !isResumed { checkpoint.run() }
            resume(with: .failure(timeoutError()))
        }

        /// The checkpoint's time came before the deadline.
        fileprivate func reachCheckpoint() {
            guard !isResumed, let checkpoint else { return }
            checkpoint.run()
            // Now bounded by the deadline; when the operation finished meanwhile, its completion may have removed the
            // old registration only, so the new one is removed here.
            let id = sweeper.register(deadline: deadline) { self.expire() }
            registration.store(id, ordering: .sequentiallyConsistent)
            if isResumed { sweeper.cancel(id) }
        }

        @discardableResult
        private func resume(with result: Result<T, any Error>) -> Bool {
            guard !resumed.exchange(true, ordering: .sequentiallyConsistent) else { return false }
            continuation.resume(with: result)
            return true
        }
    }
}
