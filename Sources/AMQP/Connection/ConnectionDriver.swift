import CRabbitMQ
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Owns one librabbitmq-c connection and the one thread that may touch it.
///
/// The thread loops: run the queued commands (publish, ack, declare…), read whatever frames have arrived and
/// dispatch them (replies, deliveries, confirms, returns, closes), then sleep in `poll(2)` on the socket and a
/// wake-up eventfd, never longer than half a heartbeat so heartbeats are serviced and a dead peer is seen.
/// Every `var` below the shared state is confined to that thread.
final class ConnectionDriver: @unchecked Sendable {
    struct Shared {
        var commands: [Command] = []
        var sleeping = false
        var closedError: AMQPError?
        var closed = false
        var blocked = false
        var listeners: [UInt64: AsyncStream<AMQPConnectionEvent>.Continuation] = [:]
        var nextListenerID: UInt64 = 0
        var closeWaiters: [CheckedContinuation<AMQPError?, Never>] = []
        var finalError: AMQPError?
    }

    let configuration: AMQPConnectionConfiguration
    let logger: Logger
    let shared = Mutex(Shared())
    let wakeFD: Int32

    // Thread-confined.
    var state: amqp_connection_state_t?
    var socketFD: Int32 = -1
    var heartbeat: Int = 0
    var channelMax = 0
    var channels: [UInt16: ChannelState] = [:]
    var freeChannelIDs: [UInt16] = []
    var nextChannelID: UInt16 = 1
    var blocked = false
    var stopping: AMQPError??
    var connectedEndpoint: AMQPConnectionConfiguration.Endpoint?

    init(configuration: AMQPConnectionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    }

    deinit {
        if wakeFD >= 0 { close(wakeFD) }
    }

    // MARK: - Starting

    /// Starts the thread, which connects and logs in; `completion` gets the outcome before the loop starts.
    func start(completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        guard wakeFD >= 0 else {
            completion(.failure(.connectionLost(reason: "eventfd failed: \(String(cString: strerror(errno)))")))
            return
        }
        let thread = Thread { [self] in
            switch self.establish() {
            case .success:
                completion(.success(()))
                self.runLoop()
            case .failure(let error):
                self.finish(error: error, sendClose: false)
                completion(.failure(error))
            }
        }
        thread.name = "amqp-\(configuration.connectionName ?? "connection")"
        thread.start()
    }

    // MARK: - Commands from other threads

    /// Queues `command` for the connection thread and wakes it. After the connection closed, fails the command
    /// at once instead.
    func submit(_ command: Command) {
        if let error = enqueue(command) { command.fail(error) }
    }

    /// Queues `command` and wakes the thread; returns the error instead when the connection is closed (the command's
    /// `fail` is then not called).
    func enqueue(_ command: Command) -> AMQPError? {
        let outcome: (wake: Bool, error: AMQPError?) = shared.withLock { shared in
            if shared.closed { return (false, shared.closedError ?? .connectionClosed) }
            shared.commands.append(command)
            let wake = shared.sleeping
            shared.sleeping = false
            return (wake, nil)
        }
        if outcome.wake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
        return outcome.error
    }

    /// Asks the thread to close the connection cleanly (connection.close) and exit.
    func requestClose() {
        submit(Command(run: { driver in driver.stopping = .some(nil) }, fail: { _ in }))
    }

    var isClosed: Bool { shared.withLock { $0.closed } }
    var isBlocked: Bool { shared.withLock { $0.blocked } }

    func waitUntilClosed() async -> AMQPError? {
        await withCheckedContinuation { continuation in
            let done: AMQPError?? = shared.withLock { shared in
                if shared.closed { return .some(shared.finalError) }
                shared.closeWaiters.append(continuation)
                return .none
            }
            if case .some(let error) = done { continuation.resume(returning: error) }
        }
    }

    func events() -> AsyncStream<AMQPConnectionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: AMQPConnectionEvent.self)
        let id: UInt64? = shared.withLock { shared in
            if shared.closed { return nil }
            let id = shared.nextListenerID
            shared.nextListenerID += 1
            shared.listeners[id] = continuation
            return id
        }
        if let id {
            continuation.onTermination = { [weak self] _ in
                _ = self?.shared.withLock { $0.listeners.removeValue(forKey: id) }
            }
        } else {
            continuation.yield(.closed(shared.withLock { $0.finalError }))
            continuation.finish()
        }
        return stream
    }

    func emit(_ event: AMQPConnectionEvent) {
        let listeners = shared.withLock { Array($0.listeners.values) }
        for listener in listeners { listener.yield(event) }
    }

    // MARK: - The loop

    private func runLoop() {
        var pollFDs = [
            pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        let idleTimeout = Int32(heartbeat > 0 ? min(heartbeat * 500, 1_000) : 1_000)
        while true {
            let commands = shared.withLock { shared -> [Command] in
                let taken = shared.commands
                shared.commands.removeAll(keepingCapacity: true)
                return taken
            }
            for command in commands {
                command.run(self)
                if stopping != nil { break }
            }
            if let reason = stopping {
                finish(error: reason, sendClose: reason == nil)
                return
            }
            guard readAvailableFrames() else { return }

            let sleep = shared.withLock { shared -> Bool in
                if shared.commands.isEmpty {
                    shared.sleeping = true
                    return true
                }
                return false
            }
            guard sleep else { continue }
            if let state, amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 {
                shared.withLock { $0.sleeping = false }
                continue
            }
            pollFDs[0].revents = 0
            pollFDs[1].revents = 0
            let ready = poll(&pollFDs, 2, idleTimeout)
            shared.withLock { $0.sleeping = false }
            if ready > 0, pollFDs[1].revents != 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
        }
    }

    /// Reads and dispatches the frames that are available without waiting. Returns `false` when the connection
    /// ended (the thread must exit).
    private func readAvailableFrames() -> Bool {
        guard let state else { return false }
        var timeout = timeval(tv_sec: 0, tv_usec: 0)
        var frame = amqp_frame_t()
        var handled = 0
        while handled < 512 {
            let status = amqp_simple_wait_frame_noblock(state, &frame, &timeout)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            if status != AMQP_STATUS_OK.rawValue {
                finish(error: readError(status), sendClose: false)
                return false
            }
            dispatch(frame)
            if let reason = stopping {
                finish(error: reason, sendClose: reason == nil)
                return false
            }
            handled += 1
        }
        amqp_maybe_release_buffers(state)
        return true
    }

    private func readError(_ status: Int32) -> AMQPError {
        if status == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue { return .heartbeatTimeout }
        return .connectionLost(reason: CDecoding.statusText(status))
    }

    /// A send on the socket failed: the connection is gone.
    func socketFailed(_ status: Int32) {
        if stopping == nil { stopping = .some(.connectionLost(reason: CDecoding.statusText(status))) }
    }

    // MARK: - Ending

    /// Fails everything pending with `error` (or `.connectionClosed` for a clean close), closes and destroys the
    /// C connection, and wakes everyone waiting for the end. Runs on the connection thread, once.
    func finish(error: AMQPError?, sendClose: Bool) {
        let failure = error ?? .connectionClosed
        let leftovers = shared.withLock { shared -> [Command] in
            shared.closed = true
            shared.closedError = failure
            shared.finalError = error
            let taken = shared.commands
            shared.commands.removeAll()
            return taken
        }
        for command in leftovers { command.fail(failure) }
        for channel in channels.values { failChannel(channel, with: failure) }
        channels.removeAll()

        if let state {
            if sendClose {
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                _ = amqp_set_rpc_timeout(state, &timeout)
                _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
            }
            _ = amqp_destroy_connection(state)
            self.state = nil
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
        channel.isOpen = false
        channel.closedReason.withLock { $0 = error }
        let rpcs = channel.rpcs
        channel.rpcs.removeAll()
        for rpc in rpcs { rpc.complete(.failure(error)) }
        if let content = channel.content, case .getOk(let rpc, _, _, _, _, _) = content.kind {
            rpc.complete(.failure(error))
        }
        channel.content = nil
        let confirms = channel.pendingConfirms
        channel.pendingConfirms.removeAll()
        for tag in confirms.keys.sorted() { confirms[tag]!.request.complete(.failure(error)) }
        while channel.hasDeferred { channel.popDeferred().complete(.failure(error)) }
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
    }
}
