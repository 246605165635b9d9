@testable import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// `publish(_:deadline:)`: a message still unsent when its deadline passes is withdrawn (`publishWithdrawn`) and
/// never reaches the broker, wherever it waited: in the command queue, behind a stalled write, or behind a full
/// confirm window.
@Suite(.timeLimit(.minutes(1))) struct PublishWithdrawalTests {
    @Test func aBatchWhoseDeadlineHasPassedIsWithdrawnAndNeverArrives() async throws {
        try await withQueue { _, channel, queue in
            try await channel.confirmSelect()
            let late = (0..<3).map { AMQPOutboundMessage(Data("late-\($0)".utf8), routingKey: queue) }
            let outcomes = await channel.publish(late, deadline: .now - .seconds(1))
            #expect(outcomes.map(\.failure) == Array(repeating: .publishWithdrawn, count: 3))

            // A message published after them arrives alone: the withdrawn ones were never sent.
            #expect(await channel.publish([AMQPOutboundMessage(Data("marker".utf8), routingKey: queue)], deadline: .now + .seconds(30)).map(\.failure) == [nil])
            #expect(try await TestBroker.waitForMessageCount(1, in: queue, on: channel) == 1)
            let only = try #require(try await channel.get(queue: queue, noAck: true))
            #expect(only.body == Data("marker".utf8))
        }
    }

    @Test func aBatchQueuedBehindAStalledWriteIsWithdrawnAtItsDeadlineAndNeverSent() async throws {
        let proxy = try StallingProxy.toTestBroker()
        defer { proxy.stop() }
        let proxied = try await ProxiedConnection.open(through: proxy, writeTimeout: .seconds(30))
        let (connection, channel, queue) = (proxied.connection, proxied.channel, proxied.queue)

        proxy.stall()
        let big = StallingProxy.moreThanTheBuffersHold(to: queue)
        let bigOutcomes = Mutex<[Result<Void, AMQPError>]?>(nil)
        channel.publish(big) { results in bigOutcomes.withLock { $0 = results } }
        try await eventually("the connection thread is stuck writing") { try await connection.isStuckWriting() }

        let small = (0..<2).map { AMQPOutboundMessage(Data("small-\($0)".utf8), routingKey: queue) }
        let smallOutcomes = Mutex<[Result<Void, AMQPError>]?>(nil)
        channel.publish(small, deadline: .now + .milliseconds(300)) { results in smallOutcomes.withLock { $0 = results } }
        // Withdrawn while the write is still stuck: the caller hears at its deadline, not when the write resumes.
        try await eventually("the queued batch is withdrawn") { smallOutcomes.withLock { $0 != nil } }
        #expect(smallOutcomes.withLock { $0 ?? [] }.map(\.failure) == [.publishWithdrawn, .publishWithdrawn])
        #expect(bigOutcomes.withLock { $0 == nil })

        proxy.resume()
        try await eventually("the stuck publishes are confirmed") { bigOutcomes.withLock { $0 != nil } }
        #expect(bigOutcomes.withLock { $0 ?? [] }.allSatisfy { $0.failure == nil })
        try await channel.publish(Data("marker".utf8), routingKey: queue)
        #expect(try await TestBroker.waitForMessageCount(UInt32(big.count + 1), in: queue, on: channel) == UInt32(big.count + 1))
        await connection.close()
    }

    @Test func aPublishHeldBackByAFullConfirmWindowIsWithdrawnAtItsDeadline() async throws {
        let proxy = try StallingProxy.toTestBroker()
        defer { proxy.stop() }
        let proxied = try await ProxiedConnection.open(through: proxy, writeTimeout: .seconds(30), confirmWindow: 1)
        let (connection, channel, queue) = (proxied.connection, proxied.channel, proxied.queue)

        // The first message takes the window: with the proxy stalled its confirm cannot come, so the second waits.
        proxy.stall()
        let first = Mutex<[Result<Void, AMQPError>]?>(nil)
        channel.publish([AMQPOutboundMessage(Data("first".utf8), routingKey: queue)]) { results in first.withLock { $0 = results } }
        let second = Mutex<[Result<Void, AMQPError>]?>(nil)
        let started = ContinuousClock.now
        channel.publish([AMQPOutboundMessage(Data("second".utf8), routingKey: queue)], deadline: .now + .milliseconds(300)) { results in
            second.withLock { $0 = results }
        }
        try await eventually("the held-back publish is withdrawn") { second.withLock { $0 != nil } }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(second.withLock { $0 ?? [] }.map(\.failure) == [.publishWithdrawn])

        proxy.resume()
        try await eventually("the first publish is confirmed") { first.withLock { $0 != nil } }
        #expect(first.withLock { $0 ?? [] }.map(\.failure) == [nil])
        try await channel.publish(Data("marker".utf8), routingKey: queue)
        #expect(try await TestBroker.waitForMessageCount(2, in: queue, on: channel) == 2)
        let bodies = [try await channel.get(queue: queue, noAck: true)?.body, try await channel.get(queue: queue, noAck: true)?.body]
        #expect(bodies == [Data("first".utf8), Data("marker".utf8)])
        await connection.close()
    }
}
