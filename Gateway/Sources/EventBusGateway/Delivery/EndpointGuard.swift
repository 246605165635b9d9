import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SSRF guard: resolves an endpoint's host and refuses addresses in loopback, link-local, private, shared,
/// multicast and reserved ranges unless the subscription allows private networks. The check is made on the address
/// actually connected to (the HTTP client is pinned to it, and a name is resolved and checked again at least every
/// 10 seconds), so a name that later resolves elsewhere (DNS rebinding) cannot slip through.
public enum EndpointGuard {
    /// Why an endpoint was refused.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var host: String
        public var reason: String
        public var description: String { "endpoint host '\(host)' refused: \(reason)" }
    }

    /// The address to connect to for `host`: the first address it resolves to, after checking every one.
    /// Blocking resolution runs on a Dispatch thread, never on the Swift concurrency pool.
    public static func resolve(host: String, port: Int, allowPrivateNetworks: Bool) async throws -> String {
        let addresses = try await addresses(of: host, port: port)
        guard let first = addresses.first else { throw Refusal(host: host, reason: "it resolves to no address") }
        if !allowPrivateNetworks {
            for address in addresses {
                if let range = restrictedRange(address) {
                    throw Refusal(host: host, reason: "it resolves to \(address), in the \(range) range; set allowPrivateNetworks on the subscription to deliver there")
                }
            }
        }
        return first
    }

    /// The name of the restricted range `address` is in, or `nil` for a public address. Text that is no IP address
    /// counts as restricted.
    public static func restrictedRange(_ address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return restrictedV4(UInt32(bigEndian: v4.s_addr))
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return "unparsable" }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            return restrictedV4(bytes[12...15].reduce(0) { $0 << 8 | UInt32($1) })  // IPv4-mapped
        }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) { return bytes[15] == 1 ? "loopback" : "unspecified" }
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return "link-local" }
        if bytes[0] & 0xfe == 0xfc { return "unique local (private)" }
        if bytes[0] == 0xff { return "multicast" }
        if bytes[0] == 0x00, bytes[1] == 0x64, bytes[2] == 0xff, bytes[3] == 0x9b {
            return restrictedV4(bytes[12...15].reduce(0) { $0 << 8 | UInt32($1) })  // NAT64
        }
        return nil
    }

    private static func restrictedV4(_ address: UInt32) -> String? {
        func within(_ base: UInt32, _ bits: UInt32) -> Bool {
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            return address & mask == base & mask
        }
        let ranges: [(UInt32, UInt32, String)] = [
            (0x0000_0000, 8, "unspecified"), (0x0A00_0000, 8, "private"), (0x6440_0000, 10, "shared (carrier-grade NAT)"),
            (0x7F00_0000, 8, "loopback"), (0xA9FE_0000, 16, "link-local"), (0xAC10_0000, 12, "private"),
            (0xC000_0000, 24, "IETF protocol assignments"), (0xC0A8_0000, 16, "private"), (0xC612_0000, 15, "benchmarking"),
            (0xE000_0000, 4, "multicast"), (0xF000_0000, 4, "reserved"),
        ]
        return ranges.first { within($0.0, $0.1) }?.2
    }

    /// Every address of `host` (numeric text), in the resolver's order. An IP address literal is its own answer,
    /// with no resolver call and no thread hop.
    static func addresses(of host: String, port: Int) async throws -> [String] {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = numericAddress(bare) { return [literal] }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(bare, String(port), &hints, &result)
                guard status == 0 else {
                    let text = String(cString: gai_strerror(status))
                    continuation.resume(throwing: Refusal(host: host, reason: "it does not resolve (\(text))"))
                    return
                }
                defer { freeaddrinfo(result) }
                var found: [String] = []
                var cursor = result
                while let entry = cursor {
                    var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                        let text = String(cString: buffer)
                        if !found.contains(text) { found.append(text) }
                    }
                    cursor = entry.pointee.ai_next
                }
                continuation.resume(returning: found)
            }
        }
    }

    /// `text` in canonical form when it is an IPv4 (dotted quad) or IPv6 address literal, else `nil`.
    static func numericAddress(_ text: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1, inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)) != nil {
            return String(cString: buffer)
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1, inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil {
            return String(cString: buffer)
        }
        return nil
    }
}
