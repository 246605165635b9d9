import EventBusPostgres
import PostgresNIO
import TestSupport

/// Creates the test's domain table (the service's own data) in the store's schema.
func createDomainTables(_ store: PostgresEventStore) async throws {
    try await store.client.query(
        "CREATE TABLE IF NOT EXISTS catalog_item (id integer PRIMARY KEY, price numeric NOT NULL)", logger: PostgresTestEnvironment.logger)
    try await store.client.query(
        "CREATE TABLE IF NOT EXISTS price_effect (product_id integer PRIMARY KEY, applied integer NOT NULL)",
        logger: PostgresTestEnvironment.logger)
}

func count(_ store: PostgresEventStore, _ table: String) async throws -> Int {
    let rows = try await store.client.query("SELECT count(*)::int8 FROM \(unescaped: table)", logger: PostgresTestEnvironment.logger)
    var result = 0
    for try await value in rows.decode(Int.self) { result = value }
    return result
}
