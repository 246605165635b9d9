import AMQP
import AsyncHTTPClient
import EventBus
import EventBusGateway
import EventBusRabbitMQ
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// A gateway for one test on its own exchange and queue prefix, on a free port, with fast retries and handshakes.
final class GatewayHarness: Sendable {
    static let key = "test-key-0123456789abcdef"
    let gateway: GatewayService
    let exchange: String
    let prefix: String
    let port: Int
    private let task: Task<Void, any Error>

    init(
        exchange: String = TestEnvironment.unique("gateway-exchange"), prefix: String = TestEnvironment.unique("gw") + ".",
        subscriptions: [String: WebhookSubscription] = [:],
        stores: (subscriptions: any SubscriptionStore, processed: any ProcessedMessageStore) = (InMemorySubscriptionStore(), InMemoryProcessedMessageStore()),
        configure: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws {
        var configuration = GatewayConfiguration(brokerURL: TestEnvironment.brokerURL, keys: [Self.key])
        configuration.port = 0
        configuration.exchange = exchange
        configuration.queuePrefix = prefix
        configuration.subscriptions = subscriptions
        configuration.handshakeRetryDelay = .milliseconds(50)
        configure(&configuration)
        let gateway = GatewayService(configuration: configuration, stores: stores, logger: TestLogging.logger("test.gateway"))
        self.gateway = gateway
        self.exchange = exchange
        self.prefix = prefix
        self.task = Task { try await gateway.run() }
        self.port = try await gateway.listeningPort()
    }

    /// Waits until every subscription's queue is consumed (bound, so publishes route).
    func waitForSubscriptions(_ names: [String], inspector: Inspector) async throws {
        for name in names { try await inspector.waitForConsumers(prefix + name) }
    }

    func queue(_ name: String) -> String { prefix + name }

    /// Sends a request to the gateway; returns the status and body.
    func request(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/cloudevents-batch+json",
        headers: [(String, String)]? = nil
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers ?? [("aeg-sas-key", Self.key)] { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let answer = try await response.body.collect(upTo: 16 * 1_048_576)
        return (Int(response.status.code), Data(buffer: answer))
    }

    /// Publishes CloudEvents (as a batch) and expects 200.
    func publish(_ events: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let answer = try await request(.POST, "/api/events", body: JSONValue.array(events).jsonData())
        #expect(answer.status == 200, "publish answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Stops the gateway and deletes its queues and exchange.
    func cleanUp(subscriptions: [String]) async {
        await stop()
        for name in subscriptions {
            if let inspector = try? await Inspector.open() {
                await inspector.cleanUp(queue: queue(name), exchange: exchange)
            }
        }
        if let inspector = try? await Inspector.open() { await inspector.cleanUp(queue: prefix + "none", exchange: exchange) }
    }
}

/// A CloudEvent as JSON.
func cloudEvent(id: String = UUID().uuidString.lowercased(), type: String, subject: String? = nil, data: JSONValue = .object(["price": .integer(10)])) -> JSONValue {
    var object: [String: JSONValue] = [
        "specversion": .string("1.0"), "id": .string(id), "source": .string("/tests"), "type": .string(type), "data": data,
    ]
    if let subject { object["subject"] = .string(subject) }
    return .object(object)
}

/// A subscription to `type` at `receiver`, on 127.0.0.1 (so with the private-range opt-in) and fast retries.
func hook(
    _ receiver: TestReceiver, type: String, attempts: Int = 5, timeoutSeconds: Int? = nil, secret: String? = nil,
    handshake: Bool = true, allowPrivate: Bool = true
) -> WebhookSubscription {
    var subscription = WebhookSubscription(endpointUrl: receiver.url, eventTypes: [type])
    subscription.allowPrivateNetworks = allowPrivate
    subscription.retryPolicy = .init(maxDeliveryAttempts: attempts, eventTimeToLiveInMinutes: 60, delaysInMilliseconds: [50])
    subscription.timeoutInSeconds = timeoutSeconds
    subscription.secret = secret
    subscription.validationHandshake = handshake
    return subscription
}

/// The dead letters of a subscription's queue, read with their headers as text.
func deadLetters(_ queue: String, _ inspector: Inspector) async throws -> [(headers: [String: String], body: Data)] {
    try await inspector.drain(RabbitMQTopology(queue: queue).deadLetterQueue).map { delivery in
        var headers: [String: String] = [:]
        for (key, value) in delivery.properties.headers ?? [:] {
            switch value {
            case .string(let text): headers[key] = text
            case .int32(let number): headers[key] = String(number)
            case .int64(let number): headers[key] = String(number)
            default: continue
            }
        }
        return (headers, Data(delivery.body))
    }
}
