import CRabbitMQ
import Foundation
import Synchronization

/// Everything the connection thread knows about one channel. Only the connection thread reads or writes the
/// `var`s; other threads hold the reference only to name the channel in commands. `closedReason` is the one
/// field other threads may read.
final class ChannelState: @unchecked Sendable {
    let id: UInt16
    /// Set once, when the channel closes; readable from any thread for fast failure.
    let closedReason = Mutex<AMQPError?>(nil)

    var isOpen = true
    var rpcs: [PendingRPC] = []
    var content: ContentAssembly?
    var consumers: [String: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation] = [:]

    var confirmMode = false
    var confirmWindow = 1_000
    var nextPublishTag: UInt64 = 1
    var lowestUnconfirmed: UInt64 = 1
    var pendingConfirms: [UInt64: PendingConfirm] = [:]
    /// Publishes held back by the confirm window or a blocked connection, in order.
    var deferred: [PublishRequest] = []
    var deferredHead = 0

    init(id: UInt16) {
        self.id = id
    }

    var hasDeferred: Bool { deferredHead < deferred.count }

    func popDeferred() -> PublishRequest {
        let request = deferred[deferredHead]
        deferredHead += 1
        if deferredHead == deferred.count {
            deferred.removeAll(keepingCapacity: true)
            deferredHead = 0
        }
        return request
    }

    /// Whether a publish may go to the socket now (confirm window not full).
    var windowOpen: Bool { !confirmMode || pendingConfirms.count < confirmWindow }
}
