import AMQP
import ArgumentParser
import EventBusGateway
import EventBusPostgres
import EventBusRabbitMQ
import EventBusSQLite
import Foundation
import PostgresNIO

/// `eventbus-gateway subscriptions`: the webhook gateway's subscriptions (issue 18), read from its store and config file,
/// with their queues on the broker. Secrets are never printed.
struct Subscriptions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and show the webhook gateway's subscriptions (its store and config file) and their queues.",
        discussion: """
            Subscriptions made with PUT /api/subscriptions live in the gateway's store (--sqlite, or --postgres / \
            $EVENTBUS_GATEWAY_POSTGRES_URL); those of its config file (--config) are read from the file. Each \
            subscription's events wait in <queue prefix><name>; its dead letters are in <queue>.dead-letter, which \
            `eventbus dead-letters list --queue <queue>` reads.
            """,
        subcommands: [List.self, Show.self])

    /// Where the subscriptions are read from.
    struct Source: ParsableArguments {
        @Option(help: "The gateway's config file (JSON or YAML): its subscriptions, store and queue prefix.") var config: String?
        @Option(help: "The gateway's SQLite file (default: the config file's store).") var sqlite: String?
        @Option(help: "The gateway's PostgreSQL database, postgres://user:password@host:port/database (default: $EVENTBUS_GATEWAY_POSTGRES_URL).")
        var postgres: String?
        @Option(help: "The gateway's queue prefix (default: the config file's, else gateway.).") var queuePrefix: String?
        @Option(help: "Give up on PostgreSQL after this many seconds.") var timeout = 10

        func validate() throws {
            if sqlite != nil, postgres != nil { throw ValidationError("give --sqlite or --postgres, not both") }
            if timeout < 1 { throw ValidationError("--timeout must be at least 1 second") }
        }

        /// Reads the config file (when given) and the store; returns every subscription with where it was defined.
        func load() async throws -> (subscriptions: [Entry], prefix: String) {
            var file: GatewayConfiguration.File?
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else {
                    throw CommandError("cannot read the config file \(config)")
                }
                do {
                    file = try GatewayConfiguration.File.decode(data, path: config)
                } catch {
                    throw CommandError("\(config) is not a valid gateway configuration: \(error)")
                }
            }
            var entries = (file?.subscriptions ?? [:]).map { Entry(name: $0.key, definition: $0.value, origin: "config file") }
            let environment = ProcessInfo.processInfo.environment["EVENTBUS_GATEWAY_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
            if let url = postgres ?? (sqlite == nil ? environment ?? file?.store?.postgresUrl : nil) {
                entries += try await readPostgres(url)
            } else if let path = sqlite ?? file?.store?.sqlitePath {
                entries += try await readSQLite(path)
            } else if config == nil {
                throw CommandError("give --sqlite PATH, --postgres URL (or set EVENTBUS_GATEWAY_POSTGRES_URL) or --config FILE")
            }
            return (entries.sorted { $0.name < $1.name }, queuePrefix ?? file?.queuePrefix ?? "gateway.")
        }

        private func readSQLite(_ path: String) async throws -> [Entry] {
            // Opening creates a missing file: an operator's typo must not leave an empty database behind.
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandError("no SQLite database at \(path); --sqlite names the gateway's file (its config's store.sqlitePath)")
            }
            do {
                let store = SQLiteSubscriptionStore(store: try SQLiteEventStore(path: path))
                try await store.migrate()    // a gateway that never stored a subscription has no table yet
                return try await store.all().map { Entry(name: $0.key, definition: $0.value, origin: "api") }
            } catch {
                throw CommandError("SQLite file \(path): \(error)")
            }
        }

        private func readPostgres(_ url: String) async throws -> [Entry] {
            let client = PostgresClient(configuration: try PostgresEventStore.clientConfiguration(url: url))
            let store = PostgresSubscriptionStore(store: PostgresEventStore(client: client, operationTimeout: .seconds(timeout)))
            do {
                return try await withThrowingTaskGroup(of: [Entry]?.self) { group in
                    group.addTask {
                        await client.run()
                        return nil
                    }
                    defer { group.cancelAll() }
                    try await store.migrate()
                    return try await store.all().map { Entry(name: $0.key, definition: $0.value, origin: "api") }
                }
            } catch {
                throw CommandError("PostgreSQL \(PostgresEventStore.maskedURL(url)): \(error)")
            }
        }
    }

    /// One subscription and where it was defined.
    struct Entry: Sendable {
        var name: String
        var definition: WebhookSubscription
        var origin: String

        func topology(prefix: String) -> RabbitMQTopology {
            RabbitMQTopology(queue: WebhookDispatcher.queueName(prefix: prefix, subscription: name))
        }

        /// `batches of ≤ N, ~K KB` or `single events`.
        var deliveryText: String {
            guard let batch = definition.batch else { return "single events" }
            return "batches of ≤ \(batch.maxEventsPerBatch ?? 1)" + (batch.preferredBatchSizeInKilobytes.map { ", ~\($0) KB" } ?? "")
        }
    }

    /// One line per subscription: name, origin, endpoint, event types, queue and (with the broker) its counts.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per subscription, with its queue and, when the broker answers, its counts.")
        @OptionGroup var source: Source
        @OptionGroup var broker: BrokerOptions
        @Flag(help: "Do not ask the broker for queue counts.") var noCounts = false

        func run() async throws {
            let (entries, prefix) = try await source.load()
            guard !entries.isEmpty else {
                print("no subscriptions")
                return
            }
            let counts = noCounts ? nil : await QueueCounts.read(entries.map { $0.topology(prefix: prefix) }, broker: broker)
            for entry in entries {
                let topology = entry.topology(prefix: prefix)
                var line = "\(entry.name) (\(entry.origin)) → \(entry.definition.endpointUrl) types=\(entry.definition.eventTypes.joined(separator: ",")) "
                    + "\(entry.deliveryText), queue \(topology.queue)"
                if let counts { line += " " + counts.text(for: topology) }
                print(line)
            }
            if let counts, let problem = counts.problem { print("(queue counts unavailable: \(problem))") }
        }
    }

    /// One subscription in full: its definition (secret redacted) as JSON, its queues and their counts.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One subscription in full (secret redacted), with its queues and their counts.")
        @OptionGroup var source: Source
        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The subscription's name.") var name: String
        @Flag(help: "Do not ask the broker for queue counts.") var noCounts = false

        func run() async throws {
            let (entries, prefix) = try await source.load()
            guard let entry = entries.first(where: { $0.name == name }) else {
                let known = entries.map(\.name).joined(separator: ", ")
                throw CommandError("no subscription '\(name)'; known: \(known.isEmpty ? "none" : known) (eventbus-gateway subscriptions list)")
            }
            let topology = entry.topology(prefix: prefix)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print("\(entry.name) (\(entry.origin))")
            print(String(decoding: try encoder.encode(entry.definition.redacted), as: UTF8.self))
            print("queue: \(topology.queue)")
            print("dead letters: \(topology.deadLetterQueue) (eventbus dead-letters list --queue \(topology.queue))")
            guard !noCounts else { return }
            let counts = await QueueCounts.read([topology], broker: broker)
            if let problem = counts.problem {
                print("(queue counts unavailable: \(problem))")
            } else {
                print("counts: \(counts.text(for: topology))")
            }
        }
    }
}

/// Ready-message counts of subscription queues and their dead-letter queues, read once; a broker that does not
/// answer leaves them out and says why.
struct QueueCounts {
    var counts: [String: Int] = [:]
    var problem: String?

    static func read(_ topologies: [RabbitMQTopology], broker: BrokerOptions) async -> QueueCounts {
        var result = QueueCounts()
        let connection: AMQPConnection
        do {
            connection = try await broker.connect("subscriptions")
        } catch {
            result.problem = "\(error)"
            return result
        }
        for topology in topologies {
            for queue in [topology.queue, topology.deadLetterQueue] {
                // A queue the gateway has not declared yet is left out (shown as "not declared"); asking for it
                // closes the channel that asks, hence one channel per queue.
                if let channel = try? await connection.openChannel(), let info = try? await channel.queueDeclarePassive(queue) {
                    result.counts[queue] = Int(info.messageCount)
                    await channel.close()
                }
            }
        }
        await connection.close()
        return result
    }

    func text(for topology: RabbitMQTopology) -> String {
        guard problem == nil else { return "" }
        guard let ready = counts[topology.queue] else { return "(queue not declared yet)" }
        return "ready=\(ready) dead-letters=\(counts[topology.deadLetterQueue].map(String.init) ?? "-")"
    }
}
