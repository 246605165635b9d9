import Foundation
import Yams

/// Everything the gateway needs: where it listens, the broker, the store, the keys, and the subscriptions defined in
/// the config file. Read from a JSON or YAML file and the environment (the environment wins); keys and passwords never
/// appear in ``description`` or logs.
///
/// ```json
/// {"listen": {"host": "0.0.0.0", "port": 5180}, "brokerUrl": "amqp://guest:guest@127.0.0.1:5672/",
///  "store": {"sqlitePath": "gateway.sqlite"}, "keys": ["…"],
///  "subscriptions": {"prices": {"endpointUrl": "https://hooks.example.com/prices",
///                               "eventTypes": ["ProductPriceChangedIntegrationEvent"]}}}
/// ```
///
/// Environment: `EVENTBUS_URL`, `EVENTBUS_GATEWAY_KEYS` (comma-separated, added to the file's), `EVENTBUS_GATEWAY_HOST`,
/// `EVENTBUS_GATEWAY_PORT`, `EVENTBUS_GATEWAY_SQLITE_PATH`, `EVENTBUS_GATEWAY_POSTGRES_URL` (selects PostgreSQL).
public struct GatewayConfiguration: Sendable, CustomStringConvertible {
    /// Where subscriptions and processed ids are kept.
    public enum Store: Sendable, Hashable, CustomStringConvertible {
        /// A SQLite file (the default: `gateway.sqlite`).
        case sqlite(path: String)
        /// A PostgreSQL database.
        case postgres(url: String)

        public var description: String {
            switch self {
            case .sqlite(let path): "sqlite(\(path))"
            case .postgres(let url): "postgres(\(GatewayConfiguration.masked(url)))"
            }
        }
    }

    /// The file's shape, in JSON or YAML (the same keys); every field optional.
    public struct File: Sendable, Codable {
        /// Reads a configuration file's contents: YAML when `path` ends in `.yaml` or `.yml`, JSON when it ends in
        /// `.json`; otherwise JSON when the text starts with `{`, else YAML.
        public static func decode(_ data: Data, path: String) throws -> File {
            let lowercased = path.lowercased()
            let yaml = lowercased.hasSuffix(".yaml") || lowercased.hasSuffix(".yml")
                || (!lowercased.hasSuffix(".json") && data.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) != UInt8(ascii: "{"))
            if yaml { return try YAMLDecoder().decode(File.self, from: data) }
            return try JSONDecoder().decode(File.self, from: data)
        }

        public struct Listen: Sendable, Codable { public var host: String?; public var port: Int? }
        public struct StoreFile: Sendable, Codable { public var sqlitePath: String?; public var postgresUrl: String? }
        public var listen: Listen?
        public var brokerUrl: String?
        public var exchange: String?
        public var serviceName: String?
        public var queuePrefix: String?
        public var maxEventSizeInBytes: Int?
        public var maxRequestSizeInBytes: Int?
        public var store: StoreFile?
        public var keys: [String]?
        public var subscriptions: [String: WebhookSubscription]?
        public var handshakeRetryDelayInMilliseconds: Int?
    }

    public var host: String = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port: Int = 5180
    public var brokerURL: String = "amqp://guest:guest@127.0.0.1:5672/"
    public var exchange: String = "event_bus"
    /// The bus `source` for Event Grid events without a topic, and the publishing bus's name.
    public var serviceName: String = "eventbus-gateway"
    /// Subscription `prices` consumes queue `<queuePrefix>prices`.
    public var queuePrefix: String = "gateway."
    /// The largest event accepted by `POST /api/events` and carried on the bus. Default 1 MiB.
    public var maxEventSize: Int = 1_048_576
    /// The largest request body. Default 16 MiB.
    public var maxRequestSize: Int = 16 * 1_048_576
    public var store: Store = .sqlite(path: "gateway.sqlite")
    /// Accepted keys (`aeg-sas-key` or bearer).
    public var keys: [String] = []
    /// Subscriptions from the file; those made over HTTP live in the store.
    public var subscriptions: [String: WebhookSubscription] = [:]
    /// First pause after a failed validation handshake (it doubles up to 60 s).
    public var handshakeRetryDelay: Duration = .seconds(5)

    public init(brokerURL: String, keys: [String]) {
        self.brokerURL = brokerURL
        self.keys = keys
    }

    /// Reads `file` (when given) and then the environment over it, and checks the result.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(GatewayError) -> GatewayConfiguration {
        var configuration = GatewayConfiguration(brokerURL: "amqp://guest:guest@127.0.0.1:5672/", keys: [])
        if let file {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw .invalidConfiguration("cannot read \(file): \(error.localizedDescription)")
            }
            let parsed: File
            do {
                parsed = try File.decode(data, path: file)
            } catch {
                throw .invalidConfiguration("\(file) is not a valid gateway configuration: \(error)")
            }
            configuration.apply(parsed)
        }
        if let url = environment["EVENTBUS_URL"], !url.isEmpty { configuration.brokerURL = url }
        if let keys = environment["EVENTBUS_GATEWAY_KEYS"] {
            configuration.keys += keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let host = environment["EVENTBUS_GATEWAY_HOST"], !host.isEmpty { configuration.host = host }
        if let text = environment["EVENTBUS_GATEWAY_PORT"], !text.isEmpty {
            guard let port = Int(text) else { throw .invalidConfiguration("EVENTBUS_GATEWAY_PORT '\(text)' is not a port number") }
            configuration.port = port
        }
        if let path = environment["EVENTBUS_GATEWAY_SQLITE_PATH"], !path.isEmpty { configuration.store = .sqlite(path: path) }
        if let url = environment["EVENTBUS_GATEWAY_POSTGRES_URL"], !url.isEmpty { configuration.store = .postgres(url: url) }
        try configuration.validate()
        return configuration
    }

    mutating func apply(_ file: File) {
        if let host = file.listen?.host { self.host = host }
        if let port = file.listen?.port { self.port = port }
        if let url = file.brokerUrl { brokerURL = url }
        if let exchange = file.exchange { self.exchange = exchange }
        if let name = file.serviceName { serviceName = name }
        if let prefix = file.queuePrefix { queuePrefix = prefix }
        if let size = file.maxEventSizeInBytes { maxEventSize = size }
        if let size = file.maxRequestSizeInBytes { maxRequestSize = size }
        if let path = file.store?.sqlitePath { store = .sqlite(path: path) }
        if let url = file.store?.postgresUrl { store = .postgres(url: url) }
        if let keys = file.keys { self.keys = keys }
        if let subscriptions = file.subscriptions { self.subscriptions = subscriptions }
        if let delay = file.handshakeRetryDelayInMilliseconds { handshakeRetryDelay = .milliseconds(delay) }
    }

    /// Checks ranges and every file subscription.
    public func validate() throws(GatewayError) {
        guard (0...65_535).contains(port) else { throw .invalidConfiguration("port \(port) is outside 0...65535") }
        guard (1...134_217_728).contains(maxEventSize) else { throw .invalidConfiguration("maxEventSizeInBytes must be 1...134217728") }
        guard maxRequestSize >= maxEventSize, maxRequestSize <= 1_073_741_824 else {
            throw .invalidConfiguration("maxRequestSizeInBytes must be at least maxEventSizeInBytes and at most 1 GiB")
        }
        guard !keys.filter({ !$0.isEmpty }).isEmpty else {
            throw .invalidConfiguration("no key: set keys in the file or EVENTBUS_GATEWAY_KEYS (every API call needs one)")
        }
        guard keys.allSatisfy({ $0.isEmpty || $0.utf8.count >= 16 }) else {
            throw .invalidConfiguration("keys must have at least 16 characters (use random values)")
        }
        guard !queuePrefix.isEmpty, queuePrefix.utf8.count <= 100 else { throw .invalidConfiguration("queuePrefix must have 1...100 bytes") }
        guard handshakeRetryDelay >= .milliseconds(1) else { throw .invalidConfiguration("handshakeRetryDelayInMilliseconds must be at least 1") }
        for (name, subscription) in subscriptions { _ = try subscription.validated(name: name) }
    }

    /// `scheme://user:***@host…`: a URL with its password hidden.
    static func masked(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparsable URL>" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "<unparsable URL>"
    }

    public var description: String {
        "GatewayConfiguration(listen: \(host):\(port), broker: \(Self.masked(brokerURL)), exchange: \(exchange), store: \(store), keys: \(keys.count) (hidden), subscriptions: \(subscriptions.keys.sorted()))"
    }
}
