import AMQP
import EventBus
import Foundation
import Synchronization

/// The current channel of a connection that comes and goes: callers wait (bounded) while it reconnects. Its state is
/// a ``PublishingChannelStateMachine`` in a mutex; this class carries out the machine's actions (resuming waiters,
/// opening a replacement channel) outside the lock.
final class ChannelLink: Sendable {
    typealias Machine = PublishingChannelStateMachine<AMQPChannel, CheckedContinuation<AMQPChannel, any Error>>

    private let machine = Mutex(Machine())
    private let nextWaiter = Atomic<UInt64>(0)
    /// Bounds the waits for a channel and for publishes sent through ``send(_:on:until:stallTimeout:onStall:timeoutError:)``.
    private let sweeper = DeadlineSweeper()

    /// Whether a channel is current and open.
    var isConnected: Bool { machine.withLock { $0.current?.isOpen ?? false } }

    /// Whether the broker blocks the current channel's connection (a resource alarm).
    var isBlocked: Bool { machine.withLock { $0.current?.connection.isBlocked ?? false } }

    /// Stops handing out `channel` (it stalls or the broker nacks on it) and returns `true` for the first caller only,
    /// who then closes it and has it replaced.
    func abandon(_ channel: AMQPChannel) -> Bool {
        machine.withLock { $0.abandon(channel) }
    }

    /// Makes `channel` (just opened by the supervisor) the one publishes go to, and hands it to everyone waiting.
    func install(_ channel: AMQPChannel) {
        carryOut(machine.withLock { $0.installed(channel) }, open: nil)
    }

    /// Forgets `channel` (its connection broke), unless a newer one replaced it already.
    func retract(_ channel: AMQPChannel) {
        machine.withLock { $0.lost(channel) }
    }

    /// Replaces `closed` (closed by the broker while its connection lives) with a channel from `open`, once, however
    /// many callers notice the closure at the same time. If `open` fails the connection is gone and the supervisor
    /// reconnects; a replacement that arrives after the supervisor installed a newer channel is closed.
    func reopen(after closed: AMQPChannel, open: @escaping @Sendable () async throws -> AMQPChannel) {
        carryOut(machine.withLock { $0.closed(closed) }, open: open)
    }

    /// Refuses all further waits with `error` and fails current waiters.
    func stop(_ error: any Error) {
        carryOut(machine.withLock { $0.stop(error) }, open: nil)
        sweeper.stop()
    }

    private func carryOut(_ action: Machine.Action, open: (@Sendable () async throws -> AMQPChannel)?) {
        switch action {
        case .none:
            break
        case .handOut(let channel, let waiters):
            for waiter in waiters { waiter.resume(returning: channel) }
        case .fail(let waiters, let error):
            for waiter in waiters { waiter.resume(throwing: error) }
        case .close(let channel):
            Task { await channel.close() }
        case .openReplacement(let closed):
            guard let open else { return }
            Task {
                do {
                    let fresh = try await open()
                    carryOut(machine.withLock { $0.replacementOpened(fresh, after: closed) }, open: nil)
                } catch {
                    machine.withLock { $0.replacementFailed(after: closed) }
                }
            }
        }
    }

    /// The current channel, or waits until there is one or `deadline` passes.
    nonisolated(nonsending) func channel(until deadline: ContinuousClock.Instant, timeoutError: @escaping @Sendable () -> any Error) async throws -> AMQPChannel {
        // Fast path: no deadline registration, no suspension when a channel is ready (the common case).
        switch machine.withLock({ $0.lookup(isOpen: \.isOpen) }) {
        case .channel(let channel): return channel
        case .stopped(let error): throw error
        case .wait: break
        }
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        return try await withCheckedThrowingContinuation { continuation in
            switch machine.withLock({ $0.wait(continuation, id: id, isOpen: \.isOpen) }) {
            case .channel(let channel):
                continuation.resume(returning: channel)
            case .stopped(let error):
                continuation.resume(throwing: error)
            case .wait:
                // A waiter handed a channel (or the stop error) before the deadline leaves a registration that
                // expires as a no-op; waiting only happens while the broker is away, so there are few.
                _ = sweeper.register(deadline: deadline) { [weak self] in
                    self?.machine.withLock { $0.timedOut(id) }?.resume(throwing: timeoutError())
                }
            }
        }
    }

    /// Publishes `messages` on `channel` (one this link handed out) in order and returns their outcomes, or throws
    /// `timeoutError()` once `deadline` passes (the fate of messages already written is then unknown; those not yet
    /// written are withdrawn and never go out). When the outcomes are not all in
    /// after `stallTimeout` (and the connection is not blocked by the broker), `onStall` gets the channel: closing it
    /// fails its outstanding confirms, which the caller then sends again.
    nonisolated(nonsending) func send(
        _ messages: [AMQPOutboundMessage], on channel: AMQPChannel, until deadline: ContinuousClock.Instant,
        stallTimeout: Duration, onStall: @escaping @Sendable (AMQPChannel) -> Void,
        timeoutError: @escaping @Sendable () -> any Error
    ) async throws -> [Result<Void, AMQPError>] {
        let stallCheck = DeadlineSweeper.Checkpoint(at: ContinuousClock.now + stallTimeout) {
            guard channel.isOpen, !channel.connection.isBlocked else { return }
            onStall(channel)
        }
        return try await sweeper.wait(until: deadline, checkpoint: stallCheck, timeoutError: timeoutError) { waiter in
            // The same deadline in the AMQP layer: what is still unsent then is withdrawn, never sent late.
            channel.publish(messages, deadline: deadline) { waiter.finish(.success($0)) }
        }
    }
}
