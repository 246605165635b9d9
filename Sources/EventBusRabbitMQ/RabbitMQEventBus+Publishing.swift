import AMQP
import EventBus
import Foundation
import Tracing

/// Publishing (DESIGN sections 4 and 5): every event is persistent, mandatory and confirmed by the broker; a publish
/// whose confirm is unknown (the connection or channel broke, the broker nacked, confirms stalled) is sent again on
/// the next channel until ``RabbitMQEventBusConfiguration/publishTimeout``.
extension RabbitMQEventBus {
    public func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        // The source set here, not by publishAll: no copy of the event to fill it in.
        try await publish(RawEvent(encoding: event, subject: subject, source: configuration.serviceName, codec: configuration.codec))
    }

    public func publish(_ event: RawEvent) async throws {
        try await publishAll([event])[0].get()
    }

    /// Publishes `events` back to back on the publishing channel, in the order given, with every confirm awaited
    /// at once: the broker receives them in that order, and the batch costs about one confirm round trip instead
    /// of one per event. Returns each event's outcome (same order).
    ///
    /// An event whose confirm is unknown is sent again (with the others still unconfirmed, in order) until the
    /// publish timeout; a resent event can then arrive after later events of the batch (consumers deduplicate the
    /// copy that did arrive before). An event no queue is bound for (or whose bound queues are all unavailable, such as
    /// a classic queue whose cluster node is down) fails alone, at once, with
    /// `EventBusError.publishFailed(eventID:reason:)`. One trace span covers the batch; every event carries it.
    public func publishAll(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        guard !events.isEmpty else { return [] }
        do {
            try beginPublish()
        } catch {
            return Array(repeating: .failure(error), count: events.count)
        }
        defer { finishPublish() }
        let limit = configuration.maxEventSize
        if events.contains(where: { $0.payload.count > limit }) {
            // Refused before anything is sent: the shared channel never sees a message the consumers could not read.
            let fitting = events.filter { $0.payload.count <= limit }
            var sent = fitting.isEmpty ? [] : await publishAll(fitting)[...]
            return events.map { event in
                event.payload.count > limit
                    ? .failure(EventBusError.eventTooLarge(eventID: event.id, size: event.payload.count, limit: limit))
                    : sent.popFirst() ?? .failure(EventBusError.shuttingDown)
            }
        }
        var events = events
        for index in events.indices where events[index].source == nil { events[index].source = configuration.serviceName }
        guard BusTracing.isActive else { return await publishConfirmed(events) }
        let name = events.count == 1 ? "\(events[0].eventType) publish" : "publish \(events.count) events"
        return await withSpan(name, ofKind: .producer) { span in
            // A span that records nothing (no tracer bootstrapped) would drop the attributes anyway.
            if span.isRecording {
                span.attributes["messaging.system"] = "rabbitmq"
                if events.count == 1 {
                    span.attributes["messaging.message.id"] = events[0].id
                } else {
                    span.attributes["messaging.batch.message_count"] = events.count
                }
            }
            for index in events.indices {
                InstrumentationSystem.instrument.inject(span.context, into: &events[index].headers, using: TraceHeaderInjector())
            }
            return await publishConfirmed(events)
        }
    }

    /// Sends `events` until each is confirmed, failed for good, or out of time.
    nonisolated(nonsending) private func publishConfirmed(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        let started = ContinuousClock.now
        let exchange = topology.exchange
        let messages = events.map { event in
            AMQPOutboundMessage(
                event.payload, exchange: exchange, routingKey: event.eventType, mandatory: true,
                properties: WireFormat.properties(for: event, template: publishHeaders))
        }
        metrics.published.increment(by: events.count)
        let outcomes = await sendConfirmed(messages, until: started + configuration.publishTimeout)
        return zip(events, outcomes).map { event, outcome in
            switch outcome {
            case .confirmed:
                metrics.confirmed.increment()
                metrics.confirmLatency.recordNanoseconds(Int64((ContinuousClock.now - started).nanoseconds))
                return .success(())
            case .returned(let code, let text, let exchange, let routingKey):
                metrics.returned.increment()
                return .failure(EventBusError.publishFailed(
                    eventID: event.id,
                    reason: "no queue is bound for '\(routingKey)' on exchange '\(exchange)', or none of the bound ones is available, e.g. a classic queue whose node is down (\(code) \(text)); start a consuming service or bind a queue (in a cluster, quorum queues stay available when a node is down)"))
            case .refused(let text):
                return .failure(EventBusError.publishFailed(eventID: event.id, reason: text))
            case .timedOut:
                return .failure(EventBusError.publishTimedOut(eventID: event.id, after: configuration.publishTimeout))
            case .stopped(let error):
                return .failure(error)
            }
        }
    }

    /// What became of one message sent with ``sendConfirmed(_:until:)``.
    enum SendOutcome: Sendable {
        /// The broker confirmed it.
        case confirmed
        /// Mandatory and unroutable: the broker returned it.
        case returned(replyCode: AMQPReplyCode, replyText: String, exchange: String, routingKey: String)
        /// It can never be sent as it is (it cannot be encoded: a short string over 255 bytes, a header table over
        /// the frame size).
        case refused(String)
        /// Not confirmed before the deadline (it may or may not have reached the broker).
        case timedOut
        /// The bus stopped publishing.
        case stopped(any Error)
    }

    /// Sends `messages` on the publishing channel, in order, until each is confirmed, returned or refused, or
    /// `deadline` passes. A message whose confirm is unknown (the connection or channel broke, the broker nacked,
    /// confirms stalled) is sent again on the next channel. Used for events and for the copies forwarded to retry
    /// and dead-letter queues alike, so both get the same channel replacement and stall rules.
    nonisolated(nonsending) func sendConfirmed(_ messages: [AMQPOutboundMessage], until deadline: ContinuousClock.Instant) async -> [SendOutcome] {
        // What is still unsent at the end timed out.
        var results = [SendOutcome](repeating: .timedOut, count: messages.count)
        var unsent = Array(messages.indices)
        while !unsent.isEmpty {
            let outcomes: [Result<Void, AMQPError>]
            let channel: AMQPChannel
            do {
                channel = try await publisher.channel(until: deadline) { PublishDeadlinePassed() }
                let batch = unsent.count == messages.count ? messages : unsent.map { messages[$0] }
                outcomes = try await publisher.send(
                    batch, on: channel, until: deadline, stallTimeout: configuration.publishConfirmStallTimeout,
                    onStall: { [self] stalled in
                        abandon(stalled, because: "no publisher confirm for \(configuration.publishConfirmStallTimeout)")
                    }, timeoutError: { PublishDeadlinePassed() })
            } catch {
                for index in unsent { results[index] = error is PublishDeadlinePassed ? .timedOut : .stopped(error) }
                break
            }
            var again: [Int] = []
            var trouble: AMQPError?
            var nacked = false
            for (index, outcome) in zip(unsent, outcomes) {
                switch outcome {
                case .success:
                    results[index] = .confirmed
                case .failure(.returned(let code, let text, let exchange, let routingKey)):
                    results[index] = .returned(replyCode: code, replyText: text, exchange: exchange, routingKey: routingKey)
                case .failure(.invalidArgument(let text)):
                    results[index] = .refused(text)
                case .failure(let error):
                    // Connection or channel trouble, or a nack: the confirm is unknown, so send again once a channel
                    // is back (consumers deduplicate a message that did arrive).
                    again.append(index)
                    trouble = error
                    if case .nacked = error { nacked = true }
                }
            }
            // A channel whose publishes the broker nacks may keep nacking them (RabbitMQ 3.10's quorum queue client on
            // a channel opened while the queue's leader was being replaced does): send again on a fresh channel.
            if nacked, channel.isOpen { abandon(channel, because: "the broker nacked a publish") }
            unsent = again
            guard let trouble else { break }
            logger.debug(
                "publish will be retried",
                metadata: ["message.count": "\(again.count)", "first.message.id": "\(messages[again[0]].properties.messageID ?? "")", "error": "\(trouble)"])
            do {
                guard ContinuousClock.now < deadline else { throw PublishDeadlinePassed() }
                try await Task.sleep(for: .milliseconds(20))
                // After the pause, not at once: a channel or connection that broke may still look open for a moment.
                replace(channel)
            } catch {
                for index in unsent { results[index] = error is PublishDeadlinePassed ? .timedOut : .stopped(error) }
                break
            }
        }
        return results
    }

    /// After a publish failed on `channel`: when the channel still looks open (``abandon(_:because:)`` is closing it,
    /// or it has not noticed yet that it broke) does nothing, as the next attempt waits for a usable channel;
    /// when only the channel is gone (e.g. the exchange was deleted: NOT_FOUND, or it was closed for a confirm stall)
    /// opens another one and declares the exchange again; when the connection broke, forgets the channel (the
    /// supervisor reconnects). A connection on which no channel can be opened again is closed, so that the supervisor
    /// reconnects rather than leaving publishes without a channel.
    private func replace(_ channel: AMQPChannel) {
        if channel.isOpen { return }
        guard channel.connection.isOpen else {
            publisher.retract(channel)
            return
        }
        let topology = self.topology, window = configuration.publishConfirmWindow, logger = self.logger
        publisher.reopen(after: channel) {
            do {
                let fresh = try await channel.connection.openChannel()
                try await topology.declareExchange(on: fresh)
                try await fresh.confirmSelect(window: window)
                return fresh
            } catch {
                logger.warning("cannot open a publishing channel again; reconnecting", metadata: ["error": "\(error)"])
                await channel.connection.close()
                throw error
            }
        }
    }

    /// Gives up on `channel` (once, however many publishes notice): it is no longer handed out, is closed (failing its
    /// outstanding publishes, which are then sent again), and is replaced by a fresh channel on the same connection.
    private func abandon(_ channel: AMQPChannel, because reason: String) {
        guard publisher.abandon(channel) else { return }
        logger.warning("\(reason); closing the publishing channel to send again on a fresh one")
        Task {
            await channel.close()
            replace(channel)
        }
    }
}

/// The publish timeout passed; each event of the batch then fails with its own `EventBusError.publishTimedOut(eventID:after:)`.
private struct PublishDeadlinePassed: Error {}
