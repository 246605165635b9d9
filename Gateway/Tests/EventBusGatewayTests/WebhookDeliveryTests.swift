import EventBus
import EventBusGateway
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import TestSupport
import Testing

/// The gateway against the real broker and a receiver in this process (127.0.0.1, with the private-range opt-in).
@Suite(.timeLimit(.minutes(3))) struct WebhookDeliveryTests {
    /// Runs `body` with a started gateway whose subscriptions' queues are consumed; cleans up after.
    func withGateway(
        _ subscriptions: [String: WebhookSubscription],
        stores: (subscriptions: any SubscriptionStore, processed: any ProcessedMessageStore) = (InMemorySubscriptionStore(), InMemoryProcessedMessageStore()),
        _ body: (GatewayHarness, Inspector) async throws -> Void
    ) async throws {
        let inspector = try await Inspector.open()
        let gateway = try await GatewayHarness(subscriptions: subscriptions, stores: stores)
        do {
            try await gateway.waitForSubscriptions(Array(subscriptions.keys), inspector: inspector)
            try await body(gateway, inspector)
        } catch {
            await inspector.connection.close()
            await gateway.cleanUp(subscriptions: Array(subscriptions.keys))
            throw error
        }
        await inspector.connection.close()
        await gateway.cleanUp(subscriptions: Array(subscriptions.keys))
    }

    @Test func anEventAnswered200IsDeliveredOnceSignedAndInCloudEventsForm() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        let secret = "receiver-secret-0123456789"
        try await withGateway(["prices": hook(receiver, type: type, secret: secret)]) { gateway, inspector in
            let id = UUID().uuidString.lowercased()
            try await gateway.publish([cloudEvent(id: id, type: type, subject: "items/1")])
            try await eventually("the receiver gets the event") { receiver.deliveredIDs == [id] }
            try await eventually("the delivery is acknowledged") { try await inspector.messageCount(gateway.queue("prices")) == 0 }
            let received = receiver.notifications[0]
            #expect(received.headers["content-type"] == "application/cloudevents+json")
            #expect(WebhookSignature.verify(header: received.headers[WebhookSignature.headerName], body: received.body, secret: secret))
            var tampered = received.body
            tampered[tampered.startIndex] = UInt8(ascii: " ")
            #expect(!WebhookSignature.verify(header: received.headers[WebhookSignature.headerName], body: tampered, secret: secret))
            guard case .object(let event) = try JSONValue.parse(received.body) else { Issue.record("not an object"); return }
            #expect(event["type"] == .string(type) && event["subject"] == .string("items/1") && event["data"] == .object(["price": .integer(10)]))
            #expect(receiver.handshakes >= 1)
            #expect(receiver.deliveredIDs == [id])
        }
    }

    @Test func requestsWithoutAKeyOrWithAnInvalidEventPublishNothing() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withGateway(["prices": hook(receiver, type: type)]) { gateway, inspector in
            let good = cloudEvent(type: type)
            let unauthorized = try await gateway.request(.POST, "/api/events", body: JSONValue.array([good]).jsonData(), headers: [("aeg-sas-key", "wrong-key-0123456789")])
            #expect(unauthorized.status == 401)
            let bearer = try await gateway.request(.GET, "/api/subscriptions", headers: [("authorization", "Bearer \(GatewayHarness.key)")])
            #expect(bearer.status == 200)
            let bad: JSONValue = .object(["specversion": .string("1.0"), "id": .string("no-source"), "type": .string(type)])
            let rejected = try await gateway.request(.POST, "/api/events", body: JSONValue.array([good, bad]).jsonData())
            #expect(rejected.status == 400)
            guard case .object(let problem) = try JSONValue.parse(rejected.body), case .array(let errors)? = problem["errors"] else {
                Issue.record("no problem body"); return
            }
            #expect(errors == [.object(["index": .integer(1), "id": .string("no-source"), "field": .string("source"), "message": errors[0].value(atPath: "message") ?? .null])])
            // A later good event arrives first and alone: nothing of the rejected request was published.
            let later = UUID().uuidString.lowercased()
            try await gateway.publish([cloudEvent(id: later, type: type)])
            try await eventually("the later event arrives") { receiver.deliveredIDs.contains(later) }
            #expect(receiver.deliveredIDs == [later])
        }
    }

    @Test func aFailingEndpointIsRetriedAndGetsTheEventOnTheThirdAttempt() async throws {
        let receiver = try await TestReceiver(script: { number in number <= 2 ? .status(500) : .status(200) })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withGateway(["prices": hook(receiver, type: type, attempts: 5)]) { gateway, inspector in
            let id = UUID().uuidString.lowercased()
            try await gateway.publish([cloudEvent(id: id, type: type)])
            try await eventually("three attempts") { receiver.notifications.count == 3 }
            #expect(receiver.notifications.map { $0.headers["aeg-delivery-count"] } == ["0", "1", "2"])
            try await eventually("acknowledged") { try await inspector.messageCount(gateway.queue("prices")) == 0 }
            #expect(try await inspector.messageCount(RabbitMQTopology(queue: gateway.queue("prices")).deadLetterQueue) == 0)
            #expect(receiver.deliveredIDs == [id, id, id])
        }
    }

    @Test func a400IsDeadLetteredAtOnceWithItsStatus() async throws {
        let receiver = try await TestReceiver(script: { _ in .status(400) })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withGateway(["prices": hook(receiver, type: type, attempts: 5)]) { gateway, inspector in
            let id = UUID().uuidString.lowercased()
            try await gateway.publish([cloudEvent(id: id, type: type)])
            let queue = RabbitMQTopology(queue: gateway.queue("prices")).deadLetterQueue
            try await eventually("dead-lettered") { try await inspector.messageCount(queue) == 1 }
            let letters = try await deadLetters(gateway.queue("prices"), inspector)
            let letter = try #require(WebhookDeadLetter(headers: letters[0].headers))
            #expect(letter.deadLetterReason == DeadLetterReason.nonRetryable.rawValue)
            #expect(letter.lastHttpStatusCode == 400 && letter.lastDeliveryOutcome == .badRequest && letter.deliveryAttempts == 1)
            #expect(letter.publishTime != nil && letter.lastDeliveryAttemptTime != nil)
            // Event Grid's fields travel as headers of their own (DeadLetterDetails), not inside x-last-error.
            #expect(letters[0].headers[WebhookDeadLetterHeaders.lastHttpStatusCode] == "400")
            #expect(letters[0].headers[WebhookDeadLetterHeaders.lastDeliveryOutcome] == "BadRequest")
            #expect(letters[0].headers[WebhookDeadLetterHeaders.lastDeliveryAttemptTime].flatMap(EventDate.parse) != nil)
            #expect(letter.lastError.contains("the endpoint answered 400") && !letter.lastError.contains("{"))
            #expect(receiver.notifications.count == 1)
        }
    }

    @Test func anEndpointThatNeverAnswersTimesOutUntilMaxDeliveryAttemptsExceeded() async throws {
        let receiver = try await TestReceiver(script: { _ in .hang })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withGateway(["prices": hook(receiver, type: type, attempts: 3, timeoutSeconds: 1)]) { gateway, inspector in
            try await gateway.publish([cloudEvent(type: type)])
            try await eventually("dead-lettered") { try await inspector.messageCount(RabbitMQTopology(queue: gateway.queue("prices")).deadLetterQueue) == 1 }
            let letter = try #require(WebhookDeadLetter(headers: try await deadLetters(gateway.queue("prices"), inspector)[0].headers))
            #expect(letter.deadLetterReason == DeadLetterReason.maxDeliveryAttemptsExceeded.rawValue)
            #expect(letter.deliveryAttempts == 3 && letter.lastDeliveryOutcome == .timedOut && letter.lastHttpStatusCode == nil)
            #expect(receiver.notifications.count == 3)
        }
    }

    @Test func theValidationHandshakeGatesDelivery() async throws {
        // The first three handshakes are refused; the event published meanwhile waits for the fourth.
        let receiver = try await TestReceiver(validates: { number in number >= 4 })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withGateway(["prices": hook(receiver, type: type)]) { gateway, inspector in
            let id = UUID().uuidString.lowercased()
            try await gateway.publish([cloudEvent(id: id, type: type)])
            try await eventually("delivered after validation") { receiver.deliveredIDs == [id] }
            let validated = try #require(receiver.validatedAt)
            #expect(receiver.handshakes == 4)
            #expect(receiver.notifications[0].at > validated)
        }
    }

    @Test func aPrivateAddressIsRefusedWithoutTheOptIn() async throws {
        let receiver = try await TestReceiver()
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        try await withGateway(["prices": hook(receiver, type: type, handshake: false, allowPrivate: false)]) { gateway, inspector in
            try await gateway.publish([cloudEvent(type: type)])
            try await eventually("dead-lettered") { try await inspector.messageCount(RabbitMQTopology(queue: gateway.queue("prices")).deadLetterQueue) == 1 }
            let letter = try #require(WebhookDeadLetter(headers: try await deadLetters(gateway.queue("prices"), inspector)[0].headers))
            #expect(letter.lastDeliveryOutcome == .endpointRefused && letter.deadLetterReason == DeadLetterReason.nonRetryable.rawValue)
            #expect(receiver.notifications.isEmpty && receiver.handshakes == 0)
        }
    }

    @Test func aGatewayStoppedMidDeliveryDeliversEveryEventAfterRestart() async throws {
        // The receiver holds the 3rd request forever: the first gateway is stopped while it waits.
        let receiver = try await TestReceiver(script: { number in number == 3 ? .hang : .status(200) })
        defer { Task { await receiver.stop() } }
        let type = TestEnvironment.unique("PriceChanged")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("gateway"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteEventStore(path: directory.appendingPathComponent("gateway.sqlite").path)
        let stores: (subscriptions: any SubscriptionStore, processed: any ProcessedMessageStore) = (SQLiteSubscriptionStore(store: store), store)
        let subscription = hook(receiver, type: type)
        let inspector = try await Inspector.open()
        let first = try await GatewayHarness(subscriptions: ["prices": subscription], stores: stores)
        try await first.waitForSubscriptions(["prices"], inspector: inspector)
        let ids = (0..<10).map { _ in UUID().uuidString.lowercased() }
        try await first.publish(ids.map { cloudEvent(id: $0, type: type) })
        try await eventually("the third request hangs") { receiver.notifications.count == 3 }
        await first.stop()
        let second = try await GatewayHarness(exchange: first.exchange, prefix: first.prefix, subscriptions: ["prices": subscription], stores: stores)
        try await eventually("every event delivered after the restart") { Set(receiver.deliveredIDs) == Set(ids) }
        await inspector.connection.close()
        await second.cleanUp(subscriptions: ["prices"])
    }
}
