import Crypto
import Foundation

/// How receivers authenticate the gateway: every request carries
/// `webhook-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the subscription's secret>`.
/// The timestamp is inside the MAC, so a receiver that refuses timestamps older than a few minutes defeats replays.
///
/// ```swift
/// let ok = WebhookSignature.verify(header: request.headers["webhook-signature"], body: body, secret: secret)
/// ```
public enum WebhookSignature {
    /// The header's name.
    public static let headerName = "webhook-signature"

    /// The header value for `body` signed at `time`.
    public static func header(body: some DataProtocol, secret: String, time: Date = Date()) -> String {
        let stamp = Int64(time.timeIntervalSince1970.rounded(.down))
        return "t=\(stamp),v1=\(hex(mac(body: body, stamp: stamp, secret: secret)))"
    }

    /// Whether `header` is a valid signature of `body` under `secret`, made no more than `tolerance` from `now`.
    /// Compares the MACs in constant time.
    public static func verify(header: String?, body: some DataProtocol, secret: String, now: Date = Date(), tolerance: TimeInterval = 300) -> Bool {
        guard let header else { return false }
        var stamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { stamp = Int64(pair[1]) } else if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let stamp, abs(now.timeIntervalSince1970 - Double(stamp)) <= tolerance else { return false }
        let key = SymmetricKey(data: Data(secret.utf8))
        var message = Data("\(stamp).".utf8)
        message.append(contentsOf: body)
        return signatures.contains { signature in
            guard let bytes = unhex(signature) else { return false }
            return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: message, using: key)
        }
    }

    static func mac(body: some DataProtocol, stamp: Int64, secret: String) -> Data {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(stamp).".utf8))
        hmac.update(data: body)
        return Data(hmac.finalize())
    }

    static func hex(_ data: Data) -> String {
        data.map { String(format: "%02x", $0) }.joined()
    }

    static func unhex(_ text: String) -> Data? {
        guard text.count % 2 == 0, text.count <= 256 else { return nil }
        var bytes = Data(capacity: text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
