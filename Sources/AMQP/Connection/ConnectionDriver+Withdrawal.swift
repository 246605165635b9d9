import Foundation

/// Publish deadlines (``AMQPChannel/publish(_:deadline:completion:)``): a message not yet handed to the socket when
/// its batch's deadline passes is dropped and completes with ``AMQPError/publishWithdrawn``, so a caller that gave up
/// never sees it go out later. Handed to the socket means encoded for writing and given a confirm sequence number;
/// from then on the message keeps its normal outcome.
///
/// Messages wait unsent in three places, each checked without a per-message cost on the fast path: the command queue
/// (checked once per batch when the thread takes it, and by the write-stall timer while the thread is stuck), and a
/// channel's held-back publishes (checked when they are released, and at the earliest deadline among them).
extension ConnectionDriver {
    /// Runs a batch command: withdrawn whole when its deadline has passed already (one clock read per batch).
    func publishBatch(_ requests: consuming [PublishRequest], on channel: ChannelState) {
        if let deadline = requests.first?.deadline, ContinuousClock.now >= deadline {
            for request in requests { dropUnsent(request, .failure(.publishWithdrawn)) }
            return
        }
        for request in requests { publish(request, on: channel) }
    }

    /// A publish with a deadline was held back: make sure the loop wakes for it.
    func noteHeldBack(deadline: ContinuousClock.Instant) {
        if let next = nextWithdrawal, next <= deadline { return }
        nextWithdrawal = deadline
    }

    /// At the earliest deadline of the held-back publishes, withdraws every held-back publish whose deadline passed.
    /// Called each turn; reads the clock only while some held-back publish has a deadline.
    func withdrawExpiredHeldBack() {
        guard let next = nextWithdrawal else { return }
        let now = ContinuousClock.now
        guard now >= next else { return }
        var earliest: ContinuousClock.Instant?
        for channel in channels.values where channel.hasDeferred {
            let withdrawn = channel.removeDeferred { request in
                guard let deadline = request.deadline else { return false }
                if deadline <= now { return true }
                if earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
                return false
            }
            for request in withdrawn { dropUnsent(request, .failure(.publishWithdrawn)) }
        }
        nextWithdrawal = earliest
    }

    /// How long the loop may sleep before the next held-back deadline, in milliseconds, at most `idle`.
    func sleepBeforeWithdrawal(idle: Int32) -> Int32 {
        guard let next = nextWithdrawal else { return idle }
        let left = next - ContinuousClock.now
        if left <= .zero { return 0 }
        let milliseconds = left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: min(Int64(idle), milliseconds))
    }

    /// From the write-stall timer, while the thread is stuck: takes the batches whose deadline passed out of the
    /// command queue and fails them as withdrawn. The thread never saw them, so nobody else holds them.
    func withdrawQueuedBatches(now: ContinuousClock.Instant) {
        let withdrawn: [PublishBatch] = shared.withLock { shared in
            var taken: [PublishBatch] = []
            for index in shared.commands.indices {
                guard case .some(.publishBatch(let requests, _)) = shared.commands[index],
                    let deadline = requests.first?.deadline, deadline <= now,
                    case .batch(let batch, _) = requests.first?.waiter
                else { continue }
                shared.commands[index] = nil
                taken.append(batch)
            }
            return taken
        }
        for batch in withdrawn { batch.failUnsent(.publishWithdrawn) }
    }
}
