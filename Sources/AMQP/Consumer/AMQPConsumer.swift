/// A consumer's deliveries, as an async sequence. Iterate it from one task:
///
/// ```swift
/// let consumer = try await channel.consume(queue: "basket", prefetch: 50)
/// for try await delivery in consumer {
///     try handle(delivery.body)
///     try consumer.ack(delivery)
/// }
/// ```
///
/// The sequence buffers at most the channel's prefetch count of deliveries (the broker sends no more until some
/// are acknowledged). Cancelling the iterating task cancels the consumer.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    /// The consumer tag the broker knows this consumer by.
    public let consumerTag: String
    /// The channel the consumer runs on; acknowledge deliveries here.
    public let channel: AMQPChannel
    let buffer: DeliveryBuffer

    /// The sequence's iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: DeliveryBuffer

        /// The next delivery; `nil` after the consumer was cancelled. Throws the ``AMQPError`` that ended it.
        public mutating func next() async throws -> AMQPDelivery? {
            try await buffer.next()
        }

        /// The next delivery, waiting on the caller's actor (no hop to the global executor and back when a
        /// delivery is buffered or arrives); otherwise as ``next()``.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> AMQPDelivery? {
            try await buffer.next(isolation: actor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }

    /// Acknowledges a delivery of this consumer.
    ///
    /// While more deliveries are buffered for the iterating task, a single ack is queued for the connection thread
    /// without waking it: the acks of a batch of deliveries go out together, once the iterating task comes back to
    /// wait for more (or earlier, when the thread wakes for anything else; at the latest after its idle timeout of at
    /// most a second, should the task stop iterating). ``AMQPChannel/ack(_:multiple:)`` always wakes the thread.
    public func ack(_ delivery: AMQPDelivery, multiple: Bool = false) throws {
        if !multiple, case .held(let failure) = buffer.holdWhileBuffered({ channel.ackQuietly(delivery.deliveryTag) }) {
            if let failure { throw failure }
            return
        }
        try channel.ack(delivery.deliveryTag, multiple: multiple)
    }

    /// Negatively acknowledges a delivery of this consumer (requeued by default).
    public func nack(_ delivery: AMQPDelivery, multiple: Bool = false, requeue: Bool = true) throws {
        try channel.nack(delivery.deliveryTag, multiple: multiple, requeue: requeue)
    }

    /// Rejects a delivery of this consumer (requeued by default).
    public func reject(_ delivery: AMQPDelivery, requeue: Bool = true) throws {
        try channel.reject(delivery.deliveryTag, requeue: requeue)
    }

    /// Gives every delivery buffered for the iterating task back to the broker (`basic.nack` with requeue), so that
    /// another consumer gets them now instead of after this one is done; the iterating task will not see them.
    /// For a graceful stop while a handler still runs: call it after ``cancel()``. Returns how many went back.
    @discardableResult
    public func giveBackBuffered() throws -> Int {
        let taken = buffer.takeBuffered()
        for delivery in taken { try channel.nack(delivery.deliveryTag, requeue: true) }
        return taken.count
    }

    /// Stops the consumer (one round trip); the sequence then ends normally.
    public func cancel() async throws {
        try await channel.cancel(consumerTag: consumerTag)
    }
}
