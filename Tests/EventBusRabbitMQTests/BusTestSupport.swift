import EventBus
import Foundation

/// A second event type, for tests that route by type.
struct StockChanged: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var available: Int
}

/// Records handler calls per event id.
actor Recorder {
    private(set) var calls: [String: Int] = [:]
    private(set) var order: [String] = []
    private(set) var batches: [[String]] = []

    func record(_ id: String) {
        calls[id, default: 0] += 1
        order.append(id)
    }

    func recordBatch(_ ids: [String], sizes: Int) {
        batches.append(ids)
        for id in ids { record(id) }
    }

    var total: Int { calls.values.reduce(0, +) }
    var distinct: Int { calls.count }
    func count(_ id: String) -> Int { calls[id] ?? 0 }
    var maxCallsPerID: Int { calls.values.max() ?? 0 }
}

func fastRetries(_ attempts: Int, delay: Duration = .milliseconds(30)) throws -> RetryPolicy {
    try RetryPolicy(maxDeliveryAttempts: attempts, delays: [delay])
}
