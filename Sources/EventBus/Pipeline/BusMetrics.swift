import Metrics

/// The bus's swift-metrics instruments (DESIGN section 7), labelled with the service name.
package struct BusMetrics: Sendable {
    package let published: Counter
    package let confirmed: Counter
    package let returned: Counter
    package let consumed: Counter
    package let handled: Counter
    package let failed: Counter
    package let retried: Counter
    package let deadLettered: Counter
    package let duplicates: Counter
    /// Events a subscription's filter did not want (acknowledged, not handled).
    package let filtered: Counter
    /// Copies that could not be forwarded to a retry or dead-letter queue (each attempt).
    package let forwardFailed: Counter
    package let handleDuration: Timer
    package let confirmLatency: Timer

    package init(service: String) {
        let dimensions = [("service", service)]
        published = Counter(label: "eventbus_published_total", dimensions: dimensions)
        confirmed = Counter(label: "eventbus_confirmed_total", dimensions: dimensions)
        returned = Counter(label: "eventbus_returned_total", dimensions: dimensions)
        consumed = Counter(label: "eventbus_consumed_total", dimensions: dimensions)
        handled = Counter(label: "eventbus_handled_total", dimensions: dimensions)
        failed = Counter(label: "eventbus_failed_total", dimensions: dimensions)
        retried = Counter(label: "eventbus_retried_total", dimensions: dimensions)
        deadLettered = Counter(label: "eventbus_dead_lettered_total", dimensions: dimensions)
        duplicates = Counter(label: "eventbus_duplicates_total", dimensions: dimensions)
        filtered = Counter(label: "eventbus_filtered_total", dimensions: dimensions)
        forwardFailed = Counter(label: "eventbus_forward_failed_total", dimensions: dimensions)
        handleDuration = Timer(label: "eventbus_handle_duration", dimensions: dimensions)
        confirmLatency = Timer(label: "eventbus_confirm_latency", dimensions: dimensions)
    }
}
