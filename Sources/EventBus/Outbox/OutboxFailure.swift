import Foundation

/// Tells an outbox event that can never be published as it is (too large, a type name no broker takes, content that
/// cannot be encoded) from one that failed for now (broker away, timeout): the first ends `PublishedFailed` for good
/// with its reason, the second is retried with backoff.
enum OutboxFailure {
    /// The default largest event body, in bytes (1 MiB), as the bus's own default.
    static let defaultMaximumEventSize = 1_048_576
    /// The longest event type name, in UTF-8 bytes: it is the routing key, an AMQP short string.
    static let maximumTypeNameBytes = 255

    /// Why `entry` can never be published as it is, or `nil` when it may be.
    static func unpublishable(_ entry: IntegrationEventLogEntry, maximumEventSize: Int) -> String? {
        let size = entry.content.utf8.count
        if size > maximumEventSize {
            return "the event is \(size) bytes, more than the maximum event size of \(maximumEventSize) bytes; it is never sent: "
                + "raise the maximum (the relay's and the bus's) and run `eventbus outbox retry`, or delete the row"
        }
        let typeBytes = entry.eventTypeName.utf8.count
        if typeBytes == 0 || typeBytes > maximumTypeNameBytes {
            return "the event type name is \(typeBytes) bytes, outside 1...\(maximumTypeNameBytes); it is never sent: fix the row's "
                + "event_type_name and run `eventbus outbox retry`, or delete the row"
        }
        return nil
    }

    /// Whether publishing failed in a way that sending the same event again cannot fix.
    static func isPermanent(_ error: any Error) -> Bool {
        switch error as? EventBusError {
        case .encodingFailed, .eventTooLarge: true
        default: false
        }
    }
}
