import EventBus
import Hummingbird
import Logging

extension CatalogItem: ResponseCodable {}
extension CatalogPage: ResponseCodable {}

/// The catalog's HTTP API (DESIGN section 9), under `/api/v1/catalog`:
/// - `GET items?pageSize=10&pageIndex=0`: a ``CatalogPage``;
/// - `GET items/{id}`: one ``CatalogItem``, 404 when unknown;
/// - `PUT items` with a ``CatalogItemUpdate``: saves the item and, when its price changed, a
///   ``ProductPriceChangedIntegrationEvent`` through the outbox in one transaction, then publishes the event.
///   Unknown item → 404; malformed body or negative price → 400, with `{"error": {"message": "…"}}`.
public struct CatalogController<Context: RequestContext>: Sendable {
    let repository: any CatalogRepository
    let publisher: OutboxPublisher

    /// Creates the controller.
    public init(repository: any CatalogRepository, publisher: OutboxPublisher) {
        self.repository = repository
        self.publisher = publisher
    }

    /// Adds the routes to `group` (mounted at `/api/v1/catalog`).
    public func addRoutes(to group: RouterGroup<Context>) {
        group.get("items", use: list)
        group.get("items/:id", use: item)
        group.put("items", use: update)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> CatalogPage {
        let size = try Self.integer("pageSize", in: request) ?? 10
        let index = try Self.integer("pageIndex", in: request) ?? 0
        guard (1...100).contains(size), index >= 0 else {
            throw HTTPError(.badRequest, message: "pageSize must be 1...100 and pageIndex at least 0")
        }
        let (items, total) = try await repository.page(index: index, size: size)
        return CatalogPage(pageIndex: index, pageSize: size, count: total, data: items)
    }

    /// The query parameter `name` as an integer; `nil` when absent, a 400 when not a number.
    static func integer(_ name: String, in request: Request) throws -> Int? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int(text) else { throw HTTPError(.badRequest, message: "\(name) must be an integer, not '\(text)'") }
        return value
    }

    @Sendable func item(_ request: Request, context: Context) async throws -> CatalogItem {
        let id = try context.parameters.require("id", as: Int.self)
        guard let item = try await repository.item(id: id) else {
            throw HTTPError(.notFound, message: "no catalog item has id \(id)")
        }
        return item
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> CatalogItem {
        let update = try await request.decodeJSON(as: CatalogItemUpdate.self, context: context)
        try update.validate()
        let change = try await repository.update(update) { previous, updated in
            // Same price, no event (eShop's rule): consumers only hear about real changes.
            guard previous.price != updated.price else { return [] }
            return [ProductPriceChangedIntegrationEvent(productId: updated.id, newPrice: updated.price, oldPrice: previous.price)]
        }
        guard let change else { throw HTTPError(.notFound, message: "no catalog item has id \(update.id)") }
        for event in change.events {
            context.logger.info("catalog item price changed; event saved to the outbox", metadata: [
                "event.id": "\(event.id.uuidString.lowercased())", "event.type": "\(ProductPriceChangedIntegrationEvent.eventTypeName)",
                "product.id": "\(event.productId)", "price.old": "\(event.oldPrice)", "price.new": "\(event.newPrice)",
            ])
        }
        // After commit. Never throws: an event the broker does not confirm stays in the outbox for the relay.
        if !change.outboxEntries.isEmpty { await publisher.publish(change.outboxEntries) }
        return change.item
    }
}
