import AMQP
import ArgumentParser
import EventBus
import EventBusRabbitMQ
import Foundation

/// `eventbus topology`: shows a service's queues, or declares them before the service first runs.
struct Topology: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a service's queues, or declare them before the service first runs.",
        subcommands: [Show.self, Declare.self], defaultSubcommand: Show.self)

    /// Event Grid's schedule, in milliseconds: the retry queues a service with the default policy has.
    static let defaultRetryDelays = RetryPolicy.eventGridDelays.map { Int($0.milliseconds) }

    /// Shows the service queue, its dead letters and its retry queues with their ready messages and consumers.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a service's queue, dead-letter queue and retry queues.")

        @OptionGroup var broker: BrokerOptions
        @Option(help: "The service's queue.") var queue: String
        @Option(help: "Retry delays to look for, in milliseconds (default: Event Grid's schedule).")
        var retryDelays: [Int] = Topology.defaultRetryDelays

        func run() async throws {
            let connection = try await broker.connect("topology")
            let service = try await existingQueue(queue, on: connection, hint: "--queue names a service's queue (by default the service's name)")
            print("\(queue): \(service.messageCount) ready, \(service.consumerCount) consumer(s)")
            let names = RabbitMQTopology(queue: queue)
            for name in [names.deadLetterQueue] + retryDelays.map({ names.retryQueue(delay: .milliseconds($0)) }) {
                // A missing queue closes the channel that asked: use one channel per look-up.
                let channel = try await connection.openChannel()
                if let info = try? await channel.queueDeclarePassive(name) {
                    print("\(name): \(info.messageCount) ready, \(info.consumerCount) consumer(s)")
                    await channel.close()
                }
            }
            await connection.close()
        }
    }

    /// Declares what a consuming service's bus declares at start-up, so that events published before it first runs
    /// wait in its queue.
    struct Declare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare a consuming service's exchange, queue, bindings, retry queues and dead-letter queue.",
            discussion: """
                What the service's bus declares when it starts, with the same settings: run it from a deploy script \
                so that events published before the service first starts wait in its queue instead of being \
                returned to their publishers as unroutable. Declaring again is harmless.
                """)

        @OptionGroup var broker: BrokerOptions
        @Option(help: "The service's name (its queue, unless --queue says otherwise).") var service: String
        @Option(help: "The service's queue (default: the service's name).") var queue: String?
        @Option(help: "Exchange.") var exchange = "event_bus"
        @Option(help: "Exchange type: direct, topic, fanout or headers.") var exchangeType = "direct"
        @Option(help: "Whether the exchange is durable (eShop's eshop_event_bus is not).") var exchangeDurable = true
        @Option(help: "Queue type: classic or quorum.") var queueType = "classic"
        @Option(name: .customLong("event-type"), help: "An event type the service subscribes to (repeat for several).")
        var eventTypes: [String]
        @Option(help: "The service's retry delays in milliseconds, one per option (default: Event Grid's schedule).")
        var retryDelays: [Int] = Topology.defaultRetryDelays

        func validate() throws {
            if eventTypes.isEmpty { throw ValidationError("give one or more --event-type (the types the service subscribes to)") }
            _ = try exchangeKind()
            _ = try queueKind()
            guard !retryDelays.isEmpty, retryDelays.allSatisfy({ (1...86_400_000).contains($0) }) else {
                throw ValidationError("--retry-delays takes milliseconds between 1 and 86400000")
            }
        }

        func run() async throws {
            var configuration = try RabbitMQEventBusConfiguration(url: broker.resolvedURL, serviceName: service)
            configuration.queueName = queue
            configuration.exchange = exchange
            configuration.exchangeType = try exchangeKind()
            configuration.exchangeDurable = exchangeDurable
            configuration.queueType = try queueKind()
            let policy = try RetryPolicy(delays: retryDelays.map { .milliseconds($0) })
            let declared: RabbitMQEventBus.DeclaredTopology
            do {
                declared = try await RabbitMQEventBus.declareTopology(configuration, eventTypes: eventTypes, retryPolicy: policy)
            } catch AMQPError.channelClosedByBroker(let code, let text) where code == .preconditionFailed {
                throw CLIError(
                    "the broker refused a declaration (\(text)): an object of that name exists with other settings (exchange type or durability, queue type); match the service's configuration")
            }
            print("exchange \(declared.exchange) (\(exchangeType)\(exchangeDurable ? ", durable" : ""))")
            print("queue \(declared.queue) (\(queueType)), bound for \(declared.boundEventTypes.joined(separator: ", "))")
            for retryQueue in declared.retryQueues { print("retry queue \(retryQueue)") }
            print("dead-letter queue \(declared.deadLetterQueue)")
        }

        private func exchangeKind() throws -> AMQPExchangeType {
            guard ["direct", "topic", "fanout", "headers"].contains(exchangeType) else {
                throw ValidationError("--exchange-type \(exchangeType) is not one of direct, topic, fanout, headers")
            }
            return AMQPExchangeType(rawValue: exchangeType)
        }

        private func queueKind() throws -> RabbitMQEventBusConfiguration.QueueType {
            guard let kind = RabbitMQEventBusConfiguration.QueueType(rawValue: queueType) else {
                throw ValidationError("--queue-type \(queueType) is not classic or quorum")
            }
            return kind
        }
    }
}
