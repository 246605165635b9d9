import EventBus
import EventBusPostgres
import PostgresNIO
import Synchronization
import TestSupport
import Testing

/// `withTransaction` ends when its connection closes or its deadline passes, whatever its body is awaiting: a
/// PostgreSQL restart under a busy consumer once left every handler waiting for good on queries postgres-nio never
/// answers (a query written to a connection that has already closed is neither failed nor completed).
@Suite(.timeLimit(.minutes(2))) struct PostgresTransactionBoundTests {
    private static let logger = PostgresTestEnvironment.logger

    @Test func aTransactionWhoseBackendIsTerminatedFailsAtOnceAndTheNextOneWorks() async throws {
        try await withPostgresStores { stores in
            // No deadline to speak of: only the closed connection can end this call.
            let store = PostgresEventStore(client: stores[0].client, transactionTimeout: .seconds(3_600), logger: Self.logger)
            let admin = stores[0]
            await #expect {
                _ = try await store.withTransaction { connection -> Int in
                    let pid = try await Self.single(Int32.self, "SELECT pg_backend_pid()", on: connection)
                    try await admin.client.query("SELECT pg_terminate_backend(\(pid))", logger: Self.logger)
                    try? await connection.closeFuture.get()
                    // Written to a closed connection: postgres-nio never answers this one.
                    return try await Self.single(Int.self, "SELECT 1", on: connection)
                }
            } throws: { error in
                guard case EventBusError.storeFailed(let message) = error else { return false }
                return message.contains("connection closed during a transaction")
            }
            let answer = try await store.withTransaction { try await Self.single(Int.self, "SELECT 41 + 1", on: $0) }
            #expect(answer == 42)
        }
    }

    @Test func aTransactionPastItsDeadlineIsAbandonedItsBodyCancelledAndItsConnectionClosed() async throws {
        try await withPostgresStores { stores in
            let store = PostgresEventStore(client: stores[0].client, transactionTimeout: .seconds(5), logger: Self.logger)
            // A connection opened first, so that the deadline bounds the transaction, not connecting on a busy machine.
            _ = try await store.withTransaction { try await Self.single(Int.self, "SELECT 1", on: $0) }
            let key = Int64.random(in: 1...Int64.max)
            let locked = Flag(), cancelled = Flag()
            let used = ConnectionBox()
            await #expect {
                try await store.withTransaction { connection in
                    used.set(connection)
                    try await connection.query("SELECT pg_advisory_xact_lock(\(key))", logger: Self.logger)
                    locked.set()
                    // Stuck on the client side with the transaction open: only the deadline ends the call.
                    do {
                        try await Task.sleep(for: .seconds(3_600))
                    } catch {
                        cancelled.set()
                        throw error
                    }
                }
            } throws: { error in
                guard case EventBusError.storeFailed(let message) = error else { return false }
                return message.contains("did not end within 5.0 seconds") && message.contains("rolled it back")
            }
            #expect(locked.isSet, "the transaction held its lock when it was abandoned")
            // Closed, so PostgreSQL ends the session and rolls the transaction back (its lock goes with it), and
            // nothing of it can commit later; the body was told to stop.
            try await eventually("the abandoned transaction's connection is closed", timeout: .seconds(30)) { used.connection?.isClosed == true }
            try await eventually("the abandoned body is cancelled", timeout: .seconds(30)) { cancelled.isSet }
            let answer = try await store.withTransaction { try await Self.single(Int.self, "SELECT 41 + 1", on: $0) }
            #expect(answer == 42, "the pool replaced the closed connection")
        }
    }

    private static func single<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery, on connection: PostgresConnection) async throws -> T {
        var value: T?
        for try await row in try await connection.query(query, logger: logger).decode(T.self) { value = row }
        return try #require(value)
    }
}

/// A flag one task sets and another reads.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The connection a transaction body ran on, for checking it afterwards.
private final class ConnectionBox: Sendable {
    private let value = Mutex<PostgresConnection?>(nil)
    func set(_ connection: PostgresConnection) { value.withLock { $0 = connection } }
    var connection: PostgresConnection? { value.withLock { $0 } }
}
