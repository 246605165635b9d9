/// What went wrong in the gateway, with what to do about it.
public enum GatewayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configuration file or environment is unusable.
    case invalidConfiguration(String)
    /// A webhook subscription's definition is unusable (from the config file or `PUT /api/subscriptions/{name}`).
    case invalidSubscription(name: String, field: String, reason: String)
    /// The subscription store failed.
    case storeFailed(String)
    /// No subscription has that name.
    case unknownSubscription(String)
    /// The gateway's `run()` ended before its HTTP server listened; the text says why.
    case notListening(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let text):
            "invalid gateway configuration: \(text)"
        case .invalidSubscription(let name, let field, let reason):
            "subscription '\(name)': \(field): \(reason)"
        case .storeFailed(let text):
            "subscription store failed: \(text)"
        case .unknownSubscription(let name):
            "no subscription is named '\(name)'; GET /api/subscriptions lists them"
        case .notListening(let reason):
            "the gateway is not listening: \(reason)"
        }
    }
}
