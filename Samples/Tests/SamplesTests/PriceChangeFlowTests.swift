import BasketService
import CatalogService
import Foundation
import Hummingbird
import HummingbirdTesting
import SampleSupport
import TestSupport
import Testing

/// The ProductPriceChanged story end to end, in process: Catalog and Basket on SQLite against the real broker.
@Suite("Catalog → Basket price change flow")
struct PriceChangeFlowTests {
    @Test func priceChangeUpdatesBasketKeepingOldPriceAndLeavesOtherBasketsAlone() async throws {
        let world = SampleWorld()
        let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
        let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "alice")).status == .ok)
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "bob", productId: 2, name: "Mug", price: "8.5")).status == .ok)
            try await catalog.test(.router) { catalog in
                try await catalog.waitUntilHealthy()
                let item = try await catalog.get("/api/v1/catalog/items/1", as: CatalogItem.self)
                #expect(item.price == Decimal(string: "19.5"))
                let response = try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 1, "price": 17.25}"#)
                #expect(response.status == .ok)
                #expect(try await catalog.get("/api/v1/catalog/items/1", as: CatalogItem.self).price == Decimal(string: "17.25"))
            }
            try await eventually("alice's line has the new price") {
                try await basket.get("/api/v1/basket/alice", as: CustomerBasket.self).items.first?.unitPrice == Decimal(string: "17.25")
            }
            let alice = try await basket.get("/api/v1/basket/alice", as: CustomerBasket.self)
            #expect(alice.items.count == 1)
            #expect(alice.items[0].oldUnitPrice == Decimal(string: "19.5"))
            #expect(alice.items[0].quantity == 1)
            let bob = try await basket.get("/api/v1/basket/bob", as: CustomerBasket.self)
            #expect(bob.items.map(\.unitPrice) == [Decimal(string: "8.5")])
            #expect(bob.items.map(\.oldUnitPrice) == [0])

            let page = try await basket.execute(uri: "/basket/alice", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: page.body).contains("The price of .NET Bot Black Hoodie changed from 19.50 to 17.25"))
            let bobPage = String(buffer: try await basket.execute(uri: "/basket/bob", method: .get).body)
            #expect(!bobPage.contains("changed from"))
            #expect(try await basket.metric("basket_price_changes_total", ["service": world.basketService, "outcome": "applied"]) == 1)
        }
        await world.cleanUp()
    }

    @Test func samePriceSavesNoEvent() async throws {
        let world = SampleWorld()
        let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
        try await catalog.test(.router) { catalog in
            let response = try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 3, "price": 12, "name": "Prism T-Shirt"}"#)
            #expect(response.status == .ok)
            let item = try await catalog.get("/api/v1/catalog/items/3", as: CatalogItem.self)
            #expect(item.name == "Prism T-Shirt")
            #expect(item.price == 12)
            #expect(try await catalog.metric("eventbus_published_total", ["service": world.catalogService]) == 0)
        }
        await world.cleanUp()
    }

    @Test func priceChangeWhileBasketIsDownIsAppliedWhenItComesBack() async throws {
        let world = SampleWorld()
        let basketDatabase = DatabaseLocation.sqlite(path: try SamplesEnvironment.sqlitePath("basket"))
        let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
        // First Basket instance: declares its queue, takes the basket, then stops.
        try await world.basketApplication(basketDatabase).test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "carol", quantity: 3)).status == .ok)
        }
        try await catalog.test(.router) { catalog in
            #expect(try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 1, "price": 21}"#).status == .ok)
            try await eventually("the event is confirmed by the broker (it waits in Basket's queue)") {
                try await catalog.metric("eventbus_confirmed_total", ["service": world.catalogService]) == 1
            }
        }
        // Basket comes back on the same database and queue.
        try await world.basketApplication(basketDatabase).test(.router) { basket in
            try await eventually("the change made while Basket was down is applied") {
                try await basket.get("/api/v1/basket/carol", as: CustomerBasket.self).items.first?.unitPrice == 21
            }
            let carol = try await basket.get("/api/v1/basket/carol", as: CustomerBasket.self)
            #expect(carol.items.first?.oldUnitPrice == Decimal(string: "19.5"))
            #expect(carol.items.first?.quantity == 3)
        }
        await world.cleanUp()
    }

    @Test func eventsPublishedBeforeBasketExistsAreRelayedFromTheOutbox() async throws {
        let world = SampleWorld()
        let basketPath = try SamplesEnvironment.sqlitePath("basket")
        let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
        try await catalog.test(.router) { catalog in
            try await catalog.waitUntilHealthy()
            // No queue is bound yet: the mandatory publish fails and the event stays in the outbox.
            #expect(try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 1, "price": 18}"#).status == .ok)
            // The publish runs after the commit: wait for the broker's return rather than assume it came already.
            try await eventually("the unroutable publish was returned") {
                try await catalog.metric("eventbus_returned_total", ["service": world.catalogService]) >= 1
            }
            // Dave's basket exists before Basket's bus declares its queue.
            let logger = SamplesEnvironment.logger("basket-db")
            let database = try await SampleDatabase.open(.sqlite(path: basketPath), logger: logger) {
                try await makeBasketRepository($0, logger: logger).migrate()
            }
            let repository = makeBasketRepository(database, logger: logger)
            _ = try await repository.save(CustomerBasket(buyerId: "dave", items: [
                BasketItem(productId: 1, productName: ".NET Bot Black Hoodie", unitPrice: Decimal(string: "19.5") ?? 0, quantity: 1),
            ]))
            try await world.basketApplication(.sqlite(path: basketPath)).test(.router) { basket in
                try await eventually("the relay republishes the event once Basket's queue exists") {
                    try await basket.get("/api/v1/basket/dave", as: CustomerBasket.self).items.first?.unitPrice == 18
                }
            }
        }
        await world.cleanUp()
    }
}
