import BasketService
import Foundation
import HummingbirdTesting
import SampleSupport
import TestSupport
import Testing

/// The basket records the id of every event it handles (`processed_messages`); without pruning that table grows
/// forever. The running service forgets ids older than its retention (twice the event time-to-live, at least 2 days)
/// and keeps the recent ones.
@Suite("Processed-message pruning in the samples")
struct ProcessedMessagePruningTests {
    @Test(arguments: ["sqlite", "postgres"])
    func basketServicePrunesAnOldProcessedIdAndKeepsARecentOne(store: String) async throws {
        let world = SampleWorld()
        let location: DatabaseLocation = store == "sqlite"
            ? .sqlite(path: try SamplesEnvironment.sqlitePath("basket"))
            : .postgres(url: try await TemporaryPostgresDatabase.create("basket_\(world.id)"))
        let consumer = "\(world.basketService).ProductPriceChangedIntegrationEvent"
        let old = UUID().uuidString.lowercased()
        let recent = UUID().uuidString.lowercased()
        let logger = SamplesEnvironment.logger("pruning")
        // Written as an older run of the service left them: one id 30 days old, one from an hour ago.
        let database = try await SampleDatabase.open(location, logger: logger) { database in
            let ids = database.processedMessages
            try await ids.markProcessed(consumer: consumer, messageID: old, at: Date().addingTimeInterval(-30 * 86_400))
            try await ids.markProcessed(consumer: consumer, messageID: recent, at: Date().addingTimeInterval(-3_600))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in database.services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            let ids = database.processedMessages
            #expect(try await ids.contains(consumer: consumer, messageID: old), "the old id is there before the service runs")
            let basket = try await world.basketApplication(location)
            try await basket.test(.router) { basket in
                try await basket.waitUntilHealthy()
                try await eventually("the basket service forgets the 30-day-old id") {
                    try await !ids.contains(consumer: consumer, messageID: old)
                }
            }
            #expect(try await ids.contains(consumer: consumer, messageID: recent), "an id younger than the retention stays")
        }
        if store == "postgres" { try await TemporaryPostgresDatabase.drop("basket_\(world.id)") }
        await world.cleanUp()
    }
}
