import CRabbitMQ

/// Acknowledgements, with runs of single acks coalesced into `basic.ack multiple`.
///
/// A single ack of a tag the channel still owes is not sent at once: it is settled in
/// ``ChannelState/unacked`` and remembered in ``ChannelState/pendingAcks`` until the end of the command batch
/// (or the next command that is not an acknowledgement). Then every pending tag below the lowest tag still
/// unacknowledged is covered by one `basic.ack multiple` of the highest of them — the broker settles exactly the
/// same messages as with one ack each, since every unacknowledged tag up to there is among them — and the rest go
/// out one by one. Anything else (a tag not owed, a duplicate, `multiple`, nack, reject) first sends what is
/// pending, then goes out unchanged, so errors such as `PRECONDITION_FAILED` happen as before.
extension ConnectionDriver {
    /// Sends `basic.ack`, `basic.nack` or `basic.reject`. No reply: an unknown tag closes the channel later.
    func acknowledge(_ kind: AcknowledgementKind, tag: UInt64, on channel: ChannelState) {
        guard channel.isOpen, let state else { return }
        if case .ack(multiple: false) = kind, channel.unacked.isReliable, channel.unacked.contains(tag) {
            channel.unacked.settle(tag)
            if channel.pendingAcks.isEmpty { channelsWithPendingAcks.append(channel) }
            channel.pendingAcks.append(tag)
            return
        }
        sendPendingAcks(on: channel)
        willWrite()
        let status: Int32
        switch kind {
        case .ack(let multiple):
            status = amqp_basic_ack(state, channel.id, tag, multiple ? 1 : 0)
            if multiple { channel.unacked.settleAll(through: tag) } else { channel.unacked.settle(tag) }
        case .nack(let multiple, let requeue):
            status = amqp_basic_nack(state, channel.id, tag, multiple ? 1 : 0, requeue ? 1 : 0)
            if multiple { channel.unacked.settleAll(through: tag) } else { channel.unacked.settle(tag) }
        case .reject(let requeue):
            status = amqp_basic_reject(state, channel.id, tag, requeue ? 1 : 0)
            channel.unacked.settle(tag)
        }
        if status != AMQP_STATUS_OK.rawValue { socketFailed(status) }
    }

    /// Sends every pending single ack (end of a command batch, or before a command that is not an ack).
    func flushAcknowledgements() {
        guard !channelsWithPendingAcks.isEmpty else { return }
        for channel in channelsWithPendingAcks { sendPendingAcks(on: channel) }
        channelsWithPendingAcks.removeAll(keepingCapacity: true)
    }

    private func sendPendingAcks(on channel: ChannelState) {
        guard !channel.pendingAcks.isEmpty else { return }
        defer { channel.pendingAcks.removeAll(keepingCapacity: true) }
        guard channel.isOpen, let state, stopping == nil else { return }
        // Pending tags are settled already: every tag below `lowest` that the broker still counts is pending.
        let lowest = channel.unacked.lowest ?? .max
        var covered = 0
        var highest: UInt64 = 0
        for tag in channel.pendingAcks where tag < lowest {
            covered += 1
            highest = max(highest, tag)
        }
        if covered > 0 {
            willWrite()
            let status = amqp_basic_ack(state, channel.id, highest, covered > 1 ? 1 : 0)
            if status != AMQP_STATUS_OK.rawValue {
                socketFailed(status)
                return
            }
        }
        for tag in channel.pendingAcks where tag > lowest {
            willWrite()
            let status = amqp_basic_ack(state, channel.id, tag, 0)
            if status != AMQP_STATUS_OK.rawValue {
                socketFailed(status)
                return
            }
        }
    }
}
