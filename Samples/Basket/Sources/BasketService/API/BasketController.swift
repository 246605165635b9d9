import Hummingbird
import SampleSupport

extension CustomerBasket: ResponseCodable {}

/// The basket's HTTP API (DESIGN section 9), under `/api/v1/basket`:
/// - `GET {buyerId}`: the buyer's ``CustomerBasket`` (empty when they have none, as in eShop);
/// - `POST` with a ``CustomerBasket``: replaces the buyer's basket;
/// - `DELETE {buyerId}`: 204, or 404 when there was no basket.
///
/// A buyer id, a body over 256 KiB or any body field out of range (``CustomerBasket/validate()``) gets a 400 (413 for
/// the size) with `{"error": {"message": "…", "field": "items[0].quantity"}}`.
public struct BasketController<Context: RequestContext>: Sendable {
    let repository: any BasketRepository

    /// Creates the controller.
    public init(repository: any BasketRepository) {
        self.repository = repository
    }

    /// Adds the routes to `group` (mounted at `/api/v1/basket`).
    public func addRoutes(to group: RouterGroup<Context>) {
        group.get(":buyerId", use: basket)
        group.post(use: save)
        group.delete(":buyerId", use: delete)
    }

    @Sendable func basket(_ request: Request, context: Context) async throws -> CustomerBasket {
        let buyerId = try CustomerBasket.validBuyerId(context.parameters.get("buyerId") ?? "")
        return try await repository.basket(buyerId: buyerId) ?? CustomerBasket(buyerId: buyerId)
    }

    @Sendable func save(_ request: Request, context: Context) async throws -> CustomerBasket {
        let basket = try await request.decodeJSON(as: CustomerBasket.self, context: context)
        try basket.validate()
        return try await repository.save(basket)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let buyerId = try CustomerBasket.validBuyerId(context.parameters.get("buyerId") ?? "")
        guard try await repository.delete(buyerId: buyerId) else {
            throw HTTPError(.notFound, message: "buyer '\(buyerId)' has no basket")
        }
        return .noContent
    }
}
