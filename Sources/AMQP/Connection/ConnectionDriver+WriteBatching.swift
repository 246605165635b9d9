import CRabbitMQ
#if canImport(Glibc)
import Glibc
#endif

/// Write coalescing. librabbitmq-c writes every frame with its own `send` (three per publish), and on loopback each
/// small TCP segment costs both ends a full trip through the network stack. While the thread works through a batch
/// (the queued commands, or the frames that released held-back publishes), the socket is corked from the second
/// publish or ack on, so the batch leaves in full segments when the phase ends; a lone command is never delayed.
extension ConnectionDriver {
    /// Starts a phase whose writes may be held back until ``endWriteBatch()``.
    func beginWriteBatch() {
        writesInBatch = 0
        batchingWrites = true
    }

    /// Called before librabbitmq-c writes a publish or an ack: writes the buffered publish frames first (order),
    /// and corks the socket at the second write of a batch.
    func willWrite() {
        noteProgress()
        flushPublishFrames()
        guard batchingWrites else { return }
        writesInBatch += 1
        if writesInBatch == 2 { setCork(true) }
    }

    /// Ends the phase: whatever was held back goes out now.
    func endWriteBatch() {
        flushPublishFrames()
        batchingWrites = false
        if corked { setCork(false) }
    }

    /// Sends one method frame through librabbitmq-c, after the buffered publish frames (so the wire keeps the order
    /// in which frames were produced). Returns the library's status.
    func sendMethod<Method>(_ methodID: amqp_method_number_t, on channelID: UInt16, _ method: inout Method) -> Int32 {
        noteProgress()
        flushPublishFrames()
        return withUnsafeMutablePointer(to: &method) { amqp_send_method(state, channelID, methodID, $0) }
    }

    /// Writes every buffered publish frame (``PublishFrames``), waiting for the socket when its buffer is full.
    /// Runs before anything else is written, so the broker sees frames in the order they were produced. When the
    /// write fails the connection is lost (``stopping``) and the publishes waiting for it fail. A wait that makes no
    /// progress for the write timeout ends when the write-stall timer shuts the socket down (``startWatchdog()``).
    func flushPublishFrames() {
        guard let frames = publishFrames, !frames.isEmpty else { return }
        var failure: AMQPError?
        while frames.written < frames.count {
            let sent = send(socketFD, frames.base + frames.written, frames.count - frames.written, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                frames.written += sent
                noteProgress()
                continue
            }
            let code = errno
            if sent < 0, code == EINTR { continue }
            if sent == 0 || code == EAGAIN || code == EWOULDBLOCK {
                // The socket's buffer is full: wait until the broker reads (librabbitmq-c waits the same way).
                var descriptor = pollfd(fd: socketFD, events: Int16(POLLOUT), revents: 0)
                _ = poll(&descriptor, 1, 1_000)
                continue
            }
            failure = lostError("writing to the socket failed: \(String(cString: strerror(code)))")
            break
        }
        frames.reset()
        if let failure, stopping == nil { stopping = .failed(failure) }
        let outcome: Result<Void, AMQPError> = failure.map { .failure($0) } ?? .success(())
        for waiter in framesAwaitingWrite { completions.resume(waiter, outcome) }
        framesAwaitingWrite.removeAll(keepingCapacity: true)
    }

    private func setCork(_ on: Bool) {
        #if os(Linux)
        guard state != nil, socketFD >= 0 else {
            corked = false
            return
        }
        var value: Int32 = on ? 1 : 0
        if setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 {
            corked = on
        } else if !on {
            corked = false
        }
        #endif
    }
}
