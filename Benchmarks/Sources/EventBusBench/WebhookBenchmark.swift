import AsyncHTTPClient
import EventBus
import EventBusGateway
import EventBusRabbitMQ
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// `--mode webhook`: the gateway (`GatewayService`, in this process) from HTTP in to webhook out, against a receiver
/// on loopback (Hummingbird, in this process, answering 200 and noting when each event id arrives), next to a plain
/// HTTP client posting the same kind of bodies to that receiver alone.
///
/// Rows, each repeated `repetitions` times (medians reported):
/// - `single` / `batch 100`: `count` events POSTed to `/api/events` as CloudEvents batches of 100 by 8 concurrent
///   posters; events/s from the first POST to the last event arriving at the receiver. The subscription delivers one
///   event per request, or batches of up to 100, with `maxConcurrentDeliveries` requests in flight.
/// - `latency`: `latencyCount` single events, one per POST, sent open-loop at `rate`/s; p50 and p99 of the time from
///   starting the POST to the event's arrival at the receiver.
/// - `receiver alone`: the same client posting straight to the receiver: one event per request and batches of 100,
///   one request in flight (what a subscription with concurrency 1 does), and the same open-loop latency run.
/// - `curl, receiver alone`: `curl` posting the same bodies straight to the receiver, one after another on one
///   connection (``CurlBaseline``): a client that is not ours, for scale.
///
/// Dedup uses `InMemoryProcessedMessageStore` (as the other bus rows); the gateway publishes with confirms and the
/// subscription's bus consumes with manual acks, persistent messages on a durable classic queue.
struct WebhookBenchmark: Sendable {
    let target: BrokerTarget
    let admin: AdminSession
    let count: Int
    let latencyCount: Int
    let rate: Int
    let repetitions: Int
    let concurrency: Int
    let log: @Sendable (String) -> Void

    static let key = "bench-key-0123456789abcdef"
    static let postersPerRun = 8
    static let eventsPerPost = 100
    static let throughputTarget = 5_000.0
    static let p99TargetMilliseconds = 20.0

    /// One measured figure of a row.
    struct Figure {
        var row: String
        var eventsPerSecond: Double?
        var p50Milliseconds: Double?
        var p99Milliseconds: Double?
        var note = ""
    }

    /// Runs every row; returns the human lines and the JSON lines, and whether the targets were met.
    func run() async throws -> (lines: [String], json: [String], met: Bool) {
        let receiver = try await BenchReceiver.start()
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)))
        var figures: [Figure] = []
        do {
            figures.append(contentsOf: try await baseline(receiver: receiver, client: client))
            figures.append(try await throughput(batched: false, receiver: receiver, client: client))
            figures.append(try await throughput(batched: true, receiver: receiver, client: client))
            figures.append(try await latency(receiver: receiver, client: client))
        } catch {
            try? await client.shutdown()
            await receiver.stop()
            throw error
        }
        try? await client.shutdown()
        await receiver.stop()
        return report(figures)
    }

    // MARK: - Rows

    private func baseline(receiver: BenchReceiver, client: HTTPClient) async throws -> [Figure] {
        log("webhook: receiver alone (plain HTTP client, one request in flight)")
        var single: [Double] = [], batched: [Double] = [], p50: [Double] = [], p99: [Double] = []
        var curlSingle: [Double] = [], curlBatched: [Double] = []
        let url = receiver.url
        for repetition in 1...repetitions {
            let run = "base\(repetition)"
            let requests = min(count, 5_000)
            receiver.expect(requests)
            let started = ContinuousClock.now
            for index in 0..<requests {
                try await post(client, url: url, body: Self.body(run: run, indices: index..<(index + 1), batch: false), contentType: "application/cloudevents+json")
            }
            single.append(Double(requests) / (try await receiver.waitForAll(since: started)))
            receiver.expect(count)
            let batchStarted = ContinuousClock.now
            for first in stride(from: 0, to: count, by: Self.eventsPerPost) {
                let indices = first..<min(first + Self.eventsPerPost, count)
                try await post(client, url: url, body: Self.body(run: run + "b", indices: indices, batch: true), contentType: "application/cloudevents-batch+json")
            }
            batched.append(Double(count) / (try await receiver.waitForAll(since: batchStarted)))
            let (median, tail) = try await openLoop(client: client, receiver: receiver, run: run + "l", url: url, key: nil)
            p50.append(median)
            p99.append(tail)
            if CurlBaseline.executable != nil {
                receiver.expect(requests)
                let curlStarted = ContinuousClock.now
                try await CurlBaseline.post((0..<requests).map { Self.body(run: run + "c", indices: $0..<($0 + 1), batch: false) },
                                            to: url, contentType: "application/cloudevents+json")
                curlSingle.append(Double(requests) / (try await receiver.waitForAll(since: curlStarted)))
                receiver.expect(count)
                let curlBatchStarted = ContinuousClock.now
                let batches = stride(from: 0, to: count, by: Self.eventsPerPost).map {
                    Self.body(run: run + "cb", indices: $0..<min($0 + Self.eventsPerPost, count), batch: true)
                }
                try await CurlBaseline.post(batches, to: url, contentType: "application/cloudevents-batch+json")
                curlBatched.append(Double(count) / (try await receiver.waitForAll(since: curlBatchStarted)))
            }
        }
        let curl = curlSingle.isEmpty ? [Figure(row: "curl, receiver alone", note: "curl is not installed: no curl rows")] : [
            Figure(row: "curl, receiver alone, 1 event/request", eventsPerSecond: Self.median(curlSingle)),
            Figure(row: "curl, receiver alone, 100 events/req", eventsPerSecond: Self.median(curlBatched)),
        ]
        return [
            Figure(row: "receiver alone, 1 event/request", eventsPerSecond: Self.median(single)),
            Figure(row: "receiver alone, 100 events/request", eventsPerSecond: Self.median(batched)),
            Figure(row: "receiver alone, latency at \(rate)/s", p50Milliseconds: Self.median(p50), p99Milliseconds: Self.median(p99)),
        ] + curl
    }

    private func throughput(batched: Bool, receiver: BenchReceiver, client: HTTPClient) async throws -> Figure {
        let label = batched ? "gateway, batches of \(Self.eventsPerPost)" : "gateway, single events"
        log("webhook: \(label) (\(count) events, posted \(Self.eventsPerPost) per request by \(Self.postersPerRun) posters)")
        var rates: [Double] = [], intake: [Double] = []
        try await withGateway(batched: batched, receiver: receiver, client: client) { port in
            let url = "http://127.0.0.1:\(port)/api/events"
            for repetition in 1...repetitions {
                let run = "\(batched ? "tb" : "ts")\(repetition)"
                receiver.expect(count)
                let chunks = stride(from: 0, to: count, by: Self.eventsPerPost).map { $0..<min($0 + Self.eventsPerPost, count) }
                let next = Locked(0)
                let started = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<Self.postersPerRun {
                        group.addTask {
                            while true {
                                let chunk = next.withLock { value in
                                    defer { value += 1 }
                                    return value
                                }
                                guard chunk < chunks.count else { return }
                                try await post(client, url: url, body: Self.body(run: run, indices: chunks[chunk], batch: true),
                                               contentType: "application/cloudevents-batch+json", key: Self.key)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                intake.append(Double(count) / Self.seconds(ContinuousClock.now - started))
                rates.append(Double(count) / (try await receiver.waitForAll(since: started)))
            }
        }
        let rate = Self.median(rates)
        let met = batched ? (rate >= Self.throughputTarget ? " (target ≥ 5 000/s met)" : " (target ≥ 5 000/s MISSED)") : ""
        return Figure(row: label, eventsPerSecond: rate, note: "HTTP intake \(Format.rate(Self.median(intake))) events/s\(met)")
    }

    private func latency(receiver: BenchReceiver, client: HTTPClient) async throws -> Figure {
        log("webhook: gateway latency, \(latencyCount) single events at \(rate)/s (one per POST)")
        var p50: [Double] = [], p99: [Double] = []
        try await withGateway(batched: false, receiver: receiver, client: client) { port in
            for repetition in 1...repetitions {
                let (median, tail) = try await openLoop(
                    client: client, receiver: receiver, run: "lat\(repetition)", url: "http://127.0.0.1:\(port)/api/events", key: Self.key)
                p50.append(median)
                p99.append(tail)
            }
        }
        let tail = Self.median(p99)
        return Figure(
            row: "gateway, latency at \(rate)/s", p50Milliseconds: Self.median(p50), p99Milliseconds: tail,
            note: tail <= Self.p99TargetMilliseconds ? "(target p99 ≤ 20 ms met)" : "(target p99 ≤ 20 ms MISSED)")
    }

    /// Sends `latencyCount` single events open-loop at `rate`/s (each POST starts on its schedule, whatever the
    /// others do); returns p50 and p99 in milliseconds from the POST's start to the event's arrival.
    private func openLoop(client: HTTPClient, receiver: BenchReceiver, run: String, url: String, key: String?) async throws -> (Double, Double) {
        receiver.expect(latencyCount, timing: true)
        let interval = Duration.nanoseconds(1_000_000_000 / Int64(rate))
        let sent = Locked([ContinuousClock.Instant?](repeating: nil, count: latencyCount))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<latencyCount {
                try await Task.sleep(until: started + interval * index, clock: .continuous)
                group.addTask {
                    sent.withLock { $0[index] = .now }
                    try await post(client, url: url, body: Self.body(run: run, indices: index..<(index + 1), batch: key != nil),
                                   contentType: key != nil ? "application/cloudevents-batch+json" : "application/cloudevents+json", key: key)
                }
            }
            try await group.waitForAll()
        }
        _ = try await receiver.waitForAll(since: started)
        let arrivals = receiver.arrivals(run: run)
        let sentTimes = sent.withLock { $0 }
        var latencies: [Double] = []
        for index in 0..<latencyCount {
            guard let start = sentTimes[index], let end = arrivals[index] else { continue }
            latencies.append(Self.seconds(end - start) * 1_000)
        }
        latencies.sort()
        guard !latencies.isEmpty else { throw BenchmarkFailure("no event of the latency run arrived") }
        return (Self.rank(latencies, 0.50), Self.rank(latencies, 0.99))
    }

    // MARK: - Gateway

    private func withGateway(batched: Bool, receiver: BenchReceiver, client: HTTPClient, _ body: (Int) async throws -> Void) async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        var configuration = GatewayConfiguration(brokerURL: target.url, keys: [Self.key])
        configuration.port = 0
        configuration.exchange = "bench-webhook-\(suffix)"
        configuration.queuePrefix = "bench-webhook-\(suffix)."
        configuration.handshakeRetryDelay = .milliseconds(50)
        var subscription = WebhookSubscription(endpointUrl: receiver.url, eventTypes: [BenchReceiver.eventType])
        subscription.allowPrivateNetworks = true
        subscription.maxConcurrentDeliveries = concurrency
        if batched { subscription.batch = .init(maxEventsPerBatch: Self.eventsPerPost, preferredBatchSizeInKilobytes: 1_024) }
        configuration.subscriptions = ["bench": subscription]
        var logger = Logger(label: "eventbus-bench.gateway")
        logger.logLevel = .warning
        let gateway = GatewayService(
            configuration: configuration, stores: (InMemorySubscriptionStore(), InMemoryProcessedMessageStore()), logger: logger)
        let task = Task { try await gateway.run() }
        let policy = try subscription.validated(name: "bench").retryPolicy
        let queue = RabbitMQTopology(queue: configuration.queuePrefix + "bench")
        func cleanUp() async {
            task.cancel()
            _ = try? await task.value
            for name in queue.queues(retryDelays: policy.usedDelays) { _ = await admin.deleteQueue(name) }
            try? await admin.channel().exchangeDelete(configuration.exchange)
        }
        do {
            let port = try await gateway.listeningPort()
            try await warmUp(client: client, receiver: receiver, url: "http://127.0.0.1:\(port)/api/events")
            try await body(port)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    /// Posts one event until the gateway takes it (422 while the subscription's queue is not bound yet) and the
    /// receiver gets it (after the validation handshake).
    private func warmUp(client: HTTPClient, receiver: BenchReceiver, url: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        receiver.expect(1)
        while true {
            let status = try await post(client, url: url, body: Self.body(run: "warm", indices: 0..<1, batch: true),
                                        contentType: "application/cloudevents-batch+json", key: Self.key, accept: [200, 422])
            if status == 200 { break }
            guard ContinuousClock.now < deadline else { throw BenchmarkFailure("the gateway's subscription was not bound within 60 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await receiver.waitForAll(since: .now)
    }

    // MARK: - Helpers

    @discardableResult
    private func post(
        _ client: HTTPClient, url: String, body: ByteBuffer, contentType: String, key: String? = nil, accept: Set<Int> = [200]
    ) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: contentType)
        if let key { request.headers.add(name: "aeg-sas-key", value: key) }
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: .seconds(60))
        let answer = try await response.body.collect(upTo: 1 << 20)
        let status = Int(response.status.code)
        guard accept.contains(status) else {
            throw BenchmarkFailure("POST \(url) answered \(status): \(String(buffer: answer).prefix(300))")
        }
        return status
    }

    /// CloudEvents with ids `<run>-<index>`, about 256 bytes each: one object, or an array.
    static func body(run: String, indices: Range<Int>, batch: Bool) -> ByteBuffer {
        let time = EventDate.format(Date())
        let events = indices.map { index in
            #"{"specversion":"1.0","id":"\#(run)-\#(index)","source":"/bench","type":"\#(BenchReceiver.eventType)","time":"\#(time)","#
                + #""subject":"items/\#(index)","datacontenttype":"application/json","data":{"productId":\#(index),"newPrice":12.5,"oldPrice":10,"padding":"0123456789012345678901234567890123456789"}}"#
        }
        let text = batch ? "[" + events.joined(separator: ",") + "]" : events[0]
        return ByteBuffer(string: text)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        return rank(values.sorted(), 0.5)
    }

    /// Nearest-rank percentile of sorted values.
    static func rank(_ sorted: [Double], _ quantile: Double) -> Double {
        let position = Int((quantile * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(position, 0), sorted.count - 1)]
    }

    private func report(_ figures: [Figure]) -> (lines: [String], json: [String], met: Bool) {
        var lines = [
            "webhook (\(count) events per throughput run, latency \(latencyCount) events at \(rate)/s, "
                + "\(repetitions) repetitions, medians; subscription maxConcurrentDeliveries \(concurrency))",
        ]
        var json: [String] = []
        var met = true
        for figure in figures {
            var line = Format.pad(figure.row, 40)
            if let rate = figure.eventsPerSecond { line += Format.rate(rate) + " events/s  " }
            if let p50 = figure.p50Milliseconds, let p99 = figure.p99Milliseconds {
                line += String(format: "p50 %.2f ms  p99 %.2f ms  ", p50, p99)
            }
            line += figure.note
            lines.append(line)
            if figure.note.contains("MISSED") { met = false }
            var object: [String] = [#""mode":"webhook""#, #""row":"\#(figure.row)""#]
            if let rate = figure.eventsPerSecond { object.append(String(format: #""events_per_second":%.0f"#, rate)) }
            if let p50 = figure.p50Milliseconds { object.append(String(format: #""p50_ms":%.3f"#, p50)) }
            if let p99 = figure.p99Milliseconds { object.append(String(format: #""p99_ms":%.3f"#, p99)) }
            json.append("{" + object.joined(separator: ",") + "}")
        }
        return (lines, json, met)
    }
}

/// A value behind a lock, shareable between tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}

/// The webhook endpoint of ``WebhookBenchmark``: 127.0.0.1, answers the validation handshake and 200 to every
/// notification, counting the events (ids `<run>-<index>`) and, in timing runs, noting when each arrives.
final class BenchReceiver: Sendable {
    static let eventType = "BenchWebhookEvent"

    struct State {
        var expected = 0
        var received = 0
        var completedAt: ContinuousClock.Instant?
        var timing = false
        var arrivals: [String: ContinuousClock.Instant] = [:]
    }

    /// The state shared with the server's handler.
    final class Shared: Sendable {
        let mutex = Mutex(State())
        func withLock<Result>(_ body: (inout State) -> Result) -> Result { mutex.withLock { body(&$0) } }
    }

    let port: Int
    private let state: Shared
    private let task: Task<Void, any Error>

    var url: String { "http://127.0.0.1:\(port)/hook" }

    private init(port: Int, state: Shared, task: Task<Void, any Error>) {
        self.port = port
        self.state = state
        self.task = task
    }

    static func start() async throws -> BenchReceiver {
        let state = Shared()
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let parsed = try? JSONValue.parse(Data(buffer: body))
            if request.headers.contains(where: { $0.name.canonicalName == "aeg-event-type" && $0.value == "SubscriptionValidation" }) {
                guard case .array(let items)? = parsed, let code = items.first?.value(atPath: "data.validationCode") else {
                    return Response(status: .badRequest)
                }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(["validationResponse": code]).jsonData())))
            }
            let ids: [String]
            switch parsed {
            case .object(let object)?: ids = object["id"].flatMap { if case .string(let id) = $0 { [id] } else { nil } } ?? []
            case .array(let items)?: ids = items.compactMap { if case .string(let id)? = $0.value(atPath: "id") { id } else { nil } }
            default: ids = []
            }
            let now = ContinuousClock.now
            state.withLock { state in
                if state.timing { for id in ids { state.arrivals[id] = now } }
                state.received += ids.count
                if state.received >= state.expected, state.completedAt == nil { state.completedAt = now }
            }
            return Response(status: .ok)
        }
        let ready = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "eventbus-bench.receiver")
        logger.logLevel = .warning
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "bench-receiver"),
            onServerRunning: { channel in ready.continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let task = Task { try await application.run() }
        var port = 0
        for await value in ready.stream {
            port = value
            break
        }
        guard port > 0 else {
            task.cancel()
            throw BenchmarkFailure("the webhook receiver did not start listening on 127.0.0.1")
        }
        return BenchReceiver(port: port, state: state, task: task)
    }

    /// Starts counting from zero towards `count` events.
    func expect(_ count: Int, timing: Bool = false) {
        state.withLock { $0 = State(expected: count, timing: timing) }
    }

    /// Waits (up to 120 s without progress) until the expected events arrived; returns the seconds from `since` to the
    /// arrival of the last one.
    func waitForAll(since: ContinuousClock.Instant) async throws -> Double {
        var last = (count: -1, at: ContinuousClock.now)
        while true {
            let (received, expected, completedAt) = state.withLock { ($0.received, $0.expected, $0.completedAt) }
            if let completedAt { return WebhookBenchmark.seconds(completedAt - since) }
            if received != last.count { last = (received, .now) }
            if ContinuousClock.now - last.at > .seconds(120) {
                throw BenchmarkFailure("the receiver got \(received) of \(expected) events and nothing more for 120 s")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// When each event `<run>-<index>` arrived, by index (timing runs only).
    func arrivals(run: String) -> [ContinuousClock.Instant?] {
        state.withLock { state in
            let count = state.expected
            return (0..<count).map { state.arrivals["\(run)-\($0)"] }
        }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
