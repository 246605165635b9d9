import EventBus
import EventBusGateway
import EventBusPostgres
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// Waits until `count` callers arrived, then lets them all go: proves that many requests were in flight at once.
actor InFlightBarrier {
    let count: Int
    private var arrived = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { self.count = count }

    func arrive() async {
        arrived += 1
        if arrived >= count {
            for waiter in waiting { waiter.resume() }
            waiting = []
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}

@Suite(.timeLimit(.minutes(3))) struct GatewayCoverageTests {
    @Test func subscriptionsArePutReadAndDeletedInThePostgreSQLStoreAndStartAgainFromIt() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withPostgresStores { stores in
            let subscriptions = PostgresSubscriptionStore(store: stores[0])
            let inspector = try await Inspector.open()
            let first = try await GatewayHarness(stores: (subscriptions, stores[0]))
            let definition = hook(receiver, type: type, secret: "receiver-secret-0123456789")
            let put = try await first.request(.PUT, "/api/subscriptions/hooks", body: try JSONEncoder().encode(definition), contentType: "application/json")
            #expect(put.status == 201)
            #expect(try await subscriptions.all()["hooks"] == definition)
            await first.stop()
            // A second gateway on the same database starts the stored subscription by itself.
            let second = try await GatewayHarness(exchange: first.exchange, prefix: first.prefix, stores: (subscriptions, stores[0]))
            try await second.waitForSubscriptions(["hooks"], inspector: inspector)
            let read = try await second.request(.GET, "/api/subscriptions/hooks")
            #expect(read.status == 200)
            #expect(try JSONValue.parse(read.body).value(atPath: "origin") == .string("api"))
            #expect(try JSONValue.parse(read.body).value(atPath: "deadLetterQueue") == .string(RabbitMQTopology(queue: second.queue("hooks")).deadLetterQueue))
            #expect(try JSONValue.parse(read.body).value(atPath: "properties.secret") == .string("<redacted>"))
            let id = UUID().uuidString.lowercased()
            try await second.publish([cloudEvent(id: id, type: type)])
            try await eventually("delivered by the restarted subscription") { receiver.deliveredIDs == [id] }
            #expect(try await second.request(.DELETE, "/api/subscriptions/hooks").status == 204)
            #expect(try await second.request(.GET, "/api/subscriptions/hooks").status == 404)
            #expect(try await subscriptions.all().isEmpty)
            await inspector.connection.close()
            await second.cleanUp(subscriptions: ["hooks"])
        }
    }

    @Test func batchesStayWithinThePreferredSize() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        var subscription = hook(receiver, type: type)
        // Each event's data is over 1 100 bytes: 4 KB hold at most 3 of them, though 100 are allowed.
        subscription.batch = .init(maxEventsPerBatch: 100, preferredBatchSizeInKilobytes: 4)
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(subscriptions: ["sized": subscription])
        try await gateway.waitForSubscriptions(["sized"], inspector: inspector)
        let padding = String(repeating: "p", count: 1_100)
        let ids = (0..<30).map { _ in UUID().uuidString.lowercased() }
        try await gateway.publish(ids.map { cloudEvent(id: $0, type: type, data: .object(["padding": .string(padding)])) })
        try await eventually("every event delivered") { Set(receiver.deliveredIDs) == Set(ids) }
        let sizes = receiver.notifications.map(\.ids.count)
        #expect(sizes.allSatisfy { (1...3).contains($0) }, "batch sizes \(sizes)")
        #expect(sizes.contains { $0 >= 2 }, "no batch held more than one event: \(sizes)")
        #expect(receiver.deliveredIDs.count == ids.count)
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: ["sized"])
    }

    @Test func aSubscriptionWithConcurrencyFourHasFourRequestsInFlight() async throws {
        // Each request is answered only once four are in flight: with one at a time nothing would ever be answered.
        let barrier = InFlightBarrier(count: 4)
        let receiver = try await TestReceiver(script: { _ in .after { await barrier.arrive() } })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        var subscription = hook(receiver, type: type)
        subscription.maxConcurrentDeliveries = 4
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(subscriptions: ["parallel": subscription])
        try await gateway.waitForSubscriptions(["parallel"], inspector: inspector)
        let ids = (0..<4).map { _ in UUID().uuidString.lowercased() }
        try await gateway.publish(ids.map { cloudEvent(id: $0, type: type) })
        try await eventually("four requests in flight, then all answered") { Set(receiver.deliveredIDs) == Set(ids) }
        try await eventually("acknowledged") { try await inspector.messageCount(gateway.queue("parallel")) == 0 }
        #expect(receiver.deliveredIDs.count == 4)
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: ["parallel"])
    }

    @Test func aSlowEndpointDoesNotDelayAnotherSubscription() async throws {
        let slow = try await TestReceiver(script: { _ in .hang })
        let fast = try await TestReceiver()
        defer { Task { await slow.stop(); await fast.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(subscriptions: ["slow": hook(slow, type: type), "fast": hook(fast, type: type)])
        try await gateway.waitForSubscriptions(["slow", "fast"], inspector: inspector)
        let ids = (0..<5).map { _ in UUID().uuidString.lowercased() }
        try await gateway.publish(ids.map { cloudEvent(id: $0, type: type) })
        try await eventually("the fast subscription gets every event") { fast.deliveredIDs == ids }
        // The slow one still holds its first request (concurrency 1, in order): nothing else reached it.
        #expect(slow.deliveredIDs == [ids[0]])
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: ["slow", "fast"])
    }

    @Test func aGatewayThatCannotStartTellsWhoeverWaitsForItsPortWhy() async throws {
        var configuration = GatewayConfiguration(brokerURL: TestEnvironment.brokerURL, keys: [GatewayHarness.key])
        configuration.port = 0
        configuration.maxEventSize = 8_192
        configuration.maxRequestSize = 1_024    // smaller than one event: refused by validation
        let gateway = GatewayService(
            configuration: configuration, stores: (InMemorySubscriptionStore(), InMemoryProcessedMessageStore()),
            logger: TestLogging.logger("test.gateway"))
        let run = Task { try await gateway.run() }
        await #expect {
            _ = try await gateway.listeningPort()
        } throws: { error in
            guard case GatewayError.notListening(let reason) = error else { return false }
            return reason.contains("stopped before listening")
        }
        await #expect(throws: (any Error).self) { try await run.value }
        // Asked again after the end: the same answer at once.
        await #expect(throws: (any Error).self) { _ = try await gateway.listeningPort() }
    }

    @Test func aRequestOverTheMaximumSizeIsAnswered413AndPublishesNothing() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(subscriptions: ["sized": hook(receiver, type: type)]) {
            $0.maxEventSize = 1_024
            $0.maxRequestSize = 4_096
        }
        try await gateway.waitForSubscriptions(["sized"], inspector: inspector)
        let big = cloudEvent(type: type, data: .object(["padding": .string(String(repeating: "x", count: 8_192))]))
        let answer = try await gateway.request(.POST, "/api/events", body: JSONValue.array([big]).jsonData())
        #expect(answer.status == 413)
        #expect(String(decoding: answer.body, as: UTF8.self).contains("at most 4096 bytes"))
        let small = UUID().uuidString.lowercased()
        try await gateway.publish([cloudEvent(id: small, type: type)])
        try await eventually("the small event arrives") { receiver.deliveredIDs.contains(small) }
        #expect(receiver.deliveredIDs == [small])
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: ["sized"])
    }
}
