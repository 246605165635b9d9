import CRabbitMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The connection thread's loop: commands, frames, results, sleep.
extension ConnectionDriver {
    /// Runs on the connection thread until the connection ends. Each turn: take the whole command queue and run
    /// it (single acks coalesced, writes corked until its end), read the frames available, hand out the results
    /// and deliveries in one batch, then sleep in `poll` unless more commands or buffered frames are waiting.
    func runLoop() {
        var pollFDs = [
            pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        let idleTimeout = Int32(heartbeat > 0 ? min(heartbeat * 500, 1_000) : 1_000)
        setInTurn(true)
        while true {
            noteProgress()
            let settled = transientSettled
            transientSettled = 0
            shared.withLock { shared in
                swap(&shared.commands, &batch)
                shared.transientBacklog -= settled
            }
            beginWriteBatch()
            var index = 0
            while index < batch.count, stopping == nil {
                if let command = batch.moveOut(at: index) { run(consume command) }
                index += 1
            }
            flushAcknowledgements()
            endWriteBatch()
            if let stop = stopping {
                var unrun: [Command] = []
                for rest in index..<batch.count {
                    if let command = batch.moveOut(at: rest) { unrun.append(command) }
                }
                batch.removeAll()
                finish(error: stop.error, sendClose: stop.sendsClose, unrun: unrun)
                return
            }
            batch.removeAll(keepingCapacity: true)
            beginWriteBatch()
            let alive = readAvailableFrames()
            endWriteBatch()
            guard alive else { return }
            withdrawExpiredHeldBack()
            flushCompletions()
            setInTurn(false)
            runJobs()
            setInTurn(true)

            let settledNow = transientSettled
            transientSettled = 0
            let sleep = shared.withLock { shared -> Bool in
                shared.transientBacklog -= settledNow
                if shared.commands.isEmpty, shared.jobs.isEmpty {
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
            let timeout = sleepBeforeWithdrawal(idle: idleTimeout)
            setInTurn(false)
            let ready = poll(&pollFDs, 2, timeout)
            setInTurn(true)
            shared.withLock { $0.sleeping = false }
            if ready > 0, pollFDs[1].revents != 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
        }
    }

    /// Runs one command, taking ownership of it (kept out of line: inlined into the loop, the optimizer copied
    /// the publish payload instead of moving it).
    @inline(never)
    private func run(_ command: consuming Command) {
        switch consume command {
        case .publish(let request, let channel):
            flushAcknowledgements()
            publish(request, on: channel)
        case .publishBatch(let requests, let channel):
            flushAcknowledgements()
            publishBatch(requests, on: channel)
        case .acknowledge(let kind, let tag, let channel):
            acknowledge(kind, tag: tag, on: channel)
        case .closure(let run, _):
            flushAcknowledgements()
            flushPublishFrames()
            run(self)
        }
    }

    /// At most this many frames are read in one turn: about 42 small messages (method, header and body frames).
    /// A consumer on this thread (the event bus's) handles a turn's deliveries before the next turn sends their acks;
    /// under half of a prefetch of 100, the broker still holds credit and keeps sending while they are handled,
    /// instead of the two taking turns. Reading stays in librabbitmq-c's buffer: a smaller turn costs no extra read.
    static let framesPerTurn = 128

    /// Reads and dispatches the frames that are available without waiting. Returns `false` when the connection
    /// ended (the thread must exit).
    private func readAvailableFrames() -> Bool {
        guard let state else { return false }
        var timeout = timeval(tv_sec: 0, tv_usec: 0)
        var frame = amqp_frame_t()
        var handled = 0
        while handled < Self.framesPerTurn {
            let status = amqp_simple_wait_frame_noblock(state, &frame, &timeout)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            if status != AMQP_STATUS_OK.rawValue {
                finish(error: readError(status), sendClose: false)
                return false
            }
            dispatch(frame)
            if let stop = stopping {
                finish(error: stop.error, sendClose: stop.sendsClose)
                return false
            }
            handled += 1
        }
        amqp_maybe_release_buffers(state)
        return true
    }

    private func readError(_ status: Int32) -> AMQPError {
        if status == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue, !writeStalled.load(ordering: .acquiring) { return .heartbeatTimeout }
        return lostError(CDecoding.statusText(status))
    }

    /// A send on the socket failed: the connection is gone.
    func socketFailed(_ status: Int32) {
        if stopping == nil { stopping = .failed(lostError(CDecoding.statusText(status))) }
    }

    /// The open channel with number `id`.
    func lookUpChannel(_ id: UInt16) -> ChannelState? {
        if let lastChannel, lastChannel.id == id, lastChannel.isOpen { return lastChannel }
        lastChannel = channels[id]
        return lastChannel
    }
}
