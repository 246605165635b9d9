import CRabbitMQ
import Foundation

/// The operations commands perform on the connection thread.
extension ConnectionDriver {
    // MARK: - Channels

    func openChannel(completion: @escaping @Sendable (Result<ChannelState, AMQPError>) -> Void) {
        let id: UInt16
        if let reused = freeChannelIDs.popLast() {
            id = reused
        } else if nextChannelID <= channelMax, let next = UInt16(exactly: nextChannelID) {
            id = next
            nextChannelID += 1
        } else {
            completion(.failure(.invalidArgument("all \(channelMax) channels of the connection are open")))
            return
        }
        let channel = ChannelState(id: id)
        channels[id] = channel
        channel.rpcs.append(PendingRPC(expected: [CR_CHANNEL_OPEN_OK_METHOD]) { result in
            completion(result.map { _ in channel })
        })
        var open = amqp_channel_open_t(out_of_band: amqp_bytes_t(len: 0, bytes: nil))
        let status = sendMethod(CR_CHANNEL_OPEN_METHOD, on: id, &open)
        if status != AMQP_STATUS_OK.rawValue { socketFailed(status) }
    }

    /// Registers the reply's receiver, then sends the request (librabbitmq-c encodes it during the call, so the
    /// scratch arena is free again right after).
    func rpc(
        on channel: ChannelState,
        expecting expected: [amqp_method_number_t],
        deliveryNeedsAck: Bool = false,
        complete: @escaping (Result<RPCReply, AMQPError>) -> Void,
        send: (amqp_connection_state_t, UInt16, CArena) -> Int32
    ) {
        guard channel.isOpen, let state else {
            flushCompletions()
            complete(.failure(channel.closedReason.withLock { $0 } ?? .channelClosed))
            return
        }
        flushPublishFrames()
        channel.rpcs.append(PendingRPC(expected: expected, deliveryNeedsAck: deliveryNeedsAck, complete: complete))
        scratch.reset()
        let status = send(state, channel.id, scratch)
        if status != AMQP_STATUS_OK.rawValue { socketFailed(status) }
    }

    func closeChannel(_ channel: ChannelState, completion: @escaping @Sendable () -> Void) {
        guard channel.isOpen, state != nil else {
            flushCompletions()
            completion()
            return
        }
        channel.rpcs.append(PendingRPC(expected: [CR_CHANNEL_CLOSE_OK_METHOD]) { [self] _ in
            retireChannel(channel, with: .channelClosed)
            completion()
        })
        var close = amqp_channel_close_t(reply_code: UInt16(AMQP_REPLY_SUCCESS), reply_text: amqp_bytes_t(len: 0, bytes: nil), class_id: 0, method_id: 0)
        let status = sendMethod(CR_CHANNEL_CLOSE_METHOD, on: channel.id, &close)
        if status != AMQP_STATUS_OK.rawValue { socketFailed(status) }
    }

    // MARK: - Publishing

    func publish(_ request: consuming PublishRequest, on channel: ChannelState) {
        guard channel.isOpen else {
            dropUnsent(request, .failure(channel.closedReason.withLock { $0 } ?? .channelClosed))
            return
        }
        if blocked || channel.hasDeferred || !channel.windowOpen {
            if let deadline = request.deadline { noteHeldBack(deadline: deadline) }
            channel.deferred.append(consume request)
            return
        }
        send(consume request, on: channel)
    }

    /// Sends held-back publishes while the window is open and the connection is not blocked; those whose deadline
    /// passed meanwhile are withdrawn instead (the clock is read once, and only when one has a deadline).
    func flushDeferred(_ channel: ChannelState) {
        var now: ContinuousClock.Instant?
        while !blocked, channel.isOpen, channel.hasDeferred, channel.windowOpen, stopping == nil {
            let request = channel.popDeferred()
            if let deadline = request.deadline {
                let current = now ?? ContinuousClock.now
                now = current
                if current >= deadline {
                    dropUnsent(request, .failure(.publishWithdrawn))
                    continue
                }
            }
            send(request, on: channel)
        }
    }

    /// Completes a publish that never reached the socket.
    func dropUnsent(_ request: PublishRequest, _ result: Result<Void, AMQPError>) {
        if request.waiter.isTransient {
            transientSettled += 1
            if case .failure(let error) = result {
                logger.debug("AMQP queued transient publish dropped", metadata: ["error": "\(error)"])
            }
        }
        completions.resume(request.waiter, result)
    }

    private func send(_ request: consuming PublishRequest, on channel: ChannelState) {
        guard let state else {
            dropUnsent(request, .failure(.connectionClosed))
            return
        }
        if request.waiter.isTransient { transientSettled += 1 }
        scratch.reset()
        var properties = scratch.properties(request.properties)
        let exchange = scratch.bytes(request.exchange)
        let routingKey = scratch.bytes(request.routingKey)
        let status: Int32
        if let frames = publishFrames {
            // Plain TCP: encode into the frame buffer; it is written at the end of the batch, in one `send`.
            var method = amqp_basic_publish_t(
                ticket: 0, exchange: exchange, routing_key: routingKey, mandatory: request.mandatory ? 1 : 0, immediate: 0)
            status = request.body.withUnsafeBytes { body in
                frames.append(channel: channel.id, method: &method, properties: &properties, body: body, frameMax: frameMax)
            }
        } else {
            willWrite()
            status = request.body.withUnsafeBytes { body in
                amqp_basic_publish(
                    state, channel.id, exchange, routingKey, request.mandatory ? 1 : 0, 0,
                    &properties, amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
            }
        }
        switch status {
        case AMQP_STATUS_OK.rawValue:
            if channel.confirmMode {
                channel.pendingConfirms.append(PendingConfirm(request))
            } else if publishFrames != nil {
                framesAwaitingWrite.append(request.waiter)
            } else {
                completions.resume(request.waiter, .success(()))
            }
            if let frames = publishFrames, frames.count >= Self.publishFramesFlushSize { flushPublishFrames() }
        case AMQP_STATUS_TABLE_TOO_BIG.rawValue, AMQP_STATUS_BAD_AMQP_DATA.rawValue, AMQP_STATUS_INVALID_PARAMETER.rawValue,
            AMQP_STATUS_NO_MEMORY.rawValue:
            // Nothing reached the socket: the message itself cannot be encoded.
            let error = AMQPError.invalidArgument("the message cannot be encoded: \(CDecoding.statusText(status))")
            if request.waiter.isTransient { logger.error("AMQP queued transient publish dropped", metadata: ["error": "\(error)"]) }
            completions.resume(request.waiter, .failure(error))
        default:
            completions.resume(request.waiter, .failure(lostError(CDecoding.statusText(status))))
            socketFailed(status)
        }
    }

    func enableConfirms(on channel: ChannelState, window: Int, complete: @escaping (Result<RPCReply, AMQPError>) -> Void) {
        rpc(on: channel, expecting: [CR_CONFIRM_SELECT_OK_METHOD], complete: { result in
            if case .success = result {
                channel.confirmMode = true
                channel.confirmWindow = window
                channel.confirmSelected.store(true, ordering: .releasing)
            }
            complete(result)
        }) { state, id, _ in
            var select = amqp_confirm_select_t(nowait: 0)
            return amqp_send_method(state, id, CR_CONFIRM_SELECT_METHOD, &select)
        }
    }

    // MARK: - Consuming

    func consume(
        on channel: ChannelState, queue: String, consumerTag: String, exclusive: Bool, arguments: AMQPTable,
        sink: DeliveryBuffer,
        complete: @escaping (Result<RPCReply, AMQPError>) -> Void
    ) {
        // The stream is registered before basic.consume is sent: the first delivery may follow consume-ok at once.
        if channel.isOpen { channel.consumers[consumerTag] = sink }
        rpc(on: channel, expecting: [CR_BASIC_CONSUME_OK_METHOD], complete: { result in
            if case .failure(let error) = result {
                channel.consumers.removeValue(forKey: consumerTag)
                sink.finish(throwing: error)
            }
            complete(result)
        }) { state, id, arena in
            var consume = amqp_basic_consume_t(
                ticket: 0, queue: arena.bytes(queue), consumer_tag: arena.bytes(consumerTag), no_local: 0, no_ack: 0,
                exclusive: exclusive ? 1 : 0, nowait: 0, arguments: arena.table(arguments))
            return amqp_send_method(state, id, CR_BASIC_CONSUME_METHOD, &consume)
        }
    }

    func cancel(consumerTag: String, on channel: ChannelState, complete: @escaping (Result<RPCReply, AMQPError>) -> Void) {
        guard let sink = channel.consumers[consumerTag] else {
            complete(.success(.consumerTag(consumerTag)))
            return
        }
        rpc(on: channel, expecting: [CR_BASIC_CANCEL_OK_METHOD], complete: { result in
            channel.consumers.removeValue(forKey: consumerTag)
            sink.finish()
            complete(result)
        }) { state, id, arena in
            var cancel = amqp_basic_cancel_t(consumer_tag: arena.bytes(consumerTag), nowait: 0)
            return amqp_send_method(state, id, CR_BASIC_CANCEL_METHOD, &cancel)
        }
    }
}
