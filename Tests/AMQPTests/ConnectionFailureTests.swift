import AMQP
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(1))) struct ConnectionFailureTests {
    @Test func wrongPasswordFailsWithTheAuthenticationErrorWithinSeconds() async throws {
        var configuration = try TestBroker.configuration
        configuration.password = "definitely-wrong"
        let started = ContinuousClock.now
        do {
            _ = try await AMQPConnection.connect(configuration)
            Issue.record("a wrong password must be refused")
        } catch let error as AMQPError {
            guard case .authenticationFailed(let user, _) = error else {
                Issue.record("expected authenticationFailed, got \(error)")
                return
            }
            #expect(user == configuration.user)
            #expect(!error.description.contains("definitely-wrong"))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func unknownVirtualHostIsRefusedByName() async throws {
        var configuration = try TestBroker.configuration
        configuration.virtualHost = "no-such-vhost"
        await #expect(throws: AMQPError.virtualHostAccessRefused(vhost: "no-such-vhost", reason: "NOT_ALLOWED - vhost no-such-vhost not found")) {
            _ = try await AMQPConnection.connect(configuration)
        }
    }

    @Test func closedPortFailsWithAConnectionError() async throws {
        var configuration = try TestBroker.configuration
        configuration.endpoints = [.init(host: "127.0.0.1", port: 1)]
        do {
            _ = try await AMQPConnection.connect(configuration)
            Issue.record("nothing listens on port 1")
        } catch let error as AMQPError {
            guard case .connectionRefused(let host, let port, let reason) = error else {
                Issue.record("expected connectionRefused, got \(error)")
                return
            }
            #expect(host == "127.0.0.1" && port == 1)
            #expect(reason.contains("Connection refused"), "the system's reason, not a leftover errno: \(reason)")
        }
    }

    @Test func failoverTriesTheNextEndpoint() async throws {
        var configuration = try TestBroker.configuration
        configuration.endpoints.insert(.init(host: "127.0.0.1", port: 1), at: 0)
        let connection = try await AMQPConnection.connect(configuration)
        let channel = try await connection.openChannel()
        _ = try await channel.queueDeclare("", durable: false, exclusive: true)
        await connection.close()
    }

    @Test func redeclaringAQueueWithOtherArgumentsFailsOnlyThatChannel() async throws {
        try await withQueue { connection, channel, queue in
            do {
                try await channel.queueDeclare(queue, arguments: ["x-max-length": 10])
                Issue.record("re-declaring with other arguments must fail")
            } catch let error as AMQPError {
                #expect(error.replyCode == .preconditionFailed)
                guard case .channelClosedByBroker = error else {
                    Issue.record("expected channelClosedByBroker, got \(error)")
                    return
                }
            }
            #expect(!channel.isOpen)
            #expect(connection.isOpen)
            let fresh = try await connection.openChannel()
            let info = try await fresh.queueDeclare(queue)
            #expect(info.name == queue)
        }
    }

    @Test func operationsOnAClosedChannelFailFast() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        await channel.close()
        #expect(channel.closeReason == .channelClosed)
        await #expect(throws: AMQPError.channelClosed) { try await channel.queueDeclare("", exclusive: true) }
        #expect(throws: AMQPError.channelClosed) { try channel.ack(1) }
        await connection.close()
        await #expect(throws: AMQPError.connectionClosed) { _ = try await connection.openChannel() }
        #expect(await connection.closed() == nil)
    }

    @Test func connectionWithA2SecondHeartbeatStaysOpenThrough10SecondsIdle() async throws {
        let connection = try await TestBroker.connect(heartbeat: 2)
        let channel = try await connection.openChannel()
        // Idle on purpose: without heartbeats from us, the broker would close the connection after about 4 s.
        try await Task.sleep(for: .seconds(10))
        #expect(connection.isOpen)
        let info = try await channel.queueDeclare("", durable: false, exclusive: true)
        #expect(info.messageCount == 0)
        await connection.close()
    }

    @Test func connectionClosedByTheBrokerFailsPendingPublishesWithATypedError() async throws {
        var configuration = try TestBroker.configuration
        let name = TestBroker.uniqueName("forced-close")
        configuration.connectionName = name
        let connection = try await AMQPConnection.connect(configuration)
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName()
        // The publisher below runs flat out until the broker closes the connection, and a rabbitmqctl run takes
        // seconds on a busy machine. So the connection is looked up before it starts, a length limit keeps the queue
        // (the shared broker's memory) small, and the publisher is a child task that stops when the test is cancelled.
        // It once was an unstructured task that outlived a timed-out test and loaded the shared broker for the rest
        // of the run.
        let process = try await BrokerControl.connectionProcess(named: name)
        try await channel.queueDeclare(queue, durable: false, autoDelete: false, arguments: ["x-max-length": 100])
        try await channel.confirmSelect(window: 10)

        let firstConfirm = AsyncStream.makeStream(of: Void.self)
        async let outcome: (Int, (any Error)?) = {
            var confirmed = 0
            do {
                while !Task.isCancelled {
                    try await channel.publish(Data(count: 1_024), routingKey: queue, properties: .init(deliveryMode: .persistent))
                    confirmed += 1
                    if confirmed == 1 { firstConfirm.continuation.finish() }
                }
                firstConfirm.continuation.finish()
                return (confirmed, nil)
            } catch {
                firstConfirm.continuation.finish()
                return (confirmed, error)
            }
        }()
        for await _ in firstConfirm.stream {}
        try await BrokerControl.closeConnection(process: process, reason: "test closes you")
        let (confirmed, error) = await outcome
        #expect(confirmed > 0)
        #expect(error as? AMQPError == .connectionClosedByBroker(replyCode: .connectionForced, replyText: "CONNECTION_FORCED - test closes you"))
        #expect(await connection.closed() == .connectionClosedByBroker(replyCode: .connectionForced, replyText: "CONNECTION_FORCED - test closes you"))
        #expect(!connection.isOpen)
        await #expect(throws: AMQPError.self) { try await channel.publish(Data(), routingKey: queue) }

        let cleanup = try await TestBroker.connect()
        try await cleanup.openChannel().queueDelete(queue)
        await cleanup.close()
    }
}

/// A memory alarm blocks every publisher of a node: this suite runs its own node, whose start takes a while when
/// every suite runs at once (hence its own, longer time limit).
@Suite(.timeLimit(.minutes(3))) struct BlockedConnectionTests {
    @Test func blockedConnectionSurfacesBlockedAndUnblockedAndPublishesWait() async throws {
        // A memory alarm blocks every publisher of the node: on the shared test broker it would stall the other
        // suites' publishes, so this test runs its own node.
        let port = Int(TestEnvironment.environment["EVENTBUS_ALARM_BROKER_PORT"] ?? "") ?? 5698
        try await BrokerControl.run(["start", "--fresh"], port: port)
        do {
            try await blockedConnectionScenario(port: port)
        } catch {
            _ = try? await BrokerControl.run(["stop"], port: port)
            throw error
        }
        try await BrokerControl.run(["stop"], port: port)
    }

    func blockedConnectionScenario(port: Int) async throws {
        func ctl(_ arguments: String...) async throws { try await BrokerControl.run(["ctl"] + arguments, port: port) }
        let connection = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:\(port)/", connectionName: "test-blocked")
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName()
        try await channel.queueDeclare(queue, durable: false)
        try await channel.confirmSelect()
        var events = connection.events().makeAsyncIterator()

        // A memory alarm blocks every publishing connection of the node (at its next publish); lift it as soon as
        // the block is seen.
        try await ctl("set_vm_memory_high_watermark", "0")
        // Whatever happens below, the alarm ends within 20 s, so a missed event fails the test instead of hanging it.
        let alarmGuard = Task {
            try await Task.sleep(for: .seconds(20))
            try? await ctl("set_vm_memory_high_watermark", "0.4")
        }
        defer { alarmGuard.cancel() }
        let triggeringPublish = Task { try await channel.publish(Data("meets the alarm".utf8), routingKey: queue) }
        let first = await events.next()
        guard case .blocked(let reason)? = first else {
            _ = try? await ctl("set_vm_memory_high_watermark", "0.4")
            Issue.record("expected a blocked event, got \(String(describing: first))")
            return
        }
        #expect(reason.contains("memory"))
        #expect(connection.isBlocked)
        // Published while blocked, it must complete only after the unblock: the client clears `isBlocked` before it
        // sends what waited, so a publish that did not wait (clearing the alarm takes a second) sees it still set.
        let blockedPublish = Task {
            try await channel.publish(Data("during alarm".utf8), routingKey: queue)
            return connection.isBlocked
        }
        try await ctl("set_vm_memory_high_watermark", "0.4")
        #expect(await events.next() == .unblocked)
        try await triggeringPublish.value
        #expect(try await blockedPublish.value == false, "the publish completed while the connection was still blocked")
        #expect(!connection.isBlocked)
        #expect(try await TestBroker.waitForMessageCount(2, in: queue, on: channel) == 2)
        try await channel.queueDelete(queue)
        await connection.close()
    }
}
