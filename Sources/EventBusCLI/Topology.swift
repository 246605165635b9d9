import AMQP
import ArgumentParser
import Foundation

/// `eventbus topology`: shows a service's queues (ready messages and consumers).
struct Topology: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a service's queue, dead-letter queue and retry queues.")

    @OptionGroup var broker: BrokerOptions
    @Option(help: "The service's queue.") var queue: String
    @Option(help: "Retry delays to look for, in milliseconds (default: Event Grid's schedule).")
    var retryDelays: [Int] = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000]

    func run() async throws {
        let connection = try await broker.connect("topology")
        let service = try await existingQueue(queue, on: connection, hint: "--queue names a service's queue (by default the service's name)")
        print("\(queue): \(service.messageCount) ready, \(service.consumerCount) consumer(s)")
        for name in ["\(queue).dead-letter"] + retryDelays.map({ "\(queue).retry.\($0)" }) {
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
