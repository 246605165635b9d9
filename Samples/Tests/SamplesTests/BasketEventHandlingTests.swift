import AMQP
import BasketService
import EventBus
import Foundation
import HummingbirdTesting
import SampleSupport
import TestSupport
import Testing

/// How Basket handles `ProductPriceChangedIntegrationEvent`s that arrive twice, late, or from .NET eShop.
@Suite("Basket event handling")
struct BasketEventHandlingTests {
    @Test func sameEventDeliveredTwiceIsAppliedExactlyOnce() async throws {
        let world = SampleWorld()
        let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "erin", price: "10")).status == .ok)
            let event = ProductPriceChangedIntegrationEvent(productId: 1, newPrice: 12, oldPrice: 10)
            try await world.withPublisher { bus in
                try await bus.publish(event)
                try await bus.publish(event)
            }
            try await eventually("both deliveries are handled or recognised") {
                let applied = try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "applied"])
                let duplicates = try await basket.metric("eventbus_duplicates_total", ["service": world.basketService])
                let inTransaction = try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "duplicate"])
                return applied + duplicates + inTransaction == 2
            }
            #expect(try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "applied"]) == 1)
            let erin = try await basket.get("/api/v1/basket/erin", as: CustomerBasket.self)
            #expect(erin.items.map(\.unitPrice) == [12])
            #expect(erin.items.map(\.oldUnitPrice) == [10])
        }
        await world.cleanUp()
    }

    @Test func stalePriceChangeNeverOverwritesANewerOne() async throws {
        let world = SampleWorld()
        let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
        let earlier = Date(timeIntervalSinceNow: -60)
        let later = Date(timeIntervalSinceNow: -30)
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "frank", price: "10")).status == .ok)
            try await world.withPublisher { bus in
                // 10 → 12 happened first, 12 → 15 second, but they arrive the other way round.
                try await bus.publish(ProductPriceChangedIntegrationEvent(creationDate: later, productId: 1, newPrice: 15, oldPrice: 12))
                try await bus.publish(ProductPriceChangedIntegrationEvent(creationDate: earlier, productId: 1, newPrice: 12, oldPrice: 10))
            }
            try await eventually("both changes are handled") {
                try await basket.metric("eventbus_handled_total", ["service": world.basketService]) == 2
            }
            let frank = try await basket.get("/api/v1/basket/frank", as: CustomerBasket.self)
            #expect(frank.items.map(\.unitPrice) == [15], "the newest price wins whatever the order of arrival")
            #expect(frank.items.map(\.oldUnitPrice) == [10], "the buyer is told the price they saw")
            #expect(try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "stale"]) == 1)

            // A change older than what the line shows is ignored too.
            try await world.withPublisher { bus in
                try await bus.publish(ProductPriceChangedIntegrationEvent(creationDate: earlier, productId: 1, newPrice: 9, oldPrice: 15))
            }
            try await eventually("the stale change is handled") {
                try await basket.metric("eventbus_handled_total", ["service": world.basketService]) == 3
            }
            #expect(try await basket.get("/api/v1/basket/frank", as: CustomerBasket.self).items.map(\.unitPrice) == [15])
        }
        await world.cleanUp()
    }

    @Test func basketConsumesEShopCatalogEventsAsTheyAreOnTheWire() async throws {
        let world = SampleWorld()
        // eShop's exchange is direct and non-durable; its basket queue is "Basket".
        var eShopConfiguration = world.basket(.sqlite(path: try SamplesEnvironment.sqlitePath("basket")))
        eShopConfiguration.exchange = "eshop_event_bus.\(world.id)"
        eShopConfiguration.queueName = "Basket.\(world.id)"
        let configuration = eShopConfiguration
        let basket = try await buildBasketApplication(
            configuration: configuration, retryPolicy: SampleWorld.quickRetries, logger: SamplesEnvironment.logger("basket"))
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "grace", price: "19.5")).status == .ok)
            // What .NET eShop's catalog sends: PascalCase JSON with a 7-digit date, routing key = type name,
            // persistent, and no message_id, type or headers.
            let body = """
                {"ProductId":1,"NewPrice":17.25,"OldPrice":19.5,"Id":"\(UUID().uuidString.lowercased())",\
                "CreationDate":"2024-05-01T10:30:00.1234567Z"}
                """
            let connection = try await AMQPConnection.connect(url: SamplesEnvironment.brokerURL, connectionName: "eshop-catalog")
            let channel = try await connection.openChannel()
            try await channel.confirmSelect()
            try await channel.publish(
                Data(body.utf8), exchange: configuration.exchange, routingKey: "ProductPriceChangedIntegrationEvent", mandatory: true,
                properties: AMQPProperties(deliveryMode: .persistent))
            try await eventually("the .NET event is applied") {
                try await basket.get("/api/v1/basket/grace", as: CustomerBasket.self).items.first?.unitPrice == Decimal(string: "17.25")
            }
            await connection.close()
        }
        await world.cleanUp(queues: [configuration.queueName ?? ""], exchanges: [configuration.exchange])
    }

    @Test func repositoryRecordsTheEventWithItsEffect() async throws {
        let database = try await SampleDatabase.open(.sqlite(path: SamplesEnvironment.sqlitePath("basket")), logger: SamplesEnvironment.logger("db")) {
            try await makeBasketRepository($0, logger: SamplesEnvironment.logger("db")).migrate()
        }
        let repository = makeBasketRepository(database, logger: SamplesEnvironment.logger("db"))
        _ = try await repository.save(CustomerBasket(buyerId: "heidi", items: [BasketItem(productId: 7, productName: "Tee", unitPrice: 10, quantity: 2)]))
        let change = PriceChange(productId: 7, oldPrice: 10, newPrice: 12, changedAt: Date())
        #expect(try await repository.apply(change, consumer: "basket/test", messageID: "m-1") == PriceChangeOutcome(updatedLines: 1))
        #expect(try await repository.apply(change, consumer: "basket/test", messageID: "m-1") == PriceChangeOutcome(duplicate: true))
        let heidi = try await repository.basket(buyerId: "heidi")
        #expect(heidi?.items.map(\.unitPrice) == [12])
        #expect(heidi?.items.map(\.oldUnitPrice) == [10])
    }
}
