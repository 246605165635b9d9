/// A unit of work for the connection thread.
///
/// The two hot operations (publish, acknowledgement) are plain cases so that queueing them allocates nothing
/// beyond the command queue's storage; everything else is a closure pair. `run` executes on the connection
/// thread; when the connection is already closed the command fails instead (``ConnectionDriver/fail(_:with:)``,
/// on any thread), so every submitted operation completes exactly once.
enum Command: Sendable {
    /// `basic.publish`; the request carries its own completion.
    case publish(PublishRequest, ChannelState)
    /// Several `basic.publish`es sent back to back, in order; each request's waiter is the same ``PublishBatch``.
    case publishBatch([PublishRequest], ChannelState)
    /// `basic.ack` / `basic.nack` / `basic.reject`: no reply, nothing to fail.
    case acknowledge(AcknowledgementKind, tag: UInt64, ChannelState)
    /// Anything else: `run` on the connection thread, or `fail` when the connection is closed.
    case closure(run: @Sendable (ConnectionDriver) -> Void, fail: @Sendable (AMQPError) -> Void)
}

enum AcknowledgementKind: Sendable {
    case ack(multiple: Bool)
    case nack(multiple: Bool, requeue: Bool)
    case reject(requeue: Bool)
}
