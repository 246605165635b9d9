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
        var table: AMQPTable
        var id: AMQPTable.Index
        var subject: AMQPTable.Index?
        var time: AMQPTable.Index?

        func fits(_ event: RawEvent) -> Bool {
            // Both names are usually the very same `String`s (a literal type name, the configured source): one word each.
            eventType == event.eventType && source == event.source && (subject != nil) == (event.subject != nil)
                && (time != nil) == (event.time != nil)
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
                eventType: event.eventType, source: event.source, table: table, id: id,
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
            guard name == kept.names[index] else { return nil }
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
