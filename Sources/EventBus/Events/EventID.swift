import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension UUID {
    /// A new random (version 4) UUID for an event's ``IntegrationEvent/id``: the same kind of id as `UUID()`, drawn
    /// from the system's secure random generator (`arc4random_buf`), at a fraction of `UUID()`'s cost on Linux, where
    /// Foundation opens, reads and closes `/dev/urandom` for every id (about 3.3 µs each on the benchmark machine,
    /// against 0.4 µs here: more than a tenth of the bus's whole CPU cost per published event).
    ///
    /// ```swift
    /// struct ProductPriceChangedIntegrationEvent: IntegrationEvent {
    ///     var id = UUID.newEventID()
    ///     ...
    /// }
    /// ```
    public static func newEventID() -> UUID {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { buffer in
            if let base = buffer.baseAddress { arc4random_buf(base, buffer.count) }
        }
        bytes.6 = (bytes.6 & 0x0F) | 0x40  // version 4
        bytes.8 = (bytes.8 & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: bytes)
    }
}
