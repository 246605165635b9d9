import CRabbitMQ
import Foundation

/// Closing channels and the connection, failing whatever waits on them.
extension ConnectionDriver {
    /// Fails everything pending with `error` (or `.connectionClosed` for a clean close), closes and destroys the
    /// C connection, and wakes everyone waiting for the end. Runs on the connection thread, once. `unrun` are
    /// commands taken from the queue that did not run.
    func finish(error: AMQPError?, sendClose: Bool, unrun: [Command] = []) {
        let failure = error ?? .connectionClosed
        if sendClose {
            flushPublishFrames()
        } else if let frames = publishFrames, !frames.isEmpty {
            // The socket is gone: what was not written never reached the broker.
            frames.reset()
            for waiter in framesAwaitingWrite { completions.resume(waiter, .failure(failure)) }
            framesAwaitingWrite.removeAll()
        }
        flushCompletions()
        let leftovers = shared.withLock { shared -> [Command] in
            shared.closed = true
            shared.closedError = failure
            shared.finalError = error
            let taken = shared.commands.compactMap { $0 }
            shared.commands.removeAll()
            return taken
        }
        for command in unrun { fail(command, with: failure) }
        for command in leftovers { fail(command, with: failure) }
        for channel in channels.values { failChannel(channel, with: failure) }
        channels.removeAll()
        lastChannel = nil
        channelsWithPendingAcks.removeAll()

        if let state {
            if sendClose {
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                _ = amqp_set_rpc_timeout(state, &timeout)
                _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
            }
            // The timer may shut the socket down until here (a close stuck on a full socket), not once it is destroyed.
            stopWatchdog()
            _ = amqp_destroy_connection(state)
            self.state = nil
        } else {
            stopWatchdog()
        }
        if let error {
            logger.warning("AMQP connection ended", metadata: ["error": "\(error)"])
        } else {
            logger.debug("AMQP connection closed")
        }

        let (waiters, listeners) = shared.withLock { shared in
            let result = (shared.closeWaiters, Array(shared.listeners.values))
            shared.closeWaiters.removeAll()
            shared.listeners.removeAll()
            return result
        }
        for waiter in waiters { waiter.resume(returning: error) }
        for listener in listeners {
            listener.yield(.closed(error))
            listener.finish()
        }
    }

    /// Marks the channel closed and fails everything waiting on it.
    func failChannel(_ channel: ChannelState, with error: AMQPError) {
        guard channel.isOpen else { return }
        // What this batch produced so far goes out first, as if handed out at once.
        flushCompletions()
        channel.isOpen = false
        channel.closedReason.withLock { $0 = error }
        channel.isClosed.store(true, ordering: .releasing)
        let rpcs = channel.rpcs
        channel.rpcs.removeAll()
        for rpc in rpcs { rpc.complete(.failure(error)) }
        if let content = channel.content.take(), case .getOk(let rpc, _, _, _, _, _) = content.kind {
            rpc.complete(.failure(error))
        }
        for pending in channel.pendingConfirms.removeAll() { completions.resume(pending.waiter, .failure(error)) }
        while channel.hasDeferred { dropUnsent(channel.popDeferred(), .failure(error)) }
        channel.pendingAcks.removeAll()
        channel.unacked.removeAll()
        flushCompletions()
        let consumers = channel.consumers
        channel.consumers.removeAll()
        for consumer in consumers.values { consumer.finish(throwing: error) }
    }

    /// Removes a closed channel from the table so its number can be reused.
    func retireChannel(_ channel: ChannelState, with error: AMQPError) {
        failChannel(channel, with: error)
        if channels[channel.id] === channel {
            channels[channel.id] = nil
            freeChannelIDs.append(channel.id)
        }
        if lastChannel === channel { lastChannel = nil }
    }
}
