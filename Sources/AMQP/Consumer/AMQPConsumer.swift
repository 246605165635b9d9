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
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>

    /// The sequence's iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator

        /// The next delivery; `nil` after the consumer was cancelled. Throws the ``AMQPError`` that ended it.
        public mutating func next() async throws -> AMQPDelivery? {
            try await base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// Acknowledges a delivery of this consumer.
    public func ack(_ delivery: AMQPDelivery, multiple: Bool = false) throws {
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

    /// Stops the consumer (one round trip); the sequence then ends normally.
    public func cancel() async throws {
        try await channel.cancel(consumerTag: consumerTag)
    }
}
