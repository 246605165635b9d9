import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// Issue 16's proof through the real broker: messages no well-behaved publisher sends, published by another AMQP
/// client (not the bus's codec) onto a service's queue *before* the service starts, so each waits at the head of the
/// queue when the consumer comes up. Every one ends handled or dead-lettered, and the consumer stays up.
@Suite struct HostileInputIntegrationTests {
    struct Hostile {
        var name: String
        var body: Data
        var properties: AMQPProperties
    }

    static let huge = Date(timeIntervalSince1970: 1.8446744073709552e19)

    static func event(_ productId: Int, id: UUID = UUID()) -> (UUID, Data) {
        let body = #"{"Id":"\#(id)","CreationDate":"2024-05-01T10:30:00.1234567Z","ProductId":\#(productId),"NewPrice":1.5,"OldPrice":2}"#
        return (id, Data(body.utf8))
    }

    static func deepTable(_ depth: Int) -> AMQPFieldValue {
        var value: AMQPFieldValue = .int64(1)
        for _ in 0..<depth { value = .table(["t": value]) }
        return value
    }

    /// Every field type at its extremes, in one header table. Not NaN or infinite floats: RabbitMQ 3.10 cannot parse
    /// them and closes the publisher's connection (541 INTERNAL_ERROR), so they never reach a consumer through it; the
    /// decoder's property tests cover them.
    static let extremes: AMQPTable = [
        "i8": .int8(.min), "u8": .uint8(.max), "i16": .int16(.min), "u16": .uint16(.max), "i32": .int32(.min),
        "u32": .uint32(.max), "i64min": .int64(.min), "i64max": .int64(.max), "u64": .uint64(.max),
        "fmax": .float(.greatestFiniteMagnitude), "dmin": .double(-.greatestFiniteMagnitude), "dec": .decimal(AMQPDecimal(scale: 255, value: .max)),
        "long": .string(String(repeating: "s", count: 64 * 1_024)), "bytes": .bytes(Array(repeating: 0xFF, count: 1_000)),
        "void": .void, "array": .array([.timestamp(huge), .void, .double(.leastNonzeroMagnitude)]), "deep": deepTable(200),
        "tsmax": .timestamp(huge), "ts0": .timestamp(Date(timeIntervalSince1970: 0)),
    ]

    static func hostileMessages(queue: String) -> (messages: [Hostile], handledIDs: Set<String>) {
        var messages: [Hostile] = []
        var handled: Set<String> = []
        func add(_ name: String, _ body: Data, _ properties: AMQPProperties, handles id: UUID? = nil) {
            var properties = properties
            if properties.deliveryMode == nil { properties.deliveryMode = .persistent }
            messages.append(Hostile(name: name, body: body, properties: properties))
            if let id { handled.insert(id.uuidString) }
        }
        var (id, body) = event(1)
        add("a timestamp header near 2^64", body, AMQPProperties(headers: [EventHeaders.time: .timestamp(huge)], messageID: id.uuidString, type: "PriceChanged"), handles: id)
        (id, body) = event(500)
        add("a timestamp property near 2^64 on an event that is retried once", body, AMQPProperties(messageID: id.uuidString, timestamp: huge, type: "PriceChanged"), handles: id)
        (id, body) = event(2)
        add("every field type at its extremes", body, AMQPProperties(headers: extremes, messageID: id.uuidString, type: "PriceChanged"), handles: id)
        (id, body) = event(404)
        add("x-delivery-attempts of 2^40 on a failing event", body, AMQPProperties(headers: [EventHeaders.deliveryAttempts: .int64(1 << 40)], messageID: id.uuidString, type: "PriceChanged"))
        (id, body) = event(3)
        add("x-delivery-attempts as UInt64.max", body, AMQPProperties(headers: [EventHeaders.deliveryAttempts: .uint64(.max)], messageID: id.uuidString, type: "PriceChanged"), handles: id)
        (id, body) = event(4)
        add("x-delivery-attempts as a string and a first-delivered time of -1.8e308", body, AMQPProperties(headers: [EventHeaders.deliveryAttempts: "lots", EventHeaders.firstDeliveredAt: .double(-.greatestFiniteMagnitude)], messageID: id.uuidString, type: "PriceChanged"), handles: id)
        (id, body) = event(5)
        add("an ancient timestamp", body, AMQPProperties(messageID: id.uuidString, timestamp: Date(timeIntervalSince1970: 0), type: "PriceChanged"), handles: id)
        (id, body) = event(6)
        add("a far-future time header", body, AMQPProperties(headers: [EventHeaders.time: "9999-12-31T23:59:59.9999999Z"], messageID: id.uuidString, type: "PriceChanged"), handles: id)
        (id, body) = event(7)
        add("a time header that is not a date", body, AMQPProperties(headers: [EventHeaders.time: "yesterday-ish"], messageID: id.uuidString, type: "PriceChanged"), handles: id)
        (id, body) = event(8)
        add("a wrong content type", body, AMQPProperties(contentType: "text/plain", messageID: id.uuidString, type: "PriceChanged"), handles: id)
        var random = SystemRandomNumberGenerator()
        add("random bytes", Data((0..<512).map { _ in UInt8.random(in: 0...255, using: &random) }), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("invalid UTF-8", Data([0x7B, 0x22, 0x49, 0x64, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0xFF, 0x22, 0x7D]), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("an empty body", Data(), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("an empty body and no id anywhere", Data(), AMQPProperties(type: "PriceChanged"))
        add("a JSON number date of 1e308", Data(#"{"Id":"\#(UUID())","CreationDate":1e308,"ProductId":9,"NewPrice":1,"OldPrice":2}"#.utf8), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("a JSON number date of 1e400", Data(#"{"Id":"\#(UUID())","CreationDate":1e400,"ProductId":9,"NewPrice":1,"OldPrice":2}"#.utf8), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("JSON nested 100 000 deep", Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("a price of 1e400", Data(#"{"Id":"\#(UUID())","CreationDate":"2024-01-01T00:00:00Z","ProductId":9,"NewPrice":1e400,"OldPrice":2}"#.utf8), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("a product id over Int64", Data(#"{"Id":"\#(UUID())","CreationDate":"2024-01-01T00:00:00Z","ProductId":99999999999999999999999,"NewPrice":1,"OldPrice":2}"#.utf8), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("an id of 300 bytes from the body only, on a failing event", Data(#"{"Id":"\#(String(repeating: "i", count: 300))","CreationDate":"2024-01-01T00:00:00Z","ProductId":404,"NewPrice":1,"OldPrice":2}"#.utf8), AMQPProperties(type: "PriceChanged"))
        add("a body of 2 MiB", Data(repeating: 0x20, count: 2 * 1_048_576), AMQPProperties(messageID: UUID().uuidString, type: "PriceChanged"))
        add("an unknown event type", event(10).1, AMQPProperties(messageID: UUID().uuidString, type: "NobodyHandlesThis"))
        add("a retry aimed at a subscription that does not exist", event(11).1, AMQPProperties(headers: [EventHeaders.subscription: "ghost", EventHeaders.deliveryAttempts: .int32(2)], messageID: UUID().uuidString, type: "PriceChanged"))
        return (messages, handled)
    }

    @Test func everyHostileMessageEndsHandledOrDeadLetteredAndTheConsumerStaysUp() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let policy = try fastRetries(3)
        let service = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let queue = service.configuration.queue
        let handled = Recorder()
        let failedOnce = Recorder()
        try await service.bus.subscribe(PriceChanged.self, options: SubscriptionOptions(retryPolicy: policy)) { event, _ in
            if event.productId == 404 { throw NonRetryableError("product 404 does not exist") }
            if event.productId == 500, await failedOnce.count(event.id.uuidString) == 0 {
                await failedOnce.record(event.id.uuidString)
                throw TransientFailure()
            }
            await handled.record(event.id.uuidString)
        }
        let inspector = try await Inspector.open()
        do {
            // The service's queues exist before it runs, so every hostile message waits at the head of its queue.
            _ = try await RabbitMQEventBus.declareTopology(service.configuration, eventTypes: ["PriceChanged"], retryPolicy: policy)
            let (messages, expectedHandled) = Self.hostileMessages(queue: queue)
            for message in messages {
                try await inspector.channel.publish(message.body, routingKey: queue, properties: message.properties)
            }
            let (markerID, markerBody) = Self.event(12)
            try await inspector.channel.publish(markerBody, routingKey: queue, properties: AMQPProperties(deliveryMode: .persistent, messageID: markerID.uuidString, type: "PriceChanged"))
            service.start()
            try await eventually("the marker behind every hostile message is handled") { await handled.count(markerID.uuidString) == 1 }
            let deadLetters = "\(queue).dead-letter"
            let expectedDead = messages.count - expectedHandled.count
            try await eventually("\(expectedHandled.count + 1) handled, \(expectedDead) dead letters, nothing left waiting") {
                let dead = try await inspector.messageCount(deadLetters)
                let waiting = try await inspector.messageCount(queue)
                let calls = await handled.calls
                return dead == UInt32(expectedDead) && waiting == 0 && expectedHandled.isSubset(of: calls.keys)
            }
            let calls = await handled.calls
            #expect(Set(calls.keys) == expectedHandled.union([markerID.uuidString]), "handled: \(calls.count), expected \(expectedHandled.count + 1)")
            #expect(calls.values.allSatisfy { $0 == 1 })
            // Each dead letter says why: the bus's reason header, or (rejected as it arrived) the broker's x-death.
            for dead in try await inspector.drain(deadLetters) {
                let reason = dead.headers[EventHeaders.deadLetterReason]?.stringValue
                let rejected = dead.headers["x-death"] != nil
                #expect(reason != nil || rejected, "a dead letter without a reason: \(dead.properties.messageID ?? "no id")")
            }
            print("hostile-input: \(messages.count) hostile messages, \(expectedHandled.count) handled, \(expectedDead) dead-lettered")
        } catch {
            await service.stop()
            await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: policy.usedDelays)
            throw error
        }
        await service.stop()
        await inspector.cleanUp(queue: queue, exchange: exchange, retryDelays: policy.usedDelays)
    }
}

private struct TransientFailure: Error {}
