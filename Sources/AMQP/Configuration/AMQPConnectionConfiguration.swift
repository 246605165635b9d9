/// How to reach and talk to a broker: a value type, built in code or parsed from an `amqp://` / `amqps://` URL.
///
/// ```swift
/// var configuration = try AMQPConnectionConfiguration(url: "amqp://guest:guest@127.0.0.1:5672/")
/// configuration.connectionName = "basket"
/// let connection = try await AMQPConnection.connect(configuration)
/// ```
///
/// `description` prints the URL with the password masked; the password never appears in logs or errors.
public struct AMQPConnectionConfiguration: Sendable, CustomStringConvertible {
    /// One broker address. Several may be configured: connecting tries them in order.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// Host name or IP address.
        public var host: String
        /// TCP port.
        public var port: Int

        /// Creates an endpoint.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The brokers to try, in order. Never empty.
    public var endpoints: [Endpoint]
    /// The user name (SASL PLAIN).
    public var user: String
    /// The password. Never printed.
    public var password: String
    /// The virtual host; `/` by default.
    public var virtualHost: String
    /// Heartbeat interval proposed to the broker, in seconds; 0 turns heartbeats off. Default 60. A dead peer is
    /// detected after two intervals without a frame.
    public var heartbeatSeconds: Int
    /// Largest frame size proposed to the broker. Default 131 072.
    public var frameMax: Int
    /// Most channels proposed to the broker. Default 2 047.
    public var channelMax: Int
    /// Time allowed for TCP connect, TLS and the AMQP handshake together, per endpoint. Default 10 s.
    public var connectionTimeout: Duration
    /// A name shown for this connection in the broker's management UI and `rabbitmqctl list_connections`.
    public var connectionName: String?
    /// TLS settings; `nil` for a plain TCP connection. `amqps://` URLs set it to ``TLS/verified(caFile:)``.
    public var tls: TLS?
    /// The largest message body read from the broker, in bytes; default 128 MiB (RabbitMQ's own largest message).
    /// A delivery (or `basic.get` reply, or returned message) whose content header announces more is not read:
    /// nothing is allocated for it, its body frames are dropped as they arrive, and it is handed out with an empty
    /// body and ``AMQPDelivery/omittedBodySize`` set, for the caller to settle. A consumer may set a smaller limit
    /// (``AMQPChannel/consume(queue:consumerTag:prefetch:exclusive:arguments:maxBodySize:)``).
    public var maxBodySize: Int
    /// How long a write to the socket may make no progress (the broker, or a proxy, stopped reading) before the
    /// connection is declared dead with ``AMQPError/writeTimedOut(after:)``; with heartbeats on, the heartbeat
    /// interval when that is shorter. Default 30 s. It also bounds how long ``AMQPConnection/close()`` waits to
    /// write what is queued.
    public var writeTimeout: Duration

    /// Creates a configuration for a plain TCP connection to one broker.
    public init(
        host: String = "127.0.0.1",
        port: Int = 5672,
        user: String = "guest",
        password: String = "guest",
        virtualHost: String = "/",
        tls: TLS? = nil
    ) {
        self.endpoints = [Endpoint(host: host, port: port)]
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeatSeconds = 60
        self.frameMax = 131_072
        self.channelMax = 2_047
        self.connectionTimeout = .seconds(10)
        self.connectionName = nil
        self.tls = tls
        self.maxBodySize = Self.defaultMaxBodySize
        self.writeTimeout = .seconds(30)
    }

    /// 128 MiB: RabbitMQ's own limit on a message's size (`max_message_size`).
    public static let defaultMaxBodySize = 134_217_728

    /// The configuration as a URL with the password masked: safe to log.
    public var description: String {
        let scheme = tls == nil ? "amqp" : "amqps"
        let hosts = endpoints.map(\.description).joined(separator: ",")
        let vhost = AMQPURL.percentEncode(virtualHost)
        return "\(scheme)://\(AMQPURL.percentEncode(user)):***@\(hosts)/\(vhost)"
    }

    /// Checks that every value is in range; throws ``AMQPError/invalidArgument(_:)`` saying which is not.
    public func validate() throws(AMQPError) {
        if endpoints.isEmpty { throw .invalidArgument("at least one broker endpoint is required") }
        for endpoint in endpoints where !(1...65_535).contains(endpoint.port) || endpoint.host.isEmpty {
            throw .invalidArgument("broker endpoint \(endpoint) needs a host and a port in 1...65535")
        }
        if !(0...65_535).contains(heartbeatSeconds) {
            throw .invalidArgument("heartbeatSeconds must be in 0...65535, got \(heartbeatSeconds)")
        }
        if !(4_096...1_048_576).contains(frameMax) {
            throw .invalidArgument("frameMax must be in 4096...1048576, got \(frameMax)")
        }
        if !(1...65_535).contains(channelMax) {
            throw .invalidArgument("channelMax must be in 1...65535, got \(channelMax)")
        }
        if connectionTimeout <= .zero {
            throw .invalidArgument("connectionTimeout must be positive")
        }
        if maxBodySize < 0 {
            throw .invalidArgument("maxBodySize must be 0 or more bytes, got \(maxBodySize)")
        }
        if writeTimeout <= .zero {
            throw .invalidArgument("writeTimeout must be positive")
        }
    }
}

extension AMQPConnectionConfiguration {
    /// TLS settings. Peer and host-name verification are on unless turned off explicitly.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the CA(s) that sign the broker's certificate; `nil` uses the system's trust store.
        public var caFile: String?
        /// PEM client certificate, for brokers that require one.
        public var certificateFile: String?
        /// PEM private key of the client certificate.
        public var keyFile: String?
        /// Verify the broker's certificate chain. Default `true`.
        public var verifyPeer: Bool
        /// Verify that the broker's certificate names the host connected to. Default `true`.
        public var verifyHostname: Bool

        /// Creates TLS settings; verification is on by default.
        public init(
            caFile: String? = nil,
            certificateFile: String? = nil,
            keyFile: String? = nil,
            verifyPeer: Bool = true,
            verifyHostname: Bool = true
        ) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
            self.verifyHostname = verifyHostname
        }

        /// Verified TLS: the broker's chain must verify against `caFile` (or the system store) and name the host.
        public static func verified(caFile: String? = nil) -> TLS { TLS(caFile: caFile) }

        /// Verified TLS with a client certificate (mutual TLS).
        public static func mutual(caFile: String?, certificateFile: String, keyFile: String) -> TLS {
            TLS(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile)
        }

        /// Encrypted but unverified: anyone in the middle can read the traffic. For local experiments only.
        public static let unverified = TLS(verifyPeer: false, verifyHostname: false)
    }
}
