import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2))) struct PublishSubscribeTests {
    @Test func twoConsumingServicesEachGetTheirOwnCopyOfEveryEventType() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let ordering = try RunningBus(service: TestEnvironment.unique("ordering"), exchange: exchange)
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let basketPrices = Recorder(), basketStock = Recorder(), orderingPrices = Recorder(), orderingStock = Recorder()
        try await basket.bus.subscribe(PriceChanged.self) { event, _ in await basketPrices.record(event.id.uuidString) }
        try await basket.bus.subscribe(StockChanged.self) { event, _ in await basketStock.record(event.id.uuidString) }
        try await ordering.bus.subscribe(PriceChanged.self) { event, _ in await orderingPrices.record(event.id.uuidString) }
        try await ordering.bus.subscribe(StockChanged.self) { event, context in
            #expect(context.source == catalog.configuration.serviceName)
            await orderingStock.record(event.id.uuidString)
        }
        basket.start()
        ordering.start()
        catalog.start()
        let inspector = try await Inspector.open()
        // Queues exist once consumers are up; only then is a mandatory publish routable.
        try await inspector.waitForConsumers(basket.configuration.queue)
        try await inspector.waitForConsumers(ordering.configuration.queue)
        for index in 0..<20 {
            try await catalog.bus.publish(PriceChanged(productId: index, newPrice: 10, oldPrice: 12))
            try await catalog.bus.publish(StockChanged(productId: index, available: index))
        }
        try await eventually("every service got every event") {
            let counts = [await basketPrices.total, await basketStock.total, await orderingPrices.total, await orderingStock.total]
            return counts == [20, 20, 20, 20]
        }
        #expect(await basketPrices.maxCallsPerID == 1)
        #expect(await orderingStock.maxCallsPerID == 1)
        await basket.stop()
        await ordering.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: basket.configuration.queue, exchange: exchange)
        let other = try await Inspector.open()
        await other.cleanUp(queue: ordering.configuration.queue, exchange: exchange)
    }

    @Test func publishWithNoConsumerQueueFailsInsteadOfDroppingTheEvent() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        catalog.start()
        do {
            try await catalog.bus.publish(PriceChanged(productId: 1, newPrice: 1, oldPrice: 2))
            Issue.record("an unroutable event must not be confirmed as published")
        } catch let error as EventBusError {
            guard case .publishFailed(_, let reason) = error else {
                Issue.record("expected publishFailed, got \(error)")
                return
            }
            #expect(reason.contains("no queue is bound for 'PriceChanged'"))
        }
        await catalog.stop()
        let inspector = try await Inspector.open()
        await inspector.cleanUp(queue: "none", exchange: exchange)
    }

    @Test func publishAllDeliversInOrderAndFailsOnlyTheUnroutableEvents() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let received = Recorder()
        try await basket.bus.subscribe(eventType: "PriceChanged") { event, _ in await received.record(event.id) }
        basket.start()
        catalog.start()
        let inspector = try await Inspector.open()
        try await inspector.waitForConsumers(basket.configuration.queue)
        // 200 events; every 50th has a type nobody consumes, so the broker returns it.
        let events = (0..<200).map { index in
            RawEvent(eventType: index % 50 == 7 ? "NobodyListens" : "PriceChanged", id: "event-\(index)", payload: Data("{}".utf8))
        }
        let results = await catalog.bus.publishAll(events)
        #expect(results.count == 200)
        for (event, result) in zip(events, results) {
            if event.eventType == "PriceChanged" {
                #expect((try? result.get()) != nil, "\(event.id) must be confirmed")
            } else {
                #expect(throws: EventBusError.self) { try result.get() }
            }
        }
        let expected = events.filter { $0.eventType == "PriceChanged" }.map(\.id)
        try await eventually("the routable events are handled") { await received.order.count == expected.count }
        #expect(await received.order == expected)
        await basket.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: basket.configuration.queue, exchange: exchange)
    }

    @Test func aDotNetStylePublisherBodyIsHandled() async throws {
        // eShop's EventBusRabbitMQ publishes PascalCase JSON with only delivery_mode set: no message_id, no type.
        let exchange = TestEnvironment.unique("eshop_event_bus")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let received = ReceivedEvents()
        try await basket.bus.subscribe(PriceChanged.self) { event, context in await received.append(event, context) }
        basket.start()
        let inspector = try await Inspector.open()
        try await inspector.waitForConsumers(basket.configuration.queue)
        let body = #"{"ProductId":7,"NewPrice":19.99,"OldPrice":21.50,"Id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","CreationDate":"2024-05-01T10:30:00.1234567Z"}"#
        try await inspector.channel.publish(
            Data(body.utf8), exchange: exchange, routingKey: "PriceChanged", properties: AMQPProperties(deliveryMode: .persistent))
        try await eventually("the .NET event is handled") { await received.count == 1 }
        let (event, context) = try #require(await received.first)
        #expect(event.id == UUID(uuidString: "3fa85f64-5717-4562-b3fc-2c963f66afa6"))
        #expect(event.productId == 7)
        #expect(event.newPrice == Decimal(string: "19.99"))
        #expect(event.oldPrice == Decimal(string: "21.5"))
        #expect(abs(event.creationDate.timeIntervalSince1970 - 1_714_559_400.1234567) < 0.000_001)
        #expect(context.eventID == "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        #expect(context.eventType == "PriceChanged")
        await basket.stop()
        await inspector.cleanUp(queue: basket.configuration.queue, exchange: exchange)
    }

    @Test func ourWireFormatCarriesTheCloudEventsHeadersAndProperties() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        catalog.start()
        let inspector = try await Inspector.open()
        let queue = TestEnvironment.unique("spy")
        try await inspector.channel.exchangeDeclare(exchange, durable: false)
        try await inspector.channel.queueDeclare(queue, durable: false)
        try await inspector.channel.queueBind(queue, exchange: exchange, routingKey: "PriceChanged")
        let event = PriceChanged(productId: 3, newPrice: Decimal(string: "9.95")!, oldPrice: 10)
        try await catalog.bus.publish(event, subject: "catalog/items/3")
        let delivery = try #require(try await inspector.channel.get(queue: queue, noAck: true))
        let properties = delivery.properties
        #expect(properties.messageID == event.id.uuidString.lowercased())
        #expect(properties.type == "PriceChanged")
        #expect(properties.contentType == "application/json")
        #expect(properties.deliveryMode == .persistent)
        #expect(properties.appID == catalog.configuration.serviceName)
        #expect(properties.timestamp != nil)
        #expect(delivery.headers["cloudEvents_specversion"] == "1.0")
        #expect(delivery.headers["cloudEvents_id"] == .string(event.id.uuidString.lowercased()))
        #expect(delivery.headers["cloudEvents_source"] == .string(catalog.configuration.serviceName))
        #expect(delivery.headers["cloudEvents_type"] == "PriceChanged")
        #expect(delivery.headers["cloudEvents_subject"] == "catalog/items/3")
        #expect(delivery.headers["cloudEvents_time"]?.stringValue.flatMap(EventDate.parse) != nil)
        let json = try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any]
        #expect(json?["productId"] as? Int == 3)
        #expect("\(json?["newPrice"] ?? "")" == "9.95")
        await catalog.stop()
        _ = try await inspector.channel.queueDelete(queue)
        await inspector.cleanUp(queue: "none", exchange: exchange)
    }

    /// With one handler at a time, handlers start on the consuming connection's thread (no hand-off per event); with
    /// more, or when the service opts out, on the global executor.
    @Test func handlersRunOnTheConsumingConnectionThreadOnlyWhenOneAtATime() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let ordered = try RunningBus(service: TestEnvironment.unique("ordered"), exchange: exchange)
        let parallel = try RunningBus(service: TestEnvironment.unique("parallel"), exchange: exchange) { $0.handlerConcurrency = 4 }
        let optedOut = try RunningBus(service: TestEnvironment.unique("opted-out"), exchange: exchange) {
            $0.consumesOnConnectionThread = false
        }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let orderedThreads = Recorder(), parallelThreads = Recorder(), optedOutThreads = Recorder()
        try await ordered.bus.subscribe(PriceChanged.self) { _, _ in await orderedThreads.record(currentThreadName()) }
        try await parallel.bus.subscribe(PriceChanged.self) { _, _ in await parallelThreads.record(currentThreadName()) }
        try await optedOut.bus.subscribe(PriceChanged.self) { _, _ in await optedOutThreads.record(currentThreadName()) }
        let services = [ordered, parallel, optedOut]
        for service in services + [catalog] { service.start() }
        let inspector = try await Inspector.open()
        for service in services { try await inspector.waitForConsumers(service.configuration.queue) }
        for index in 0..<50 { try await catalog.bus.publish(PriceChanged(productId: index, newPrice: 10, oldPrice: 12)) }
        try await eventually("every service handled every event") {
            let counts = [await orderedThreads.order.count, await parallelThreads.order.count, await optedOutThreads.order.count]
            return counts == [50, 50, 50]
        }
        let orderedNames = await orderedThreads.order
        // One thread, the consuming connection's (its name: `amqp-` and the start of the connection name).
        #expect(Set(orderedNames).count == 1)
        #expect(orderedNames.allSatisfy { $0.hasPrefix("amqp-ordered.") })
        #expect(await parallelThreads.order.allSatisfy { !$0.hasPrefix("amqp-") })
        #expect(await optedOutThreads.order.allSatisfy { !$0.hasPrefix("amqp-") })
        for service in services + [catalog] { await service.stop() }
        await inspector.cleanUp(queue: ordered.configuration.queue, exchange: exchange)
        for service in [parallel, optedOut] {
            let cleaner = try await Inspector.open()
            await cleaner.cleanUp(queue: service.configuration.queue, exchange: exchange)
        }
    }
}

actor ReceivedEvents {
    private var events: [(PriceChanged, EventContext)] = []
    func append(_ event: PriceChanged, _ context: EventContext) { events.append((event, context)) }
    var count: Int { events.count }
    var first: (PriceChanged, EventContext)? { events.first }
}
