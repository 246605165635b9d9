import EventBus
import Foundation

/// The Basket sample's own settings, read from the environment beside `SampleConfiguration`: the retry schedule of
/// its subscription and the failures its handler injects for the fault ledger (`make faults`). Everything is off by
/// default.
///
/// | variable | value | effect |
/// |---|---|---|
/// | `BASKET_RETRY_DELAYS_MS` | `a,b,c` (ms) | the retry delays (the last repeats); default Event Grid's 10 s, 30 s, 1 min, … |
/// | `BASKET_FAIL_EVERY` | `N` ≥ 1 | the handler throws on the first attempt of every N-th new event; its retry succeeds |
/// | `BASKET_FAIL_PRODUCT` | a product id | the handler throws on every attempt for that product: its events end dead-lettered |
///
/// ```swift
/// let settings = try BasketSettings(environment: ProcessInfo.processInfo.environment)
/// let app = try await buildBasketApplication(configuration: configuration, settings: settings)
/// ```
public struct BasketSettings: Sendable, Hashable {
    /// How failed handlings are retried. Default ``RetryPolicy/eventGrid``.
    public var retryPolicy: RetryPolicy
    /// The failures the handler injects. Default ``HandlerFailures/off``.
    public var failures: HandlerFailures

    /// Creates settings.
    public init(retryPolicy: RetryPolicy = .eventGrid, failures: HandlerFailures = .off) {
        self.retryPolicy = retryPolicy
        self.failures = failures
    }

    /// Reads the `BASKET_*` variables of `environment`; a missing or empty variable keeps its default. Throws
    /// `EventBusError.invalidConfiguration` naming the variable for a value that is not a number, or out of range.
    public init(environment: [String: String]) throws {
        self.init()
        if let text = Self.value("BASKET_RETRY_DELAYS_MS", in: environment) {
            var delays: [Duration] = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                guard let milliseconds = Int(trimmed), (1...86_400_000).contains(milliseconds) else {
                    throw EventBusError.invalidConfiguration(
                        "BASKET_RETRY_DELAYS_MS must be a comma-separated list of milliseconds in 1...86400000, not '\(text)'")
                }
                delays.append(.milliseconds(milliseconds))
            }
            retryPolicy = try RetryPolicy(
                maxDeliveryAttempts: RetryPolicy.eventGrid.maxDeliveryAttempts, eventTimeToLiveMinutes: 1_440, delays: delays)
        }
        if let text = Self.value("BASKET_FAIL_EVERY", in: environment) {
            guard let every = Int(text), every >= 1 else {
                throw EventBusError.invalidConfiguration("BASKET_FAIL_EVERY must be a whole number ≥ 1, not '\(text)'")
            }
            failures.failEvery = every
        }
        if let text = Self.value("BASKET_FAIL_PRODUCT", in: environment) {
            guard let product = Int(text) else {
                throw EventBusError.invalidConfiguration("BASKET_FAIL_PRODUCT must be a product id (a whole number), not '\(text)'")
            }
            failures.failProduct = product
        }
    }

    private static func value(_ name: String, in environment: [String: String]) -> String? {
        guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return text
    }
}

/// Failures the Basket handler throws on purpose, to show retries and dead letters under load (issue 17's
/// scenario 5). They are thrown inside the handler's transaction, after the event id is recorded and before any
/// effect, so the transaction rolls back: a failed attempt leaves no trace but the retry.
public struct HandlerFailures: Sendable, Hashable {
    /// Throw on the first attempt of every N-th new event (duplicates are not counted); the retry succeeds.
    public var failEvery: Int?
    /// Throw on every attempt for this product: its events exhaust their retries and are dead-lettered.
    public var failProduct: Int?

    /// Creates a set of failures.
    public init(failEvery: Int? = nil, failProduct: Int? = nil) {
        self.failEvery = failEvery
        self.failProduct = failProduct
    }

    /// No failures: the default.
    public static let off = HandlerFailures()

    /// Whether no failure is configured.
    public var isOff: Bool { failEvery == nil && failProduct == nil }
}
