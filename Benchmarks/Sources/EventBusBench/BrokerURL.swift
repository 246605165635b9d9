import AMQP
import Foundation

/// The broker under test, from `EVENTBUS_URL` like every other tool of the project, split into the pieces the
/// C baseline needs (host, port, user, password, vhost).
struct BrokerTarget: Sendable {
    /// The URL as given, for the Swift layer.
    let url: String
    /// The URL with the password masked, for output.
    let maskedURL: String
    let host: String
    let port: Int
    let user: String
    let password: String
    let virtualHost: String

    /// Used when `EVENTBUS_URL` is not set (the same default as the demo).
    static let defaultURL = "amqp://guest:guest@127.0.0.1:5672/"

    /// Reads and parses `EVENTBUS_URL`. The C baseline speaks plain AMQP to one host, so TLS URLs are refused
    /// and only the first of several hosts is used.
    static func fromEnvironment() throws -> BrokerTarget {
        let url = ProcessInfo.processInfo.environment["EVENTBUS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultURL
        return try BrokerTarget(url: url)
    }

    init(url: String) throws {
        let configuration: AMQPConnectionConfiguration
        do {
            configuration = try AMQPConnectionConfiguration(url: url)
        } catch {
            throw BenchmarkFailure("EVENTBUS_URL is not a valid broker URL: \(error)")
        }
        guard configuration.tls == nil else {
            throw BenchmarkFailure("the C baseline speaks plain AMQP only; use an amqp:// URL, not \(configuration)")
        }
        guard let endpoint = configuration.endpoints.first else {
            throw BenchmarkFailure("EVENTBUS_URL names no broker host")
        }
        self.url = url
        self.maskedURL = configuration.description
        self.host = endpoint.host
        self.port = endpoint.port
        self.user = configuration.user
        self.password = configuration.password
        self.virtualHost = configuration.virtualHost
    }
}
