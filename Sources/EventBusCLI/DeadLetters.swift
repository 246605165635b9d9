import AMQP
import ArgumentParser
import EventBusRabbitMQ
import Foundation

/// `eventbus dead-letters`: list, replay or purge a service's dead-letter queue (`<queue>.dead-letter`).
struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "Inspect and replay a service's dead letters.",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct Target: ParsableArguments {
        @OptionGroup var broker: BrokerOptions
        @Option(help: "The service's queue (its dead letters are in <queue>.dead-letter).") var queue: String
        var topology: RabbitMQTopology { RabbitMQTopology(queue: queue) }
        var deadLetterQueue: String { topology.deadLetterQueue }

        /// The library's handle on the dead-letter queue; its errors become one-line ``CLIError``s.
        func withDeadLetters<T>(_ body: (DeadLetterQueue) async throws -> T) async throws -> T {
            let connection = try await broker.connect("dead-letters")
            do {
                let value = try await body(DeadLetterQueue(topology: topology, connection: connection))
                await connection.close()
                return value
            } catch let error as DeadLetterQueueError {
                await connection.close()
                throw CLIError(error.description)
            } catch {
                await connection.close()
                throw error
            }
        }
    }

    /// Prints every dead letter and leaves them in place.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every dead letter with its reason; leaves them in the queue.")
        @OptionGroup var target: Target

        func run() async throws {
            let letters = try await target.withDeadLetters { deadLetters in
                let total = try await deadLetters.count()
                print("\(target.deadLetterQueue): \(total) dead letter(s)")
                return try await deadLetters.peek(limit: total)
            }
            for letter in letters { print(describe(letter)) }
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
            let letters = try await target.withDeadLetters { try await $0.peek() }
            let wanted = Set(ids.map { $0.lowercased() })
            var found: Set<String> = []
            for letter in letters {
                guard let id = letter.eventID?.lowercased(), wanted.contains(id) else { continue }
                found.insert(id)
                print(describe(letter))
                if let pretty = Self.indentedJSON(letter.message.body) { print("  body, indented:\n\(pretty)") }
            }
            let total = letters.count
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
            let wanted = Set(ids.map { $0.lowercased() })
            let replayed = try await target.withDeadLetters { try await $0.replay(eventIDs: wanted, limit: limit) }
            for letter in replayed {
                print("replayed \(letter.eventType ?? "-") \(letter.eventID ?? "-") to queue \(target.queue)")
            }
            print("\(replayed.count) dead letter(s) replayed")
            if !wanted.isEmpty, replayed.count < wanted.count {
                throw CLIError("\(wanted.count - replayed.count) of the given ids were not found in \(target.deadLetterQueue)")
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
            let purged = try await target.withDeadLetters { try await $0.purge() }
            print("purged \(purged) dead letter(s) from \(target.deadLetterQueue)")
        }
    }
}
