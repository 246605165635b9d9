import Foundation

/// A publish on its way to the connection thread. It holds the Swift values only: the connection thread encodes
/// them into C structures in its reusable scratch arena right before `amqp_basic_publish`, so queueing a publish
/// allocates nothing of its own.
struct PublishRequest: Sendable {
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    let properties: AMQPProperties
    let body: Data
    /// Who waits for the outcome.
    let waiter: PublishWaiter

    /// The deadline of the batch this publish belongs to: unsent by then, it is withdrawn.
    var deadline: ContinuousClock.Instant? {
        if case .batch(let batch, _) = waiter { return batch.deadline }
        return nil
    }

    /// Whether `amqp_basic_publish` can only fail on the socket for this message, never while encoding it: no
    /// headers table (whose size is only known once encoded) and every short string within 255 bytes. Only such
    /// messages may be queued without waiting, since nobody would be told of an encoding error.
    static func alwaysEncodable(exchange: String, routingKey: String, properties p: AMQPProperties) -> Bool {
        func fits(_ text: String?) -> Bool { (text?.utf8.count ?? 0) <= 255 }
        return p.headers == nil && fits(exchange) && fits(routingKey) && fits(p.contentType) && fits(p.contentEncoding)
            && fits(p.correlationID) && fits(p.replyTo) && fits(p.expiration) && fits(p.messageID) && fits(p.type)
            && fits(p.userID) && fits(p.appID) && fits(p.clusterID)
    }
}

/// A publish sent on a confirm-mode channel, waiting for `basic.ack` / `basic.nack`.
struct PendingConfirm {
    let request: PublishRequest
    /// Set when a `basic.return` matched this publish: its ack then fails the publish with this error.
    var returned: AMQPError?

    init(_ request: consuming PublishRequest) {
        self.request = request
    }

    var waiter: PublishWaiter { request.waiter }
}

/// Who is told how a publish ended.
enum PublishWaiter: Sendable {
    /// Nobody: a transient publish that returned as soon as it was queued.
    case none
    /// One caller of ``AMQPChannel/publish(_:exchange:routingKey:mandatory:properties:)``.
    case caller(UnsafeContinuation<Void, any Error>)
    /// Message `index` of a ``PublishBatch``.
    case batch(PublishBatch, index: Int)

    /// Whether nobody waits (the publish was counted as queued, not awaited).
    var isTransient: Bool {
        if case .none = self { return true }
        return false
    }
}

/// The outcomes of one batch publish (``AMQPChannel/publish(_:)`` or ``AMQPChannel/publish(_:completion:)``),
/// collected on the connection thread as its messages settle; its completion runs once, when the last one has.
///
/// Only the connection thread records outcomes (``settle(_:_:)``); ``failUnsent(_:)`` is for a batch whose command
/// never reached that thread, so nobody else holds it.
final class PublishBatch: @unchecked Sendable {
    private var results: [Result<Void, AMQPError>]
    private var remaining: Int
    private let completion: @Sendable ([Result<Void, AMQPError>]) -> Void
    /// Messages still unsent at this instant are withdrawn (``AMQPError/publishWithdrawn``).
    let deadline: ContinuousClock.Instant?

    init(
        count: Int, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable ([Result<Void, AMQPError>]) -> Void
    ) {
        self.results = Array(repeating: .failure(.connectionClosed), count: count)
        self.remaining = count
        self.deadline = deadline
        self.completion = completion
    }

    /// Records message `index`'s outcome; returns `true` when it was the last one (then call ``finish()``).
    func settle(_ index: Int, _ result: Result<Void, AMQPError>) -> Bool {
        results[index] = result
        remaining -= 1
        return remaining == 0
    }

    /// Hands every outcome to the completion.
    func finish() {
        completion(results)
    }

    /// Fails every message of a batch that was never handed to the connection thread.
    func failUnsent(_ error: AMQPError) {
        completion(Array(repeating: .failure(error), count: results.count))
    }
}
