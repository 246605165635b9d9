import EventBus
import Foundation
import TestSupport
import Testing

/// `eventbus topology declare`: a service provisioned before it ever runs keeps the events published meanwhile.
@Suite(.timeLimit(.minutes(2))) struct TopologyCommandTests {
    @Test func declareProvisionsAServiceSoEventsPublishedBeforeItFirstRunsWaitForIt() async throws {
        let service = TestEnvironment.unique("cli-provisioned")
        let exchange = TestEnvironment.unique("cli.exchange")
        let inspector = try await Inspector.open()
        let publisher = try RunningBus(service: TestEnvironment.unique("cli-catalog"), exchange: exchange)
        let arguments = [
            "topology", "declare", "--service", service, "--exchange", exchange, "--exchange-durable", "false",
            "--event-type", "PriceChanged", "--event-type", "StockChanged", "--retry-delays", "50",
        ]
        do {
            let declared = try await EventBusCLI.run(arguments)
            #expect(declared.status == 0, "\(declared.output)")
            #expect(declared.output.contains("queue \(service) (classic), bound for PriceChanged, StockChanged"), "\(declared.output)")
            #expect(declared.output.contains("retry queue \(service).retry.50"), "\(declared.output)")
            #expect(declared.output.contains("dead-letter queue \(service).dead-letter"), "\(declared.output)")

            // Published before the service ever ran: mandatory, so it would fail as unroutable without the queue.
            publisher.start()
            let event = PriceChanged(productId: 12, newPrice: 3, oldPrice: 4)
            try await publisher.bus.publish(event)
            try await eventually("the event waits in the service's queue") { try await inspector.messageCount(service) == 1 }
            #expect(try await inspector.messageCount("\(service).dead-letter") == 0)

            // Declaring again is harmless; then the service starts with the same settings and handles the event.
            let again = try await EventBusCLI.run(arguments)
            #expect(again.status == 0, "\(again.output)")
            let consumer = try RunningBus(service: service, exchange: exchange)
            let handled = Tally()
            try await consumer.bus.subscribe(PriceChanged.self, options: try testSubscription()) { received, _ in
                await handled.add(received.id.uuidString)
            }
            consumer.start()
            try await eventually("the service handles the event published before it ran") { await handled.total == 1 }
            #expect(await handled.order == [event.id.uuidString])
            await consumer.stop()
        } catch {
            await publisher.stop()
            await inspector.cleanUp(queue: service, exchange: exchange)
            throw error
        }
        await publisher.stop()
        await inspector.cleanUp(queue: service, exchange: exchange)
    }

    @Test func declareRefusesSettingsThatDifferFromTheQueueOnTheBroker() async throws {
        let service = TestEnvironment.unique("cli-provisioned")
        let exchange = TestEnvironment.unique("cli.exchange")
        let inspector = try await Inspector.open()
        let base = ["topology", "declare", "--service", service, "--exchange", exchange, "--event-type", "PriceChanged", "--retry-delays", "50"]
        let first = try await EventBusCLI.run(base)
        let other = try await EventBusCLI.run(base + ["--queue-type", "quorum"])
        let invalid = try await EventBusCLI.run(base + ["--exchange-type", "nonsense"])
        await inspector.cleanUp(queue: service, exchange: exchange)
        #expect(first.status == 0, "\(first.output)")
        #expect(other.failed)
        // The broker names the first argument that differs (x-queue-type, or x-overflow that quorum queues add).
        #expect(other.output.contains("inequivalent arg 'x-"), "\(other.output)")
        #expect(other.output.contains("match the service's configuration"), "\(other.output)")
        #expect(invalid.failed)
        #expect(invalid.output.contains("--exchange-type nonsense is not one of direct, topic, fanout, headers"), "\(invalid.output)")
    }
}
