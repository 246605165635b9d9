import EventBus

/// The catalog's storage, one implementation per database (``SQLiteCatalogRepository``,
/// ``PostgresCatalogRepository``), so that the HTTP API is database-agnostic.
public protocol CatalogRepository: Sendable {
    /// Creates the catalog's tables when missing.
    func migrate() async throws
    /// Inserts `items` when the catalog is empty (first start).
    func seedIfEmpty(_ items: [CatalogItem]) async throws
    /// One page of items ordered by id, and the total count. One query each. Throws
    /// ``CatalogStorageError/pageOutOfRange(index:size:)`` for a negative index or size, or an overflowing offset.
    func page(index: Int, size: Int) async throws -> (items: [CatalogItem], total: Int)
    /// The item with `id`, or `nil`.
    func item(id: Int) async throws -> CatalogItem?
    /// Saves `update` and the integration events `events(previous, updated)` returns in **one local
    /// transaction** (the transactional outbox): either both the item and its events are stored or neither.
    /// Returns `nil` when no item has the update's id.
    func update(
        _ update: CatalogItemUpdate,
        events: @escaping @Sendable (_ previous: CatalogItem, _ updated: CatalogItem) -> [ProductPriceChangedIntegrationEvent]
    ) async throws -> CatalogItemChange?
}

/// What ``CatalogRepository/update(_:events:)`` did.
public struct CatalogItemChange: Sendable {
    /// The item before.
    public var previous: CatalogItem
    /// The item as saved.
    public var item: CatalogItem
    /// The events saved with it.
    public var events: [ProductPriceChangedIntegrationEvent]
    /// Their outbox rows: publish them after commit with an `OutboxPublisher`.
    public var outboxEntries: [IntegrationEventLogEntry]

    /// Creates a change record.
    public init(previous: CatalogItem, item: CatalogItem, events: [ProductPriceChangedIntegrationEvent], outboxEntries: [IntegrationEventLogEntry]) {
        self.previous = previous
        self.item = item
        self.events = events
        self.outboxEntries = outboxEntries
    }
}
