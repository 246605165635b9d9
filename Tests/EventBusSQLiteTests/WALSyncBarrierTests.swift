import EventBus
import Foundation
import TestSupport
import Testing

@testable import EventBusSQLite

@Suite(.timeLimit(.minutes(1))) struct WALSyncBarrierTests {
    @Test func manyConcurrentCallersAreAllServedAndAReplacedLogIsReopened() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("x.sqlite").path
        let barrier = WALSyncBarrier(databasePath: database)
        #expect(barrier.walPath == database + "-wal")

        // No log yet: a clear error, which the store answers with a checkpoint.
        await #expect(throws: WALSyncBarrier.Unavailable.self) { try await barrier.sync() }

        try Data("frames".utf8).write(to: URL(fileURLWithPath: barrier.walPath))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { try await barrier.sync() } }
            try await group.waitForAll()
        }
        // The log deleted and created again (a new inode): the barrier syncs the new file, not the old one.
        try FileManager.default.removeItem(atPath: barrier.walPath)
        await #expect(throws: WALSyncBarrier.Unavailable.self) { try await barrier.sync() }
        try Data("frames again".utf8).write(to: URL(fileURLWithPath: barrier.walPath))
        try await barrier.sync()
    }

    @Test func aStoreMarksEventsInProgressWithoutTheWriterWaitingForTheDisk() async throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("outbox.sqlite").path)
        let events = (1...50).map { PriceChanged(productId: $0, newPrice: Decimal($0), oldPrice: 1) }
        let entries = try await store.write { db in try SQLiteEventStore.save(events, in: db) }
        #expect(entries.map(\.eventID) == events.map(\.id))
        // Concurrent claims share syncs and each gets exactly its own events.
        let marked = try await withThrowingTaskGroup(of: Set<UUID>.self) { group in
            for entry in entries { group.addTask { try await store.markInProgress(eventIDs: [entry.eventID], now: Date()) } }
            var all: [Set<UUID>] = []
            for try await set in group { all.append(set) }
            return all
        }
        #expect(marked.count == 50)
        #expect(marked.allSatisfy { $0.count == 1 })
        #expect(Set(marked.flatMap { $0 }) == Set(events.map(\.id)))
        for event in events { #expect(try await store.entry(eventID: event.id)?.state == .inProgress) }
    }
}
