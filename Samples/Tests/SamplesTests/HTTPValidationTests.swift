import BasketService
import CatalogService
import Foundation
import Hummingbird
import HummingbirdTesting
import SampleSupport
import TestSupport
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

    /// Every query, path and body field of the catalog, out of range, not a number, negative, huge or hostile: each
    /// is a 400 (413 for the body's size) naming the field, and the service lives on.
    static let catalogFieldCases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
        (.get, "/api/v1/catalog/items?pageSize=100&pageIndex=9223372036854775807", nil, .badRequest, "pageIndex"),
        (.get, "/api/v1/catalog/items?pageIndex=1000001", nil, .badRequest, "pageIndex"),
        (.get, "/api/v1/catalog/items?pageIndex=-1", nil, .badRequest, "pageIndex"),
        (.get, "/api/v1/catalog/items?pageIndex=99999999999999999999999999", nil, .badRequest, "pageIndex"),
        (.get, "/api/v1/catalog/items?pageIndex=first", nil, .badRequest, "pageIndex"),
        (.get, "/api/v1/catalog/items?pageIndex=", nil, .badRequest, "pageIndex"),
        (.get, "/api/v1/catalog/items?pageSize=0", nil, .badRequest, "pageSize"),
        (.get, "/api/v1/catalog/items?pageSize=101", nil, .badRequest, "pageSize"),
        (.get, "/api/v1/catalog/items?pageSize=-9223372036854775808", nil, .badRequest, "pageSize"),
        (.get, "/api/v1/catalog/items?pageSize=1e3", nil, .badRequest, "pageSize"),
        (.get, "/api/v1/catalog/items/abc", nil, .badRequest, "id"),
        (.get, "/api/v1/catalog/items/0", nil, .badRequest, "id"),
        (.get, "/api/v1/catalog/items/-1", nil, .badRequest, "id"),
        (.get, "/api/v1/catalog/items/2147483648", nil, .badRequest, "id"),
        (.get, "/api/v1/catalog/items/99999999999999999999", nil, .badRequest, "id"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": -1}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": -0.0001}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 1000000.01}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 1e300}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 1e-300}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 1.23456}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": "cheap"}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": null}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 1}"#, .badRequest, "price"),
        (.put, "/api/v1/catalog/items", #"{"id": 0, "price": 10}"#, .badRequest, "id"),
        (.put, "/api/v1/catalog/items", #"{"id": 2147483648, "price": 10}"#, .badRequest, "id"),
        (.put, "/api/v1/catalog/items", #"{"id": 1e30, "price": 10}"#, .badRequest, "id"),
        (.put, "/api/v1/catalog/items", #"{"id": 1.5, "price": 10}"#, .badRequest, "id"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "name": " "}"#, .badRequest, "name"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "name": ""}"#, .badRequest, "name"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "name": "a\u0000b"}"#, .badRequest, "name"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "name": "\#(String(repeating: "n", count: 201))"}"#, .badRequest, "name"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "description": "\#(String(repeating: "d", count: 2_001))"}"#, .badRequest, "description"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "description": 7}"#, .badRequest, "description"),
        (.put, "/api/v1/catalog/items", #"{"id": 1, "price": 10, "description": "\#(String(repeating: "d", count: 300_000))"}"#, .contentTooLarge, "body"),
        (.put, "/api/v1/catalog/items", "not json", .badRequest, "body"),
        (.put, "/api/v1/catalog/items", "[]", .badRequest, "body"),
    ]

    @Test(arguments: ["sqlite", "postgres"])
    func catalogNamesTheFieldOfEveryBadValueAndStaysUp(store: String) async throws {
        let world = SampleWorld()
        let database: DatabaseLocation = store == "sqlite"
            ? .sqlite(path: try SamplesEnvironment.sqlitePath("catalog"))
            : .postgres(url: try await TemporaryPostgresDatabase.create("catalog_\(world.id)"))
        let catalog = try await world.catalogApplication(database)
        try await catalog.test(.router) { catalog in
            for (method, uri, body, status, field) in Self.catalogFieldCases {
                let response = try await catalog.send(method, uri, json: body)
                let what = "\(store): \(method) \(uri.prefix(100)) \(body?.prefix(100) ?? "")"
                #expect(response.status == status, "\(what)")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(what)")
                #expect(response.errorField == field, "\(what): \(String(buffer: response.body).prefix(300))")
                #expect(response.errorMessage?.isEmpty == false, "\(what) has a JSON error message")
            }
            // Still serving, nothing changed, nothing published.
            let last = try await catalog.get("/api/v1/catalog/items?pageSize=100&pageIndex=1000000", as: CatalogPage.self)
            #expect(last.data.isEmpty && last.count == 12)
            #expect(try await catalog.get("/api/v1/catalog/items/1", as: CatalogItem.self).price == Decimal(string: "19.5"))
            #expect(try await catalog.get("/api/v1/catalog/items/1", as: CatalogItem.self).name == ".NET Bot Black Hoodie")
            #expect(try await catalog.metric("eventbus_published_total", ["service": world.catalogService]) == 0)
            // The bounds themselves are accepted.
            let cheapest = try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 2, "price": 0.0001}"#)
            #expect(cheapest.status == .ok)
            let dearest = try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 3, "price": 1000000}"#)
            #expect(dearest.status == .ok)
        }
        if store == "postgres" { try await TemporaryPostgresDatabase.drop("catalog_\(world.id)") }
        await world.cleanUp()
    }

    @Test(arguments: ["sqlite", "postgres"])
    func catalogRepositoriesRefuseAnOverflowingPageInsteadOfTrapping(store: String) async throws {
        let world = SampleWorld()
        let location: DatabaseLocation = store == "sqlite"
            ? .sqlite(path: try SamplesEnvironment.sqlitePath("catalog"))
            : .postgres(url: try await TemporaryPostgresDatabase.create("catalog_\(world.id)"))
        let logger = SamplesEnvironment.logger("catalog")
        let database = try await SampleDatabase.open(location, logger: logger) { database in
            try await makeCatalogRepository(database, logger: logger).migrate()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in database.services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            let repository = makeCatalogRepository(database, logger: logger)
            for (index, size) in [(Int.max, 100), (Int.max / 50, 100), (-1, 10), (0, -1), (Int.min, 2)] {
                await #expect(throws: CatalogStorageError.self, "\(store) page \(index) of \(size)") {
                    _ = try await repository.page(index: index, size: size)
                }
            }
            let first = try await repository.page(index: 0, size: 10)
            #expect(first.items.isEmpty && first.total == 0)
        }
        if store == "postgres" { try await TemporaryPostgresDatabase.drop("catalog_\(world.id)") }
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

    /// Every path and body field of the basket, out of range or hostile: a 400 (413 for the body's size) naming it.
    static let basketFieldCases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = {
        let longBuyer = String(repeating: "b", count: 201)
        func line(_ fields: String) -> String { #"{"buyerId": "x", "items": [{"productId": 1, "productName": "Mug", "unitPrice": 8.5, "quantity": 1\#(fields)}]}"# }
        let manyLines = (0...100).map { #"{"id": "l\#($0)", "productId": 1, "productName": "Mug", "unitPrice": 1, "quantity": 1}"# }
        return [
            (.get, "/api/v1/basket/\(longBuyer)", nil, .badRequest, "buyerId"),
            (.delete, "/api/v1/basket/\(longBuyer)", nil, .badRequest, "buyerId"),
            (.get, "/basket/\(longBuyer)", nil, .badRequest, "buyerId"),
            (.post, "/api/v1/basket", "{", .badRequest, "body"),
            (.post, "/api/v1/basket", #"{"buyerId": "x"}"#, .badRequest, "items"),
            (.post, "/api/v1/basket", #"{"buyerId": "", "items": []}"#, .badRequest, "buyerId"),
            (.post, "/api/v1/basket", #"{"buyerId": "\#(longBuyer)", "items": []}"#, .badRequest, "buyerId"),
            (.post, "/api/v1/basket", #"{"buyerId": "a/b", "items": []}"#, .badRequest, "buyerId"),
            (.post, "/api/v1/basket", #"{"buyerId": "x", "items": [\#(manyLines.joined(separator: ","))]}"#, .badRequest, "items"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", price: "-1"), .badRequest, "items[0].unitPrice"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", price: "1e300"), .badRequest, "items[0].unitPrice"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", price: "1.00001"), .badRequest, "items[0].unitPrice"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", price: "\"free\""), .badRequest, "items[0].unitPrice"),
            (.post, "/api/v1/basket", line(#", "oldUnitPrice": -3"#), .badRequest, "items[0].oldUnitPrice"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", quantity: 0), .badRequest, "items[0].quantity"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", quantity: 10_001), .badRequest, "items[0].quantity"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", productId: 0), .badRequest, "items[0].productId"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", productId: 2_147_483_648), .badRequest, "items[0].productId"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x").replacingOccurrences(of: #""productId": 1"#, with: #""productId": 1e40"#),
             .badRequest, "items[0].productId"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", name: ""), .badRequest, "items[0].productName"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", name: String(repeating: "n", count: 201)), .badRequest, "items[0].productName"),
            (.post, "/api/v1/basket", basketJSON(buyer: "x", name: #"a\u0000b"#), .badRequest, "items[0].productName"),
            (.post, "/api/v1/basket", line(#", "id": """#), .badRequest, "items[0].id"),
            (.post, "/api/v1/basket", line(#", "id": "\#(String(repeating: "i", count: 101))""#), .badRequest, "items[0].id"),
            (.post, "/api/v1/basket", #"{"buyerId": "\#(String(repeating: "b", count: 300_000))", "items": []}"#, .contentTooLarge, "body"),
        ]
    }()

    @Test(arguments: ["sqlite", "postgres"])
    func basketNamesTheFieldOfEveryBadValueAndStaysUp(store: String) async throws {
        let world = SampleWorld()
        let database: DatabaseLocation = store == "sqlite"
            ? .sqlite(path: try SamplesEnvironment.sqlitePath("basket"))
            : .postgres(url: try await TemporaryPostgresDatabase.create("basket_\(world.id)"))
        let basket = try await world.basketApplication(database)
        try await basket.test(.router) { basket in
            for (method, uri, body, status, field) in Self.basketFieldCases {
                let response = try await basket.send(method, uri, json: body)
                let what = "\(store): \(method) \(uri.prefix(100)) \(body?.prefix(100) ?? "")"
                #expect(response.status == status, "\(what)")
                #expect(response.errorField == field, "\(what): \(String(buffer: response.body).prefix(300))")
            }
            #expect(try await basket.get("/api/v1/basket/x", as: CustomerBasket.self).items.isEmpty, "nothing was saved")
            // The bounds themselves are accepted.
            let largest = basketJSON(buyer: String(repeating: "b", count: 200), productId: 2_147_483_647, price: "1000000", quantity: 10_000)
            #expect(try await basket.send(.post, "/api/v1/basket", json: largest).status == .ok)
        }
        if store == "postgres" { try await TemporaryPostgresDatabase.drop("basket_\(world.id)") }
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
            // The database check has a 2 s deadline, which a machine running every suite at once can miss: ask
            // again until the database answers in time; the broker must read "down" every time.
            try await eventually("the health report shows the database up and the broker down") {
                let response = try await catalog.execute(uri: "/health", method: .get)
                let health = try JSONDecoder().decode(HealthReport.self, from: Data(buffer: response.body))
                #expect(response.status == .serviceUnavailable)
                #expect(health.broker == "down")
                return health.database == "up"
            }
        }
    }
}
