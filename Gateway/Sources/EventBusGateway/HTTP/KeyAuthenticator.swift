import Crypto
import Foundation

/// Checks a request's key: the `aeg-sas-key` header (Event Grid's) or `Authorization: Bearer <key>`, against the
/// configured keys. Each comparison is of SHA-256 digests in constant time, so neither a key's content nor its
/// length leaks through timing. Keys are never logged; ``description`` shows only how many there are.
public struct KeyAuthenticator: Sendable, CustomStringConvertible {
    /// Event Grid's key header.
    public static let keyHeader = "aeg-sas-key"
    private let digests: [Data]

    /// Creates an authenticator; empty keys are ignored. With no keys every request is refused.
    public init(keys: [String]) {
        digests = keys.filter { !$0.isEmpty }.map { Data(SHA256.hash(data: Data($0.utf8))) }
    }

    /// How many keys it accepts.
    public var keyCount: Int { digests.count }

    /// Whether the request carries an accepted key.
    public func accepts(keyHeader: String?, authorization: String?) -> Bool {
        var presented: String?
        if let keyHeader, !keyHeader.isEmpty {
            presented = keyHeader
        } else if let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " {
            presented = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        guard let presented, !presented.isEmpty else { return false }
        let digest = Data(SHA256.hash(data: Data(presented.utf8)))
        // Every key is compared, match or not: the time does not tell which one matched.
        var matched = false
        for key in digests { matched = Self.constantTimeEquals(key, digest) || matched }
        return matched
    }

    /// Equal-length byte strings compared without an early exit.
    static func constantTimeEquals(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    public var description: String { "KeyAuthenticator(\(digests.count) key(s))" }
}
