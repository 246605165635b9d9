/// The delivery tags of one channel that the broker counts as unacknowledged: deliveries to consumers and
/// `basic.get` replies without no-ack, minus those this client acknowledged, rejected or nacked.
///
/// It lets a run of single acks become one `basic.ack multiple` exactly when that settles the same set of
/// messages. Tags arrive in increasing order, so they are kept in an array; acks usually settle the oldest tag,
/// which only moves `head`; a tag settled out of order is remembered in a set until `head` reaches it.
struct UnackedDeliveries {
    private var tags: [UInt64] = []
    private var head = 0
    private var settledOutOfOrder: Set<UInt64> = []
    /// `false` after a tag arrived out of order (never seen from RabbitMQ): from then on nothing is coalesced.
    private(set) var isReliable = true

    /// The lowest unsettled tag, or `nil` when every delivery is settled.
    var lowest: UInt64? { head < tags.count ? tags[head] : nil }

    /// Records a delivery that needs an acknowledgement.
    mutating func delivered(_ tag: UInt64) {
        if let last = tags.last, tag <= last { isReliable = false }
        tags.append(tag)
    }

    /// Whether `tag` was delivered and is not settled yet.
    func contains(_ tag: UInt64) -> Bool {
        guard let index = index(of: tag) else { return false }
        return index == head || !settledOutOfOrder.contains(tag)
    }

    /// Settles one tag (ack, nack or reject of that delivery alone).
    mutating func settle(_ tag: UInt64) {
        guard let index = index(of: tag) else { return }
        if index == head {
            head += 1
            normalize()
        } else {
            settledOutOfOrder.insert(tag)
        }
    }

    /// Settles every tag up to and including `tag` (a `multiple` ack or nack; tag 0 means all of them).
    mutating func settleAll(through tag: UInt64) {
        let limit = tag == 0 ? UInt64.max : tag
        while head < tags.count, tags[head] <= limit {
            if !settledOutOfOrder.isEmpty { settledOutOfOrder.remove(tags[head]) }
            head += 1
        }
        normalize()
    }

    /// Forgets everything (the channel closed: the broker requeued what was unacknowledged).
    mutating func removeAll() {
        tags.removeAll()
        settledOutOfOrder.removeAll()
        head = 0
    }

    /// The index of `tag` among the unsettled part of `tags` (binary search), or `nil`.
    private func index(of tag: UInt64) -> Int? {
        if head < tags.count, tags[head] == tag { return head }
        var low = head
        var high = tags.count
        while low < high {
            let middle = (low + high) / 2
            if tags[middle] < tag { low = middle + 1 } else { high = middle }
        }
        return low < tags.count && tags[low] == tag ? low : nil
    }

    /// Moves `head` over tags settled out of order and drops storage nothing refers to any more.
    private mutating func normalize() {
        while head < tags.count, !settledOutOfOrder.isEmpty, settledOutOfOrder.remove(tags[head]) != nil {
            head += 1
        }
        tags.dropConsumed(before: &head)
    }
}
