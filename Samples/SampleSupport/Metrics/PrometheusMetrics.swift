import Hummingbird
import Metrics
import Prometheus
import Synchronization

/// The process's Prometheus registry, and swift-metrics bootstrapped to it: the bus's counters (published,
/// handled, failed, retried, dead-lettered, duplicates, …) and the samples' own end up in `GET /metrics`.
public enum PrometheusMetrics {
    /// The registry every metric of this process is recorded in once ``bootstrap(alongside:)`` ran.
    public static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped = Mutex(false)

    /// Bootstraps swift-metrics with the registry, and with `other` too when given (OTLP export); only the first
    /// call does anything (several in-process services in tests share it). When something else bootstrapped
    /// swift-metrics first, the registry stays empty rather than crashing the process. Call before creating
    /// anything that records metrics, such as the bus.
    public static func bootstrap(alongside other: (any MetricsFactory)? = nil) {
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            guard MetricsSystem.factory is NOOPMetricsHandler else { return }
            let prometheus = PrometheusMetricsFactory(registry: registry)
            if let other {
                MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: [prometheus, other]))
            } else {
                MetricsSystem.bootstrap(prometheus)
            }
        }
    }

    /// The registry in the Prometheus text exposition format.
    public static func render() -> String {
        registry.emitToString()
    }
}

extension Router {
    /// Adds `GET /metrics`: the process's metrics in the Prometheus text format (version 0.0.4).
    public func addMetricsRoute() {
        get("metrics") { _, _ -> Response in
            let text = PrometheusMetrics.render()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
