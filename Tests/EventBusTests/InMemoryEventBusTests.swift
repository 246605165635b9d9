import EventBus
import Foundation
import Testing

@Suite("In-memory event bus", .timeLimit(.minutes(1)))
struct InMemoryEventBusTests {
    func priceChanged(_ productId: Int = 1, created: Date = Date()) throws -> ProductPriceChangedIntegrationEvent {
        ProductPriceChangedIntegrationEvent(
            creationDate: created, productId: productId, newPrice: try #require(Decimal(string: "19.99")), oldPrice: 20)
    }

    @Test func handlerIsCalledOncePerEvent() async throws {
        let bus = InMemoryEventBus()
        let seen = Recorder<ProductPriceChangedIntegrationEvent>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, _ in seen.append(event) }
        let events = try (1...3).map { try priceChanged($0) }
        for event in events { try await bus.publish(event) }
        await bus.waitUntilIdle()
        #expect(seen.values.map(\.id) == events.map(\.id))
        #expect(seen.values.first?.newPrice == Decimal(string: "19.99"))
        #expect(bus.publishedCount == 3)
        #expect(bus.handledCount == 3)
        #expect(bus.deadLetters.isEmpty)
    }

    @Test func waitUntilIdleReturnsAtOnceOnANewBus() async {
        let bus = InMemoryEventBus()
        await bus.waitUntilIdle()
        #expect(bus.publishedCount == 0)
    }

    @Test func publishedEventsCarryCloudEventsHeadersAndContext() async throws {
        let bus = InMemoryEventBus(serviceName: "basket", source: "catalog")
        let raws = Recorder<RawEvent>()
        let contexts = Recorder<EventContext>()
        try await bus.subscribe(eventType: "ProductPriceChangedIntegrationEvent", options: SubscriptionOptions(name: "raw")) { raw, _ in
            raws.append(raw)
        }
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(name: "typed")) { _, context in
            contexts.append(context)
        }
        let event = try priceChanged(created: Date(timeIntervalSince1970: 1_714_559_400.5))
        try await bus.publish(event, subject: "products/1")
        await bus.waitUntilIdle()

        let raw = try #require(raws.values.first)
        let id = event.id.uuidString.lowercased()
        #expect(raw.id == id)
        #expect(raw.eventType == "ProductPriceChangedIntegrationEvent")
        #expect(raw.headers[EventHeaders.specVersion] == "1.0")
        #expect(raw.headers[EventHeaders.id] == id)
        #expect(raw.headers[EventHeaders.source] == "catalog")
        #expect(raw.headers[EventHeaders.type] == "ProductPriceChangedIntegrationEvent")
        #expect(raw.headers[EventHeaders.subject] == "products/1")
        #expect(raw.headers[EventHeaders.time] == "2024-05-01T10:30:00.5000000Z")
        #expect(try raw.decode(ProductPriceChangedIntegrationEvent.self) == event)

        let context = try #require(contexts.values.first)
        #expect(context.eventID == id)
        #expect(context.source == "catalog")
        #expect(context.subject == "products/1")
        #expect(context.attempt == 1)
        #expect(!context.redelivered)
        #expect(context.consumer == "basket/typed")
        #expect(context.time == event.creationDate)
    }

    @Test func sourceDefaultsToTheServiceName() async throws {
        let bus = InMemoryEventBus(serviceName: "catalog")
        let sources = Recorder<String?>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, context in sources.append(context.source) }
        try await bus.publish(try priceChanged())
        await bus.waitUntilIdle()
        #expect(sources.values == ["catalog"])
    }

    @Test func dotNetBodyPublishedRawReachesATypedHandler() async throws {
        let bus = InMemoryEventBus()
        let seen = Recorder<ProductPriceChangedIntegrationEvent>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, _ in seen.append(event) }
        try await bus.publish(RawEvent(
            eventType: "ProductPriceChangedIntegrationEvent", id: "3fa85f64-5717-4562-b3fc-2c963f66afa6", source: "Catalog.API",
            payload: Data(EventCodecTests.eShopBody.utf8)))
        await bus.waitUntilIdle()
        #expect(seen.values.map(\.productId) == [1])
        #expect(seen.values.first?.oldPrice == Decimal(string: "21.50"))
    }

    @Test func twoSubscriptionsOfOneTypeBothGetEachEvent() async throws {
        let bus = InMemoryEventBus()
        let seen = Recorder<String>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(name: "basket")) { _, _ in
            seen.append("basket")
        }
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(name: "search")) { _, _ in
            seen.append("search")
        }
        try await bus.publish(try priceChanged())
        await bus.waitUntilIdle()
        #expect(seen.values.sorted() == ["basket", "search"])
        #expect(bus.handledCount == 2)
    }

    @Test func handlerFailingTwiceThenSucceedingIsCalledThreeTimesAndHandledOnce() async throws {
        let bus = InMemoryEventBus()
        let attempts = Recorder<Int>()
        // 50 ms delays: were waitUntilIdle not to wait for retries, only the first call would be seen.
        let options = SubscriptionOptions(retryPolicy: try fastRetries(5, delay: .milliseconds(50)))
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: options) { _, context in
            if attempts.appendCounting(context.attempt) <= 2 { throw HandlerFailure() }
        }
        try await bus.publish(try priceChanged())
        await bus.waitUntilIdle()
        #expect(attempts.values == [1, 2, 3])
        #expect(bus.handledCount == 1)
        #expect(bus.retriedCount == 2)
        #expect(bus.deadLetters.isEmpty)
    }

    @Test func retriesGoOnlyToTheFailingSubscription() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<String>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(name: "ok")) { _, _ in
            calls.append("ok")
        }
        let flaky = SubscriptionOptions(name: "flaky", retryPolicy: try fastRetries(3))
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: flaky) { _, context in
            calls.append("flaky")
            if context.attempt == 1 { throw HandlerFailure() }
            #expect(context.headers[EventHeaders.deliveryAttempts] == "2")
            #expect(context.headers[EventHeaders.subscription] == "flaky")
        }
        try await bus.publish(try priceChanged())
        await bus.waitUntilIdle()
        #expect(calls.values.filter { $0 == "ok" }.count == 1)
        #expect(calls.values.filter { $0 == "flaky" }.count == 2)
        #expect(bus.handledCount == 2)
    }

    @Test func failingHandlerEndsInDeadLetterAfterMaxAttempts() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        let options = SubscriptionOptions(name: "prices", retryPolicy: try fastRetries(4))
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: options) { _, context in
            calls.append(context.attempt)
            throw HandlerFailure()
        }
        let event = try priceChanged()
        try await bus.publish(event)
        await bus.waitUntilIdle()
        #expect(calls.values == [1, 2, 3, 4])
        let dead = try #require(bus.deadLetters.first)
        #expect(bus.deadLetters.count == 1)
        #expect(dead.reason == .maxDeliveryAttemptsExceeded)
        #expect(dead.attempts == 4)
        #expect(dead.subscription == "prices")
        #expect(dead.lastError == "handler failed on purpose")
        #expect(dead.event.id == event.id.uuidString.lowercased())
        #expect(dead.event.headers[EventHeaders.deadLetterReason] == "MaxDeliveryAttemptsExceeded")
        #expect(dead.event.headers[EventHeaders.deliveryAttempts] == "4")
        #expect(dead.event.headers[EventHeaders.lastError] == "handler failed on purpose")
        #expect(dead.event.headers[EventHeaders.deadLetteredAt] != nil)
        #expect(dead.firstDeliveredAt <= dead.deadLetteredAt)
        #expect(bus.handledCount == 0)
    }

    @Test func nonRetryableErrorDeadLettersAtOnce() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(retryPolicy: try fastRetries(5))) { _, context in
            calls.append(context.attempt)
            throw NonRetryableError("product 1 does not exist")
        }
        try await bus.publish(try priceChanged())
        await bus.waitUntilIdle()
        #expect(calls.values == [1])
        #expect(bus.deadLetters.map(\.reason) == [.nonRetryable])
        #expect(bus.deadLetters.first?.lastError.contains("product 1 does not exist") == true)
        #expect(bus.retriedCount == 0)
    }

    @Test func expiredEventDeadLettersOnItsFirstFailure() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        let policy = try RetryPolicy(maxDeliveryAttempts: 5, eventTimeToLiveMinutes: 1, delays: [.milliseconds(5)])
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(retryPolicy: policy)) { _, context in
            calls.append(context.attempt)
            throw HandlerFailure()
        }
        try await bus.publish(try priceChanged(created: Date().addingTimeInterval(-120)))
        await bus.waitUntilIdle()
        #expect(calls.values == [1])
        #expect(bus.deadLetters.map(\.reason) == [.timeToLiveExpired])
        #expect(bus.deadLetters.first?.attempts == 1)
    }

    @Test func youngEventWithinTimeToLiveIsRetried() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        let policy = try RetryPolicy(maxDeliveryAttempts: 2, eventTimeToLiveMinutes: 1, delays: [.milliseconds(5)])
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(retryPolicy: policy)) { _, context in
            calls.append(context.attempt)
            throw HandlerFailure()
        }
        try await bus.publish(try priceChanged(created: Date().addingTimeInterval(-30)))
        await bus.waitUntilIdle()
        #expect(calls.values == [1, 2])
        #expect(bus.deadLetters.map(\.reason) == [.maxDeliveryAttemptsExceeded])
    }

    @Test func malformedJSONIsDeadLetteredAsUnprocessable() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, _ in calls.append(1) }
        try await bus.subscribe(eventType: "ProductPriceChangedIntegrationEvent", options: SubscriptionOptions(name: "raw")) { _, _ in
            calls.append(2)
        }
        try await bus.publish(RawEvent(eventType: "ProductPriceChangedIntegrationEvent", id: "bad-1", payload: Data("{not json".utf8)))
        await bus.waitUntilIdle()
        #expect(calls.count == 0)
        #expect(bus.deadLetters.map(\.reason) == [.unprocessable, .unprocessable])
        #expect(Set(bus.deadLetters.compactMap(\.subscription)) == ["ProductPriceChangedIntegrationEvent", "raw"])
        #expect(bus.deadLetters.first?.event.headers[EventHeaders.deadLetterReason] == "Unprocessable")
    }

    @Test func bodyOfTheWrongShapeIsUnprocessableForATypedHandler() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, _ in calls.append(1) }
        try await bus.publish(RawEvent(eventType: "ProductPriceChangedIntegrationEvent", id: "bad-2", payload: Data(#"{"Id":"x"}"#.utf8)))
        await bus.waitUntilIdle()
        #expect(calls.count == 0)
        #expect(bus.deadLetters.map(\.reason) == [.unprocessable])
    }

    @Test func unknownEventTypeIsDeadLetteredAsUnexpected() async throws {
        let bus = InMemoryEventBus()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, _ in }
        try await bus.publish(RawEvent(eventType: "NobodyHandlesThisIntegrationEvent", id: "u-1", payload: Data("{}".utf8)))
        await bus.waitUntilIdle()
        let dead = try #require(bus.deadLetters.first)
        #expect(dead.reason == .unexpectedEventType)
        #expect(dead.subscription == nil)
        #expect(dead.event.eventType == "NobodyHandlesThisIntegrationEvent")
        #expect(bus.handledCount == 0)
    }

    @Test func eventFromAnotherSourceIsAcknowledgedAndCountedNotDeadLettered() async throws {
        let bus = InMemoryEventBus(serviceName: "basket", source: "catalog")
        let sources = Recorder<String?>()
        let options = SubscriptionOptions(filter: EventFilter(sources: ["catalog"]))
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: options) { _, context in sources.append(context.source) }
        try await bus.publish(try priceChanged())
        try await bus.publish(RawEvent(
            eventType: "ProductPriceChangedIntegrationEvent", id: "f-1", source: "intruder", payload: try EventCodec().encode(try priceChanged())))
        await bus.waitUntilIdle()
        #expect(sources.values == ["catalog"])
        #expect(bus.deadLetters.isEmpty)
        #expect(bus.filteredCount == 1)
    }

    @Test func eventFromAnotherSourceIsDeadLetteredAsFilteredOutWhenAskedFor() async throws {
        let bus = InMemoryEventBus(serviceName: "basket", source: "catalog")
        let sources = Recorder<String?>()
        let options = SubscriptionOptions(filter: EventFilter(sources: ["catalog"]), deadLettersFilteredEvents: true)
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: options) { _, context in sources.append(context.source) }
        try await bus.publish(try priceChanged())
        try await bus.publish(RawEvent(
            eventType: "ProductPriceChangedIntegrationEvent", id: "f-1", source: "intruder", payload: try EventCodec().encode(try priceChanged())))
        await bus.waitUntilIdle()
        #expect(sources.values == ["catalog"])
        #expect(bus.deadLetters.map(\.reason) == [.filteredOut])
        #expect(bus.deadLetters.first?.event.id == "f-1")
        #expect(bus.deadLetters.first?.lastError.contains("intruder") == true)
        #expect(bus.filteredCount == 0)
    }

    @Test func twoSubscriptionsWhereOneFiltersTheEventOutHandleItOnceAndDeadLetterNothing() async throws {
        let bus = InMemoryEventBus(serviceName: "basket", source: "catalog")
        let handled = Recorder<String>()
        try await bus.subscribe(
            ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(name: "only-ordering", filter: EventFilter(sources: ["ordering"]))
        ) { _, _ in handled.append("only-ordering") }
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(name: "all")) { _, _ in handled.append("all") }
        try await bus.publish(try priceChanged())
        await bus.waitUntilIdle()
        #expect(handled.values == ["all"])
        #expect(bus.deadLetters.isEmpty)
        #expect(bus.filteredCount == 1)
    }

    @Test func sameEventPublishedTwiceIsHandledOnceWhenAlwaysDeduplicating() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<UUID>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(dedupMode: .always)) { event, _ in
            calls.append(event.id)
        }
        let event = try priceChanged()
        try await bus.publish(event)
        try await bus.publish(event)
        await bus.waitUntilIdle()
        #expect(calls.values == [event.id])
        #expect(bus.duplicateCount == 1)
        #expect(bus.handledCount == 1)
        #expect(bus.deadLetters.isEmpty)
    }

    @Test func sameEventPublishedTwiceIsHandledTwiceWhenFirstDeliveriesAreTrusted() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<UUID>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self, options: SubscriptionOptions(dedupMode: .redeliveredOnly)) { event, _ in
            calls.append(event.id)
        }
        let event = try priceChanged()
        try await bus.publish(event)
        try await bus.publish(event)
        await bus.waitUntilIdle()
        #expect(calls.values == [event.id, event.id])
        #expect(bus.duplicateCount == 0)
    }

    @Test func sharedStoreMakesASecondBusSkipProcessedEvents() async throws {
        let store = InMemoryProcessedMessageStore()
        let event = try priceChanged()
        let calls = Recorder<Int>()
        for bus in [InMemoryEventBus(serviceName: "basket", store: store), InMemoryEventBus(serviceName: "basket", store: store)] {
            try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, _ in calls.append(1) }
            try await bus.publish(event)
            await bus.waitUntilIdle()
        }
        #expect(calls.count == 1)
        #expect(try await store.contains(consumer: "basket/ProductPriceChangedIntegrationEvent", messageID: event.id.uuidString.lowercased()))
    }

    @Test func batchesStayWithinTheEventCountAndReceiveEveryEvent() async throws {
        let bus = InMemoryEventBus()
        let batches = Recorder<[UUID]>()
        // A long wait lets all 30 small events gather, so only the count limit splits them.
        let policy = try BatchPolicy(maxEventsPerBatch: 10, preferredBatchSizeInKilobytes: 64, maximumWait: .seconds(5))
        try await bus.subscribe(batchesOf: OrderStartedIntegrationEvent.self, batch: policy) { events in
            batches.append(events.map(\.event.id))
        }
        let events = (0..<30).map { OrderStartedIntegrationEvent(userId: "user-\($0)") }
        for event in events { try await bus.publish(event) }
        await bus.waitUntilIdle()
        #expect(batches.values.map(\.count) == [10, 10, 10])
        #expect(batches.values.flatMap { $0 } == events.map(\.id))
        #expect(bus.handledCount == 30)
    }

    @Test func batchesStayWithinOneKilobyteAndReceiveEveryEvent() async throws {
        let bus = InMemoryEventBus()
        let batches = Recorder<[OrderStartedIntegrationEvent]>()
        let policy = try BatchPolicy(maxEventsPerBatch: 10, preferredBatchSizeInKilobytes: 1, maximumWait: .milliseconds(200))
        try await bus.subscribe(batchesOf: OrderStartedIntegrationEvent.self, batch: policy) { events in
            batches.append(events.map(\.event))
        }
        let events = (0..<12).map { OrderStartedIntegrationEvent(userId: "user-\($0)", note: String(repeating: "x", count: 200)) }
        let size = try EventCodec().encode(events[0]).count
        #expect(size > 250 && size < 341, "the test expects 3 events per kilobyte")
        for event in events { try await bus.publish(event) }
        await bus.waitUntilIdle()
        #expect(batches.values.flatMap { $0 }.map(\.id) == events.map(\.id))
        for batch in batches.values {
            #expect(batch.count <= 10)
            let bytes = try batch.reduce(0) { $0 + (try EventCodec().encode($1).count) }
            #expect(bytes <= 1_024)
        }
        #expect(batches.values.contains { $0.count > 1 }, "events were never batched")
    }

    @Test func eventLargerThanThePreferredSizeGoesAlone() async throws {
        let bus = InMemoryEventBus()
        let batches = Recorder<[String]>()
        let policy = try BatchPolicy(maxEventsPerBatch: 10, preferredBatchSizeInKilobytes: 1, maximumWait: .milliseconds(100))
        try await bus.subscribe(batchesOf: OrderStartedIntegrationEvent.self, batch: policy) { events in
            batches.append(events.map(\.event.userId))
        }
        try await bus.publish(OrderStartedIntegrationEvent(userId: "small-1"))
        try await bus.publish(OrderStartedIntegrationEvent(userId: "big", note: String(repeating: "x", count: 2_000)))
        try await bus.publish(OrderStartedIntegrationEvent(userId: "small-2"))
        await bus.waitUntilIdle()
        #expect(batches.values.flatMap { $0 } == ["small-1", "big", "small-2"])
        #expect(batches.values.contains(["big"]))
    }

    @Test func failingBatchIsRetriedWhole() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<[(id: UUID, attempt: Int)]>()
        let policy = try BatchPolicy(maxEventsPerBatch: 10, maximumWait: .milliseconds(100))
        try await bus.subscribe(batchesOf: OrderStartedIntegrationEvent.self, batch: policy,
                                options: SubscriptionOptions(retryPolicy: try fastRetries(3))) { events in
            let number = calls.appendCounting(events.map { (id: $0.event.id, attempt: $0.context.attempt) })
            if number == 1 { throw HandlerFailure() }
        }
        let events = (0..<5).map { OrderStartedIntegrationEvent(userId: "user-\($0)") }
        for event in events { try await bus.publish(event) }
        await bus.waitUntilIdle()
        let first = try #require(calls.values.first)
        #expect(!first.isEmpty)
        let later = calls.values.dropFirst().flatMap { $0 }
        for failed in first {
            #expect(later.contains { $0.id == failed.id && $0.attempt == 2 }, "event of the failed batch not retried")
        }
        #expect(Set(calls.values.flatMap { $0 }.map(\.id)) == Set(events.map(\.id)))
        #expect(bus.handledCount == 5)
        #expect(bus.retriedCount == first.count)
        #expect(bus.deadLetters.isEmpty)
    }

    @Test func alwaysFailingBatchDeadLettersEveryEvent() async throws {
        let bus = InMemoryEventBus()
        let policy = try BatchPolicy(maxEventsPerBatch: 10, maximumWait: .milliseconds(20))
        try await bus.subscribe(batchesOf: OrderStartedIntegrationEvent.self, batch: policy,
                                options: SubscriptionOptions(retryPolicy: try fastRetries(2))) { _ in
            throw HandlerFailure()
        }
        for index in 0..<3 { try await bus.publish(OrderStartedIntegrationEvent(userId: "user-\(index)")) }
        await bus.waitUntilIdle()
        #expect(bus.deadLetters.count == 3)
        #expect(bus.deadLetters.allSatisfy { $0.reason == .maxDeliveryAttemptsExceeded && $0.attempts == 2 })
    }

    @Test func sameEventTwiceInOneBatchWindowIsHandledOnce() async throws {
        let bus = InMemoryEventBus()
        let seen = Recorder<UUID>()
        let policy = try BatchPolicy(maxEventsPerBatch: 10, maximumWait: .milliseconds(50))
        try await bus.subscribe(batchesOf: OrderStartedIntegrationEvent.self, batch: policy) { events in
            for event in events { seen.append(event.event.id) }
        }
        let event = OrderStartedIntegrationEvent(userId: "alice")
        try await bus.publish(event)
        try await bus.publish(event)
        await bus.waitUntilIdle()
        #expect(seen.values == [event.id])
        #expect(bus.duplicateCount == 1)
    }

    @Test func unsubscribeStopsDeliveries() async throws {
        let bus = InMemoryEventBus()
        let calls = Recorder<Int>()
        let id = try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, _ in calls.append(event.productId) }
        try await bus.publish(try priceChanged(1))
        await bus.waitUntilIdle()
        try await bus.unsubscribe(id)
        try await bus.publish(try priceChanged(2))
        await bus.waitUntilIdle()
        #expect(calls.values == [1])
        #expect(bus.deadLetters.map(\.reason) == [.unexpectedEventType])
        await #expect(throws: EventBusError.self) { try await bus.unsubscribe(id) }
    }

    @Test func duplicateSubscriptionNameThrows() async throws {
        let bus = InMemoryEventBus()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, _ in }
        let error = await #expect(throws: EventBusError.self) {
            try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { _, _ in }
        }
        guard case .duplicateSubscription(let name) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(name == "ProductPriceChangedIntegrationEvent")
        await #expect(throws: EventBusError.self) {
            try await bus.subscribe(eventType: "Other", options: SubscriptionOptions(name: "ProductPriceChangedIntegrationEvent")) { _, _ in }
        }
    }

    @Test func handlerMayPublishFollowUpEvents() async throws {
        let bus = InMemoryEventBus()
        let seen = Recorder<String>()
        try await bus.subscribe(ProductPriceChangedIntegrationEvent.self) { event, _ in
            try await bus.publish(OrderStartedIntegrationEvent(userId: "follow-up-\(event.productId)"))
        }
        try await bus.subscribe(OrderStartedIntegrationEvent.self) { event, _ in seen.append(event.userId) }
        try await bus.publish(try priceChanged(9))
        await bus.waitUntilIdle()
        #expect(seen.values == ["follow-up-9"])
        #expect(bus.publishedCount == 2)
    }
}
