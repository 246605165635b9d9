import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Write-stall detection. A write blocks the connection thread while the socket's buffer is full (the broker, or
/// something between, stopped reading), and librabbitmq-c waits for room without a deadline, so the thread itself can
/// never notice. A timer outside it watches instead: when the thread is in a turn and has made no progress (no turn
/// started, no write finished) for the write timeout, the timer shuts the socket down. The blocked write then fails,
/// and the thread ends the connection with ``AMQPError/writeTimedOut(after:)``, failing everything that waits on it.
///
/// The thread's part costs a counter store per turn and per write: no clock reads, no locks.
extension ConnectionDriver {
    /// The write timeout in force: the configured one, or the negotiated heartbeat interval when that is shorter.
    static func effectiveWriteTimeout(configured: Duration, heartbeatSeconds: Int) -> Duration {
        heartbeatSeconds > 0 ? min(configured, .seconds(heartbeatSeconds)) : configured
    }

    /// How often the timer looks: a quarter of the timeout, between 20 ms and 1 s.
    static func watchdogInterval(for timeout: Duration) -> Duration {
        min(max(timeout / 4, .milliseconds(20)), .seconds(1))
    }

    /// Starts the timer once the connection is open (the handshake has its own timeout).
    func startWatchdog() {
        writeTimeout = Self.effectiveWriteTimeout(configured: configuration.writeTimeout, heartbeatSeconds: heartbeat)
        shared.withLock { $0.watchedSocket = socketFD }
        let interval = Self.watchdogInterval(for: writeTimeout)
        let nanoseconds = Int(interval.components.seconds) * 1_000_000_000 + Int(interval.components.attoseconds / 1_000_000_000)
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(
            deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds),
            leeway: .nanoseconds(nanoseconds / 10))
        let timeout = writeTimeout
        timer.setEventHandler { [self] in checkWrites(timeout: timeout) }
        watchdog = timer
        timer.resume()
    }

    /// Stops the timer and forgets the socket, before the connection is destroyed (its descriptor may then be reused).
    func stopWatchdog() {
        shared.withLock { $0.watchedSocket = -1 }
        watchdog?.cancel()
        watchdog = nil
    }

    /// Marks progress: a turn started or a write finished. Connection thread only.
    @inline(__always)
    func noteProgress() {
        progressCount &+= 1
        writeProgress.store(progressCount, ordering: .relaxed)
    }

    /// Marks whether the thread is in a turn that may write (`false` while it sleeps in `poll` or runs jobs).
    @inline(__always)
    func setInTurn(_ value: Bool) {
        inTurn.store(value, ordering: .relaxed)
    }

    /// One look of the timer (on a dispatch thread).
    private func checkWrites(timeout: Duration) {
        let busy = inTurn.load(ordering: .relaxed)
        let progress = writeProgress.load(ordering: .relaxed)
        let now = ContinuousClock.now
        let stuckFor: Duration? = watchdogObservation.withLock { seen in
            if !busy || progress != seen.progress {
                seen = (progress, now)
                return nil
            }
            return now - seen.since
        }
        guard let stuckFor else { return }
        // The thread cannot take commands meanwhile: withdraw the publishes whose deadline passed in the queue.
        withdrawQueuedBatches(now: now)
        if stuckFor >= timeout { declareWriteStall(timeout) }
    }

    /// Shuts the socket down so the blocked write fails; the thread then ends the connection.
    private func declareWriteStall(_ timeout: Duration) {
        let declared = shared.withLock { shared -> Bool in
            guard shared.watchedSocket >= 0, !writeStalled.load(ordering: .relaxed) else { return false }
            writeStalled.store(true, ordering: .releasing)
            // SHUT_RDWR wakes the thread's poll and fails its send; the descriptor stays open (the thread closes it).
            _ = shutdown(shared.watchedSocket, Int32(SHUT_RDWR))
            return true
        }
        guard declared else { return }
        logger.warning(
            "AMQP write made no progress within the write timeout: the connection is declared dead",
            metadata: ["timeout": "\(timeout)"])
    }

    /// The error for a socket that failed: ``AMQPError/writeTimedOut(after:)`` when the watchdog shut it down,
    /// otherwise ``AMQPError/connectionLost(reason:)`` with `reason`.
    func lostError(_ reason: @autoclosure () -> String) -> AMQPError {
        if writeStalled.load(ordering: .acquiring) { return .writeTimedOut(after: writeTimeout) }
        return .connectionLost(reason: reason())
    }
}
