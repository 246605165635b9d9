import BasketService
import CatalogService
import EventBusPostgres
import Foundation
import HummingbirdTesting
import PostgresNIO
import SampleSupport
import TestSupport
import Testing

/// The same flow with both services on PostgreSQL (docker compose's set-up), each in a database of its own created
/// for the test, on the server of `EVENTBUS_POSTGRES_URL` (`make test` starts one). Fails when it does not answer.
@Suite("Catalog → Basket on PostgreSQL")
struct PostgresFlowTests {
    @Test func priceChangeTravelsBetweenPostgresBackedServices() async throws {
        let world = SampleWorld()
        let catalogURL = try await TemporaryPostgresDatabase.create("catalog_\(world.id)")
        let basketURL = try await TemporaryPostgresDatabase.create("basket_\(world.id)")
        let catalog = try await world.catalogApplication(.postgres(url: catalogURL))
        let basket = try await world.basketApplication(.postgres(url: basketURL))
        try await basket.test(.router) { basket in
            try await basket.waitUntilHealthy()
            #expect(try await basket.get("/health", as: HealthReport.self).store == "postgres")
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "judy", quantity: 2)).status == .ok)
            #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "ken", productId: 5, name: "Sheet", price: "8.5")).status == .ok)
            try await catalog.test(.router) { catalog in
                try await catalog.waitUntilHealthy()
                #expect(try await catalog.get("/api/v1/catalog/items", as: CatalogPage.self).count == 12)
                #expect(try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 1, "price": 17.25}"#).status == .ok)
                #expect(try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 99, "price": 1}"#).status == .notFound)
            }
            try await eventually("judy's line has the new price") {
                try await basket.get("/api/v1/basket/judy", as: CustomerBasket.self).items.first?.unitPrice == Decimal(string: "17.25")
            }
            let judy = try await basket.get("/api/v1/basket/judy", as: CustomerBasket.self)
            #expect(judy.items.first?.oldUnitPrice == Decimal(string: "19.5"))
            #expect(judy.items.first?.quantity == 2)
            #expect(try await basket.get("/api/v1/basket/ken", as: CustomerBasket.self).items.first?.oldUnitPrice == 0)
            let page = String(buffer: try await basket.execute(uri: "/basket/judy", method: .get).body)
            #expect(page.contains("The price of .NET Bot Black Hoodie changed from 19.50 to 17.25"))
        }
        try await TemporaryPostgresDatabase.drop("catalog_\(world.id)")
        try await TemporaryPostgresDatabase.drop("basket_\(world.id)")
        await world.cleanUp()
    }
}

/// Creates and drops databases on the server of `EVENTBUS_POSTGRES_URL`, so a test never shares tables.
enum TemporaryPostgresDatabase {
    static func create(_ rawName: String) async throws -> String {
        let name = sanitized(rawName)
        try await execute("CREATE DATABASE \(name)")
        guard var components = URLComponents(string: SamplesEnvironment.postgresURL) else {
            throw PostgresTestError("EVENTBUS_POSTGRES_URL is not a URL")
        }
        components.path = "/" + name
        guard let url = components.string else { throw PostgresTestError("cannot build a URL for database \(name)") }
        return url
    }

    static func drop(_ rawName: String) async throws {
        try await execute("DROP DATABASE IF EXISTS \(sanitized(rawName)) WITH (FORCE)")
    }

    private static func sanitized(_ name: String) -> String {
        String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    private static func execute(_ sql: String) async throws {
        let configuration = try PostgresEventStore.clientConfiguration(url: SamplesEnvironment.postgresURL)
        let client = PostgresClient(configuration: configuration, backgroundLogger: SamplesEnvironment.logger("postgres"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: SamplesEnvironment.logger("postgres"))
        }
    }
}

struct PostgresTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
