// Compiled with the PostgreSQL trait (on by default; see Package.swift).
#if PostgreSQL
import NIOCore
import PostgresNIO
import Synchronization

/// One call to PostgreSQL that ends by its deadline, or as soon as the connection it leased closes, whatever the
/// call itself is doing.
///
/// Why the call runs in a task of its own and may be abandoned: postgres-nio writes a query to its channel without a
/// write promise, so a query sent on a connection that has already closed (the server restarted or terminated the
/// backend between two statements of a transaction, or before a `ROLLBACK`) is never failed nor completed. Awaiting
/// it in the caller's task, or in a task group, which waits for its children, would hang the caller for good; that
/// is what a PostgreSQL restart under a busy Basket did. Here the caller gets a typed ending instead, the
/// connection is closed (the server rolls the transaction back and releases its locks, the pool replaces the
/// connection), and the abandoned task ends when postgres-nio fails its query, or stays suspended if it never does.
final class BoundedCall<T: Sendable>: Sendable {
    /// Why a call ended without its own result.
    enum Ending: Error {
        /// The deadline passed; `leased` tells whether a connection had been leased by then.
        case timedOut(leased: Bool)
        /// The leased connection closed before the call ended.
        case connectionClosed
    }

    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var connection: PostgresConnection?
    }

    private let state = Mutex(State())
    private let timeout: Duration

    /// A call bounded by `timeout`.
    init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Runs `body` in its own task; returns its value or rethrows its error, or throws ``Ending`` when the deadline
    /// passes or the watched connection closes first. Cancelling the caller cancels `body`'s task.
    func run(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                self.state.withLock { $0.continuation = continuation }
                let work = Task {
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await body())
                    } catch {
                        result = .failure(error)
                    }
                    self.finish(result)
                }
                let timeout = self.timeout
                let timer = Task {
                    do {
                        try await Task.sleep(for: timeout)
                    } catch {
                        return
                    }
                    let leased = self.state.withLock { $0.connection != nil }
                    self.finish(.failure(Ending.timedOut(leased: leased)))
                }
                let finished = self.state.withLock { state -> Bool in
                    state.work = work
                    state.timer = timer
                    return state.result != nil
                }
                if finished { timer.cancel() }
            }
        } onCancel: {
            self.state.withLock { $0.work }?.cancel()
        }
    }

    /// Records the leased connection: a call that ends without its own result closes it. Call it from `body` right
    /// after leasing, and have ``connectionClosed()`` called when the connection closes (``ConnectionCloseWatch``).
    /// - Throws: ``Ending/timedOut(leased:)`` when the call has already ended (its deadline passed during the lease):
    ///   `body` should stop there, and the lease goes back to the pool unused.
    func watch(_ connection: PostgresConnection) throws {
        let finished = state.withLock { state -> Bool in
            guard state.result == nil else { return true }
            state.connection = connection
            return false
        }
        if finished { throw Ending.timedOut(leased: false) }
    }

    /// The leased connection closed: the call ends with ``Ending/connectionClosed`` unless it ended already.
    func connectionClosed() {
        finish(.failure(Ending.connectionClosed))
    }

    private func finish(_ result: Result<T, any Error>) {
        let taken = state.withLock { state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?, Task<Void, Never>?, PostgresConnection?)? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return (state.continuation, state.timer, state.work, state.connection)
        }
        guard let (continuation, timer, work, connection) = taken else { return }
        timer?.cancel()
        if case .failure(let error) = result, error is Ending {
            // Abandoned mid-call: the body is cancelled (what of it honours cancellation ends now), and the
            // connection closed, so nothing commits after the caller was told it failed.
            work?.cancel()
            if let connection, !connection.isClosed { connection.close().whenComplete { _ in } }
        }
        continuation?.resume(with: result)
    }
}

/// One close callback per connection, shared by the calls that lease it in turn. A callback on `closeFuture` cannot
/// be removed, so registering one per call would keep every call of a long-lived pooled connection alive until the
/// connection closes; here each connection gets one, which tells the call that holds the connection at that moment.
final class ConnectionCloseWatch: Sendable {
    private let current = Mutex<[PostgresConnection.ID: Entry]>([:])

    private struct Entry {
        var onClose: (@Sendable () -> Void)?
    }

    /// Until ``release(_:)``, `onClose` runs if `connection` closes.
    func hold(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) {
        let id = connection.id
        let isNew = current.withLock { entries -> Bool in
            let isNew = entries[id] == nil
            entries[id] = Entry(onClose: onClose)
            return isNew
        }
        guard isNew else { return }
        connection.closeFuture.whenComplete { _ in
            let action = self.current.withLock { $0.removeValue(forKey: id)?.onClose }
            action?()
        }
    }

    /// The call holding `connection` ended: its close no longer concerns it.
    func release(_ connection: PostgresConnection) {
        current.withLock { $0[connection.id]?.onClose = nil }
    }
}
#endif
