import EventBusRabbitMQ
import Hummingbird

/// What `GET /health` reports: `{"status": "up", "broker": "up", "database": "up", "store": "sqlite"}`.
public struct HealthReport: ResponseCodable, Sendable, Equatable {
    /// `up` when broker and database are, else `down`.
    public var status: String
    /// Whether the bus has its broker connections (cached state, no round trip).
    public var broker: String
    /// Whether the database answered `SELECT 1`.
    public var database: String
    /// `sqlite` or `postgres`.
    public var store: String

    /// Creates a report.
    public init(status: String, broker: String, database: String, store: String) {
        self.status = status
        self.broker = broker
        self.database = database
        self.store = store
    }
}

/// Checks a sample's broker and database for `GET /health`: 200 when both are up, 503 otherwise.
public struct HealthCheck: Sendable {
    let bus: RabbitMQEventBus
    let database: SampleDatabase

    /// Creates a check of `bus` and `database`.
    public init(bus: RabbitMQEventBus, database: SampleDatabase) {
        self.bus = bus
        self.database = database
    }

    /// Checks both: one database round trip; the broker state is the bus's cached connection state.
    public func report() async -> HealthReport {
        let broker = bus.isConnected
        let database = await database.isReachable()
        return HealthReport(
            status: broker && database ? "up" : "down", broker: broker ? "up" : "down", database: database ? "up" : "down",
            store: self.database.kind)
    }
}

extension Router {
    /// Adds `GET /health` (200 when broker and database are up, 503 otherwise) and `GET /metrics`.
    public func addOperationalRoutes(health: HealthCheck) {
        get("health") { request, context -> Response in
            let report = await health.report()
            var response = try report.response(from: request, context: context)
            response.status = report.status == "up" ? .ok : .serviceUnavailable
            return response
        }
        addMetricsRoute()
    }
}
