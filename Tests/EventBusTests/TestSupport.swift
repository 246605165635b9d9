import EventBus
import Foundation
import Synchronization

/// The eShop catalog's event, as a Swift consumer declares it.
struct ProductPriceChangedIntegrationEvent: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var productId: Int
    var newPrice: Decimal
    var oldPrice: Decimal
}

/// A second event type, with a free-form note to control the body size.
struct OrderStartedIntegrationEvent: IntegrationEvent, Equatable {
    var id = UUID()
    var creationDate = Date()
    var userId: String
    var note = ""
}

/// Thread-safe list of what handlers saw.
final class Recorder<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])

    func append(_ value: Value) { storage.withLock { $0.append(value) } }

    /// Appends and returns how many values there are now.
    @discardableResult
    func appendCounting(_ value: Value) -> Int {
        storage.withLock {
            $0.append(value)
            return $0.count
        }
    }

    var values: [Value] { storage.withLock { $0 } }
    var count: Int { storage.withLock { $0.count } }
}

struct HandlerFailure: Error, CustomStringConvertible {
    var description: String { "handler failed on purpose" }
}

/// Fast retries for tests.
func fastRetries(_ attempts: Int, delay: Duration = .milliseconds(5)) throws -> RetryPolicy {
    try RetryPolicy(maxDeliveryAttempts: attempts, delays: [delay])
}

func date(_ text: String) -> Date? { EventDate.parse(text) }

/// Nested values the codec tests encode and decode.
enum CodecTestColor: String, Codable, Equatable {
    case red, green
}

struct CodecTestInner: Codable, Equatable {
    var name: String
    var values: [Int]
}
