import CRabbitMQ
import Foundation
import Synchronization

/// Everything the connection thread knows about one channel. Only the connection thread reads or writes the
/// `var`s; other threads hold the reference only to name the channel in commands. `closedReason`, `isClosed` and
/// `confirmSelected` are the fields other threads may read.
final class ChannelState: @unchecked Sendable {
    typealias Sink = DeliveryBuffer

    let id: UInt16
    /// Set once, when the channel closes; readable from any thread for fast failure.
    let closedReason = Mutex<AMQPError?>(nil)
    /// Set right after `closedReason`: a lock-free check for the common case of an open channel.
    let isClosed = Atomic<Bool>(false)
    /// Set once `confirm.select` succeeded; readable from any thread (publishers choose how to wait by it).
    let confirmSelected = Atomic<Bool>(false)

    var isOpen = true
    var rpcs: [PendingRPC] = []
    /// The message whose frames are arriving.
    let content = ContentAssembly()
    var consumers: [String: Sink] = [:] {
        didSet { lastConsumer = nil }
    }
    /// The consumer of the previous delivery: most deliveries go to the same one, found without hashing the tag.
    private var lastConsumer: (tag: String, sink: Sink)?
    /// The consumer tag, exchange and routing key of the previous message, to reuse their `String`s.
    var recentConsumerTag = RecentString()
    var recentExchange = RecentString()
    var recentRoutingKey = RecentString()
    /// The header names, content type, type and app id of the previous message, to reuse their `String`s.
    var recentProperties = RecentPropertyStrings()

    /// Deliveries the broker counts as unacknowledged, and single acks queued in the current command batch.
    var unacked = UnackedDeliveries()
    var pendingAcks: [UInt64] = []

    var confirmMode = false
    var confirmWindow = 1_000
    var pendingConfirms = PendingConfirms()
    /// Publishes held back by the confirm window or a blocked connection, in order.
    var deferred: [PublishRequest?] = []
    var deferredHead = 0

    init(id: UInt16) {
        self.id = id
    }

    /// The consumer registered under `tag`.
    func consumer(for tag: String) -> Sink? {
        if let lastConsumer, lastConsumer.tag == tag { return lastConsumer.sink }
        guard let sink = consumers[tag] else { return nil }
        lastConsumer = (tag, sink)
        return sink
    }

    var hasDeferred: Bool { deferredHead < deferred.count }

    func popDeferred() -> PublishRequest {
        // Every slot from `deferredHead` on holds a request.
        let request = deferred.moveOut(at: deferredHead)!
        deferredHead += 1
        if deferredHead == deferred.count {
            deferred.removeAll(keepingCapacity: true)
            deferredHead = 0
        }
        return request
    }

    /// Takes the held-back publishes that `shouldRemove` picks out of the queue (the others keep their order) and
    /// returns them in order. For withdrawing expired publishes: a rare path, so it rebuilds the queue.
    func removeDeferred(where shouldRemove: (PublishRequest) -> Bool) -> [PublishRequest] {
        var removed: [PublishRequest] = []
        var kept: [PublishRequest?] = []
        for index in deferredHead..<deferred.count {
            guard let request = deferred.moveOut(at: index) else { continue }
            if shouldRemove(request) { removed.append(request) } else { kept.append(request) }
        }
        deferred = kept
        deferredHead = 0
        return removed
    }

    /// Whether a publish may go to the socket now (confirm window not full).
    var windowOpen: Bool { !confirmMode || pendingConfirms.count < confirmWindow }
}
