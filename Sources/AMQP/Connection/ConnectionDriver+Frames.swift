import CRabbitMQ
import Foundation

extension ConnectionDriver {
    /// Handles one frame read from the socket. Nothing is dropped silently: a frame nobody expects is logged.
    func dispatch(_ frame: amqp_frame_t) {
        switch frame.frame_type {
        case CR_FRAME_METHOD:
            if frame.channel == 0 {
                connectionMethod(frame.payload.method)
            } else if let channel = lookUpChannel(frame.channel) {
                channelMethod(frame.payload.method, on: channel)
            } else {
                logger.debug("AMQP method for a closed channel ignored", metadata: ["channel": "\(frame.channel)", "method": "\(frame.payload.method.id)"])
            }
        case CR_FRAME_HEADER:
            // No channel: contentHeader logs the frame and drops it, so its properties are not decoded.
            let channel = lookUpChannel(frame.channel)
            let properties = frame.payload.properties.decoded.flatMap { decoded in
                channel.map { CDecoding.properties(decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee, recent: &$0.recentProperties) }
            }
            contentHeader(on: frame.channel, bodySize: frame.payload.properties.body_size, properties: properties)
        case CR_FRAME_BODY:
            let fragment = frame.payload.body_fragment
            contentBody(on: frame.channel, bytes: fragment.len > 0 ? fragment.bytes : nil, count: fragment.len)
        default:
            break
        }
    }

    /// A content header: `bodySize` is the 64-bit size from the wire, checked against the message's body limit
    /// before anything is allocated for it.
    func contentHeader(on channelID: UInt16, bodySize: UInt64, properties: consuming AMQPProperties?) {
        guard let channel = lookUpChannel(channelID), channel.content.awaitsHeader else {
            logger.debug("AMQP content header without a method ignored", metadata: ["channel": "\(channelID)"])
            return
        }
        let content = channel.content
        content.header(bodySize: bodySize, properties: properties)
        if content.omitsBody {
            logger.warning(
                "AMQP message body over the size limit not read: the message is handed out with an empty body",
                metadata: ["channel": "\(channelID)", "announcedBytes": "\(bodySize)"])
        }
        if content.isComplete { completeContent(on: channel) }
    }

    /// A body frame: kept, or only counted when the message's body is over its limit.
    func contentBody(on channelID: UInt16, bytes: UnsafeRawPointer?, count: Int) {
        guard let channel = lookUpChannel(channelID), channel.content.awaitsBody else {
            logger.debug("AMQP body frame without a header ignored", metadata: ["channel": "\(channelID)"])
            return
        }
        let complete: Bool
        if count > 0, let bytes {
            complete = channel.content.append(bytes, count: count)
        } else {
            complete = channel.content.isComplete
        }
        if complete { completeContent(on: channel) }
    }

    // MARK: - Channel 0

    private func connectionMethod(_ method: amqp_method_t) {
        switch method.id {
        case CR_CONNECTION_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = sendMethod(CR_CONNECTION_CLOSE_OK_METHOD, on: 0, &ok)
            stopping = .failed(.connectionClosedByBroker(
                replyCode: AMQPReplyCode(rawValue: close.reply_code), replyText: CDecoding.string(close.reply_text)))
        case CR_CONNECTION_BLOCKED_METHOD:
            let reason = CDecoding.string(method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee.reason)
            blocked = true
            shared.withLock { $0.blocked = true }
            logger.warning("AMQP connection blocked by the broker; publishes wait", metadata: ["reason": "\(reason)"])
            emit(.blocked(reason: reason))
        case CR_CONNECTION_UNBLOCKED_METHOD:
            blocked = false
            shared.withLock { $0.blocked = false }
            logger.notice("AMQP connection unblocked")
            emit(.unblocked)
            for channel in channels.values { flushDeferred(channel) }
        default:
            logger.error("AMQP unexpected connection method", metadata: ["method": "\(method.id)"])
        }
    }

    // MARK: - Channels

    private func channelMethod(_ method: amqp_method_t, on channel: ChannelState) {
        switch method.id {
        case CR_BASIC_DELIVER_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            channel.unacked.delivered(m.delivery_tag)
            let consumerTag = channel.recentConsumerTag.decode(m.consumer_tag)
            channel.content.start(
                .deliver(
                    consumerTag: consumerTag, deliveryTag: m.delivery_tag, redelivered: m.redelivered != 0,
                    exchange: channel.recentExchange.decode(m.exchange), routingKey: channel.recentRoutingKey.decode(m.routing_key)),
                bodyLimit: channel.consumer(for: consumerTag)?.bodyLimit ?? bodyLimit)
        case CR_BASIC_ACK_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirm(on: channel, tag: m.delivery_tag, multiple: m.multiple != 0, ack: true)
        case CR_BASIC_NACK_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            confirm(on: channel, tag: m.delivery_tag, multiple: m.multiple != 0, ack: false)
        case CR_BASIC_RETURN_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            channel.content.start(
                .returned(
                    replyCode: m.reply_code, replyText: CDecoding.string(m.reply_text),
                    exchange: channel.recentExchange.decode(m.exchange), routingKey: channel.recentRoutingKey.decode(m.routing_key)),
                bodyLimit: bodyLimit)
        case CR_BASIC_GET_OK_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            guard let rpc = popRPC(on: channel, replying: method.id) else { return }
            if rpc.deliveryNeedsAck { channel.unacked.delivered(m.delivery_tag) }
            channel.content.start(
                .getOk(
                    rpc, deliveryTag: m.delivery_tag, redelivered: m.redelivered != 0,
                    exchange: channel.recentExchange.decode(m.exchange), routingKey: channel.recentRoutingKey.decode(m.routing_key),
                    messageCount: m.message_count),
                bodyLimit: bodyLimit)
        case CR_BASIC_CANCEL_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = CDecoding.string(m.consumer_tag)
            if m.nowait == 0 {
                var ok = amqp_basic_cancel_ok_t(consumer_tag: m.consumer_tag)
                _ = sendMethod(CR_BASIC_CANCEL_OK_METHOD, on: channel.id, &ok)
            }
            logger.warning("AMQP consumer cancelled by the broker", metadata: ["consumerTag": "\(tag)"])
            flushCompletions()
            channel.consumers.removeValue(forKey: tag)?.finish(throwing: AMQPError.consumerCancelledByBroker(consumerTag: tag))
        case CR_CHANNEL_CLOSE_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t(dummy: 0)
            let status = sendMethod(CR_CHANNEL_CLOSE_OK_METHOD, on: channel.id, &ok)
            let error = AMQPError.channelClosedByBroker(
                replyCode: AMQPReplyCode(rawValue: m.reply_code), replyText: CDecoding.string(m.reply_text))
            logger.debug("AMQP channel closed by the broker", metadata: ["channel": "\(channel.id)", "error": "\(error)"])
            retireChannel(channel, with: error)
            if status != AMQP_STATUS_OK.rawValue { socketFailed(status) }
        case CR_CHANNEL_FLOW_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_channel_flow_t.self).pointee
            var ok = amqp_channel_flow_ok_t(active: m.active)
            _ = sendMethod(CR_CHANNEL_FLOW_OK_METHOD, on: channel.id, &ok)
        default:
            guard let rpc = popRPC(on: channel, replying: method.id) else { return }
            flushCompletions()
            rpc.complete(.success(decodeReply(method)))
        }
    }

    private func popRPC(on channel: ChannelState, replying id: amqp_method_number_t) -> PendingRPC? {
        guard let first = channel.rpcs.first, first.expected.contains(id) else {
            logger.error("AMQP reply that no request waits for", metadata: ["channel": "\(channel.id)", "method": "\(id)"])
            return nil
        }
        channel.rpcs.removeFirst()
        return first
    }

    private func decodeReply(_ method: amqp_method_t) -> RPCReply {
        switch method.id {
        case CR_QUEUE_DECLARE_OK_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_queue_declare_ok_t.self).pointee
            return .queueDeclareOk(queue: CDecoding.string(m.queue), messageCount: m.message_count, consumerCount: m.consumer_count)
        case CR_QUEUE_PURGE_OK_METHOD:
            return .messageCount(method.decoded.assumingMemoryBound(to: amqp_queue_purge_ok_t.self).pointee.message_count)
        case CR_QUEUE_DELETE_OK_METHOD:
            return .messageCount(method.decoded.assumingMemoryBound(to: amqp_queue_delete_ok_t.self).pointee.message_count)
        case CR_BASIC_CONSUME_OK_METHOD:
            return .consumerTag(CDecoding.string(method.decoded.assumingMemoryBound(to: amqp_basic_consume_ok_t.self).pointee.consumer_tag))
        case CR_BASIC_CANCEL_OK_METHOD:
            return .consumerTag(CDecoding.string(method.decoded.assumingMemoryBound(to: amqp_basic_cancel_ok_t.self).pointee.consumer_tag))
        case CR_BASIC_GET_EMPTY_METHOD:
            return .getEmpty
        default:
            return .ok
        }
    }

    // MARK: - Content

    private func completeContent(on channel: ChannelState) {
        guard let (kind, properties, body, omittedBodySize) = channel.content.take() else { return }
        switch kind {
        case .deliver(let consumerTag, let deliveryTag, let redelivered, let exchange, let routingKey):
            let delivery = AMQPDelivery(
                body: body, properties: properties, deliveryTag: deliveryTag, redelivered: redelivered,
                exchange: exchange, routingKey: routingKey, consumerTag: consumerTag, messageCount: nil,
                omittedBodySize: omittedBodySize)
            if let consumer = channel.consumer(for: consumerTag) {
                completions.yield(consume delivery, to: consumer)
            } else {
                // The consumer was cancelled here while the broker was still sending: give the message back.
                logger.debug("AMQP delivery for a cancelled consumer requeued", metadata: ["consumerTag": "\(consumerTag)"])
                channel.unacked.settle(deliveryTag)
                flushPublishFrames()
                let status = amqp_basic_reject(state, channel.id, deliveryTag, 1)
                if status != AMQP_STATUS_OK.rawValue { socketFailed(status) }
            }
        case .returned(let replyCode, let replyText, let exchange, let routingKey):
            returned(
                on: channel, error: .returned(replyCode: AMQPReplyCode(rawValue: replyCode), replyText: replyText, exchange: exchange, routingKey: routingKey),
                exchange: exchange, routingKey: routingKey, body: body, omittedBodySize: omittedBodySize)
        case .getOk(let rpc, let deliveryTag, let redelivered, let exchange, let routingKey, let messageCount):
            let delivery = AMQPDelivery(
                body: body, properties: properties, deliveryTag: deliveryTag, redelivered: redelivered,
                exchange: exchange, routingKey: routingKey, consumerTag: "", messageCount: messageCount,
                omittedBodySize: omittedBodySize)
            flushCompletions()
            rpc.complete(.success(.getOk(delivery)))
        }
    }

    /// A `basic.return` arrives before the `basic.ack` of the same publish. It carries no delivery tag, so it is
    /// matched to the oldest unconfirmed mandatory publish with the same exchange, routing key and body (by size
    /// alone when the returned body was over the limit and not read).
    private func returned(
        on channel: ChannelState, error: AMQPError, exchange: String, routingKey: String, body: Data, omittedBodySize: UInt64?
    ) {
        if channel.confirmMode {
            let matched = channel.pendingConfirms.markReturned(error) { pending in
                guard pending.request.mandatory, pending.request.exchange == exchange, pending.request.routingKey == routingKey
                else { return false }
                if let omittedBodySize { return UInt64(pending.request.body.count) == omittedBodySize }
                return pending.request.body == body
            }
            if matched { return }
        }
        logger.warning("AMQP message returned by the broker", metadata: ["error": "\(error)"])
    }

    // MARK: - Confirms

    private func confirm(on channel: ChannelState, tag: UInt64, multiple: Bool, ack: Bool) {
        guard channel.confirmMode else {
            logger.error("AMQP confirm on a channel not in confirm mode", metadata: ["channel": "\(channel.id)"])
            return
        }
        func complete(_ pending: PendingConfirm) {
            if !ack {
                completions.resume(pending.waiter, .failure(.nacked))
                if pending.waiter.isTransient { logger.warning("AMQP transient publish nacked by the broker") }
            } else if let returned = pending.returned {
                completions.resume(pending.waiter, .failure(returned))
            } else {
                completions.resume(pending.waiter, .success(()))
            }
        }
        if multiple {
            let upTo = tag == 0 ? channel.pendingConfirms.nextTag - 1 : tag
            channel.pendingConfirms.removeAll(through: upTo, complete)
        } else if let pending = channel.pendingConfirms.remove(tag) {
            complete(pending)
        }
        flushDeferred(channel)
    }
}
