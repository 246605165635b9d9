import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// `eventbus dead-letters list|replay|purge` and `eventbus topology` on a dead letter the bus itself wrote.
@Suite(.timeLimit(.minutes(2))) struct DeadLetterCommandTests {
    static let reason = "the price feed rejected this event"
    static let retryDelay = Duration.milliseconds(50)

    /// What a test works on: a stopped service whose queue holds nothing and whose dead-letter queue holds `event`.
    struct World {
        let inspector: Inspector
        let exchange: String
        let queue: String
        let event: PriceChanged
        var deadLetterQueue: String { "\(queue).dead-letter" }
    }

    /// A service that rejects every PriceChanged (NonRetryableError), one event published to it and dead-lettered,
    /// then the service stopped; deletes the queues and the exchange after `body`.
    func withDeadLetter(_ body: (World) async throws -> Void) async throws {
        let exchange = TestEnvironment.unique("cli.exchange")
        let service = try RunningBus(service: TestEnvironment.unique("cli-basket"), exchange: exchange)
        let publisher = try RunningBus(service: TestEnvironment.unique("cli-catalog"), exchange: exchange)
        let options = SubscriptionOptions(retryPolicy: try RetryPolicy(maxDeliveryAttempts: 3, delays: [Self.retryDelay]))
        try await service.bus.subscribe(PriceChanged.self, options: options) { _, _ in throw NonRetryableError(Self.reason) }
        let queue = service.configuration.queue
        let inspector = try await Inspector.open()
        service.start()
        publisher.start()
        do {
            try await inspector.waitForConsumers(queue)
            let event = PriceChanged(productId: 4, newPrice: 8.25, oldPrice: 9)
            try await publisher.bus.publish(event)
            try await eventually("the event is dead-lettered") { try await inspector.messageCount("\(queue).dead-letter") == 1 }
            // The bus acks the original after the dead letter is confirmed: stopping before that ack would have the
            // broker requeue the original (at-least-once), and the service queue would not start empty.
            try await eventually("the bus acknowledged the original", timeout: .seconds(30)) { try await unacknowledged(queue) == 0 }
            await service.stop()
            await publisher.stop()
            try await eventually("the service no longer consumes") { await inspector.consumers(queue) == 0 }
            try await body(World(inspector: inspector, exchange: exchange, queue: queue, event: event))
        } catch {
            await service.stop(); await publisher.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: [Self.retryDelay])
            throw error
        }
        await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: [Self.retryDelay])
    }

    /// The number of messages delivered from `queue` and not yet acknowledged (rabbitmqctl: AMQP cannot tell).
    func unacknowledged(_ queue: String) async throws -> Int? {
        let listing = try await BrokerControl.run(["ctl", "list_queues", "--no-table-headers", "--silent", "name", "messages_unacknowledged"])
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) }
        }
        return nil
    }

    @Test func listShowsTheDeadLetterWithItsReasonAndLeavesItInPlace() async throws {
        try await withDeadLetter { world in
            let result = try await EventBusCLI.run(["dead-letters", "list", "--queue", world.queue])
            #expect(result.status == 0, "\(result.output)")
            let id = world.event.id.uuidString.lowercased()
            #expect(result.output.contains("\(world.deadLetterQueue): 1 dead letter(s)"), "\(result.output)")
            #expect(result.output.contains("#1 PriceChanged id=\(id)"), "\(result.output)")
            #expect(result.output.contains("x-dead-letter-reason: NonRetryable"), "\(result.output)")
            #expect(result.output.contains("x-last-error:") && result.output.contains(Self.reason), "\(result.output)")
            #expect(result.output.contains(#""ProductId":4"#) || result.output.contains(#""productId":4"#), "\(result.output)")
            try await eventually("the dead letter is back in \(world.deadLetterQueue)") {
                try await world.inspector.messageCount(world.deadLetterQueue) == 1
            }
            #expect(try await world.inspector.messageCount(world.queue) == 0)
        }
    }

    @Test func replayMovesTheDeadLetterBackToTheServiceQueueOnly() async throws {
        try await withDeadLetter { world in
            // Another service bound for the same type, after the original delivery: it must not get the event again.
            // (Exclusive: it goes when the inspector's connection closes.)
            let otherQueue = TestEnvironment.unique("cli.other")
            try await world.inspector.channel.queueDeclare(otherQueue, durable: false, exclusive: true)
            try await world.inspector.channel.queueBind(otherQueue, exchange: world.exchange, routingKey: "PriceChanged")

            let result = try await EventBusCLI.run(["dead-letters", "replay", "--queue", world.queue])
            #expect(result.status == 0, "\(result.output)")
            let id = world.event.id.uuidString.lowercased()
            #expect(result.output.contains("replayed PriceChanged \(id) to queue \(world.queue)"), "\(result.output)")
            #expect(result.output.contains("1 dead letter(s) replayed"), "\(result.output)")
            try await eventually("the service queue holds the event") { try await world.inspector.messageCount(world.queue) == 1 }
            #expect(try await world.inspector.messageCount(world.deadLetterQueue) == 0)
            #expect(try await world.inspector.messageCount(otherQueue) == 0)

            let delivery = try #require(try await world.inspector.drain(world.queue).first)
            #expect(delivery.properties.messageID == id)
            #expect(delivery.properties.type == "PriceChanged")
            #expect(delivery.headers["x-dead-letter-reason"] == nil)
            #expect(delivery.headers["x-delivery-attempts"] == nil)
            var replayed = try EventCodec().decode(PriceChanged.self, from: delivery.body)
            #expect(abs(replayed.creationDate.timeIntervalSince(world.event.creationDate)) < 0.000_000_2)
            replayed.creationDate = world.event.creationDate
            #expect(replayed == world.event)
        }
    }

    @Test func showPrintsTheChosenDeadLetterInFullAndReplayByIDTakesOnlyThatOne() async throws {
        try await withDeadLetter { world in
            // A second dead letter, put there by hand, that neither command may take.
            let other = UUID().uuidString.lowercased()
            try await world.inspector.channel.publish(
                Data(#"{"productId":7,"newPrice":1,"oldPrice":2}"#.utf8), exchange: "", routingKey: world.deadLetterQueue,
                properties: AMQPProperties(messageID: other, type: "PriceChanged"))
            try await eventually("two dead letters") { try await world.inspector.messageCount(world.deadLetterQueue) == 2 }
            let id = world.event.id.uuidString.lowercased()

            let shown = try await EventBusCLI.run(["dead-letters", "show", "--queue", world.queue, "--id", id])
            #expect(shown.status == 0, "\(shown.output)")
            #expect(shown.output.contains("PriceChanged id=\(id)"), "\(shown.output)")
            #expect(shown.output.contains("x-dead-letter-reason: NonRetryable"), "\(shown.output)")
            #expect(shown.output.lowercased().contains(#""productid" : 4"#), "\(shown.output)")
            #expect(!shown.output.contains(other), "\(shown.output)")
            try await eventually("both dead letters are back") { try await world.inspector.messageCount(world.deadLetterQueue) == 2 }

            let unknown = UUID().uuidString.lowercased()
            let missing = try await EventBusCLI.run(["dead-letters", "show", "--queue", world.queue, "--id", unknown])
            #expect(missing.failed)
            #expect(missing.output.contains("no dead letter with id \(unknown) in \(world.deadLetterQueue) (2 dead letter(s))"), "\(missing.output)")

            let replayed = try await EventBusCLI.run(["dead-letters", "replay", "--queue", world.queue, "--id", id])
            #expect(replayed.status == 0, "\(replayed.output)")
            #expect(replayed.output.contains("1 dead letter(s) replayed"), "\(replayed.output)")
            try await eventually("the service queue holds the event") { try await world.inspector.messageCount(world.queue) == 1 }
            try await eventually("the other dead letter is back") { try await world.inspector.messageCount(world.deadLetterQueue) == 1 }
            #expect(try await world.inspector.drain(world.queue).map(\.properties.messageID) == [id])
            #expect(try await world.inspector.drain(world.deadLetterQueue).map(\.properties.messageID) == [other])
        }
    }

    @Test func listingAQuorumDeadLetterQueueTwiceShowsTheSameDeadLettersInTheSameOrder() async throws {
        let queue = TestEnvironment.unique("cli-quorum")
        let deadLetterQueue = "\(queue).dead-letter"
        let inspector = try await Inspector.open()
        let ids = (0..<5).map { _ in UUID().uuidString.lowercased() }
        var listings: [[String]] = []
        do {
            try await inspector.channel.queueDeclare(deadLetterQueue, arguments: ["x-queue-type": "quorum"])
            for id in ids {
                try await inspector.channel.publish(
                    Data(#"{"productId":1}"#.utf8), exchange: "", routingKey: deadLetterQueue,
                    properties: AMQPProperties(deliveryMode: .persistent, messageID: id, type: "PriceChanged"))
            }
            for _ in 0..<2 {
                let result = try await EventBusCLI.run(["dead-letters", "list", "--queue", queue])
                #expect(result.status == 0, "\(result.output)")
                let shown = ids.compactMap { id in result.output.range(of: "id=\(id)").map { (at: $0.lowerBound, id: id) } }
                listings.append(shown.sorted { $0.at < $1.at }.map(\.id))
                try await eventually("the dead letters are back") { try await inspector.messageCount(deadLetterQueue) == 5 }
            }
        } catch {
            await inspector.cleanUp(queue: queue, exchange: TestEnvironment.unique("unused"))
            throw error
        }
        await inspector.cleanUp(queue: queue, exchange: TestEnvironment.unique("unused"))
        #expect(listings == [ids, ids])
    }

    @Test func purgeAsksForYesThenEmptiesTheDeadLetterQueue() async throws {
        try await withDeadLetter { world in
            let refused = try await EventBusCLI.run(["dead-letters", "purge", "--queue", world.queue])
            #expect(refused.failed)
            #expect(refused.output.contains("add --yes"), "\(refused.output)")
            #expect(try await world.inspector.messageCount(world.deadLetterQueue) == 1)

            let result = try await EventBusCLI.run(["dead-letters", "purge", "--queue", world.queue, "--yes"])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("purged 1 dead letter(s) from \(world.deadLetterQueue)"), "\(result.output)")
            #expect(try await world.inspector.messageCount(world.deadLetterQueue) == 0)
        }
    }

    @Test func topologyShowsTheServiceQueueItsDeadLettersAndRetryQueue() async throws {
        let delay = String(Self.retryDelay.milliseconds)
        try await withDeadLetter { world in
            let result = try await EventBusCLI.run(["topology", "--queue", world.queue, "--retry-delays", delay])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("\(world.queue): 0 ready, 0 consumer(s)"), "\(result.output)")
            #expect(result.output.contains("\(world.deadLetterQueue): 1 ready, 0 consumer(s)"), "\(result.output)")
            #expect(result.output.contains("\(world.queue).retry.\(delay): 0 ready"), "\(result.output)")
        }
    }

    @Test(arguments: [
        ["dead-letters", "list"], ["dead-letters", "show", "--id", "0f6c3a52-8f7e-4e44-9d36-3f0b8d0f6a11"], ["dead-letters", "replay"],
        ["dead-letters", "purge", "--yes"], ["topology"],
    ])
    func unknownQueueIsNamedInTheError(command: [String]) async throws {
        let queue = TestEnvironment.unique("cli.missing")
        let result = try await EventBusCLI.run(command + ["--queue", queue])
        #expect(result.failed)
        let missing = command == ["topology"] ? queue : "\(queue).dead-letter"
        #expect(result.output.contains("no queue '\(missing)' on the broker"), "\(result.output)")
    }
}
