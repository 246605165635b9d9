import Synchronization

/// The error the Basket handler throws on purpose when ``HandlerFailures`` asks for it; retryable, so the bus
/// retries it on the subscription's schedule and dead-letters it when the attempts run out.
public enum InjectedHandlerFailure: Error, CustomStringConvertible, Sendable, Hashable {
    /// The first attempt of the `count`-th new event, a multiple of `every` (`BASKET_FAIL_EVERY`).
    case everyNth(every: Int, count: Int)
    /// Any attempt of an event for this product (`BASKET_FAIL_PRODUCT`).
    case product(Int)

    public var description: String {
        switch self {
        case .everyNth(let every, let count): "injected failure: new event \(count), a multiple of BASKET_FAIL_EVERY=\(every), on its first attempt"
        case .product(let id): "injected failure: product \(id) always fails (BASKET_FAIL_PRODUCT)"
        }
    }
}

/// Decides, per new event, whether to throw an ``InjectedHandlerFailure``; counts the new events it has seen.
final class HandlerFailureSwitch: Sendable {
    let failures: HandlerFailures
    private let seen = Mutex(0)

    init(_ failures: HandlerFailures) {
        self.failures = failures
    }

    /// Throws when `failures` asks for a failure of this attempt; called once per new (not duplicate) event attempt.
    func check(productId: Int, attempt: Int) throws(InjectedHandlerFailure) {
        if let product = failures.failProduct, product == productId { throw .product(product) }
        guard let every = failures.failEvery, attempt <= 1 else { return }
        let count = seen.withLock { count in
            count &+= 1
            return count
        }
        if count % every == 0 { throw .everyNth(every: every, count: count) }
    }
}
