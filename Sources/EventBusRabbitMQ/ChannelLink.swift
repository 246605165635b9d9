import AMQP
import EventBus
import Foundation

/// The current channel of a connection that comes and goes: callers wait (bounded) while it reconnects.
final class ChannelLink: @unchecked Sendable {
    private let lock = NSLock()
    private var channel: AMQPChannel?
    private var stoppedError: (any Error)?
    private var waiters: [UInt64: CheckedContinuation<AMQPChannel, any Error>] = [:]
    private var nextWaiter: UInt64 = 0
    /// Bounds the waits for a channel and for publishes sent through ``send(_:on:until:timeoutError:)``.
    private let sweeper = DeadlineSweeper()

    /// Whether a channel is current and open.
    var isConnected: Bool { lock.withLock { channel?.isOpen ?? false } }

    /// Whether the broker blocks the current channel's connection (a resource alarm).
    var isBlocked: Bool { lock.withLock { channel?.connection.isBlocked ?? false } }

    /// Stops handing out `channel` (it stalls or the broker nacks on it) and returns `true` for the first caller only,
    /// who then closes it and has it replaced.
    func abandon(_ channel: AMQPChannel) -> Bool {
        lock.withLock {
            guard abandoned !== channel else { return false }
            abandoned = channel
            return true
        }
    }

    /// Makes `channel` current and hands it to everyone waiting.
    func publish(_ channel: AMQPChannel) {
        let waiting = lock.withLock {
            self.channel = channel
            let taken = waiters
            waiters.removeAll()
            return taken
        }
        for waiter in waiting.values { waiter.resume(returning: channel) }
    }

    private var reopening = false
    /// The last channel given up on (``abandon(_:)``): not handed out any more, although it may still be closing.
    private weak var abandoned: AMQPChannel?

    /// Forgets `channel` (its connection broke), unless a newer one replaced it already.
    func retract(_ channel: AMQPChannel) {
        lock.withLock { if self.channel === channel { self.channel = nil } }
    }

    /// Replaces `closed` (closed by the broker while its connection lives) with a channel from `open`, once, however
    /// many callers notice the closure at the same time. If `open` fails the connection is gone and the supervisor
    /// reconnects.
    func reopen(after closed: AMQPChannel, open: @escaping @Sendable () async throws -> AMQPChannel) {
        let start = lock.withLock { () -> Bool in
            guard !reopening, channel == nil || channel === closed, stoppedError == nil else { return false }
            channel = nil
            reopening = true
            return true
        }
        guard start else { return }
        Task {
            let fresh = try? await open()
            lock.withLock { reopening = false }
            if let fresh { publish(fresh) }
        }
    }

    /// Refuses all further waits with `error` and fails current waiters.
    func stop(_ error: any Error) {
        let waiting = lock.withLock {
            stoppedError = error
            channel = nil
            let taken = waiters
            waiters.removeAll()
            return taken
        }
        for waiter in waiting.values { waiter.resume(throwing: error) }
        sweeper.stop()
    }

    /// The current channel, or waits until there is one or `deadline` passes.
    func channel(until deadline: ContinuousClock.Instant, timeoutError: @escaping @Sendable () -> any Error) async throws -> AMQPChannel {
        // Fast path: no deadline registration, no suspension when a channel is ready (the common case).
        let ready: AMQPChannel? = lock.withLock {
            guard stoppedError == nil, let channel, channel.isOpen, channel !== abandoned else { return nil }
            return channel
        }
        if let ready { return ready }
        let id: UInt64 = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        return try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<AMQPChannel, any Error>? = lock.withLock {
                if let stoppedError { return .failure(stoppedError) }
                if let channel, channel.isOpen, channel !== abandoned { return .success(channel) }
                waiters[id] = continuation
                return nil
            }
            if let immediate {
                continuation.resume(with: immediate)
                return
            }
            // A waiter handed a channel (or the stop error) before the deadline leaves a registration that expires
            // as a no-op; waiting only happens while the broker is away, so there are few.
            _ = sweeper.register(deadline: deadline) { [weak self] in
                guard let self else { return }
                let waiter = self.lock.withLock { self.waiters.removeValue(forKey: id) }
                waiter?.resume(throwing: timeoutError())
            }
        }
    }

    /// Publishes `messages` on `channel` (one this link handed out) in order and returns their outcomes, or throws
    /// `timeoutError()` once `deadline` passes (the fate of messages already written is then unknown; those not yet
    /// written are withdrawn and never go out). When the outcomes are not all in
    /// after `stallTimeout` (and the connection is not blocked by the broker), `onStall` gets the channel: closing it
    /// fails its outstanding confirms, which the caller then sends again.
    func send(
        _ messages: [AMQPOutboundMessage], on channel: AMQPChannel, until deadline: ContinuousClock.Instant,
        stallTimeout: Duration, onStall: @escaping @Sendable (AMQPChannel) -> Void,
        timeoutError: @escaping @Sendable () -> any Error
    ) async throws -> [Result<Void, AMQPError>] {
        let stallCheck = sweeper.register(deadline: min(deadline, ContinuousClock.now + stallTimeout)) {
            guard channel.isOpen, !channel.connection.isBlocked else { return }
            onStall(channel)
        }
        defer { sweeper.cancel(stallCheck) }
        return try await sweeper.wait(until: deadline, timeoutError: timeoutError) { complete in
            // The same deadline in the AMQP layer: what is still unsent then is withdrawn, never sent late.
            channel.publish(messages, deadline: deadline) { complete(.success($0)) }
        }
    }
}
