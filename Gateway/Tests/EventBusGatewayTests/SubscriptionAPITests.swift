import EventBus
import EventBusGateway
import EventBusSQLite
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct SubscriptionAPITests {
    @Test func batchesHoldAtMostMaxEventsAndAFailingBatchIsRetriedWhole() async throws {
        let receiver = try await TestReceiver(script: { number in number == 1 ? .status(503) : .status(200) })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        var subscription = hook(receiver, type: type)
        subscription.batch = .init(maxEventsPerBatch: 5, preferredBatchSizeInKilobytes: 64)
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(subscriptions: ["batches": subscription])
        try await gateway.waitForSubscriptions(["batches"], inspector: inspector)
        let ids = (0..<12).map { _ in UUID().uuidString.lowercased() }
        try await gateway.publish(ids.map { cloudEvent(id: $0, type: type) })
        // The first (failed) batch counts as seen: wait for its retry too, not only for every id once.
        try await eventually("every event delivered, the failed batch again") {
            let notifications = receiver.notifications
            guard let first = notifications.first else { return false }
            let later = Set(notifications.dropFirst().flatMap(\.ids))
            return Set(receiver.deliveredIDs) == Set(ids) && Set(first.ids).isSubset(of: later)
        }
        let notifications = receiver.notifications
        #expect(notifications.allSatisfy { $0.ids.count <= 5 && $0.headers["content-type"] == "application/cloudevents-batch+json" })
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: ["batches"])
    }

    @Test func subscriptionsArePutReadAndDeletedOverHTTPAndKeptInTheStore() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("gateway"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("gateway.sqlite").path)
        let subscriptions = SQLiteSubscriptionStore(store: store)
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(stores: (subscriptions, store))
        var definition = hook(receiver, type: type, secret: "receiver-secret-0123456789")
        definition.advancedFilters = [AdvancedFilter(.numberGreaterThan, key: "data.price", value: .integer(5))]
        let put = try await gateway.request(.PUT, "/api/subscriptions/hooks", body: try JSONEncoder().encode(definition), contentType: "application/json")
        #expect(put.status == 201)
        #expect(try await subscriptions.all()["hooks"] == definition)
        try await gateway.waitForSubscriptions(["hooks"], inspector: inspector)
        let read = try await gateway.request(.GET, "/api/subscriptions/hooks")
        #expect(read.status == 200)
        #expect(try JSONValue.parse(read.body).value(atPath: "properties.secret") == .string("<redacted>"))
        let cheap = UUID().uuidString.lowercased(), dear = UUID().uuidString.lowercased()
        try await gateway.publish([cloudEvent(id: cheap, type: type, data: .object(["price": .integer(3)])), cloudEvent(id: dear, type: type, data: .object(["price": .integer(9)]))])
        try await eventually("the event passing the filter arrives") { receiver.deliveredIDs.contains(dear) }
        try await eventually("both acknowledged") { try await inspector.messageCount(gateway.queue("hooks")) == 0 }
        #expect(receiver.deliveredIDs == [dear])
        var invalid = definition
        invalid.batch = .init(maxEventsPerBatch: 0)
        let refused = try await gateway.request(.PUT, "/api/subscriptions/hooks", body: try JSONEncoder().encode(invalid), contentType: "application/json")
        #expect(refused.status == 400)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("maxEventsPerBatch"))
        #expect(try await gateway.request(.DELETE, "/api/subscriptions/hooks").status == 204)
        #expect(try await gateway.request(.GET, "/api/subscriptions/hooks").status == 404)
        #expect(try await subscriptions.all().isEmpty)
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: ["hooks"])
    }

    @Test func healthAnswersWithoutAKey() async throws {
        let gateway = try await GatewayHarness()
        try await eventually("healthy") { try await gateway.request(.GET, "/health", headers: []).status == 200 }
        await gateway.cleanUp(subscriptions: [])
    }
}
