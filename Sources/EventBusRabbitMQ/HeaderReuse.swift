import AMQP
import EventBus
import Foundation
import Synchronization

/// A published event's header table for the next event of the same shape (``WireFormat/properties(for:headers:template:)``):
/// same type and source, a subject and a time or not. The table is a copy of the previous one with the id, the subject
/// and the time written at their places, so no header name is hashed; the result is the table
/// ``WireFormat/headers(for:extra:)`` builds.
final class PublishHeaders: Sendable {
    private struct Shape: Sendable {
        var eventType: String
        var source: String?
        /// Whether the type and the source are both ASCII.
        var ascii: Bool
        var table: AMQPTable
        var id: AMQPTable.Index
        var subject: AMQPTable.Index?
        var time: AMQPTable.Index?

        func fits(_ event: RawEvent) -> Bool {
            // Type and source are usually the very same `String`s (a literal type name, the configured source): one
            // word each.
            guard (subject != nil) == (event.subject != nil), (time != nil) == (event.time != nil),
                  event.eventType.sameBytes(as: eventType, otherIsASCII: ascii)
            else { return false }
            switch (event.source, source) {
            case (nil, nil): return true
            case (let new?, let kept?): return new.sameBytes(as: kept, otherIsASCII: ascii)
            default: return false
            }
        }
    }

    /// Held for a copy in and a store out only: the work happens outside the lock.
    private let last = Mutex<Shape?>(nil)

    /// The header table of `event`, which has no headers of its own.
    func headers(for event: RawEvent) -> AMQPTable {
        if let shape = last.withLock({ $0 }), shape.fits(event) {
            var table = shape.table
            table.values[shape.id] = .string(event.id)
            if let position = shape.subject, let subject = event.subject { table.values[position] = .string(subject) }
            if let position = shape.time, let time = event.time { table.values[position] = .string(EventDate.format(time)) }
            return table
        }
        let table = WireFormat.headers(for: event)
        if let id = table.index(forKey: EventHeaders.id) {
            let shape = Shape(
                eventType: event.eventType, source: event.source, ascii: event.eventType.isASCII && (event.source?.isASCII ?? true),
                table: table, id: id,
                subject: event.subject == nil ? nil : table.index(forKey: EventHeaders.subject),
                time: event.time == nil ? nil : table.index(forKey: EventHeaders.time))
            last.withLock { $0 = shape }
        }
        return table
    }
}

/// The previous delivery's headers as strings, for the next delivery of one consumer (``WireFormat/inbound(_:codec:reuse:)``).
/// The AMQP layer hands a delivery whose header names are the previous one's a copy of the previous table, so its
/// names come in the same order and are the same `String` objects (comparing them is one word each): the strings
/// then start from a copy of the previous result and only the values are written. Anything else is converted afresh
/// and kept for the next delivery.
final class HeaderStrings: Sendable {
    private struct Kept {
        /// The table's names in its iteration order.
        var names: [String] = []
        /// Whether every name is ASCII.
        var ascii = true
        var strings: [String: String] = [:]
        /// Where each name's text sits in ``strings`` (`nil`: a kind ``WireFormat/stringHeaders(_:)`` skips).
        var positions: [[String: String].Index?] = []
    }

    private let kept = Mutex(Kept())

    func strings(_ table: AMQPTable, known: inout WireFormat.KnownHeaders) -> [String: String] {
        kept.withLock { kept in
            if table.count == kept.names.count, !table.isEmpty, let reused = Self.reuse(table, kept, known: &known) { return reused }
            known = WireFormat.KnownHeaders()
            let strings = WireFormat.stringHeaders(table, known: &known)
            kept.names = Array(table.keys)
            kept.ascii = kept.names.allSatisfy(\.isASCII)
            kept.strings = strings
            kept.positions = kept.names.map { strings.index(forKey: $0) }
            return strings
        }
    }

    /// The kept strings with `table`'s values, when `table` has the kept names in the kept order and each value
    /// converts to text exactly where the kept one did.
    private static func reuse(_ table: AMQPTable, _ kept: Kept, known: inout WireFormat.KnownHeaders) -> [String: String]? {
        var result = kept.strings
        var index = 0
        for (name, value) in table {
            guard name.sameBytes(as: kept.names[index], otherIsASCII: kept.ascii) else { return nil }
            let text = WireFormat.headerText(value)
            known.note(name, value, text: text)
            switch (text, kept.positions[index]) {
            case (let text?, let position?): result.values[position] = text
            case (nil, nil): break
            default: return nil
            }
            index += 1
        }
        return result
    }
}

extension String {
    /// Whether the two hold the same UTF-8 bytes. `==` compares canonical equivalence (`"\u{212A}"`, the Kelvin sign,
    /// equals `"K"`), so a text reused in place of another must pass this instead. Fast for the usual case, the same
    /// `String` object or two ASCII texts: `==` returns at once for the one and compares bytes for the other, and a
    /// text canonically equal to an ASCII one but not ASCII itself is longer in UTF-8.
    func sameBytes(as other: String, otherIsASCII: Bool) -> Bool {
        guard self == other, utf8.count == other.utf8.count else { return false }
        return otherIsASCII || utf8.elementsEqual(other.utf8)
    }

    /// Whether every byte is below 0x80.
    var isASCII: Bool { utf8.allSatisfy { $0 < 0x80 } }
}
