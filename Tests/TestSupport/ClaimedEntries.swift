import EventBus
import Foundation
import Testing

/// Checks what `save(…, claimForPublisher: true)` committed for `events` (`entries` is what save returned; `entry`
/// reads a row back): every row `InProgress` with times sent 1, counted as pending, not due for the relay until it
/// is stale, and then claimed in save order (times sent 2).
public func expectClaimedForThePublisher(
    _ entries: [IntegrationEventLogEntry], of events: [PriceChanged], in log: any IntegrationEventLog,
    entry: (UUID) async throws -> IntegrationEventLogEntry?, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    #expect(entries.map(\.state) == events.map { _ in .inProgress }, sourceLocation: sourceLocation)
    #expect(entries.map(\.timesSent) == events.map { _ in 1 }, sourceLocation: sourceLocation)
    for event in events {
        let saved = try #require(try await entry(event.id), sourceLocation: sourceLocation)
        #expect(saved.state == .inProgress, sourceLocation: sourceLocation)
        #expect(saved.timesSent == 1, sourceLocation: sourceLocation)
    }
    #expect(try await log.pendingSummary().count == events.count, sourceLocation: sourceLocation)
    #expect(try await log.claimPending(limit: 10, staleAfter: .seconds(3_600), now: Date()).isEmpty, sourceLocation: sourceLocation)
    let stale = try await log.claimPending(limit: 10, staleAfter: .seconds(3_600), now: Date().addingTimeInterval(7_200))
    #expect(stale.map(\.eventID) == events.map(\.id), sourceLocation: sourceLocation)
    #expect(stale.map(\.timesSent) == events.map { _ in 2 }, sourceLocation: sourceLocation)
}
