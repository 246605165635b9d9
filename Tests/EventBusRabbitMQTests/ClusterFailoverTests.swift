import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// DESIGN section 11 on the local three-node cluster of scripts/cluster.sh: services given every node in their URL
/// move to another node when theirs goes away, and quorum queues keep every event.
@Suite(.timeLimit(.minutes(5))) struct ClusterFailoverTests {
    @Test func stoppingTheNodeBothServicesUseMidStreamLosesNoEventAndHandlesNoneTwice() async throws {
        try await ClusterControl.run(["start", "--fresh"])
        do {
            try await failoverScenario()
        } catch {
            _ = try? await ClusterControl.run(["stop"])
            throw error
        }
        try await ClusterControl.run(["stop"])
    }

    func failoverScenario() async throws {
        let url = ClusterControl.url
        let exchange = TestEnvironment.unique("exchange")
        let service = TestEnvironment.unique("basket")
        let basket = try RunningBus(service: service, exchange: exchange, url: url) {
            $0.exchangeDurable = true
            $0.queueType = .quorum
        }
        let effects = Recorder()
        try await basket.bus.subscribe(PriceChanged.self) { event, _ in await effects.record(event.id.uuidString) }
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange, url: url) {
            $0.exchangeDurable = true
            $0.publishTimeout = .seconds(60)
        }
        basket.start()
        catalog.start()
        // Node 2 stays up: the inspector watches from there.
        let inspector = try await Inspector.open(url: "amqp://guest:guest@127.0.0.1:\(ClusterControl.port(ofNode: 2))/")
        try await inspector.waitForConsumers(service)
        let ports = try await serviceConnectionPorts()
        #expect(ports.count >= 2 && ports.allSatisfy { $0 == ClusterControl.port(ofNode: 1) },
                "both services start on node 1, the first in their URL: \(ports)")

        let total = 5_000
        let publishing = Task { try await publishConcurrently(total, with: catalog.bus) }
        try await eventually("a first part is handled") { await effects.distinct >= 1_000 }
        try await ClusterControl.run(["stop-node", "1"])
        try await publishing.value
        do {
            try await eventually("every event handled after node 1 stopped", timeout: .seconds(90)) { await effects.distinct == total }
        } catch {
            let handled = await effects.distinct
            let ready = try? await inspector.messageCount(service)
            Issue.record("\(handled) of \(total) handled; \(ready.map(String.init) ?? "?") ready in \(service)")
            throw error
        }
        #expect(await effects.total == total)
        #expect(await effects.maxCallsPerID == 1)
        #expect(try await inspector.messageCount(service) == 0)
        #expect(try await inspector.messageCount("\(service).dead-letter") == 0)
        await basket.stop()
        await catalog.stop()
        await inspector.connection.close()
    }

    /// The broker port (so the node) of every client connection in the cluster but the inspector's.
    private func serviceConnectionPorts() async throws -> [Int] {
        let listing = try await ClusterControl.run(["ctl", "2", "list_connections", "--no-table-headers", "--silent", "port", "client_properties"])
        return listing.split(separator: "\n").filter { !$0.contains("test-inspector") }.compactMap { line in
            line.split(separator: "\t").first.flatMap { Int($0) }
        }
    }
}
