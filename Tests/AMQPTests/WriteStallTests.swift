@testable import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// A write that makes no progress (the peer stopped reading) ends the connection with `writeTimedOut` within the
/// write timeout, fails what waits on it, and `close()` does not wait longer than that. The broker is reached through
/// a proxy that stops reading on request, so the shared broker is never put under an alarm.
@Suite(.timeLimit(.minutes(1))) struct WriteStallTests {
    @Test func aStalledWriteEndsTheConnectionWithWriteTimedOutAndFailsEveryWaiter() async throws {
        let proxy = try StallingProxy.toTestBroker()
        defer { proxy.stop() }
        let timeout = Duration.seconds(2)
        let proxied = try await ProxiedConnection.open(through: proxy, writeTimeout: timeout)
        let (connection, channel, queue) = (proxied.connection, proxied.channel, proxied.queue)
        let consumer = try await connection.openChannel().consume(queue: queue)

        proxy.stall()
        let started = ContinuousClock.now
        let outcomes = await channel.publish(StallingProxy.moreThanTheBuffersHold(to: queue))
        let failedAfter = ContinuousClock.now - started

        #expect(outcomes.allSatisfy { $0.failure == .writeTimedOut(after: timeout) })
        // Not before the timeout; and ended, not hung (a busy machine may add seconds to the timer's turn).
        #expect(failedAfter >= timeout && failedAfter < timeout + .seconds(15), "failed after \(failedAfter)")
        #expect(await connection.closed() == .writeTimedOut(after: timeout))
        #expect(!connection.isOpen)
        await #expect(throws: AMQPError.writeTimedOut(after: timeout)) {
            for try await _ in consumer {}
        }
        await #expect(throws: AMQPError.writeTimedOut(after: timeout)) { _ = try await channel.queueDeclarePassive(queue) }
        await connection.close()
    }

    @Test func closeDuringAStalledWriteReturnsWithinTheWriteTimeout() async throws {
        let proxy = try StallingProxy.toTestBroker()
        defer { proxy.stop() }
        let timeout = Duration.seconds(2)
        let proxied = try await ProxiedConnection.open(through: proxy, writeTimeout: timeout, confirmWindow: nil)
        let (connection, channel, queue) = (proxied.connection, proxied.channel, proxied.queue)

        proxy.stall()
        let outcomes = Mutex<[Result<Void, AMQPError>]?>(nil)
        channel.publish(StallingProxy.moreThanTheBuffersHold(to: queue)) { results in outcomes.withLock { $0 = results } }
        let started = ContinuousClock.now
        await connection.close()
        let closedAfter = ContinuousClock.now - started

        // Bounded by the write timeout, not by the stall (a busy machine may add seconds to the timer's turn).
        #expect(closedAfter < timeout + .seconds(15), "close() took \(closedAfter)")
        #expect(await connection.closed() == .writeTimedOut(after: timeout))
        try await eventually("the stuck publishes fail") { outcomes.withLock { $0 != nil } }
        #expect(outcomes.withLock { $0 ?? [] }.contains { $0.failure == .writeTimedOut(after: timeout) })
    }

    @Test func aStalledWriteThatResumesWithinTheTimeoutCompletesNormally() async throws {
        let proxy = try StallingProxy.toTestBroker()
        defer { proxy.stop() }
        let proxied = try await ProxiedConnection.open(through: proxy, writeTimeout: .seconds(30))
        let (connection, channel, queue) = (proxied.connection, proxied.channel, proxied.queue)

        proxy.stall()
        let messages = StallingProxy.moreThanTheBuffersHold(to: queue)
        let outcomes = Mutex<[Result<Void, AMQPError>]?>(nil)
        channel.publish(messages) { results in outcomes.withLock { $0 = results } }
        try await eventually("the connection thread is stuck writing") { try await connection.isStuckWriting() }
        proxy.resume()
        try await eventually("the publishes are confirmed") { outcomes.withLock { $0 != nil } }
        #expect(outcomes.withLock { $0 ?? [] }.allSatisfy { $0.failure == nil })
        #expect(try await TestBroker.waitForMessageCount(UInt32(messages.count), in: queue, on: channel) == UInt32(messages.count))
        #expect(connection.isOpen)
        await connection.close()
    }

    @Test func theHeartbeatIntervalBoundsTheWriteTimeout() throws {
        #expect(ConnectionDriver.effectiveWriteTimeout(configured: .seconds(30), heartbeatSeconds: 0) == .seconds(30))
        #expect(ConnectionDriver.effectiveWriteTimeout(configured: .seconds(30), heartbeatSeconds: 5) == .seconds(5))
        #expect(ConnectionDriver.effectiveWriteTimeout(configured: .seconds(2), heartbeatSeconds: 60) == .seconds(2))
        #expect(ConnectionDriver.watchdogInterval(for: .seconds(30)) == .seconds(1))
        #expect(ConnectionDriver.watchdogInterval(for: .seconds(2)) == .milliseconds(500))
        #expect(ConnectionDriver.watchdogInterval(for: .milliseconds(10)) == .milliseconds(20))
        var configuration = AMQPConnectionConfiguration()
        configuration.writeTimeout = .zero
        #expect(throws: AMQPError.invalidArgument("writeTimeout must be positive")) { try configuration.validate() }
    }
}

extension StallingProxy {
    /// A proxy in front of the test broker.
    static func toTestBroker() throws -> StallingProxy {
        let endpoint = try TestBroker.configuration.endpoints[0]
        return try StallingProxy(targetHost: endpoint.host, targetPort: endpoint.port)
    }

    /// The test broker's configuration, reached through `proxy`, without heartbeats (so the broker does not end the
    /// connection on its own while the proxy stalls).
    static func configuration(
        through proxy: StallingProxy, writeTimeout: Duration, name: String = #function
    ) throws -> AMQPConnectionConfiguration {
        var configuration = try TestBroker.configuration
        configuration.endpoints = [.init(host: "127.0.0.1", port: proxy.port)]
        configuration.heartbeatSeconds = 0
        configuration.writeTimeout = writeTimeout
        configuration.connectionName = "test-\(name.prefix(while: { $0 != "(" }))-\(UInt32.random(in: 0...UInt32.max))"
        return configuration
    }

    /// 16 MiB of messages: more than the socket buffers between the client and a stalled proxy hold, so writing them
    /// blocks until the proxy resumes.
    static func moreThanTheBuffersHold(to queue: String) -> [AMQPOutboundMessage] {
        (0..<16).map { index in AMQPOutboundMessage(Data(count: 1_048_576), routingKey: queue, properties: .init(messageID: "big-\(index)")) }
    }
}

extension AMQPConnection {
    /// Whether the connection thread is in a turn and made no progress for 200 ms: blocked in a write.
    func isStuckWriting() async throws -> Bool {
        let before = driver.writeProgress.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(200))
        return driver.inTurn.load(ordering: .relaxed) && driver.writeProgress.load(ordering: .relaxed) == before
    }
}

extension Result where Failure == AMQPError {
    /// The error, or `nil` for a success.
    var failure: AMQPError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
