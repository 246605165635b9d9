import CRabbitMQ
import Foundation

/// A channel on an ``AMQPConnection``: declarations, publishing, consuming and acknowledgements.
///
/// A failed operation that the broker answers with `channel.close` (for example `NOT_FOUND` or
/// `PRECONDITION_FAILED`) closes only this channel: the operation throws
/// ``AMQPError/channelClosedByBroker(replyCode:replyText:)``, later operations throw the same error, and the
/// connection stays usable for a new channel. Channels may be used from many tasks at once; replies are matched
/// in order.
public final class AMQPChannel: Sendable {
    /// The connection this channel belongs to (kept alive by the channel).
    public let connection: AMQPConnection
    let state: ChannelState

    init(connection: AMQPConnection, state: ChannelState) {
        self.connection = connection
        self.state = state
    }

    /// The channel number on the connection.
    public var id: UInt16 { state.id }

    /// `false` once the channel was closed by either side; ``closeReason`` then says why.
    public var isOpen: Bool { state.closedReason.withLock { $0 == nil } }

    /// Why the channel closed, or `nil` while it is open.
    public var closeReason: AMQPError? { state.closedReason.withLock { $0 } }

    private var driver: ConnectionDriver { connection.driver }

    // MARK: - Plumbing

    /// Sends one request and waits for its reply.
    private func rpc(
        expecting expected: [amqp_method_number_t],
        deliveryNeedsAck: Bool = false,
        _ send: @escaping @Sendable (amqp_connection_state_t, UInt16, CArena) -> Int32
    ) async throws -> RPCReply {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RPCReply, any Error>) in
            let state = self.state
            driver.submit(.closure(
                run: { driver in
                    driver.rpc(
                        on: state, expecting: expected, deliveryNeedsAck: deliveryNeedsAck,
                        complete: { continuation.resume(with: $0.mapError { $0 as any Error }) }, send: send)
                },
                fail: { continuation.resume(throwing: $0) }))
        }
    }

    private func unexpected(_ reply: RPCReply) -> AMQPError {
        .protocolViolation("unexpected reply \(reply)")
    }

    // MARK: - Exchanges

    /// Declares an exchange (one round trip). Re-declaring with other properties fails with `PRECONDITION_FAILED`.
    ///
    /// - Parameters:
    ///   - name: The exchange's name.
    ///   - type: How it routes: `direct`, `topic`, `fanout` or `headers`.
    ///   - durable: Whether it survives a broker restart.
    ///   - autoDelete: Whether the broker deletes it once its last binding is removed.
    ///   - internal: may not be published to directly, only bound to other exchanges.
    ///   - passive: only check that it exists (`NOT_FOUND` otherwise).
    ///   - arguments: Extra declaration arguments (`x-…`).
    public func exchangeDeclare(
        _ name: String, type: AMQPExchangeType = .direct, durable: Bool = true, autoDelete: Bool = false,
        internal: Bool = false, passive: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        _ = try await rpc(expecting: [CR_EXCHANGE_DECLARE_OK_METHOD]) { state, id, arena in
            var method = amqp_exchange_declare_t(
                ticket: 0, exchange: arena.bytes(name), type: arena.bytes(type.rawValue), passive: passive ? 1 : 0,
                durable: durable ? 1 : 0, auto_delete: autoDelete ? 1 : 0, internal: `internal` ? 1 : 0, nowait: 0,
                arguments: arena.table(arguments))
            return amqp_send_method(state, id, CR_EXCHANGE_DECLARE_METHOD, &method)
        }
    }

    /// Deletes an exchange (one round trip). With `ifUnused`, fails with `PRECONDITION_FAILED` while it has bindings.
    public func exchangeDelete(_ name: String, ifUnused: Bool = false) async throws {
        _ = try await rpc(expecting: [CR_EXCHANGE_DELETE_OK_METHOD]) { state, id, arena in
            var method = amqp_exchange_delete_t(ticket: 0, exchange: arena.bytes(name), if_unused: ifUnused ? 1 : 0, nowait: 0)
            return amqp_send_method(state, id, CR_EXCHANGE_DELETE_METHOD, &method)
        }
    }

    /// Binds exchange `destination` to `source` (a RabbitMQ extension; one round trip).
    public func exchangeBind(destination: String, source: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        _ = try await rpc(expecting: [CR_EXCHANGE_BIND_OK_METHOD]) { state, id, arena in
            var method = amqp_exchange_bind_t(
                ticket: 0, destination: arena.bytes(destination), source: arena.bytes(source),
                routing_key: arena.bytes(routingKey), nowait: 0, arguments: arena.table(arguments))
            return amqp_send_method(state, id, CR_EXCHANGE_BIND_METHOD, &method)
        }
    }

    // MARK: - Queues

    /// Declares a queue (one round trip) and returns its name and counts. An empty `name` asks the broker to
    /// generate one. Arguments such as `x-queue-type`, `x-message-ttl`, `x-dead-letter-exchange`,
    /// `x-dead-letter-routing-key` and `x-max-length` go in `arguments`.
    @discardableResult
    public func queueDeclare(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws -> AMQPQueueInfo {
        try await declareQueue(name, passive: false, durable: durable, exclusive: exclusive, autoDelete: autoDelete, arguments: arguments)
    }

    /// Checks that a queue exists and returns its message and consumer counts (one round trip). A missing queue
    /// closes the channel with `NOT_FOUND`.
    public func queueDeclarePassive(_ name: String) async throws -> AMQPQueueInfo {
        try await declareQueue(name, passive: true, durable: false, exclusive: false, autoDelete: false, arguments: [:])
    }

    private func declareQueue(
        _ name: String, passive: Bool, durable: Bool, exclusive: Bool, autoDelete: Bool, arguments: AMQPTable
    ) async throws -> AMQPQueueInfo {
        let reply = try await rpc(expecting: [CR_QUEUE_DECLARE_OK_METHOD]) { state, id, arena in
            var method = amqp_queue_declare_t(
                ticket: 0, queue: arena.bytes(name), passive: passive ? 1 : 0, durable: durable ? 1 : 0,
                exclusive: exclusive ? 1 : 0, auto_delete: autoDelete ? 1 : 0, nowait: 0, arguments: arena.table(arguments))
            return amqp_send_method(state, id, CR_QUEUE_DECLARE_METHOD, &method)
        }
        guard case .queueDeclareOk(let queue, let messages, let consumers) = reply else { throw unexpected(reply) }
        return AMQPQueueInfo(name: queue, messageCount: messages, consumerCount: consumers)
    }

    /// Binds a queue to an exchange (one round trip).
    public func queueBind(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        _ = try await rpc(expecting: [CR_QUEUE_BIND_OK_METHOD]) { state, id, arena in
            var method = amqp_queue_bind_t(
                ticket: 0, queue: arena.bytes(queue), exchange: arena.bytes(exchange),
                routing_key: arena.bytes(routingKey), nowait: 0, arguments: arena.table(arguments))
            return amqp_send_method(state, id, CR_QUEUE_BIND_METHOD, &method)
        }
    }

    /// Removes a binding (one round trip).
    public func queueUnbind(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        _ = try await rpc(expecting: [CR_QUEUE_UNBIND_OK_METHOD]) { state, id, arena in
            var method = amqp_queue_unbind_t(
                ticket: 0, queue: arena.bytes(queue), exchange: arena.bytes(exchange),
                routing_key: arena.bytes(routingKey), arguments: arena.table(arguments))
            return amqp_send_method(state, id, CR_QUEUE_UNBIND_METHOD, &method)
        }
    }

    /// Removes every ready message from a queue and returns how many there were (one round trip).
    @discardableResult
    public func queuePurge(_ queue: String) async throws -> UInt32 {
        let reply = try await rpc(expecting: [CR_QUEUE_PURGE_OK_METHOD]) { state, id, arena in
            var method = amqp_queue_purge_t(ticket: 0, queue: arena.bytes(queue), nowait: 0)
            return amqp_send_method(state, id, CR_QUEUE_PURGE_METHOD, &method)
        }
        guard case .messageCount(let count) = reply else { throw unexpected(reply) }
        return count
    }

    /// Deletes a queue and returns how many messages it held (one round trip).
    @discardableResult
    public func queueDelete(_ queue: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        let reply = try await rpc(expecting: [CR_QUEUE_DELETE_OK_METHOD]) { state, id, arena in
            var method = amqp_queue_delete_t(
                ticket: 0, queue: arena.bytes(queue), if_unused: ifUnused ? 1 : 0, if_empty: ifEmpty ? 1 : 0, nowait: 0)
            return amqp_send_method(state, id, CR_QUEUE_DELETE_METHOD, &method)
        }
        guard case .messageCount(let count) = reply else { throw unexpected(reply) }
        return count
    }

    // MARK: - Publishing

    /// Puts the channel in publisher-confirm mode (one round trip). From then on ``publish(_:exchange:routingKey:mandatory:properties:)``
    /// returns only when the broker confirmed the message, with at most `window` messages unconfirmed at once on
    /// this channel (further publishes wait for room).
    public func confirmSelect(window: Int = 1_000) async throws {
        guard window >= 1 else { throw AMQPError.invalidArgument("the confirm window must be at least 1, got \(window)") }
        _ = try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RPCReply, any Error>) in
            let state = self.state
            driver.submit(.closure(
                run: { driver in driver.enableConfirms(on: state, window: window) { continuation.resume(with: $0.mapError { $0 as any Error }) } },
                fail: { continuation.resume(throwing: $0) }))
        }
    }

    /// Publishes a message.
    ///
    /// On a confirm-mode channel (``confirmSelect(window:)``) this returns when the broker has taken
    /// responsibility for the message (`basic.ack`), and throws ``AMQPError/nacked`` on `basic.nack`. Many
    /// publishes may be in flight at once from concurrent tasks; each completes with its own confirm.
    ///
    /// Without confirms the broker may drop a message anyway, so this does not wait for the socket either: it
    /// returns as soon as the message is queued for the connection's thread, as long as fewer than
    /// ``transientPublishBacklog`` messages are queued unsent on the connection; beyond that it waits until this
    /// message was written to the socket (backpressure). Queued messages keep their order, and
    /// ``AMQPConnection/close()`` writes them before closing (unless the broker blocks the connection). A message
    /// queued this way that cannot be written (the channel or connection closed meanwhile) is dropped with a log
    /// entry; the failure surfaces on the next operation. Messages with a `headers` table, or a short string field
    /// (exchange, routing key, a property) over 255 bytes, always wait for the socket, so that an encoding error
    /// reaches the caller.
    ///
    /// A `mandatory` message that no queue is bound for throws ``AMQPError/returned(replyCode:replyText:exchange:routingKey:)``
    /// (on a confirm-mode channel; without confirms a return can only be logged). While the broker blocks the
    /// connection (``AMQPConnection/isBlocked``) publishes wait (without confirms: once the backlog is full).
    public func publish(
        _ body: Data,
        exchange: String = "",
        routingKey: String,
        mandatory: Bool = false,
        properties: AMQPProperties = AMQPProperties()
    ) async throws {
        if state.isClosed.load(ordering: .acquiring), let reason = state.closedReason.withLock({ $0 }) { throw reason }
        if !state.confirmSelected.load(ordering: .acquiring),
            PublishRequest.alwaysEncodable(exchange: exchange, routingKey: routingKey, properties: properties)
        {
            let queued = driver.enqueueTransientPublish(.publish(
                PublishRequest(
                    exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties, body: body,
                    waiter: .none),
                state))
            switch queued {
            case .success(true): return
            case .success(false): break
            case .failure(let error): throw error
            }
        }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            driver.submit(.publish(
                PublishRequest(
                    exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties, body: body,
                    waiter: .caller(continuation)),
                state))
        }
    }

    /// Publishes `messages` back to back, in the order given, and returns each one's outcome (same order) once all
    /// are settled: on a confirm-mode channel when the broker has confirmed (or nacked, or returned) each of them,
    /// otherwise when each was written to the socket. The broker receives them in that order, with no other
    /// publish of this channel in between.
    ///
    /// One call hands the whole batch to the connection thread and resumes the caller once, so a batch costs
    /// far less than the same messages published one by one from as many tasks. The confirm window applies per
    /// message: a batch larger than the window is sent as confirms free it. A message that cannot be encoded fails
    /// alone (``AMQPError/invalidArgument(_:)``); when the channel or connection closes, every message not yet
    /// confirmed fails with that error (whether the broker got it is unknown: publish it again).
    ///
    /// With a `deadline`, a message not yet handed to the socket when it passes (queued behind a full confirm window,
    /// a connection the broker blocked, or a stalled write) is dropped and fails with
    /// ``AMQPError/publishWithdrawn``: it never goes out later, so a caller that gave up at its deadline may publish
    /// it again without duplicating it. A message already handed to the socket keeps its normal outcome (a write
    /// that stays stuck ends with ``AMQPError/writeTimedOut(after:)``). A deadline costs one clock read per batch.
    public func publish(
        _ messages: [AMQPOutboundMessage], deadline: ContinuousClock.Instant? = nil
    ) async -> [Result<Void, AMQPError>] {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<[Result<Void, AMQPError>], Never>) in
            publish(messages, deadline: deadline) { continuation.resume(returning: $0) }
        }
    }

    /// ``publish(_:deadline:)`` for callers that track outcomes themselves: returns at once and calls `completion`
    /// with every message's outcome (same order) once all are settled. `completion` runs exactly once, on the
    /// connection's thread (or on the caller's, at once, when the channel is closed already; or on a timer thread
    /// when the batch is withdrawn while the connection's writes are stalled): keep it short and never block in it;
    /// resuming a continuation is the intended use. Lets a caller race the outcome against its own deadline without
    /// a task per publish; pass the same `deadline` so that what is still unsent then is withdrawn.
    public func publish(
        _ messages: [AMQPOutboundMessage], deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable ([Result<Void, AMQPError>]) -> Void
    ) {
        guard !messages.isEmpty else {
            completion([])
            return
        }
        if state.isClosed.load(ordering: .acquiring), let reason = state.closedReason.withLock({ $0 }) {
            completion(Array(repeating: .failure(reason), count: messages.count))
            return
        }
        let batch = PublishBatch(count: messages.count, deadline: deadline, completion: completion)
        var requests: [PublishRequest] = []
        requests.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            requests.append(PublishRequest(
                exchange: message.exchange, routingKey: message.routingKey, mandatory: message.mandatory,
                properties: message.properties, body: message.body, waiter: .batch(batch, index: index)))
        }
        driver.submit(.publishBatch(requests, state))
    }

    /// How many transient publishes (on channels without confirms) a connection queues before
    /// ``publish(_:exchange:routingKey:mandatory:properties:)`` waits for the socket.
    public static var transientPublishBacklog: Int { ConnectionDriver.transientBacklogLimit }

    // MARK: - Consuming

    /// Limits how many unacknowledged deliveries the broker sends this channel's consumers (one round trip).
    /// `prefetchCount` 0 means no limit.
    public func basicQos(prefetchCount: UInt16, global: Bool = false) async throws {
        _ = try await rpc(expecting: [CR_BASIC_QOS_OK_METHOD]) { state, id, _ in
            var method = amqp_basic_qos_t(prefetch_size: 0, prefetch_count: prefetchCount, global: global ? 1 : 0)
            return amqp_send_method(state, id, CR_BASIC_QOS_METHOD, &method)
        }
    }

    /// Starts a consumer on `queue` (one round trip) and returns its deliveries as an async sequence. Deliveries
    /// must be acknowledged (manual ack). Set a prefetch with ``basicQos(prefetchCount:global:)`` first, or pass
    /// `prefetch` here to do both.
    ///
    /// The sequence ends normally after ``AMQPConsumer/cancel()``, and throws when the channel or connection
    /// closes or the broker cancels the consumer (``AMQPError/consumerCancelledByBroker(consumerTag:)``).
    ///
    /// `maxBodySize` (bytes; `nil` for the connection's ``AMQPConnectionConfiguration/maxBodySize``) bounds what
    /// is read: a delivery announcing a larger body arrives with an empty body and
    /// ``AMQPDelivery/omittedBodySize`` set, without anything allocated for it; settle it, for example with
    /// ``AMQPConsumer/reject(_:requeue:)`` and `requeue: false` to dead-letter it. Throws
    /// ``AMQPError/invalidArgument(_:)`` for a negative limit.
    public func consume(
        queue: String,
        consumerTag: String? = nil,
        prefetch: UInt16? = nil,
        exclusive: Bool = false,
        arguments: AMQPTable = [:],
        maxBodySize: Int? = nil
    ) async throws -> AMQPConsumer {
        var bodyLimit = driver.bodyLimit
        if let maxBodySize {
            guard let limit = UInt64(exactly: maxBodySize) else {
                throw AMQPError.invalidArgument("maxBodySize must be 0 or more bytes, got \(maxBodySize)")
            }
            bodyLimit = limit
        }
        if let prefetch { try await basicQos(prefetchCount: prefetch) }
        let tag = consumerTag ?? "eventbus-\(UInt64.random(in: 1...UInt64.max))"
        let sink = DeliveryBuffer(bodyLimit: bodyLimit, wakeConnection: { [weak driver] in driver?.wakeForQueuedCommands() })
        let consumer = AMQPConsumer(consumerTag: tag, channel: self, buffer: sink)
        sink.setOnCancel { [weak self] in self?.cancelInBackground(consumerTag: tag) }
        _ = try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RPCReply, any Error>) in
            let state = self.state
            driver.submit(.closure(
                run: { driver in
                    driver.consume(
                        on: state, queue: queue, consumerTag: tag, exclusive: exclusive, arguments: arguments, sink: sink,
                        complete: { continuation.resume(with: $0.mapError { $0 as any Error }) })
                },
                fail: { error in
                    sink.finish(throwing: error)
                    continuation.resume(throwing: error)
                }))
        }
        return consumer
    }

    /// Stops a consumer (one round trip); its sequence then ends. Deliveries the broker sent meanwhile go back to
    /// the queue.
    public func cancel(consumerTag: String) async throws {
        _ = try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RPCReply, any Error>) in
            let state = self.state
            driver.submit(.closure(
                run: { driver in driver.cancel(consumerTag: consumerTag, on: state) { continuation.resume(with: $0.mapError { $0 as any Error }) } },
                fail: { continuation.resume(throwing: $0) }))
        }
    }

    private func cancelInBackground(consumerTag: String) {
        let state = self.state
        driver.submit(.closure(run: { driver in driver.cancel(consumerTag: consumerTag, on: state) { _ in } }, fail: { _ in }))
    }

    /// Fetches one message from `queue` without a consumer (one round trip); `nil` when the queue is empty.
    public func get(queue: String, noAck: Bool = false) async throws -> AMQPDelivery? {
        let reply = try await rpc(expecting: [CR_BASIC_GET_OK_METHOD, CR_BASIC_GET_EMPTY_METHOD], deliveryNeedsAck: !noAck) { state, id, arena in
            var method = amqp_basic_get_t(ticket: 0, queue: arena.bytes(queue), no_ack: noAck ? 1 : 0)
            return amqp_send_method(state, id, CR_BASIC_GET_METHOD, &method)
        }
        switch reply {
        case .getEmpty: return nil
        case .getOk(let delivery): return delivery
        default: throw unexpected(reply)
        }
    }

    // MARK: - Acknowledgements

    /// Acknowledges a delivery (with `multiple`, every unacknowledged one up to it). Queued for the connection
    /// thread without waiting; throws at once when the channel is already closed. An unknown tag makes the broker
    /// close the channel with `PRECONDITION_FAILED`.
    ///
    /// Single acks that reach the connection thread together go out as one `basic.ack multiple` when that settles
    /// exactly the same deliveries (every unacknowledged delivery up to the highest tag is among them), otherwise
    /// one by one.
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) throws {
        try acknowledge(.ack(multiple: multiple), deliveryTag)
    }

    /// Negatively acknowledges a delivery: `requeue` puts it back in the queue (redelivered later with
    /// ``AMQPDelivery/redelivered`` set), otherwise the broker drops or dead-letters it.
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) throws {
        try acknowledge(.nack(multiple: multiple, requeue: requeue), deliveryTag)
    }

    /// Rejects one delivery; `requeue` as for ``nack(_:multiple:requeue:)``.
    public func reject(_ deliveryTag: UInt64, requeue: Bool = true) throws {
        try acknowledge(.reject(requeue: requeue), deliveryTag)
    }

    /// Queues a single ack without waking the connection thread (see ``DeliveryBuffer/holdWhileBuffered(_:)``).
    func ackQuietly(_ tag: UInt64) -> AMQPError? {
        if state.isClosed.load(ordering: .acquiring), let reason = state.closedReason.withLock({ $0 }) { return reason }
        return driver.enqueueQuietly(.acknowledge(.ack(multiple: false), tag: tag, state))
    }

    private func acknowledge(_ kind: AcknowledgementKind, _ tag: UInt64) throws {
        if state.isClosed.load(ordering: .acquiring), let reason = state.closedReason.withLock({ $0 }) { throw reason }
        if let failure = driver.enqueue(.acknowledge(kind, tag: tag, state)) { throw failure }
    }

    // MARK: - Closing

    /// Closes the channel (one round trip). Unacknowledged deliveries go back to their queues; pending operations
    /// fail with ``AMQPError/channelClosed``. Closing twice is harmless.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let state = self.state
            driver.submit(.closure(
                run: { driver in driver.closeChannel(state) { continuation.resume() } },
                fail: { _ in continuation.resume() }))
        }
    }
}
