import AsyncHTTPClient
import EventBus
import EventBusGateway
import Foundation
import Hummingbird
import Synchronization

/// What the receiver does with one notification.
enum Reply: Sendable {
    case status(Int)
    /// Never answers (until the receiver stops).
    case hang
    /// Answers 200 once `wait` returns.
    case after(@Sendable () async -> Void)
}

/// A request the receiver got.
struct Received: Sendable {
    var body: Data
    var headers: [String: String]
    var at: ContinuousClock.Instant
    /// The ids of the events in the body (CloudEvents or Event Grid, one or an array).
    var ids: [String] {
        switch try? JSONValue.parse(body) {
        case .object(let object)?: if case .string(let id)? = object["id"] { return [id] }
        case .array(let items)?:
            return items.compactMap { if case .object(let o) = $0, case .string(let id)? = o["id"] { id } else { nil } }
        default: break
        }
        return []
    }
}

final class ReceiverLog: Sendable {
    struct State {
        var notifications: [Received] = []
        var handshakes: [ContinuousClock.Instant] = []
        var validatedAt: ContinuousClock.Instant?
    }
    let state = Mutex(State())
}

/// A webhook endpoint in the test process on 127.0.0.1: answers the validation handshake when `validates` says so
/// (given the handshake's 1-based number), and each notification as `script` says (given its 1-based number).
final class TestReceiver: Sendable {
    let port: Int
    private let task: Task<Void, any Error>
    private let log = ReceiverLog()

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var notifications: [Received] { log.state.withLock { $0.notifications } }
    var handshakes: Int { log.state.withLock { $0.handshakes.count } }
    var validatedAt: ContinuousClock.Instant? { log.state.withLock { $0.validatedAt } }
    /// Every event id delivered, in arrival order (with repeats).
    var deliveredIDs: [String] { notifications.flatMap(\.ids) }

    init(validates: @escaping @Sendable (Int) -> Bool = { _ in true }, script: @escaping @Sendable (Int) -> Reply = { _ in .status(200) }) async throws {
        let log = self.log
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = Data(buffer: try await request.body.collect(upTo: 16 * 1_048_576))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            if headers["aeg-event-type"] == "SubscriptionValidation" {
                let number = log.state.withLock { state in
                    state.handshakes.append(.now)
                    return state.handshakes.count
                }
                guard validates(number),
                      case .array(let items) = try JSONValue.parse(body), case .object(let event)? = items.first,
                      case .string(let code)? = event["data"]?.value(atPath: "validationCode")
                else { return Response(status: .forbidden) }
                log.state.withLock { $0.validatedAt = $0.validatedAt ?? .now }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(["validationResponse": .string(code)]).jsonData())))
            }
            let number = log.state.withLock { state in
                state.notifications.append(Received(body: body, headers: headers, at: .now))
                return state.notifications.count
            }
            switch script(number) {
            case .status(let code): return Response(status: .init(code: code))
            case .hang:
                try await Task.sleep(for: .seconds(3_600))
                return Response(status: .ok)
            case .after(let wait):
                await wait()
                return Response(status: .ok)
            }
        }
        let ready = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in ready.continuation.yield(channel.localAddress?.port ?? 0) })
        self.task = Task { try await application.run() }
        var port = 0
        for await value in ready.stream { port = value; break }
        self.port = port
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
