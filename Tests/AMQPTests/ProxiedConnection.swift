import AMQP
import TestSupport

/// A connection to the test broker through a ``StallingProxy``, with a channel and an exclusive queue of its own:
/// the set-up of every test that stalls the connection's writes.
struct ProxiedConnection {
    let connection: AMQPConnection
    let channel: AMQPChannel
    let queue: String

    /// Connects through `proxy`; puts the channel in confirm mode with `confirmWindow` unless it is `nil`.
    static func open(
        through proxy: StallingProxy, writeTimeout: Duration, confirmWindow: Int? = 1_000, name: String = #function
    ) async throws -> ProxiedConnection {
        let connection = try await AMQPConnection.connect(try StallingProxy.configuration(through: proxy, writeTimeout: writeTimeout))
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName(name)
        try await channel.queueDeclare(queue, durable: false, exclusive: true)
        if let confirmWindow { try await channel.confirmSelect(window: confirmWindow) }
        return ProxiedConnection(connection: connection, channel: channel, queue: queue)
    }
}
