// Compiled with the SQLite trait (on by default; see Package.swift).
#if SQLite
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes transactions committed in WAL mode durable without holding up the writer.
///
/// With `synchronous = NORMAL` a commit appends its frames to the write-ahead log and returns without an fsync;
/// `synchronous = FULL` would add one fsync of that log per commit, inside the write lock, so every writer of the
/// file would wait for the disk (about 4 ms here) in turn. This barrier does the same fsync (`fdatasync` of the
/// `-wal` file) on its own thread, after the commits it must cover have returned, and shares it: callers that
/// arrive while a sync runs are covered by the next one, so any number of commits cost one disk flush per round and
/// the writer never waits for the disk.
///
/// When the log file is missing (only possible once every connection closed, which checkpoints it into the database
/// and syncs that) ``sync()`` throws ``Unavailable``; the store then falls back to a checkpoint, which syncs too.
final class WALSyncBarrier: Sendable {
    /// The log file cannot be synced: it does not exist or cannot be opened or flushed.
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    private struct State {
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var syncing = false
        var roundsStarted = 0
        var roundsCompleted = 0
    }

    /// How many flush rounds have started and finished, and how many callers wait now (for tests: each round covers
    /// every commit that returned before it started).
    var counters: (started: Int, completed: Int, waiting: Int) {
        state.withLock { ($0.roundsStarted, $0.roundsCompleted, $0.waiting.count) }
    }

    /// The open log file (or -1) and its inode, to notice a log that was deleted and created again. Only `queue`
    /// touches it, so its lock is never contended and may be held across the flush.
    private struct LogFile: ~Copyable {
        var descriptor: Int32 = -1
        var inode: UInt64 = 0

        deinit { if descriptor >= 0 { close(descriptor) } }
    }

    /// The write-ahead log's path (`<database>-wal`).
    let walPath: String
    private let state = Mutex(State())
    private let file = Mutex(LogFile())
    /// Runs the flushes, one at a time (internal so that a test can hold it to see callers pile up).
    let queue = DispatchQueue(label: "eventbus.sqlite.wal-sync")

    init(databasePath: String) {
        walPath = databasePath + "-wal"
    }

    /// Returns once every transaction committed before the call is on disk.
    func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = state.withLock { state -> Bool in
                state.waiting.append(continuation)
                guard !state.syncing else { return false }
                state.syncing = true
                return true
            }
            if start { queue.async { self.drain() } }
        }
    }

    /// Syncs for everyone waiting, round after round, until nobody waits. Each round takes the waiters first and
    /// syncs after, so each waiter's commits (which returned before it asked) are covered.
    private func drain() {
        while true {
            let round = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
                let round = state.waiting
                state.waiting = []
                if round.isEmpty { state.syncing = false } else { state.roundsStarted += 1 }
                return round
            }
            guard !round.isEmpty else { return }
            let outcome = syncOnce()
            state.withLock { $0.roundsCompleted += 1 }
            for continuation in round { continuation.resume(with: outcome) }
        }
    }

    /// One `fdatasync` of the log, (re)opening it when it is not open yet or was replaced. Runs on `queue` only.
    private func syncOnce() -> Result<Void, any Error> {
        file.withLock { state -> Result<Void, any Error> in
            var status = stat()
            guard stat(walPath, &status) == 0 else {
                return .failure(Unavailable(description: "\(walPath): \(String(cString: strerror(errno)))"))
            }
            if state.descriptor < 0 || state.inode != UInt64(status.st_ino) {
                if state.descriptor >= 0 { close(state.descriptor) }
                state.descriptor = open(walPath, O_RDONLY | O_CLOEXEC)
                guard state.descriptor >= 0 else {
                    return .failure(Unavailable(description: "opening \(walPath): \(String(cString: strerror(errno)))"))
                }
                var opened = stat()
                guard fstat(state.descriptor, &opened) == 0 else {
                    return .failure(Unavailable(description: "\(walPath): \(String(cString: strerror(errno)))"))
                }
                state.inode = UInt64(opened.st_ino)
            }
            guard fdatasync(state.descriptor) == 0 else {
                return .failure(Unavailable(description: "syncing \(walPath): \(String(cString: strerror(errno)))"))
            }
            return .success(())
        }
    }
}
#endif
