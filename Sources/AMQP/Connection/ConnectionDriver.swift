import CRabbitMQ
import Dispatch
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Owns one librabbitmq-c connection and the one thread that may touch it.
///
/// The thread loops: run the queued commands (publish, ack, declare…), read whatever frames have arrived and
/// dispatch them (replies, deliveries, confirms, returns, closes), hand the results to the waiting tasks in one
/// batch, then sleep in `poll(2)` on the socket and a wake-up eventfd, never longer than half a heartbeat so
/// heartbeats are serviced and a dead peer is seen. Every `var` below the shared state is confined to that thread.
final class ConnectionDriver: @unchecked Sendable {
    struct Shared {
        /// Optional so that the thread can move each command out (`take()`) instead of copying it.
        var commands: [Command?] = []
        var sleeping = false
        var closedError: AMQPError?
        var closed = false
        var blocked = false
        /// Transient publishes queued without waiting (``enqueueTransientPublish(_:)``) and not yet written.
        var transientBacklog = 0
        var listeners: [UInt64: AsyncStream<AMQPConnectionEvent>.Continuation] = [:]
        var nextListenerID: UInt64 = 0
        var closeWaiters: [CheckedContinuation<AMQPError?, Never>] = []
        var finalError: AMQPError?
        /// Jobs of tasks that prefer the connection thread as their executor (the `TaskExecutor` conformance).
        var jobs: [UnownedJob] = []
        /// Set when the thread is about to exit: jobs then go to the global executor.
        var threadExited = false
        /// The socket the write-stall timer may shut down; -1 before the connection opens and once it is destroyed.
        var watchedSocket: Int32 = -1
    }

    /// How many transient publishes may be queued for the thread before `publish` waits for the socket again.
    static let transientBacklogLimit = 1_024

    let configuration: AMQPConnectionConfiguration
    let logger: Logger
    /// ``AMQPConnectionConfiguration/maxBodySize``: the body limit of `basic.get`, returns, and consumers without one.
    let bodyLimit: UInt64
    let shared = Mutex(Shared())
    let wakeFD: Int32

    // Thread-confined.
    var state: amqp_connection_state_t?
    var socketFD: Int32 = -1
    var heartbeat: Int = 0
    var channelMax = 0
    var channels: [UInt16: ChannelState] = [:]
    var lastChannel: ChannelState?
    var freeChannelIDs: [UInt16] = []
    /// An `Int`, so that handing out channel 65 535 does not overflow it.
    var nextChannelID = 1
    var blocked = false
    /// Set when the connection thread is to end after its current step (see ``Stop``).
    var stopping: Stop?
    var connectedEndpoint: AMQPConnectionConfiguration.Endpoint?
    /// Memory for the C view of one publish or request, reused call after call.
    let scratch = CArena()
    /// The command batch being run (swapped with `shared.commands`, so neither array reallocates).
    var batch: [Command?] = []
    /// The jobs being run (swapped with `shared.jobs`).
    var jobBatch: [UnownedJob] = []
    /// Transient publishes written or dropped since the backlog count was last updated.
    var transientSettled = 0
    /// Results and deliveries produced while handling a batch, handed out together (``flushCompletions()``).
    var completions = Completions()
    /// Channels with single acks waiting in ``ChannelState/pendingAcks``.
    var channelsWithPendingAcks: [ChannelState] = []
    /// Write coalescing (``beginWriteBatch()``): whether a phase is open, its writes so far, whether the socket is corked.
    var batchingWrites = false
    var writesInBatch = 0
    var corked = false
    /// Publish frames encoded but not yet written (plain TCP only; `nil` with TLS): see ``PublishFrames``.
    var publishFrames: PublishFrames?
    /// Who waits for a publish in ``publishFrames`` without a confirm: told once its frames are written.
    var framesAwaitingWrite: [PublishWaiter] = []
    /// Write-stall detection (``startWatchdog()``): progress marks and the turn flag the thread stores, whether the
    /// timer declared a stall, and the timer's last look.
    let writeProgress = Atomic<UInt64>(0)
    let inTurn = Atomic<Bool>(false)
    let writeStalled = Atomic<Bool>(false)
    let watchdogObservation = Mutex<(progress: UInt64, since: ContinuousClock.Instant)>((0, .now))
    var progressCount: UInt64 = 0
    var watchdog: (any DispatchSourceTimer)?
    /// ``AMQPConnectionConfiguration/writeTimeout``, or the heartbeat interval when shorter (set once connected).
    var writeTimeout: Duration = .seconds(30)
    /// The earliest deadline among held-back publishes, when the loop must wake to withdraw them.
    var nextWithdrawal: ContinuousClock.Instant?
    /// `frame_max` negotiated with the broker.
    var frameMax = 131_072
    /// Buffered publish frames are written once they reach this size, even mid-batch.
    static let publishFramesFlushSize = 128 * 1_024

    init(configuration: AMQPConnectionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.bodyLimit = UInt64(clamping: configuration.maxBodySize)
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
        let name = Self.threadName(for: configuration.connectionName)
        let thread = Thread { [self] in
            _ = cr_set_thread_name(name)
            switch self.establish() {
            case .success:
                self.startWatchdog()
                completion(.success(()))
                self.runLoop()
            case .failure(let error):
                self.finish(error: error, sendClose: false)
                completion(.failure(error))
            }
            self.handOffJobs()
        }
        thread.start()
    }

    /// The connection thread's name as `top`, `perf` and debuggers show it: `amqp-` and the start of the connection
    /// name, 15 bytes at most (Linux's limit).
    static func threadName(for connectionName: String?) -> String {
        var name = "amqp-"
        for character in connectionName ?? "connection" {
            guard name.utf8.count + character.utf8.count <= 15 else { break }
            name.append(character)
        }
        return name
    }

    // MARK: - Commands from other threads

    /// Queues `command` for the connection thread and wakes it. After the connection closed, fails the command
    /// at once instead.
    func submit(_ command: consuming Command) {
        var pending: Command? = consume command
        if let error = enqueue(&pending), let command = pending.take() { fail(command, with: error) }
    }

    /// Queues `command` and wakes the thread; returns the error instead when the connection is closed (the command
    /// is then not failed).
    func enqueue(_ command: consuming Command) -> AMQPError? {
        var pending: Command? = consume command
        return enqueue(&pending)
    }

    /// Moves `command` into the queue (leaving `nil`) and wakes the thread; when the connection is closed, returns
    /// the error and leaves `command` as it was.
    private func enqueue(_ command: inout Command?) -> AMQPError? {
        let outcome: (wake: Bool, error: AMQPError?) = shared.withLock { shared in
            if shared.closed { return (false, shared.closedError ?? .connectionClosed) }
            shared.commands.append(command.take())
            let wake = shared.sleeping
            shared.sleeping = false
            return (wake, nil)
        }
        if outcome.wake { wake() }
        return outcome.error
    }

    /// Queues a transient publish nobody waits for, unless ``transientBacklogLimit`` of them are already queued:
    /// `.success(false)` then, and the caller must wait for its publish instead. Fails when the connection is closed.
    func enqueueTransientPublish(_ command: consuming Command) -> Result<Bool, AMQPError> {
        var pending: Command? = consume command
        let outcome: (wake: Bool, result: Result<Bool, AMQPError>) = shared.withLock { shared in
            if shared.closed { return (false, .failure(shared.closedError ?? .connectionClosed)) }
            guard shared.transientBacklog < Self.transientBacklogLimit else { return (false, .success(false)) }
            shared.transientBacklog += 1
            shared.commands.append(pending.take())
            let wake = shared.sleeping
            shared.sleeping = false
            return (wake, .success(true))
        }
        if outcome.wake { wake() }
        return outcome.result
    }

    func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Queues `command` without waking the thread: it runs at the thread's next turn (frames arriving, another
    /// command, ``wakeForQueuedCommands()``, or the idle timeout of at most a second). Returns the error when the
    /// connection is closed (the command is then dropped).
    func enqueueQuietly(_ command: consuming Command) -> AMQPError? {
        var pending: Command? = consume command
        return shared.withLock { shared in
            if shared.closed { return shared.closedError ?? .connectionClosed }
            shared.commands.append(pending.take())
            return nil
        }
    }

    /// Wakes the thread when it sleeps with commands queued (queued by ``enqueueQuietly(_:)``).
    func wakeForQueuedCommands() {
        let needed = shared.withLock { shared -> Bool in
            guard shared.sleeping, !shared.commands.isEmpty else { return false }
            shared.sleeping = false
            return true
        }
        if needed { wake() }
    }

    /// Completes a command that will never run, on any thread.
    func fail(_ command: Command, with error: AMQPError) {
        switch command {
        case .publish(let request, _):
            if case .caller(let continuation) = request.waiter { continuation.resume(throwing: error) }
        case .publishBatch(let requests, _):
            if case .batch(let batch, _) = requests.first?.waiter { batch.failUnsent(error) }
        case .acknowledge:
            break
        case .closure(_, let fail):
            fail(error)
        }
    }

    /// Asks the thread to close the connection cleanly (connection.close) and exit.
    func requestClose() {
        submit(.closure(run: { driver in driver.stopping = .closeRequested }, fail: { _ in }))
    }

    var isClosed: Bool { shared.withLock { $0.closed } }
    var isBlocked: Bool { shared.withLock { $0.blocked } }

    func waitUntilClosed() async -> AMQPError? {
        await withCheckedContinuation { continuation in
            // Closed already: the connection's final error (`nil` after a requested close), else the waiter is kept.
            let closed = shared.withLock { shared -> Result<AMQPError?, Never>? in
                if shared.closed { return .success(shared.finalError) }
                shared.closeWaiters.append(continuation)
                return nil
            }
            if case .success(let error) = closed { continuation.resume(returning: error) }
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
}

/// Why the connection thread ends.
enum Stop {
    /// The owner closes the connection: the thread sends `connection.close` and waits for the broker's answer.
    case closeRequested
    /// The connection failed (lost, closed by the broker): nothing more is sent.
    case failed(AMQPError)

    /// The error to end with; `nil` for a requested close.
    var error: AMQPError? {
        if case .failed(let error) = self { return error }
        return nil
    }

    /// Whether the thread says goodbye to the broker (`connection.close`).
    var sendsClose: Bool {
        if case .closeRequested = self { return true }
        return false
    }
}
