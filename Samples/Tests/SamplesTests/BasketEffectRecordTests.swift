import AMQP
import BasketService
import EventBus
import Foundation
import HummingbirdTesting
import SampleSupport
import TestSupport
import Testing

/// Basket writes one `basket_price_change_effects` row per applied event, in the transaction of the basket update and
/// the processed id, so "applied exactly once" can be read from its database (the fault ledger does); and its
/// injected handler failures (`BASKET_FAIL_EVERY`, `BASKET_FAIL_PRODUCT`) retry or dead-letter without an effect.
@Suite("Basket effect records and injected failures")
struct BasketEffectRecordTests {
    @Test(arguments: ["sqlite", "postgres"])
    func handledEventLeavesExactlyOneEffectRowWithItsEventID(store: String) async throws {
        let world = SampleWorld()
        let location = try await Self.location(store, world: world)
        let database = try await Self.open(location)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in database.services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            let repository = makeBasketRepository(database, logger: SamplesEnvironment.logger("effects"))
            let basket = try await world.basketApplication(location)
            let event = ProductPriceChangedIntegrationEvent(productId: 1, newPrice: 12, oldPrice: 10)
            let eventID = event.id.uuidString.lowercased()
            try await basket.test(.router) { basket in
                try await basket.waitUntilHealthy()
                #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "ivan", price: "10")).status == .ok)
                try await world.withPublisher { bus in
                    try await bus.publish(event)
                    try await bus.publish(event)  // a copy: found processed, no second effect
                }
                try await eventually("both copies are handled or recognised") {
                    let applied = try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "applied"])
                    let duplicates = try await basket.metric("eventbus_duplicates_total", ["service": world.basketService])
                    let inTransaction = try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "duplicate"])
                    return applied + duplicates + inTransaction == 2
                }
            }
            let effects = try await repository.effects(eventID: eventID)
            #expect(effects.count == 1, "one effect row for one event delivered twice")
            #expect(effects.first?.eventID == eventID)
            #expect(effects.first?.consumer == "\(world.basketService)/ProductPriceChangedIntegrationEvent")
            #expect(effects.first?.productId == 1)
            #expect(effects.first?.outcome == "applied")
            #expect(effects.first?.updatedLines == 1)
        }
        try await Self.finish(store, world: world)
    }

    @Test(arguments: ["sqlite", "postgres"])
    func aFailureBeforeTheEffectRollsBackTheProcessedIDAndWritesNoEffectRow(store: String) async throws {
        let world = SampleWorld()
        let database = try await Self.open(try await Self.location(store, world: world))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in database.services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            let repository = makeBasketRepository(database, logger: SamplesEnvironment.logger("effects"))
            _ = try await repository.save(CustomerBasket(buyerId: "judy", items: [BasketItem(productId: 7, productName: "Tee", unitPrice: 10, quantity: 1)]))
            let change = PriceChange(productId: 7, oldPrice: 10, newPrice: 12, changedAt: Date())
            await #expect(throws: InjectedHandlerFailure.product(7)) {
                try await repository.apply(change, consumer: "basket/test", messageID: "m-2", beforeEffect: { throw InjectedHandlerFailure.product(7) })
            }
            #expect(try await repository.effects(eventID: "m-2").isEmpty, "the failed attempt left no effect row")
            #expect(try await !database.processedMessages.contains(consumer: "basket/test", messageID: "m-2"), "nor its processed id")
            #expect(try await repository.basket(buyerId: "judy")?.items.map(\.unitPrice) == [10])
            // The retry finds the event new and applies it once.
            #expect(try await repository.apply(change, consumer: "basket/test", messageID: "m-2") == PriceChangeOutcome(updatedLines: 1))
            #expect(try await repository.effects(eventID: "m-2").map(\.outcome) == ["applied"])
        }
        try await Self.finish(store, world: world)
    }

    @Test(arguments: ["sqlite", "postgres"])
    func thePrunerForgetsEffectRowsWithTheProcessedIDsBeforeItsCutoff(store: String) async throws {
        let world = SampleWorld()
        let database = try await Self.open(try await Self.location(store, world: world))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in database.services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            let repository = makeBasketRepository(database, logger: SamplesEnvironment.logger("effects"))
            let change = PriceChange(productId: 8, oldPrice: 10, newPrice: 12, changedAt: Date())
            _ = try await repository.apply(change, consumer: "basket/test", messageID: "m-3")
            let pruning = EffectPruningProcessedMessageStore(base: database.processedMessages, repository: repository)
            // A cutoff before the row keeps it; one after it forgets the id and the effect row together.
            try await pruning.prune(processedBefore: Date(timeIntervalSinceNow: -3_600))
            #expect(try await repository.effects(eventID: "m-3").count == 1)
            #expect(try await pruning.contains(consumer: "basket/test", messageID: "m-3"))
            #expect(try await pruning.prune(processedBefore: Date(timeIntervalSinceNow: 3_600)) == 2, "one id and one effect row")
            #expect(try await repository.effects(eventID: "m-3").isEmpty)
            #expect(try await !pruning.contains(consumer: "basket/test", messageID: "m-3"))
        }
        try await Self.finish(store, world: world)
    }

    @Test func everyNthEventIsRetriedOnceAndTheFailingProductIsDeadLetteredWithItsReason() async throws {
        let world = SampleWorld()
        let location = DatabaseLocation.sqlite(path: try SamplesEnvironment.sqlitePath("basket"))
        let database = try await Self.open(location)
        let repository = makeBasketRepository(database, logger: SamplesEnvironment.logger("effects"))
        let basket = try await buildBasketApplication(
            configuration: world.basket(location), retryPolicy: SampleWorld.quickRetries,
            failures: HandlerFailures(failEvery: 2, failProduct: 2), logger: SamplesEnvironment.logger(world.basketService))
        // Product 1 changes four times (every second new event fails once); product 2 fails on every attempt.
        let changes = Self.priceChanges(productId: 1, count: 4)
        let poisoned = ProductPriceChangedIntegrationEvent(productId: 2, newPrice: 30, oldPrice: 20)
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "kim", price: "10")).status == .ok)
            try await world.withPublisher { bus in
                for event in changes + [poisoned] { try await bus.publish(event) }
            }
            try await eventually("product 1's changes are applied and product 2's is dead-lettered") {
                let handled = try await basket.metric("eventbus_handled_total", ["service": world.basketService])
                let dead = try await basket.metric("eventbus_dead_lettered_total", ["service": world.basketService])
                return handled == 4 && dead == 1
            }
            // Two first attempts failed on purpose, plus product 2's nine retries (10 attempts).
            #expect(try await basket.metric("eventbus_retried_total", ["service": world.basketService]) == 11)
        }
        for event in changes {
            #expect(try await repository.effects(eventID: event.id.uuidString.lowercased()).count == 1, "applied exactly once")
        }
        #expect(try await repository.effects(eventID: poisoned.id.uuidString.lowercased()).isEmpty, "never applied")
        let connection = try await AMQPConnection.connect(url: SamplesEnvironment.brokerURL, connectionName: "inspect-\(world.id)")
        let channel = try await connection.openChannel()
        let letter = try #require(try await channel.get(queue: "\(world.basketService).dead-letter", noAck: true))
        #expect(letter.properties.messageID == poisoned.id.uuidString.lowercased())
        #expect(letter.headers["x-dead-letter-reason"] == .string(DeadLetterReason.maxDeliveryAttemptsExceeded.rawValue))
        #expect(letter.headers["x-last-error"]?.stringValue?.contains("product 2 always fails") == true)
        #expect(try await channel.get(queue: "\(world.basketService).dead-letter", noAck: true) == nil, "nothing else")
        await connection.close()
        await world.cleanUp()
    }

    @Test func settingsReadTheBasketVariablesAndRejectBadValues() throws {
        let defaults = try BasketSettings(environment: [:])
        #expect(defaults.failures.isOff)
        #expect(defaults.retryPolicy == .eventGrid)
        let set = try BasketSettings(environment: [
            "BASKET_FAIL_EVERY": "10", "BASKET_FAIL_PRODUCT": "7", "BASKET_RETRY_DELAYS_MS": "20, 50,100",
        ])
        #expect(set.failures == HandlerFailures(failEvery: 10, failProduct: 7))
        #expect(set.retryPolicy.delays == [.milliseconds(20), .milliseconds(50), .milliseconds(100)])
        #expect(set.retryPolicy.maxDeliveryAttempts == RetryPolicy.eventGrid.maxDeliveryAttempts)
        for (name, value) in [
            ("BASKET_FAIL_EVERY", "0"), ("BASKET_FAIL_EVERY", "ten"), ("BASKET_FAIL_PRODUCT", "seven"),
            ("BASKET_RETRY_DELAYS_MS", "20,,50"), ("BASKET_RETRY_DELAYS_MS", "0"), ("BASKET_RETRY_DELAYS_MS", "99999999999999999999"),
        ] {
            #expect(throws: EventBusError.self, "\(name)=\(value)") { try BasketSettings(environment: [name: value]) }
        }
    }

    /// `count` changes of one product, 10 → 11 → 12 …, one second apart.
    static func priceChanges(productId: Int, count: Int) -> [ProductPriceChangedIntegrationEvent] {
        var changes: [ProductPriceChangedIntegrationEvent] = []
        for step in 0..<count {
            let oldPrice = Decimal(10 + step)
            let changedAt = Date(timeIntervalSinceNow: Double(step) - 10)
            changes.append(ProductPriceChangedIntegrationEvent(creationDate: changedAt, productId: productId, newPrice: oldPrice + 1, oldPrice: oldPrice))
        }
        return changes
    }

    static func location(_ store: String, world: SampleWorld) async throws -> DatabaseLocation {
        store == "sqlite"
            ? .sqlite(path: try SamplesEnvironment.sqlitePath("basket"))
            : .postgres(url: try await TemporaryPostgresDatabase.create("basket_\(world.id)"))
    }

    static func open(_ location: DatabaseLocation) async throws -> SampleDatabase {
        let logger = SamplesEnvironment.logger("effects")
        return try await SampleDatabase.open(location, logger: logger) { database in
            try await makeBasketRepository(database, logger: logger).migrate()
        }
    }

    static func finish(_ store: String, world: SampleWorld) async throws {
        if store == "postgres" { try await TemporaryPostgresDatabase.drop("basket_\(world.id)") }
        await world.cleanUp()
    }
}
