import EventBus
import Foundation
import Testing

/// Waits until an event of `eventType` can be published (a consuming service has declared and bound its queue):
/// publishes are mandatory, so one that nobody receives fails.
public func waitUntilRoutable(_ bus: any EventBus, eventType: String) async throws {
    try await eventually("a queue is bound for \(eventType)", timeout: .seconds(60)) {
        let probe = RawEvent(eventType: eventType, id: "probe-\(UUID().uuidString)", payload: Data("{}".utf8))
        do {
            try await bus.publish(probe)
            return true
        } catch {
            return false
        }
    }
}
