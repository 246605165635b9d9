import EventBus
import EventBusRabbitMQ
import Foundation
import InMemoryTracing
import Synchronization
import TestSupport
import Testing
import Tracing

/// DESIGN section 7: a trace continues from the publisher's span through the message headers to the consumer's
/// `process` span, inside which the handler runs.
@Suite(.timeLimit(.minutes(1))) struct TracingTests {
    @Test func aTraceContinuesFromThePublisherThroughTheHeadersToTheHandler() async throws {
        let tracer = InMemoryTracer()
        let exchange = TestEnvironment.unique("exchange")
        let handlerSpans = Mutex<[String]>([])
        let headers = Mutex<[String: String]>([:])
        try await withTracer(tracer) {
            let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
            let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
            try await basket.bus.subscribe(PriceChanged.self) { _, context in
                // The handler runs inside the consumer's span: its context is the current one.
                let current = ServiceContext.current?.inMemorySpanContext
                handlerSpans.withLock { $0.append(current?.spanID ?? "none") }
                headers.withLock { $0 = context.headers }
            }
            basket.start()
            catalog.start()
            let inspector = try await Inspector.open()
            try await inspector.waitForConsumers(basket.configuration.queue)
            try await withSpan("change price") { _ in
                try await catalog.bus.publish(PriceChanged(productId: 1, newPrice: 2, oldPrice: 3))
            }
            try await eventually("the event is handled") { handlerSpans.withLock { $0.count } == 1 }
            await basket.stop()
            await catalog.stop()
            await inspector.cleanUp(queue: basket.configuration.queue, exchange: exchange)
        }
        let spans = tracer.finishedSpans
        let root = try #require(spans.first { $0.operationName == "change price" })
        let publish = try #require(spans.first { $0.operationName == "PriceChanged publish" })
        let process = try #require(spans.first { $0.operationName == "PriceChanged process" })
        #expect(publish.kind == .producer)
        #expect(publish.traceID == root.traceID)
        #expect(publish.parentSpanID == root.spanContext.spanID)
        #expect(process.kind == .consumer)
        #expect(process.traceID == root.traceID, "the consumer continues the publisher's trace")
        #expect(process.parentSpanID == publish.spanContext.spanID)
        #expect(handlerSpans.withLock { $0 } == [process.spanContext.spanID])
        // What travelled: the tracer's own propagation headers, next to the CloudEvents ones.
        #expect(headers.withLock { $0[InMemoryTracer.traceIDKey] } == root.traceID)
    }

    @Test func withoutATracerNoTraceHeadersAreSent() async throws {
        let exchange = TestEnvironment.unique("exchange")
        let basket = try RunningBus(service: TestEnvironment.unique("basket"), exchange: exchange)
        let catalog = try RunningBus(service: TestEnvironment.unique("catalog"), exchange: exchange)
        let headers = Mutex<[String: String]?>(nil)
        try await basket.bus.subscribe(PriceChanged.self) { _, context in headers.withLock { $0 = context.headers } }
        basket.start()
        catalog.start()
        let inspector = try await Inspector.open()
        try await inspector.waitForConsumers(basket.configuration.queue)
        try await catalog.bus.publish(PriceChanged(productId: 1, newPrice: 2, oldPrice: 3))
        try await eventually("the event is handled") { headers.withLock { $0 } != nil }
        let received = try #require(headers.withLock { $0 })
        #expect(received.keys.filter { !$0.hasPrefix("cloudEvents_") && !$0.hasPrefix("x-") }.isEmpty, "\(received.keys.sorted())")
        await basket.stop()
        await catalog.stop()
        await inspector.cleanUp(queue: basket.configuration.queue, exchange: exchange)
    }
}
