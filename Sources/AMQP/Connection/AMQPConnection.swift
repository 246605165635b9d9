import Foundation
import Logging

/// A connection to a RabbitMQ broker, driven by a dedicated thread.
///
/// librabbitmq-c is not thread-safe and services heartbeats only inside its own calls, so each connection owns
/// one thread that performs every library call; the async methods here queue work for it and resume when the
/// broker has answered. Any number of tasks may use one connection and its channels at once.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:5672/")
/// let channel = try await connection.openChannel()
/// try await channel.confirmSelect()
/// try await channel.publish(Data("hello".utf8), routingKey: "greetings")
/// await connection.close()
/// ```
///
/// When the connection ends (``close()``, a broker close, a lost socket or a heartbeat timeout), every pending
/// operation fails with an ``AMQPError`` and every consumer's sequence ends with it. This type does not reconnect;
/// the event bus above it does.
public final class AMQPConnection: Sendable, CustomStringConvertible {
    let driver: ConnectionDriver

    /// The configuration the connection was opened with.
    public var configuration: AMQPConnectionConfiguration { driver.configuration }

    private init(driver: ConnectionDriver) {
        self.driver = driver
    }

    deinit {
        driver.requestClose()
    }

    /// Connects and logs in, trying each configured endpoint in order.
    ///
    /// Costs a TCP (and TLS) handshake and the AMQP handshake: a few round trips. Throws
    /// ``AMQPError/connectionRefused(host:port:reason:)``, ``AMQPError/connectionTimedOut(host:port:)``,
    /// ``AMQPError/authenticationFailed(user:reason:)``, ``AMQPError/virtualHostAccessRefused(vhost:reason:)`` or
    /// ``AMQPError/tls(_:detail:)``.
    public static func connect(
        _ configuration: AMQPConnectionConfiguration,
        logger: Logger = Logger(label: "eventbus.amqp", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> AMQPConnection {
        try configuration.validate()
        var logger = logger
        logger[metadataKey: "amqp.connection"] = "\(configuration.connectionName ?? "connection")"
        let driver = ConnectionDriver(configuration: configuration, logger: logger)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            driver.start { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
        return AMQPConnection(driver: driver)
    }

    /// Connects to the broker at `url` (see ``AMQPConnectionConfiguration/init(url:)``).
    public static func connect(
        url: String,
        connectionName: String? = nil,
        logger: Logger = Logger(label: "eventbus.amqp", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> AMQPConnection {
        var configuration = try AMQPConnectionConfiguration(url: url)
        configuration.connectionName = connectionName
        return try await connect(configuration, logger: logger)
    }

    /// Opens a new channel: one round trip.
    public func openChannel() async throws -> AMQPChannel {
        let state = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChannelState, any Error>) in
            driver.submit(.closure(
                run: { driver in driver.openChannel { continuation.resume(with: $0.mapError { $0 as any Error }) } },
                fail: { continuation.resume(throwing: $0) }))
        }
        return AMQPChannel(connection: self, state: state)
    }

    /// Closes the connection cleanly (`connection.close`) and waits until the thread has exited. Pending operations
    /// fail with ``AMQPError/connectionClosed``. Closing twice is harmless.
    public func close() async {
        driver.requestClose()
        _ = await driver.waitUntilClosed()
    }

    /// Waits until the connection ends and returns why: `nil` when ``close()`` closed it.
    public func closed() async -> AMQPError? {
        await driver.waitUntilClosed()
    }

    /// `false` once the connection has ended, whatever the reason.
    public var isOpen: Bool { !driver.isClosed }

    /// `true` while the broker blocks this connection (flow control; publishes wait, nothing is lost).
    public var isBlocked: Bool { driver.isBlocked }

    /// A new sequence of this connection's events (blocked, unblocked, closed). It ends after `.closed`.
    public func events() -> AsyncStream<AMQPConnectionEvent> { driver.events() }

    /// The connection's own thread as a task executor. A task that prefers it (`withTaskExecutorPreference` or
    /// `Task(executorPreference:)`) runs on that thread between its turns of reading and writing, so each delivery
    /// or confirm resumes it without waking another thread, and the acks and publishes it queues are written
    /// without a wake-up either: less latency and less CPU per message for a consumer loop.
    ///
    /// While such a task runs, the connection reads nothing and sends no heartbeat: keep its synchronous stretches
    /// short (as on any Swift concurrency thread) and move long computations elsewhere; a stretch of more than a
    /// second is logged as a warning. Once the connection has ended, the task's jobs run on the global concurrent
    /// executor.
    public var taskExecutor: any TaskExecutor { driver }

    /// The configuration's URL with the password masked.
    public var description: String { "AMQPConnection(\(driver.configuration))" }
}
