import Foundation
import Hummingbird
import Logging
import Metrics
import OTel
import ServiceLifecycle
import Tracing

/// OpenTelemetry for the samples: when the environment names an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `_METRICS_ENDPOINT`), traces and metrics are exported over OTLP/HTTP
/// with swift-otel; otherwise nothing is exported and the process only serves its Prometheus `GET /metrics`.
///
/// The traces join up across the services: the HTTP server span of a request (Hummingbird's `TracingMiddleware`),
/// the bus's `publish` span, the W3C `traceparent` it puts in the message headers, and Basket's `process` span
/// around its handler, so a price change shows as one trace from Catalog's request to Basket's handler. Metrics keep
/// going to Prometheus as well. swift-otel reads the other standard variables (`OTEL_SERVICE_NAME`,
/// `OTEL_METRICS_EXPORTER=none`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, ...); logs stay on standard error.
public enum OpenTelemetryExport {
    /// The variables that turn export on.
    public static let endpointVariables = [
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]

    /// Whether `environment` asks for OTLP export (an endpoint is set, and `OTEL_SDK_DISABLED` is not `true`).
    public static func isRequested(in environment: [String: String]) -> Bool {
        guard environment["OTEL_SDK_DISABLED"]?.lowercased() != "true" else { return false }
        return endpointVariables.contains { !(environment[$0] ?? "").isEmpty }
    }

    /// Bootstraps the process's tracer and metrics (OTLP beside Prometheus) when export is requested, or Prometheus
    /// alone; returns the exporters' background services, which must run beside the application (``run(_:with:logger:)``
    /// does): they send in batches and flush what is left on graceful shutdown. Call once per process, before
    /// anything records a metric or starts a span.
    /// - Parameters:
    ///   - serviceName: the `service.name` resource attribute, unless `OTEL_SERVICE_NAME` is set.
    ///   - environment: where to look for the endpoint (swift-otel itself reads the process environment).
    public static func bootstrap(
        serviceName: String, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger
    ) throws -> [any Service] {
        guard isRequested(in: environment) else {
            PrometheusMetrics.bootstrap()
            return []
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.diagnosticLogger = .custom(logger)
        var services: [any Service] = []
        if environment["OTEL_TRACES_EXPORTER"] != "none" {
            let tracing = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(tracing.factory)
            services.append(tracing.service)
        }
        if environment["OTEL_METRICS_EXPORTER"] != "none" {
            let metrics = try OTel.makeMetricsBackend(configuration: configuration)
            PrometheusMetrics.bootstrap(alongside: metrics.factory)
            services.append(metrics.service)
        } else {
            PrometheusMetrics.bootstrap()
        }
        logger.info("OpenTelemetry export on", metadata: [
            "service.name": "\(environment["OTEL_SERVICE_NAME"] ?? serviceName)",
            "traces": "\(environment["OTEL_TRACES_EXPORTER"] != "none")", "metrics": "\(environment["OTEL_METRICS_EXPORTER"] != "none")",
        ])
        return services
    }

    /// Runs `application` until SIGTERM or SIGINT, with the exporters' `services` started before it and stopped
    /// after it (so the spans of its last requests are still sent).
    public static func run(_ application: some ApplicationProtocol, with services: [any Service], logger: Logger) async throws {
        guard !services.isEmpty else {
            try await application.runService()
            return
        }
        let group = ServiceGroup(services: services + [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
