@testable import AMQP
import EventBus
@testable import EventBusRabbitMQ
import Foundation
import Testing

/// A published event's header table from ``PublishHeaders`` (a copy of the previous table of the same shape with the
/// id, subject and time written in) is the table built afresh, whatever the order of shapes: types and sources that
/// change, subjects and times that come and go, events with headers of their own.
@Suite struct PublishHeadersTests {
    @Test func everyEventGetsTheTableBuiltAfresh() {
        let template = PublishHeaders()
        let types = ["ProductPriceChanged", "OrderPlaced"]
        let sources = ["catalog", "ordering", nil]
        var mismatches: [String] = []
        for index in 0..<2_000 {
            // Runs of one shape, then another.
            let shape = (index / 7) * 7919
            var event = RawEvent(
                eventType: types[shape % 2], id: "id-\(index)", source: sources[(shape / 2) % 3],
                subject: (shape / 6) % 2 == 0 ? "subject-\(index)" : nil,
                time: (shape / 12) % 2 == 0 ? Date(timeIntervalSince1970: Double(1_700_000_000 + index)) : nil,
                payload: Data())
            if index % 50 == 49 { event.headers = ["traceparent": "00-\(index)"] }
            let reused = WireFormat.properties(for: event, template: template).headers
            let fresh = WireFormat.headers(for: event)
            if reused != fresh, mismatches.count < 5 { mismatches.append("#\(index): \(String(describing: reused)) != \(fresh)") }
        }
        #expect(mismatches.isEmpty)
    }
}
