import Tracing

/// W3C trace context in message headers: the bus injects the current span's context when publishing and
/// extracts it when handling, through whatever tracer the application bootstrapped (none: nothing happens).
struct TraceHeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

struct TraceHeaderExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
