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
        try await collector.test(.live) { client in
            let endpoint = "http://127.0.0.1:\(try #require(client.port))"
            // The catalog picks its own port (PORT=0) and says which; it runs until the test sends it SIGTERM (it
            // then flushes what it has not exported yet).
            let catalog = try BackgroundProgram(try BuiltExecutable.path("catalog"), ["--service-name", world.catalogService], environment: [
                "EVENTBUS_URL": SamplesEnvironment.brokerURL, "DATABASE_URL": try SamplesEnvironment.sqlitePath("catalog-otel"),
                "PORT": "0", "EVENTBUS_EXCHANGE": world.exchange,
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "500",
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            ])
            let listening = try await catalog.line(containing: "Server started and listening on ")
            let base = "http://127.0.0.1:\(try #require(listening.split(separator: ":").last))"
            try await eventually("the catalog answers /health") {
                var health = URLRequest(url: URL(string: base + "/health")!)
                health.timeoutInterval = 5
                return (try? await URLSession.shared.data(for: health)).map { ($0.1 as? HTTPURLResponse)?.statusCode == 200 } ?? false
            }
            var change = URLRequest(url: URL(string: base + "/api/v1/catalog/items")!)
            change.httpMethod = "PUT"
            change.setValue("application/json", forHTTPHeaderField: "content-type")
            change.httpBody = Data(#"{"id": 2, "price": 9.75}"#.utf8)
            let (_, response) = try await URLSession.shared.data(for: change)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let result = await catalog.stop()
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
}
