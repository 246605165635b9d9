import AMQP
import EventBus
import EventBusRabbitMQ
import Foundation
import TestSupport
import Testing

/// DESIGN section 11 on the local three-node cluster of scripts/cluster.sh: services given every node in their URL
/// move to another node when theirs goes away, and quorum queues keep every event.
/// The tests take turns: each starts the one cluster afresh and stops it.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ClusterFailoverTests {
    /// Runs `scenario` on a freshly started cluster and stops the cluster afterwards.
    func onFreshCluster(_ scenario: () async throws -> Void) async throws {
        try await ClusterControl.run(["start", "--fresh"])
        do {
            try await scenario()
        } catch {
            _ = try? await ClusterControl.run(["stop"])
            throw error
        }
        try await ClusterControl.run(["stop"])
    }

    /// `stop-node`: an operator stops the node (a rolling upgrade); `kill-node`: its Erlang VM dies (SIGKILL).
    @Test(arguments: ["stop-node", "kill-node"])
    func losingTheNodeBothServicesUseMidStreamLosesNoEventAndHandlesNoneTwice(_ how: String) async throws {
        try await onFreshCluster { try await failoverScenario(losingNodeOne: how) }
    }

    @Test func confirmsWithheldByAQueueWithoutMajorityMakeTheBusReplaceItsChannelAndThePublishTimesOut() async throws {
        try await onFreshCluster {
            let exchange = TestEnvironment.unique("exchange")
            let nodeOne = "amqp://guest:guest@127.0.0.1:\(ClusterControl.port(ofNode: 1))/"
            let basket = try RunningBus(service: TestEnvironment.unique("basket-quorum"), exchange: exchange, url: nodeOne) {
                $0.exchangeDurable = true
                $0.queueType = .quorum
            }
            try await basket.bus.subscribe(PriceChanged.self) { _, _ in }
            basket.start()
            let log = LogCapture()
            let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange, url: nodeOne, logger: log.logger()) {
                $0.exchangeDurable = true
                $0.publishTimeout = .seconds(6)
                $0.publishConfirmStallTimeout = .seconds(1)
            }
            catalog.start()
            let inspector = try await Inspector.open(url: nodeOne)
            try await inspector.waitForConsumers(basket.service)
            try await catalog.bus.publish(PriceChanged(productId: 1, newPrice: 1, oldPrice: 2))

            // Two of three nodes gone: the queue cannot commit, so the broker neither confirms nor nacks.
            let (event, failure) = try await publishAfterStopping(nodes: [2, 3], from: catalog, to: basket, watched: inspector)
            guard case EventBusError.publishTimedOut(let id, _)? = failure else {
                Issue.record("expected publishTimedOut, got \(failure.map { "\($0)" } ?? "success")")
                return
            }
            #expect(id == event.id.uuidString.lowercased())
            let stalls = log.messages(at: .warning).filter { $0.contains("no publisher confirm for 1.0 seconds; closing the publishing channel") }
            #expect(stalls.count >= 2, "each replacement channel stalls too: \(log.messages(at: .warning))")
        }
    }

    @Test func publishingToAClassicQueueWhoseNodeIsDownFailsAtOnceAndSaysWhy() async throws {
        try await onFreshCluster {
            let exchange = TestEnvironment.unique("exchange")
            let service = TestEnvironment.unique("basket-classic")
            let nodeTwo = "amqp://guest:guest@127.0.0.1:\(ClusterControl.port(ofNode: 2))/"
            // The classic queue lives on node 1, where its service declares it.
            let basket = try RunningBus(service: service, exchange: exchange, url: ClusterControl.url) { $0.exchangeDurable = true }
            try await basket.bus.subscribe(PriceChanged.self) { _, _ in }
            let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange, url: nodeTwo) {
                $0.exchangeDurable = true
            }
            basket.start()
            catalog.start()
            let inspector = try await Inspector.open(url: nodeTwo)
            try await inspector.waitForConsumers(service)
            try await catalog.bus.publish(PriceChanged(productId: 1, newPrice: 1, oldPrice: 2))
            let (event, failure) = try await publishAfterStopping(nodes: [1], from: catalog, to: basket, watched: inspector)
            // publishFailed, not publishTimedOut: the broker says at once that no queue took the event.
            guard case EventBusError.publishFailed(let id, let reason)? = failure else {
                Issue.record("expected publishFailed, got \(failure.map { "\($0)" } ?? "success")")
                return
            }
            #expect(id == event.id.uuidString.lowercased())
            #expect(reason.contains("none of the bound ones is available, e.g. a classic queue whose node is down"), "\(reason)")
        }
    }

    /// Stops `nodes`, publishes one event from `catalog`, then stops both services and closes the inspector; returns
    /// the event and what `publish` threw (`nil` when it succeeded).
    private func publishAfterStopping(
        nodes: [Int], from catalog: RunningBus, to basket: RunningBus, watched inspector: Inspector
    ) async throws -> (PriceChanged, (any Error)?) {
        for node in nodes { try await ClusterControl.run(["stop-node", "\(node)"]) }
        let event = PriceChanged(productId: 2, newPrice: 1, oldPrice: 2)
        var failure: (any Error)?
        do {
            try await catalog.bus.publish(event)
        } catch {
            failure = error
        }
        await catalog.stop()
        await basket.stop()
        await inspector.connection.close()
        return (event, failure)
    }

    func failoverScenario(losingNodeOne how: String) async throws {
        let services = try await CountingServices.start(url: ClusterControl.url) { $0.queueType = .quorum }
        // Node 2 stays up: the inspector watches from there.
        let inspector = try await Inspector.open(url: "amqp://guest:guest@127.0.0.1:\(ClusterControl.port(ofNode: 2))/")
        try await inspector.waitForConsumers(services.service)
        let ports = try await serviceConnectionPorts()
        #expect(ports.count >= 2 && ports.allSatisfy { $0 == ClusterControl.port(ofNode: 1) },
                "both services start on node 1, the first in their URL: \(ports)")
        try await services.stream(5_000) { try await ClusterControl.run([how, "1"]) }
        #expect(try await inspector.messageCount(services.service) == 0)
        #expect(try await inspector.messageCount("\(services.service).dead-letter") == 0)
        await services.stop()
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
