import CRabbitMQ
import Foundation

/// Decodes C bytes into a `String`, returning the previous `String` when the bytes are the same as last time.
/// Consecutive deliveries on a channel nearly always carry the same consumer tag, exchange and routing key, so
/// this saves an allocation and a UTF-8 validation per field and delivery (and equal strings then share storage,
/// which makes comparing them cheap). The bytes are compared with the kept string's own UTF-8, so a miss costs no
/// more than decoding without reuse.
struct RecentString {
    private var string = ""

    /// The string of `raw`, repairing invalid UTF-8 (as `String(decoding:as:)` does).
    mutating func decode(_ raw: amqp_bytes_t) -> String {
        guard raw.len > 0, raw.bytes != nil else { return "" }
        if let same = ifSame(raw) { return same }
        string = CDecoding.string(raw)
        return string
    }

    /// The string of `raw` when it is valid UTF-8, else `nil` (and nothing is kept).
    mutating func validating(_ raw: amqp_bytes_t) -> String? {
        guard raw.len > 0, let base = raw.bytes else { return "" }
        if let same = ifSame(raw) { return same }
        guard let text = CDecoding.validString(UnsafeRawBufferPointer(start: base, count: raw.len)) else { return nil }
        string = text
        return text
    }

    /// The kept string, when there is one.
    var kept: String? { string.isEmpty ? nil : string }

    /// The kept `String` when `raw` holds the same (non-empty) bytes, else `nil`.
    func ifSame(_ raw: amqp_bytes_t) -> String? {
        let count = raw.len
        guard count > 0, count == string.utf8.count, let base = raw.bytes else { return nil }
        let same = string.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, base, count) == 0 }
        return same == true ? string : nil
    }
}

/// The `String`s of the previous message's properties that the next message on a channel nearly always repeats: its
/// header names (looked up at the same position first, then at the others) and their text values, content type, type
/// and app id. An event bus message carries half a dozen header names of 14 to 27 bytes, and some of their values (the
/// event type, the source) repeat too; reusing them saves an allocation and a UTF-8 validation each, and equal names
/// then share storage, which makes the dictionary lookups on them cheap.
struct RecentPropertyStrings {
    /// At most this many header names are remembered; later ones are decoded afresh.
    static let headerSlots = 16
    var headerNames: [RecentString] = []
    /// The last text value seen under the name in the same slot of ``headerNames``.
    var headerValues: [RecentString] = []
    var contentType = RecentString()
    var type = RecentString()
    var appID = RecentString()
    /// A header table whose names are all in slots (``templateSlots``, one bit each) and where each of those names sits
    /// in it (``templateIndices``): a message with the same names starts from a copy of it and only replaces the
    /// values, hashing no name (``CDecoding/headers(_:recent:)``). Valid while no slot's name changes.
    var headerTemplate: AMQPTable = [:]
    var templateIndices: [AMQPTable.Index?] = []
    var templateSlots: UInt32 = 0

    /// The name of top-level header `index` and the slot it was found or kept in: the previous message's name at that
    /// position, or at another one (a Swift publisher writes a dictionary's names in an order that differs from message
    /// to message), or a new one (slot `nil` past ``headerSlots``).
    mutating func headerName(_ raw: amqp_bytes_t, at index: Int) -> (name: String, slot: Int?) {
        // An empty name is kept in no slot (a slot keeps its previous name then, which is not this one).
        guard index < Self.headerSlots, raw.len > 0 else { return (CDecoding.string(raw), nil) }
        while headerNames.count <= index {
            headerNames.append(RecentString())
            headerValues.append(RecentString())
        }
        if let same = headerNames[index].ifSame(raw) { return (same, index) }
        for slot in headerNames.indices where slot != index {
            if let same = headerNames[slot].ifSame(raw) { return (same, slot) }
        }
        // A slot's name changes: the template's positions no longer match the slots.
        templateSlots = 0
        return (headerNames[index].decode(raw), index)
    }

    /// Makes `table` the template: its names are the slots in `slots`, `names[slot]` each.
    mutating func keepTemplate(_ table: AMQPTable, slots: UInt32) {
        templateIndices = Array(repeating: nil, count: headerNames.count)
        var positions = Set<AMQPTable.Index>()
        for slot in headerNames.indices where slots & (1 << UInt32(slot)) != 0 {
            // Each slot's name at a place of its own: two slots whose names repaired to the same text (invalid UTF-8)
            // would write one place twice and leave another as it was.
            guard let name = headerNames[slot].kept, let position = table.index(forKey: name),
                  positions.insert(position).inserted
            else {
                templateSlots = 0
                return
            }
            templateIndices[slot] = position
        }
        headerTemplate = table
        templateSlots = slots
    }

    /// A text header value found under the name in `slot`: the kept string when the bytes are the same as last time,
    /// else the new text (``AMQPFieldValue/bytes(_:)`` when it is not valid UTF-8, as for any field value).
    mutating func headerText(_ raw: amqp_bytes_t, slot: Int) -> AMQPFieldValue {
        if let text = headerValues[slot].validating(raw) { return .string(text) }
        return .bytes(CDecoding.byteArray(raw))
    }
}
