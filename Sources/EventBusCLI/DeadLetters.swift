import AMQP
import ArgumentParser
import Foundation

/// `eventbus dead-letters`: list, replay or purge a service's dead-letter queue (`<queue>.dead-letter`).
struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "Inspect and replay a service's dead letters.",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct Target: ParsableArguments {
        @OptionGroup var broker: BrokerOptions
        @Option(help: "The service's queue (its dead letters are in <queue>.dead-letter).") var queue: String
        var deadLetterQueue: String { "\(queue).dead-letter" }

        /// The dead-letter queue's counts; a clear error when it does not exist.
        func deadLetters(on connection: AMQPConnection) async throws -> AMQPQueueInfo {
            try await existingQueue(
                deadLetterQueue, on: connection,
                hint: "--queue names a service's queue, and a service's bus declares <queue>.dead-letter when it starts")
        }

        /// Reads each of the `total` dead letters once without acknowledging it, hands it to `visit` with its
        /// position (from 1), then gives them all back in their order: nothing is taken out of the queue.
        func peek(_ total: UInt32, on channel: AMQPChannel, _ visit: (AMQPDelivery, Int) -> Void) async throws {
            var read = 0
            var last: UInt64?
            while read < total, let delivery = try await channel.get(queue: deadLetterQueue) {
                read += 1
                last = delivery.deliveryTag
                visit(delivery, read)
            }
            if let last { try channel.nack(last, multiple: true, requeue: true) }
        }
    }

    /// Prints every dead letter and leaves them in place.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every dead letter with its reason; leaves them in the queue.")
        @OptionGroup var target: Target

        func run() async throws {
            let connection = try await target.broker.connect("dead-letters")
            let total = try await target.deadLetters(on: connection).messageCount
            let channel = try await connection.openChannel()
            print("\(target.deadLetterQueue): \(total) dead letter(s)")
            try await target.peek(total, on: channel) { delivery, position in print(describe(delivery, index: position)) }
            await connection.close()
        }
    }

    /// Prints chosen dead letters in full (the body as indented JSON) and leaves every dead letter in place.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the dead letters with these event ids in full, body indented; leaves them in the queue.")
        @OptionGroup var target: Target
        @Option(name: .customLong("id"), help: "An event id (message id) to show (repeat for several).") var ids: [String]

        func validate() throws {
            if ids.isEmpty { throw ValidationError("give one or more --id (eventbus dead-letters list shows them)") }
        }

        func run() async throws {
            let connection = try await target.broker.connect("dead-letters")
            let total = try await target.deadLetters(on: connection).messageCount
            let channel = try await connection.openChannel()
            let wanted = Set(ids.map { $0.lowercased() })
            var found: Set<String> = []
            try await target.peek(total, on: channel) { delivery, position in
                guard let id = delivery.properties.messageID?.lowercased(), wanted.contains(id) else { return }
                found.insert(id)
                print(describe(delivery, index: position))
                if let pretty = Self.indentedJSON(delivery.body) { print("  body, indented:\n\(pretty)") }
            }
            await connection.close()
            let missing = wanted.subtracting(found)
            if !missing.isEmpty {
                throw CLIError("no dead letter with id \(missing.sorted().joined(separator: ", ")) in \(target.deadLetterQueue) (\(total) dead letter(s))")
            }
        }

        static func indentedJSON(_ body: Data) -> String? {
            guard let value = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]),
                let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
            else { return nil }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
        }
    }

    /// Puts dead letters back on the service's own queue, then removes them.
    ///
    /// Straight to `<queue>` through the default exchange, as the bus's retry queues do: republishing to the
    /// original exchange would also deliver the event again to every other service bound for its type.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to the service's queue (after fixing the cause); other services do not see them again.")
        @OptionGroup var target: Target
        @Option(help: "Replay at most this many.") var limit: Int?
        @Option(name: .customLong("id"), help: "Replay only the dead letters with this event id (repeat for several).")
        var ids: [String] = []

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let connection = try await target.broker.connect("dead-letters")
            // Only what is there now: a replay that fails again must not be picked up by this same run.
            let present = Int(try await target.deadLetters(on: connection).messageCount)
            _ = try await existingQueue(target.queue, on: connection, hint: "start the service once so that its bus declares it")
            let channel = try await connection.openChannel()
            try await channel.confirmSelect()
            let budget = min(present, limit ?? present)
            let wanted = Set(ids.map { $0.lowercased() })
            var replayed = 0
            var read = 0
            var skipped: UInt64?
            defer { if let skipped { try? channel.nack(skipped, multiple: true, requeue: true) } }
            while replayed < budget, read < present, let delivery = try await channel.get(queue: target.deadLetterQueue) {
                read += 1
                if !wanted.isEmpty, !wanted.contains(delivery.properties.messageID?.lowercased() ?? "") {
                    // Not chosen: held unacknowledged until the end, then given back in its place.
                    skipped = delivery.deliveryTag
                    continue
                }
                var properties = delivery.properties
                var headers = properties.headers ?? [:]
                // The consumer dispatches on the type; a dead letter without one keeps its original routing key.
                guard let type = properties.type ?? headers["x-original-routing-key"]?.stringValue else {
                    try? channel.nack(delivery.deliveryTag, requeue: true)
                    throw CLIError("dead letter \(properties.messageID ?? "-") has no event type; publish it by hand with `eventbus publish`")
                }
                properties.type = type
                // A replay is a fresh start: the retry bookkeeping goes, the event id stays (consumers deduplicate).
                for key in ["x-dead-letter-reason", "x-delivery-attempts", "x-last-error", "x-dead-lettered-at", "x-eventbus-subscription", "x-death"] {
                    headers.removeValue(forKey: key)
                }
                properties.headers = headers
                do {
                    try await channel.publish(delivery.body, exchange: "", routingKey: target.queue, mandatory: true, properties: properties)
                    try channel.ack(delivery.deliveryTag)
                    replayed += 1
                    print("replayed \(type) \(properties.messageID ?? "-") to queue \(target.queue)")
                } catch {
                    try? channel.nack(delivery.deliveryTag, requeue: true)
                    throw error
                }
            }
            print("\(replayed) dead letter(s) replayed")
            if let held = skipped {
                skipped = nil
                try channel.nack(held, multiple: true, requeue: true)
            }
            await connection.close()
            if !wanted.isEmpty, replayed < wanted.count {
                throw CLIError("\(wanted.count - replayed) of the given ids were not found in \(target.deadLetterQueue)")
            }
        }
    }

    /// Deletes every dead letter.
    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every dead letter of the queue.")
        @OptionGroup var target: Target
        @Flag(help: "Confirm: the dead letters are gone for good.") var yes = false

        func run() async throws {
            guard yes else { throw ValidationError("purging deletes the dead letters for good: add --yes") }
            let connection = try await target.broker.connect("dead-letters")
            _ = try await target.deadLetters(on: connection)
            let purged = try await connection.openChannel().queuePurge(target.deadLetterQueue)
            print("purged \(purged) dead letter(s) from \(target.deadLetterQueue)")
            await connection.close()
        }
    }
}
