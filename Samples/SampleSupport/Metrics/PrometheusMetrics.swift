import Hummingbird
import Metrics
import Prometheus

/// The process's Prometheus registry, and swift-metrics bootstrapped to it: the bus's counters (published,
/// handled, failed, retried, dead-lettered, duplicates, …) and the samples' own end up in `GET /metrics`.
public enum PrometheusMetrics {
    /// The registry every metric of this process is recorded in. The first access bootstraps swift-metrics with
    /// it, once per process (several in-process services in tests share it); when something else bootstrapped
    /// swift-metrics first, this registry stays empty rather than crashing the process.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        if MetricsSystem.factory is NOOPMetricsHandler {
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        }
        return registry
    }()

    /// Bootstraps swift-metrics (idempotent). Call before creating anything that records metrics, such as the bus.
    public static func bootstrap() {
        _ = registry
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
