import BasketService
import CatalogService
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdTesting
import InMemoryTracing
import NIOCore
import SampleSupport
import Synchronization
import TestSupport
import Testing
import Tracing

/// A price change is one trace, from Catalog's HTTP request through the broker to Basket's handler; and the
/// services export their spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
@Suite(.timeLimit(.minutes(2))) struct TracingTests {
    @Test func aPriceChangeIsOneTraceFromCatalogsRequestToBasketsHandler() async throws {
        let tracer = InMemoryTracer()
        let world = SampleWorld()
        try await withTracer(tracer) {
            let catalog = try await world.catalogApplication(.sqlite(path: SamplesEnvironment.sqlitePath("catalog")))
            let basket = try await world.basketApplication(.sqlite(path: SamplesEnvironment.sqlitePath("basket")))
            try await basket.test(.router) { basket in
                try await basket.waitUntilHealthy()
                #expect(try await basket.send(.post, "/api/v1/basket", json: basketJSON(buyer: "dora")).status == .ok)
                try await catalog.test(.router) { catalog in
                    try await catalog.waitUntilHealthy()
                    #expect(try await catalog.send(.put, "/api/v1/catalog/items", json: #"{"id": 1, "price": 17.25}"#).status == .ok)
                }
                try await eventually("dora's line has the new price") {
                    try await basket.get("/api/v1/basket/dora", as: CustomerBasket.self).items.first?.unitPrice == Decimal(string: "17.25")
                }
            }
        }
        await world.cleanUp()
        let spans = tracer.finishedSpans
        let request = try #require(spans.first { $0.kind == .server && $0.operationName.contains("catalog/items") })
        let publish = try #require(spans.first { $0.operationName == "ProductPriceChangedIntegrationEvent publish" })
        let process = try #require(spans.first { $0.operationName == "ProductPriceChangedIntegrationEvent process" })
        #expect(publish.traceID == request.traceID, "Catalog publishes inside its request's trace")
        #expect(publish.parentSpanID == request.spanContext.spanID)
        #expect(process.traceID == request.traceID, "Basket's handler continues Catalog's trace")
        #expect(process.parentSpanID == publish.spanContext.spanID)
    }

    @Test func catalogExportsItsSpansOverOTLPWhenAnEndpointIsSet() async throws {
        let received = Mutex<[(path: String, body: [UInt8])]>([])
        let router = Router()
        for path in ["v1/traces", "v1/metrics"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 16 << 20)
                received.withLock { $0.append(("/" + path, Array(buffer: body))) }
                return Response(status: .ok, headers: [.contentType: "application/x-protobuf"], body: .init(byteBuffer: ByteBuffer()))
            }
        }
        let collector = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let world = SampleWorld()
        let catalogPort = try freePort()
        try await collector.test(.live) { client in
            let endpoint = "http://127.0.0.1:\(try #require(client.port))"
            // The catalog runs until the test sends it SIGTERM (it then flushes what it has not exported yet);
            // `timeout` ends it after 90 s should the test fail before.
            let catalog = try BuiltExecutable.path("catalog")
            async let run = runProgram("/usr/bin/timeout", ["--preserve-status", "-s", "TERM", "90", catalog, "--service-name", world.catalogService], environment: [
                "EVENTBUS_URL": SamplesEnvironment.brokerURL, "DATABASE_URL": try SamplesEnvironment.sqlitePath("catalog-otel"),
                "PORT": "\(catalogPort)", "EVENTBUS_EXCHANGE": world.exchange,
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "500",
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            ])
            try await eventually("the catalog answers /health") {
                (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(catalogPort)/health")!))
                    .map { ($0.1 as? HTTPURLResponse)?.statusCode == 200 } ?? false
            }
            var change = URLRequest(url: URL(string: "http://127.0.0.1:\(catalogPort)/api/v1/catalog/items")!)
            change.httpMethod = "PUT"
            change.setValue("application/json", forHTTPHeaderField: "content-type")
            change.httpBody = Data(#"{"id": 2, "price": 9.75}"#.utf8)
            let (_, response) = try await URLSession.shared.data(for: change)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            // The catalog process itself (its command line starts with its path; `timeout`'s does not).
            let stop = try await runProgram("/usr/bin/pkill", ["-TERM", "-f", "^\(catalog) --service-name \(world.catalogService)$"])
            #expect(stop.status == 0, "pkill found the catalog: \(stop.output)")
            let result = try await run
            #expect(result.status == 0, "the catalog stops cleanly on SIGTERM: \(result.output.suffix(2_000))")
        }
        await world.cleanUp()
        let traces = received.withLock { $0.filter { $0.path == "/v1/traces" }.map(\.body) }.joined()
        let text = String(decoding: Array(traces), as: UTF8.self)
        #expect(!traces.isEmpty, "spans were exported to /v1/traces")
        #expect(text.contains(world.catalogService), "the resource names the service")
        #expect(text.contains("ProductPriceChangedIntegrationEvent publish"), "the bus's publish span was exported")
        #expect(received.withLock { $0.contains { $0.path == "/v1/metrics" } }, "metrics were exported to /v1/metrics")
    }

    /// A TCP port nothing listens on right now.
    func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw PortError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct PortError: Error {}
}
