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

    /// Called before a publish or ack is written: corks the socket at the second one of a batch.
    func willWrite() {
        guard batchingWrites else { return }
        writesInBatch += 1
        if writesInBatch == 2 { setCork(true) }
    }

    /// Ends the phase: whatever was held back goes out now.
    func endWriteBatch() {
        batchingWrites = false
        if corked { setCork(false) }
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
