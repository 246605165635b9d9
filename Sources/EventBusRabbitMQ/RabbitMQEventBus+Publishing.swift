import AMQP
import EventBus
import Foundation
import Tracing

/// Publishing (DESIGN sections 4 and 5): every event is persistent, mandatory and confirmed by the broker; a publish
/// whose confirm is unknown (the connection or channel broke, the broker nacked, confirms stalled) is sent again on
/// the next channel until ``RabbitMQEventBusConfiguration/publishTimeout``.
extension RabbitMQEventBus {
    public func publish<Event: IntegrationEvent>(_ event: Event, subject: String?) async throws {
        let payload: Data
        do {
            payload = try configuration.codec.encode(event)
        } catch {
            throw EventBusError.encodingFailed(eventType: Event.eventTypeName, reason: "\(error)")
        }
        try await publish(RawEvent(
            eventType: Event.eventTypeName, id: event.id.lowercasedText, subject: subject,
            time: event.creationDate, payload: payload))
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
    /// ``EventBusError/publishFailed(eventID:reason:)``. One trace span covers the batch; every event carries it.
    public func publishAll(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        guard !events.isEmpty else { return [] }
        do {
            try beginPublish()
        } catch {
            return Array(repeating: .failure(error), count: events.count)
        }
        defer { finishPublish() }
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
    private func publishConfirmed(_ events: [RawEvent]) async -> [Result<Void, any Error>] {
        let started = ContinuousClock.now
        let deadline = started + configuration.publishTimeout
        let exchange = topology.exchange
        let messages = events.map { event in
            AMQPOutboundMessage(
                event.payload, exchange: exchange, routingKey: event.eventType, mandatory: true,
                properties: WireFormat.properties(for: event))
        }
        var results = [Result<Void, any Error>?](repeating: nil, count: events.count)
        var unsent = Array(events.indices)
        metrics.published.increment(by: events.count)
        while !unsent.isEmpty {
            let outcomes: [Result<Void, AMQPError>]
            let channel: AMQPChannel
            do {
                channel = try await publisher.channel(until: deadline) { PublishDeadlinePassed() }
                let batch = unsent.count == messages.count ? messages : unsent.map { messages[$0] }
                outcomes = try await publisher.send(
                    batch, on: channel, until: deadline, stallTimeout: configuration.publishConfirmStallTimeout,
                    onStall: { [self, stall = configuration.publishConfirmStallTimeout] stalled in
                        abandon(stalled, because: "no publisher confirm for \(stall)")
                    }, timeoutError: { PublishDeadlinePassed() })
            } catch {
                for index in unsent { results[index] = .failure(failure(error, for: events[index])) }
                break
            }
            var again: [Int] = []
            var trouble: AMQPError?
            var nacked = false
            for (index, outcome) in zip(unsent, outcomes) {
                switch outcome {
                case .success:
                    metrics.confirmed.increment()
                    metrics.confirmLatency.recordNanoseconds(Int64((ContinuousClock.now - started).nanoseconds))
                    results[index] = .success(())
                case .failure(.returned(let code, let text, let exchange, let routingKey)):
                    metrics.returned.increment()
                    results[index] = .failure(EventBusError.publishFailed(
                        eventID: events[index].id,
                        reason: "no queue is bound for '\(routingKey)' on exchange '\(exchange)', or none of the bound ones is available, e.g. a classic queue whose node is down (\(code) \(text)); start a consuming service or bind a queue (in a cluster, quorum queues stay available when a node is down)"))
                case .failure(.invalidArgument(let text)):
                    results[index] = .failure(EventBusError.publishFailed(eventID: events[index].id, reason: text))
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
                metadata: ["event.count": "\(again.count)", "first.event.id": "\(events[again[0]].id)", "error": "\(trouble)"])
            do {
                guard ContinuousClock.now < deadline else { throw PublishDeadlinePassed() }
                try await Task.sleep(for: .milliseconds(20))
                // After the pause, not at once: a channel or connection that broke may still look open for a moment.
                replace(channel)
            } catch {
                for index in unsent { results[index] = .failure(failure(error, for: events[index])) }
                break
            }
        }
        return results.indices.map { index in
            results[index] ?? .failure(EventBusError.publishTimedOut(eventID: events[index].id, after: configuration.publishTimeout))
        }
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

    /// The error an event gets when its publish stopped on `error`: the deadline becomes the event's own timeout.
    private func failure(_ error: any Error, for event: RawEvent) -> any Error {
        guard error is PublishDeadlinePassed else { return error }
        return EventBusError.publishTimedOut(eventID: event.id, after: configuration.publishTimeout)
    }
}

/// The publish timeout passed; each event of the batch then fails with its own ``EventBusError/publishTimedOut(eventID:after:)``.
private struct PublishDeadlinePassed: Error {}
