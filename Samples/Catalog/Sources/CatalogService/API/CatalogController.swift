import EventBus
import Hummingbird
import Logging
import SampleSupport

extension CatalogItem: ResponseCodable {}
extension CatalogPage: ResponseCodable {}

/// The catalog's HTTP API (DESIGN section 9), under `/api/v1/catalog`:
/// - `GET items?pageSize=10&pageIndex=0`: a ``CatalogPage``;
/// - `GET items/{id}`: one ``CatalogItem``, 404 when unknown;
/// - `PUT items` with a ``CatalogItemUpdate``: saves the item and, when its price changed, a
///   ``ProductPriceChangedIntegrationEvent`` through the outbox in one transaction, then publishes the event.
///   Unknown item → 404.
///
/// Every query parameter, path parameter and body field is bounded (``CatalogItemUpdate/validate()``,
/// `FieldValidation`): a value out of range, not a number, or a body over 256 KiB gets a 400 (413 for the size) with
/// `{"error": {"message": "…", "field": "pageIndex"}}`.
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

    /// The largest `pageIndex`: far past the last page of any catalog, and `pageIndex * pageSize` stays small.
    static var maximumPageIndex: Int { 1_000_000 }

    @Sendable func list(_ request: Request, context: Context) async throws -> CatalogPage {
        let query = request.uri.queryParameters
        let size = try FieldValidation.integer(query.get("pageSize"), field: "pageSize", in: 1...100, default: 10)
        let index = try FieldValidation.integer(query.get("pageIndex"), field: "pageIndex", in: 0...Self.maximumPageIndex, default: 0)
        let (items, total) = try await repository.page(index: index, size: size)
        return CatalogPage(pageIndex: index, pageSize: size, count: total, data: items)
    }

    @Sendable func item(_ request: Request, context: Context) async throws -> CatalogItem {
        let id = try FieldValidation.integer(context.parameters.get("id"), field: "id", in: FieldValidation.identifiers)
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
