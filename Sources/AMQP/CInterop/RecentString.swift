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
        if let same = ifSame(raw) { return same }
        bytes = Array(UnsafeRawBufferPointer(start: base, count: count))
        string = String(decoding: bytes, as: UTF8.self)
        return string
    }

    /// The kept `String` when `raw` holds the same (non-empty) bytes, else `nil`.
    func ifSame(_ raw: amqp_bytes_t) -> String? {
        let count = raw.len
        guard count > 0, count == bytes.count, let base = raw.bytes else { return nil }
        return bytes.withUnsafeBytes({ memcmp($0.baseAddress!, base, count) == 0 }) ? string : nil
    }
}

/// The `String`s of the previous message's properties that the next message on a channel nearly always repeats: its
/// header names (looked up at the same position first, then at the others), content type, type and app id. An event
/// bus message carries half a dozen header names of 14 to 27 bytes; reusing them saves an allocation and a UTF-8
/// validation each, and equal names then share storage, which makes the dictionary lookups on them cheap.
struct RecentPropertyStrings {
    /// At most this many header names are remembered; later ones are decoded afresh.
    static let headerSlots = 16
    var headerNames: [RecentString] = []
    var contentType = RecentString()
    var type = RecentString()
    var appID = RecentString()

    /// The name of top-level header `index`: the previous message's name at that position, or at another one (a
    /// Swift publisher writes a dictionary's names in an order that differs from message to message), or a new one.
    mutating func headerName(_ raw: amqp_bytes_t, at index: Int) -> String {
        guard index < Self.headerSlots else { return CDecoding.string(raw) }
        while headerNames.count <= index { headerNames.append(RecentString()) }
        if let same = headerNames[index].ifSame(raw) { return same }
        for slot in headerNames.indices where slot != index {
            if let same = headerNames[slot].ifSame(raw) { return same }
        }
        return headerNames[index].decode(raw)
    }
}
