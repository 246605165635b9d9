import BasketService
import CatalogService
import Foundation
import Hummingbird
import HummingbirdTesting
import SampleSupport
import Testing

/// Bad requests get 400 or 404 with a JSON error; `/health` and `/metrics` tell how a service is doing.
@Suite("HTTP validation, health and metrics")
struct HTTPValidationTests {
    @Test func catalogRejectsBadRequestsWithJSONErrors() async throws {
        let world = SampleWorld()
        let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
        try await catalog.test(.router) { catalog in
            let cases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status)] = [
                (.get, "/api/v1/catalog/items/999", nil, .notFound),
                (.get, "/api/v1/catalog/items/abc", nil, .badRequest),
                (.get, "/api/v1/catalog/items?pageSize=0", nil, .badRequest),
                (.get, "/api/v1/catalog/items?pageIndex=first", nil, .badRequest),
                (.put, "/api/v1/catalog/items", #"{"id": 999, "price": 10}"#, .notFound),
                (.put, "/api/v1/catalog/items", #"{"id": 1, "price": -1}"#, .badRequest),
                (.put, "/api/v1/catalog/items", #"{"id": 1, "price": "cheap"}"#, .badRequest),
                (.put, "/api/v1/catalog/items", #"{"id": 1}"#, .badRequest),
                (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "name": " "}"#, .badRequest),
                (.put, "/api/v1/catalog/items", "not json", .badRequest),
            ]
            for (method, uri, body, status) in cases {
                let response = try await catalog.send(method, uri, json: body)
                #expect(response.status == status, "\(method) \(uri) \(body ?? "")")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(method) \(uri)")
                #expect(response.errorMessage?.isEmpty == false, "\(method) \(uri) has a JSON error message")
            }
            #expect(try await catalog.get("/api/v1/catalog/items/1", as: CatalogItem.self).price == Decimal(string: "19.5"), "nothing changed")
            #expect(try await catalog.metric("eventbus_published_total", ["service": world.catalogService]) == 0)
        }
        await world.cleanUp()
    }

    @Test func catalogListsItsTwelveSeededItemsInPages() async throws {
        let world = SampleWorld()
        let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
        try await catalog.test(.router) { catalog in
            let first = try await catalog.get("/api/v1/catalog/items", as: CatalogPage.self)
            #expect(first.count == 12)
            #expect(first.data.map(\.id) == Array(1...10))
            let second = try await catalog.get("/api/v1/catalog/items?pageSize=10&pageIndex=1", as: CatalogPage.self)
            #expect(second.data.map(\.id) == [11, 12])
            #expect(second.data.allSatisfy { $0.price > 0 && !$0.name.isEmpty })
        }
        await world.cleanUp()
    }

    @Test func basketRejectsBadRequestsWithJSONErrors() async throws {
        let world = SampleWorld()
        let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
        try await basket.test(.router) { basket in
            let cases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status)] = [
                (.post, "/api/v1/basket", "{", .badRequest),
                (.post, "/api/v1/basket", #"{"buyerId": "x"}"#, .badRequest),
                (.post, "/api/v1/basket", #"{"buyerId": "", "items": []}"#, .badRequest),
                (.post, "/api/v1/basket", basketJSON(buyer: "x", price: "-1"), .badRequest),
                (.post, "/api/v1/basket", basketJSON(buyer: "x", quantity: 0), .badRequest),
                (.delete, "/api/v1/basket/nobody", nil, .notFound),
            ]
            for (method, uri, body, status) in cases {
                let response = try await basket.send(method, uri, json: body)
                #expect(response.status == status, "\(method) \(uri) \(body ?? "")")
                #expect(response.errorMessage?.isEmpty == false, "\(method) \(uri) has a JSON error message")
            }
            #expect(try await basket.get("/api/v1/basket/x", as: CustomerBasket.self).items.isEmpty, "nothing was saved")
        }
        await world.cleanUp()
    }

    @Test func basketApiCreatesReplacesAndDeletesBaskets() async throws {
        let world = SampleWorld()
        let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
        try await basket.test(.router) { basket in
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "ivan", quantity: 2)).status == .ok)
            let replaced = #"{"buyerId": "ivan", "items": [{"productId": 2, "productName": "Mug", "unitPrice": 8.5, "quantity": 1}]}"#
            let saved = try await basket.send(.post, "/api/v1/basket", json: replaced)
            #expect(saved.status == .ok)
            let ivan = try await basket.get("/api/v1/basket/ivan", as: CustomerBasket.self)
            #expect(ivan.items.map(\.productId) == [2])
            #expect(ivan.items.first?.id.isEmpty == false, "a line without id gets one")
            #expect(try await basket.send(.delete, "/api/v1/basket/ivan").status == .noContent)
            #expect(try await basket.get("/api/v1/basket/ivan", as: CustomerBasket.self).items.isEmpty)
            let page = String(buffer: try await basket.execute(uri: "/basket/ivan", method: .get).body)
            #expect(page.contains("The basket is empty."))
        }
        await world.cleanUp()
    }

    @Test func healthReportsBrokerAndDatabaseAndMetricsArePrometheusText() async throws {
        let world = SampleWorld()
        let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            let health = try await basket.get("/health", as: HealthReport.self)
            #expect(health == HealthReport(status: "up", broker: "up", database: "up", store: "sqlite"))
            let metrics = try await basket.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: metrics.body)
            for counter in ["published", "handled", "failed", "retried", "dead_lettered", "duplicates"] {
                #expect(text.contains("# TYPE eventbus_\(counter)_total counter"), "eventbus_\(counter)_total")
            }
        }
        await world.cleanUp()
    }

    @Test func healthIsUnavailableWhenTheBrokerIsUnreachable() async throws {
        let world = SampleWorld()
        var configuration = world.catalog(.sqlite(path: try SamplesEnvironment.sqlitePath("catalog")))
        configuration.eventBusURL = "amqp://guest:guest@127.0.0.1:1/"
        let catalog = try await buildCatalogApplication(configuration: configuration, logger: SamplesEnvironment.logger("catalog"))
        try await catalog.test(.router) { catalog in
            let response = try await catalog.execute(uri: "/health", method: .get)
            #expect(response.status == .serviceUnavailable)
            let health = try JSONDecoder().decode(HealthReport.self, from: Data(buffer: response.body))
            #expect(health.broker == "down")
            #expect(health.database == "up")
        }
    }
}
