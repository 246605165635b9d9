import CRawBaseline
import Foundation

/// Swift access to the raw librabbitmq-c baseline. Its functions block for the whole measurement, so each call
/// runs on a thread of its own instead of a thread of the cooperative pool.
enum RawBaseline {
    /// `raw_bench_publish`: transient without confirms, or persistent with confirms and a window.
    static func publish(target: BrokerTarget, queue: String, count: Int, size: Int, confirm: Bool, window: Int) async -> RawResult {
        await runOnOwnThread {
            RawResult(raw_bench_publish(
                target.host, Int32(target.port), target.user, target.password, target.virtualHost, queue,
                count, Int32(size), confirm ? 1 : 0, Int32(window)))
        }
    }

    /// `raw_bench_publish_wire`: confirmed like ``publish(target:queue:count:size:confirm:window:)`` but with the bus's
    /// wire format (properties, `cloudEvents_*` headers with a fresh id and time per message, mandatory) to
    /// `exchange` / `routingKey`.
    static func publishWire(
        target: BrokerTarget, exchange: String, routingKey: String, count: Int, size: Int, window: Int, eventType: String,
        source: String
    ) async -> RawResult {
        await runOnOwnThread {
            RawResult(raw_bench_publish_wire(
                target.host, Int32(target.port), target.user, target.password, target.virtualHost, exchange, routingKey,
                count, Int32(size), Int32(window), eventType, source))
        }
    }

    /// `raw_bench_consume`: consumes `count` messages with `prefetch`, one ack each.
    static func consume(target: BrokerTarget, queue: String, count: Int, prefetch: Int) async -> RawResult {
        await runOnOwnThread {
            RawResult(raw_bench_consume(
                target.host, Int32(target.port), target.user, target.password, target.virtualHost, queue,
                count, Int32(prefetch)))
        }
    }

    /// `raw_bench_latency`: publishes of `size` bytes at `rate` msgs/s on an absolute schedule (transient, or
    /// persistent with `persistent`; never waiting for confirms), consumed (prefetch 100, one ack each) by a second
    /// connection; p50/p99 of receive time minus send time.
    static func latency(target: BrokerTarget, queue: String, count: Int, size: Int, rate: Int, persistent: Bool) async -> RawResult {
        await runOnOwnThread {
            RawResult(raw_bench_latency(
                target.host, Int32(target.port), target.user, target.password, target.virtualHost, queue,
                count, Int32(size), Int32(rate), persistent ? 1 : 0))
        }
    }

    private static func runOnOwnThread(_ body: @escaping @Sendable () -> RawResult) async -> RawResult {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "raw-baseline"
            thread.start()
        }
    }
}

/// A `raw_bench_result` in Swift terms.
struct RawResult: Sendable {
    var seconds: Double
    var messages: Int
    var ok: Bool
    var error: String
    var p50Milliseconds: Double
    var p99Milliseconds: Double

    init(_ result: raw_bench_result) {
        seconds = result.seconds
        messages = result.messages
        ok = result.ok != 0
        var message = result.error
        error = withUnsafeBytes(of: &message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        p50Milliseconds = result.p50_ms
        p99Milliseconds = result.p99_ms
    }

    /// The measurement, or the C side's error.
    func measurement(expecting count: Int) throws -> Measurement {
        guard ok else { throw BenchmarkFailure("C baseline: \(error.isEmpty ? "failed without a reason" : error)") }
        guard messages == count else { throw BenchmarkFailure("C baseline completed \(messages) of \(count) messages") }
        return Measurement(seconds: seconds, messages: messages)
    }

    /// The measurement with its latency percentiles (`raw_bench_latency`).
    func latencyMeasurement(expecting count: Int) throws -> Measurement {
        var measurement = try measurement(expecting: count)
        measurement.p50Milliseconds = p50Milliseconds
        measurement.p99Milliseconds = p99Milliseconds
        return measurement
    }
}
