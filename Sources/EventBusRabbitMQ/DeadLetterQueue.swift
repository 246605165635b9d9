import AMQP
import EventBus
import Foundation

/// A service's dead-letter queue (``RabbitMQTopology/deadLetterQueue``): read its dead letters without taking them,
/// send some or all back to the service, or delete them.
///
/// Each call opens a channel of its own on the connection you give and closes it before returning. Run one call at
/// a time per queue: a peek holds the dead letters it read unacknowledged until it gives them back.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(url: url, connectionName: "ops")
/// let deadLetters = DeadLetterQueue(topology: RabbitMQTopology(queue: "basket"), connection: connection)
/// for letter in try await deadLetters.peek() { print(letter.eventID ?? "-", letter.explanation) }
/// let replayed = try await deadLetters.replay(eventIDs: ["…"])
/// ```
public struct DeadLetterQueue: Sendable {
    /// The service whose dead letters these are.
    public let topology: RabbitMQTopology
    private let connection: AMQPConnection

    /// The dead-letter queue of the service whose queue `topology` names, reached over `connection`.
    public init(topology: RabbitMQTopology, connection: AMQPConnection) {
        self.topology = topology
        self.connection = connection
    }

    /// How many dead letters wait (RabbitMQ's count: dead letters another client holds unacknowledged are not in it).
    /// - Throws: ``DeadLetterQueueError/queueNotFound(_:)`` when the service never declared it.
    public func count() async throws -> Int {
        Int(try await existingQueue(topology.deadLetterQueue).messageCount)
    }

    /// Reads up to `limit` dead letters (every one when `nil`) in their order and gives them all back in that
    /// order: nothing is taken out of the queue.
    /// - Throws: ``DeadLetterQueueError/queueNotFound(_:)``, or the broker's error.
    public func peek(limit: Int? = nil) async throws -> [DeadLetter] {
        let present = try await count()
        let budget = min(present, max(limit ?? present, 0))
        guard budget > 0 else { return [] }
        let channel = try await connection.openChannel()
        var letters: [DeadLetter] = []
        var last: UInt64?
        do {
            while letters.count < budget, let delivery = try await channel.get(queue: topology.deadLetterQueue) {
                last = delivery.deliveryTag
                letters.append(DeadLetter(delivery, position: letters.count + 1))
            }
            if let last { try channel.nack(last, multiple: true, requeue: true) }
        } catch {
            await channel.close()    // gives back whatever it held
            throw error
        }
        await channel.close()
        return letters
    }

    /// Sends dead letters back to the service's own queue, then removes them from the dead-letter queue; returns
    /// what was replayed, in order.
    ///
    /// Straight to ``RabbitMQTopology/queue`` through the default exchange, as the bus's retry queues do: other
    /// services bound to the event type do not see it again. A replay is a fresh start: the bookkeeping headers
    /// (``RabbitMQTopology/bookkeepingHeaders``) go, the event id stays, so a consumer that had applied it already
    /// skips it. Only the dead letters present when the call starts are considered (a replay that fails again and
    /// comes back is not picked up by the same call), each publish is confirmed before its dead letter is removed,
    /// and dead letters not chosen stay, in their order.
    /// - Parameters:
    ///   - eventIDs: Replay only these event ids (case-insensitive); every dead letter when empty.
    ///   - limit: Replay at most this many.
    /// - Throws: ``DeadLetterQueueError/queueNotFound(_:)`` (the dead-letter queue, or the service queue it goes back
    ///   to), ``DeadLetterQueueError/noEventType(eventID:)`` (that one stays; those before it are replayed), or the
    ///   broker's error. Replayed dead letters stay replayed when a later one fails.
    public func replay(eventIDs: Set<String> = [], limit: Int? = nil) async throws -> [DeadLetter] {
        let present = try await count()
        _ = try await existingQueue(topology.queue)
        let budget = min(present, max(limit ?? present, 0))
        let wanted = Set(eventIDs.map { $0.lowercased() })
        let channel = try await connection.openChannel()
        var replayed: [DeadLetter] = []
        do {
            try await channel.confirmSelect()
            var read = 0
            var skipped: UInt64?
            while replayed.count < budget, read < present, let delivery = try await channel.get(queue: topology.deadLetterQueue) {
                read += 1
                let letter = DeadLetter(delivery, position: read)
                if !wanted.isEmpty, !wanted.contains(letter.eventID?.lowercased() ?? "") {
                    skipped = delivery.deliveryTag    // held until the end, then given back in its place
                    continue
                }
                guard let type = letter.eventType else {
                    throw DeadLetterQueueError.noEventType(eventID: letter.eventID)
                }
                var properties = delivery.properties
                var headers = properties.headers ?? [:]
                let detailNames = headers[EventHeaders.deadLetterDetailNames]?.stringValue?.split(separator: ",").map(String.init) ?? []
                for key in RabbitMQTopology.bookkeepingHeaders + detailNames { headers.removeValue(forKey: key) }
                properties.headers = headers
                properties.type = type    // the consumer dispatches on it
                try await channel.publish(delivery.body, exchange: "", routingKey: topology.queue, mandatory: true, properties: properties)
                try channel.ack(delivery.deliveryTag)
                replayed.append(letter)
            }
            if let skipped { try channel.nack(skipped, multiple: true, requeue: true) }
        } catch {
            await channel.close()    // gives back every dead letter read and not acknowledged
            throw error
        }
        await channel.close()
        return replayed
    }

    /// Deletes every dead letter; returns how many.
    /// - Throws: ``DeadLetterQueueError/queueNotFound(_:)``, or the broker's error.
    public func purge() async throws -> Int {
        _ = try await count()
        let channel = try await connection.openChannel()
        let purged: UInt32
        do {
            purged = try await channel.queuePurge(topology.deadLetterQueue)
        } catch {
            await channel.close()
            throw error
        }
        await channel.close()
        return Int(purged)
    }

    /// The counts of `queue`, asked on a channel of its own (a missing queue closes the channel that asks).
    private func existingQueue(_ queue: String) async throws -> AMQPQueueInfo {
        let channel = try await connection.openChannel()
        do {
            let info = try await channel.queueDeclarePassive(queue)
            await channel.close()
            return info
        } catch AMQPError.channelClosedByBroker(let code, _) where code == .notFound {
            throw DeadLetterQueueError.queueNotFound(queue)
        }
    }
}

/// One dead letter as it waits in a service's dead-letter queue.
public struct DeadLetter: Sendable {
    /// Its place in the queue when it was read (from 1).
    public let position: Int
    /// The event id (`message_id`).
    public let eventID: String?
    /// The event type (the `type` property, else the routing key it was first published with).
    public let eventType: String?
    /// Why the bus dead-lettered it, when the header holds a reason it knows.
    public let reason: DeadLetterReason?
    /// The reason header as written (`EventHeaders.deadLetterReason`), known to this version or not.
    public let reasonText: String?
    /// On which delivery attempt the bus gave up (`EventHeaders.deliveryAttempts`).
    public let deliveryAttempts: Int?
    /// The handler's last error, in words (`EventHeaders.lastError`).
    public let lastError: String?
    /// When the bus dead-lettered it (ISO 8601, `EventHeaders.deadLetteredAt`).
    public let deadLetteredAt: String?
    /// The subscription that gave up on it (`EventHeaders.subscription`).
    public let subscription: String?
    /// `true` when the broker moved it as it arrived (only ``RabbitMQTopology/brokerDeathsHeader``): the service
    /// rejected it without reading or forwarding it.
    public let rejectedAsItArrived: Bool
    /// The message as it waits: body, properties and every header.
    public let message: AMQPDelivery

    init(_ delivery: AMQPDelivery, position: Int) {
        let headers = delivery.headers
        self.position = position
        message = delivery
        eventID = delivery.properties.messageID
        eventType = delivery.properties.type ?? headers[EventHeaders.originalRoutingKey]?.stringValue
        reasonText = headers[EventHeaders.deadLetterReason]?.stringValue
        reason = reasonText.flatMap(DeadLetterReason.init(rawValue:))
        deliveryAttempts = headers[EventHeaders.deliveryAttempts]?.intValue.map { Int(clamping: $0) }
        lastError = headers[EventHeaders.lastError]?.stringValue
        deadLetteredAt = headers[EventHeaders.deadLetteredAt]?.stringValue
        subscription = headers[EventHeaders.subscription]?.stringValue
        rejectedAsItArrived = reasonText == nil && headers[RabbitMQTopology.brokerDeathsHeader] != nil
    }

    /// What happened to it and what to do, in words.
    public var explanation: String {
        if let reason { return reason.explanation }
        if rejectedAsItArrived {
            return "rejected as it arrived: its body was over the service's maxEventSize, or it could not be forwarded to a retry queue; the service's log says which"
        }
        if let reasonText { return "reason \(reasonText) (written by another version of the bus)" }
        return "no reason recorded: it was published to the dead-letter queue by hand"
    }
}

/// Why a ``DeadLetterQueue`` call failed.
public enum DeadLetterQueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The queue does not exist: the service's bus declares its queue and dead-letter queue when it starts.
    case queueNotFound(String)
    /// A dead letter without a type or original routing key cannot be routed to its subscription; publish it by
    /// hand (`eventbus publish`) with its type.
    case noEventType(eventID: String?)

    public var description: String {
        switch self {
        case .queueNotFound(let queue):
            return "no queue '\(queue)' on the broker; a service's bus declares its queue and <queue>.dead-letter when it starts"
        case .noEventType(let id):
            return "dead letter \(id ?? "-") has no event type; publish it by hand with `eventbus publish`"
        }
    }
}
