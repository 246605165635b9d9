import CRabbitMQ
import Foundation

/// Decodes C bytes into a `String`, returning the previous `String` when the bytes are the same as last time.
/// Consecutive deliveries on a channel nearly always carry the same consumer tag, exchange and routing key, so
/// this saves an allocation and a UTF-8 validation per field and delivery (and equal strings then share storage,
/// which makes comparing them cheap).
struct RecentString {
    private var bytes: [UInt8] = []
    private var string = ""

    mutating func decode(_ raw: amqp_bytes_t) -> String {
        let count = raw.len
        guard count > 0, let base = raw.bytes else { return "" }
        if count == bytes.count, bytes.withUnsafeBytes({ memcmp($0.baseAddress!, base, count) == 0 }) {
            return string
        }
        bytes = Array(UnsafeRawBufferPointer(start: base, count: count))
        string = String(decoding: bytes, as: UTF8.self)
        return string
    }
}
