import Foundation
import Synchronization

/// Group commit for the publisher's state changes: concurrent `markInProgress` / `markPublished` requests that arrive
/// while one transaction is running are merged into the next one, so many services' commits cost one store
/// transaction (and one fsync) per round instead of one each.
final class OutboxMarkBatcher: Sendable {
    private struct InProgressRequest {
        let eventIDs: [UUID]
        let continuation: CheckedContinuation<Set<UUID>, any Error>
    }

    private struct PublishedRequest {
        let eventIDs: [UUID]
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var inProgress: [InProgressRequest] = []
        var published: [PublishedRequest] = []
        var flushingInProgress = false
        var flushingPublished = false
    }

    /// Most events one merged transaction carries.
    static let maximumBatch = 1_000

    private let log: any IntegrationEventLog
    private let state = Mutex(State())

    init(log: any IntegrationEventLog) {
        self.log = log
    }

    /// Marks `eventIDs` `InProgress` in the next merged transaction; returns those it marked.
    func markInProgress(_ eventIDs: [UUID]) async throws -> Set<UUID> {
        try await withCheckedThrowingContinuation { continuation in
            let startFlush = state.withLock { state -> Bool in
                state.inProgress.append(InProgressRequest(eventIDs: eventIDs, continuation: continuation))
                guard !state.flushingInProgress else { return false }
                state.flushingInProgress = true
                return true
            }
            if startFlush { Task { await self.flushInProgress() } }
        }
    }

    /// Marks `eventIDs` `Published` in the next merged transaction.
    func markPublished(_ eventIDs: [UUID]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startFlush = state.withLock { state -> Bool in
                state.published.append(PublishedRequest(eventIDs: eventIDs, continuation: continuation))
                guard !state.flushingPublished else { return false }
                state.flushingPublished = true
                return true
            }
            if startFlush { Task { await self.flushPublished() } }
        }
    }

    private func flushInProgress() async {
        while true {
            let batch = state.withLock { state -> [InProgressRequest] in
                let taken = Self.take(&state.inProgress) { $0.eventIDs.count }
                if taken.isEmpty { state.flushingInProgress = false }
                return taken
            }
            if batch.isEmpty { return }
            do {
                let marked = try await log.markInProgress(eventIDs: batch.flatMap(\.eventIDs), now: Date())
                for request in batch { request.continuation.resume(returning: marked.intersection(request.eventIDs)) }
            } catch {
                for request in batch { request.continuation.resume(throwing: error) }
            }
        }
    }

    private func flushPublished() async {
        while true {
            let batch = state.withLock { state -> [PublishedRequest] in
                let taken = Self.take(&state.published) { $0.eventIDs.count }
                if taken.isEmpty { state.flushingPublished = false }
                return taken
            }
            if batch.isEmpty { return }
            do {
                try await log.markPublished(eventIDs: batch.flatMap(\.eventIDs))
                for request in batch { request.continuation.resume() }
            } catch {
                for request in batch { request.continuation.resume(throwing: error) }
            }
        }
    }

    /// Takes requests from the front of `queue` up to ``maximumBatch`` events (at least one request).
    private static func take<Request>(_ queue: inout [Request], size: (Request) -> Int) -> [Request] {
        var total = 0
        var count = 0
        while count < queue.count {
            let next = size(queue[count])
            if count > 0, total + next > maximumBatch { break }
            total += next
            count += 1
        }
        let taken = Array(queue.prefix(count))
        queue.removeFirst(count)
        return taken
    }
}
