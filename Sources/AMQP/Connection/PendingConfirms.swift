/// The publishes of a confirm-mode channel that wait for `basic.ack` / `basic.nack`, by publish sequence number.
///
/// Sequence numbers are consecutive from 1, so the unconfirmed ones form a window `lowest..<nextTag` kept in an
/// array indexed by `tag - lowest`: everything below `lowest` is settled (the watermark), single confirms inside
/// the window leave holes. Publishing and confirming are O(1) and hash nothing.
struct PendingConfirms {
    /// The sequence number the next publish gets.
    private(set) var nextTag: UInt64 = 1
    /// Every publish below this one is settled.
    private(set) var lowest: UInt64 = 1
    /// How many publishes wait for their confirm.
    private(set) var count = 0
    /// `slots[head + (tag - lowest)]` is the publish with `tag`, `nil` once settled.
    private var slots: [PendingConfirm?] = []
    private var head = 0

    /// Records a publish just sent; it gets sequence number `nextTag`.
    mutating func append(_ confirm: consuming PendingConfirm) {
        slots.append(confirm)
        nextTag += 1
        count += 1
    }

    /// Removes and returns the publish with `tag`, if it is still pending.
    mutating func remove(_ tag: UInt64) -> PendingConfirm? {
        guard tag >= lowest, tag < nextTag else { return nil }
        guard let pending = slots.moveOut(at: head + Int(tag - lowest)) else { return nil }
        count -= 1
        advance()
        return pending
    }

    /// Removes every pending publish up to and including `tag` and passes each to `body`, in sequence order.
    mutating func removeAll(through tag: UInt64, _ body: (PendingConfirm) -> Void) {
        let upTo = min(tag, nextTag - 1)
        while lowest <= upTo {
            if let pending = slots.moveOut(at: head) {
                count -= 1
                body(pending)
            }
            head += 1
            lowest += 1
        }
        advance()
    }

    /// Removes every pending publish and returns them in sequence order.
    mutating func removeAll() -> [PendingConfirm] {
        let pending = slots[head...].compactMap { $0 }
        slots.removeAll()
        head = 0
        lowest = nextTag
        count = 0
        return pending
    }

    /// Marks the oldest pending publish that `matches` and has no return yet as returned with `error`. Returns
    /// whether one matched.
    mutating func markReturned(_ error: AMQPError, where matches: (PendingConfirm) -> Bool) -> Bool {
        var index = head
        while index < slots.count {
            if let pending = slots[index], pending.returned == nil, matches(pending) {
                slots[index]!.returned = error
                return true
            }
            index += 1
        }
        return false
    }

    /// Moves the watermark over settled publishes and drops storage nothing refers to any more.
    private mutating func advance() {
        while head < slots.count, slots[head] == nil {
            head += 1
            lowest += 1
        }
        slots.dropConsumed(before: &head)
    }
}
