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

/// Whether the bus traces at all: only when the application bootstrapped an instrument (or bound one to the task
/// with `withTracer`). Without one, every span would be a no-op anyway, so the bus skips span creation and header
/// propagation altogether (they cost a tracer lookup and a task-local binding per event).
enum BusTracing {
    static var isActive: Bool {
        let instrument = InstrumentationSystem.instrument
        return !(instrument is NoOpInstrument) && !(instrument is NoOpTracer)
    }
}
