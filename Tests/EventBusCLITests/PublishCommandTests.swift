import AMQP
import EventBus
import Foundation
import TestSupport
import Testing

/// `eventbus publish` and `eventbus tail` against the broker: what reaches a bound queue, and what a mistake prints.
@Suite(.timeLimit(.minutes(2))) struct PublishCommandTests {
    /// An exchange with one queue bound for `type`, deleted after `body`.
    func withBoundQueue(type: String = "PriceChanged", _ body: (Inspector, _ exchange: String, _ queue: String) async throws -> Void) async throws {
        let inspector = try await Inspector.open()
        let exchange = TestEnvironment.unique("cli.exchange")
        let queue = TestEnvironment.unique("cli.queue")
        try await inspector.channel.exchangeDeclare(exchange, durable: false)
        try await inspector.channel.queueDeclare(queue, durable: false)
        try await inspector.channel.queueBind(queue, exchange: exchange, routingKey: type)
        do {
            try await body(inspector, exchange, queue)
        } catch {
            await inspector.cleanUp(queue: queue, exchange: exchange)
            throw error
        }
        await inspector.cleanUp(queue: queue, exchange: exchange)
    }

    @Test func publishedEventReachesTheBoundQueueWithItsTypeIdAndBody() async throws {
        try await withBoundQueue { inspector, exchange, queue in
            let id = UUID().uuidString.lowercased()
            let json = #"{"Id":"\#(id)","ProductId":7,"NewPrice":9.5,"OldPrice":10}"#
            let result = try await EventBusCLI.run(["publish", "--exchange", exchange, "--type", "PriceChanged", json])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("published PriceChanged \(id) to \(exchange): confirmed"), "\(result.output)")
            try await eventually("the event is in \(queue)") { try await inspector.messageCount(queue) == 1 }
            let delivery = try #require(try await inspector.drain(queue).first)
            #expect(delivery.body == Data(json.utf8))
            #expect(delivery.properties.type == "PriceChanged")
            #expect(delivery.properties.messageID == id)
            #expect(delivery.properties.contentType == "application/json")
            #expect(delivery.properties.deliveryMode == .persistent)
            #expect(delivery.headers["cloudEvents_type"] == "PriceChanged")
            #expect(delivery.headers["cloudEvents_id"] == .string(id))
            #expect(delivery.routingKey == "PriceChanged")
        }
    }

    @Test func malformedJSONBodyIsRefusedAndNothingIsPublished() async throws {
        try await withBoundQueue { inspector, exchange, queue in
            let result = try await EventBusCLI.run(["publish", "--exchange", exchange, "--type", "PriceChanged", #"{"Id": "1", "ProductId": "#])
            #expect(result.failed)
            #expect(result.output.contains("the body is not valid JSON"), "\(result.output)")
            // The command exited before connecting: nothing can still be on its way.
            #expect(try await inspector.messageCount(queue) == 0)
        }
    }

    @Test func eventTypeNoQueueIsBoundForIsReportedAsUnrouted() async throws {
        try await withBoundQueue { _, exchange, _ in
            let result = try await EventBusCLI.run(["publish", "--exchange", exchange, "--type", "NobodyListens", "{}"])
            #expect(result.failed)
            #expect(result.output.contains("no queue is bound"), "\(result.output)")
            #expect(result.output.contains("NobodyListens"), "\(result.output)")
        }
    }

    @Test func wrongCredentialsFailWithoutShowingThePassword() async throws {
        var components = try #require(URLComponents(string: TestEnvironment.brokerURL))
        let password = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        components.password = password
        let url = try #require(components.string)
        let result = try await EventBusCLI.run(["publish", "--type", "PriceChanged", "{}"], url: url)
        #expect(result.failed)
        #expect(result.output.contains("refused the credentials of user '\(components.user ?? "guest")'"), "\(result.output)")
        #expect(!result.output.contains(password))
    }

    @Test func tailPrintsAnEventPublishedWhileItRuns() async throws {
        try await withBoundQueue { inspector, exchange, _ in
            let tail = Task { try await EventBusCLI.run(["tail", "--exchange", exchange, "--type", "StockChanged", "--count", "1"]) }
            // Publishes are mandatory: the first one the broker routes went to tail's queue, which then exits.
            let id = UUID().uuidString.lowercased()
            let json = #"{"Id":"\#(id)","ProductId":3,"Available":12}"#
            try await eventually("tail's queue is bound") {
                do {
                    try await inspector.channel.publish(
                        Data(json.utf8), exchange: exchange, routingKey: "StockChanged", mandatory: true,
                        properties: AMQPProperties(contentType: "application/json", messageID: id, type: "StockChanged"))
                    return true
                } catch AMQPError.returned {
                    return false
                }
            }
            let result = try await tail.value
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("#1 StockChanged id=\(id)"), "\(result.output)")
            #expect(result.output.contains("body: \(json)"), "\(result.output)")
        }
    }
}
