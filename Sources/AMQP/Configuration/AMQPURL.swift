/// Parsing of RabbitMQ-style broker URLs into ``AMQPConnectionConfiguration``.
///
/// Form: `amqp[s]://[user[:password]@]host[:port][,host[:port]…][/vhost][?option=value&…]`. User, password and
/// vhost are percent-decoded (`%2F` is `/`); an empty path or `/` means the default vhost `/`. The credentials end
/// at the **last** `@` of the URL, so a password may hold a raw `/`, `?`, `#`, `@` or `:` and no part of it is ever
/// read as a host, vhost or option (a `@` in a vhost or option value must be written `%40`). Options:
/// `heartbeat` (seconds), `frame_max`, `channel_max`, `connection_timeout` (milliseconds),
/// `connection_name`, and for `amqps`: `cacertfile`, `certfile`, `keyfile`, `verify` (`verify_peer` or
/// `verify_none`), `verify_hostname` (`true`/`false`).
enum AMQPURL {
    static func parse(_ url: String) throws(AMQPError) -> AMQPConnectionConfiguration {
        func fail(_ reason: String) -> AMQPError { .invalidURL(masked(url), reason: reason) }

        let secure: Bool
        var rest: Substring
        if url.hasPrefix("amqps://") {
            secure = true
            rest = url.dropFirst("amqps://".count)
        } else if url.hasPrefix("amqp://") {
            secure = false
            rest = url.dropFirst("amqp://".count)
        } else {
            throw fail("the scheme must be amqp:// or amqps://")
        }

        // Credentials first, up to the last `@`: a password's raw `/` or `?` must not start the path or the query.
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        var configuration = AMQPConnectionConfiguration()
        configuration.tls = secure ? .verified() : nil
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = percentDecode(parts[0]) else { throw fail("bad percent-encoding in the user name") }
            configuration.user = user
            if parts.count == 2 {
                guard let password = percentDecode(parts[1]) else { throw fail("bad percent-encoding in the password") }
                configuration.password = password
            }
        }

        let defaultPort = secure ? 5671 : 5672
        var endpoints: [AMQPConnectionConfiguration.Endpoint] = []
        for hostPort in rest.split(separator: ",", omittingEmptySubsequences: false) {
            let endpoint = try parseEndpoint(hostPort, defaultPort: defaultPort, fail: fail)
            endpoints.append(endpoint)
        }
        if endpoints.isEmpty { endpoints = [.init(host: "localhost", port: defaultPort)] }
        configuration.endpoints = endpoints

        if let path, !path.isEmpty {
            guard let vhost = percentDecode(path) else { throw fail("bad percent-encoding in the vhost") }
            configuration.virtualHost = vhost
        }

        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0])
            guard kv.count == 2, let value = percentDecode(kv[1]) else { throw fail("option '\(key)' needs a value") }
            func integer() throws(AMQPError) -> Int {
                guard let number = Int(value), number >= 0 else { throw fail("option '\(key)' must be a non-negative integer") }
                return number
            }
            switch key {
            case "heartbeat": configuration.heartbeatSeconds = try integer()
            case "frame_max": configuration.frameMax = try integer()
            case "channel_max": configuration.channelMax = try integer()
            case "connection_timeout": configuration.connectionTimeout = .milliseconds(try integer())
            case "connection_name": configuration.connectionName = value
            case "cacertfile", "certfile", "keyfile", "verify", "verify_hostname":
                guard secure, var tls = configuration.tls else { throw fail("option '\(key)' needs an amqps:// URL") }
                switch key {
                case "cacertfile": tls.caFile = value
                case "certfile": tls.certificateFile = value
                case "keyfile": tls.keyFile = value
                case "verify":
                    guard value == "verify_peer" || value == "verify_none" else {
                        throw fail("option 'verify' must be verify_peer or verify_none")
                    }
                    tls.verifyPeer = value == "verify_peer"
                    if !tls.verifyPeer { tls.verifyHostname = false }
                default:
                    guard let flag = Bool(value) else { throw fail("option 'verify_hostname' must be true or false") }
                    tls.verifyHostname = flag
                }
                configuration.tls = tls
            default:
                throw fail("unknown option '\(key)'")
            }
        }
        do {
            try configuration.validate()
        } catch {
            if case .invalidArgument(let text) = error { throw fail(text) }
            throw error
        }
        return configuration
    }

    private static func parseEndpoint(
        _ hostPort: Substring, defaultPort: Int, fail: (String) -> AMQPError
    ) throws(AMQPError) -> AMQPConnectionConfiguration.Endpoint {
        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw fail("unexpected text after IPv6 address")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        if host.isEmpty { host = "localhost" }
        var port = defaultPort
        if let portText {
            // Not quoted: in a URL without `@`, a mistyped `user:password` reads as `host:port`.
            guard let number = Int(portText), (1...65_535).contains(number) else {
                throw fail("a port is not a number in 1...65535")
            }
            port = number
        }
        guard let decodedHost = percentDecode(host) else { throw fail("bad percent-encoding in the host") }
        return .init(host: decodedHost, port: port)
    }

    /// Decodes `%XX` escapes; `nil` when an escape is malformed or the bytes are not UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Percent-encodes everything but unreserved characters (RFC 3986).
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// The URL with any password replaced by `***`, for error messages and descriptions. Works on the text alone,
    /// so a URL that does not parse is masked too: everything between `scheme://user:` and the last `@` goes. In a
    /// URL without `@`, a "port" that is not a number may be a mistyped password: it and all after it go.
    static func masked(_ url: String) -> String {
        let start = url.range(of: "://")?.upperBound ?? url.startIndex
        let afterScheme = url[start...]
        if let at = afterScheme.lastIndex(of: "@") {
            guard let colon = afterScheme[..<at].firstIndex(of: ":") else { return url }
            return String(url[..<colon]) + ":***" + String(url[at...])
        }
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        for endpoint in afterScheme[..<authorityEnd].split(separator: ",", omittingEmptySubsequences: false) {
            // `[::1]:5672`: the port follows the bracket; `host:5672`: the first colon.
            let hostEnd = endpoint.hasPrefix("[") ? (endpoint.firstIndex(of: "]") ?? endpoint.endIndex) : endpoint.startIndex
            guard let colon = endpoint[hostEnd...].firstIndex(of: ":") else { continue }
            let port = endpoint[endpoint.index(after: colon)...]
            if !port.allSatisfy({ $0.isASCII && $0.isNumber }) { return String(url[..<colon]) + ":***" }
        }
        return url
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension AMQPConnectionConfiguration {
    /// Parses a broker URL such as `amqp://user:pass@host:5672/vhost?heartbeat=10`.
    ///
    /// Throws ``AMQPError/invalidURL(_:reason:)`` (with the password masked) when the URL is malformed.
    public init(url: String) throws(AMQPError) {
        self = try AMQPURL.parse(url)
    }
}
