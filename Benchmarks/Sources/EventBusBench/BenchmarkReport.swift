import Foundation

/// Output of a run: the human table (medians, min–max spread, ratio to C; percentiles for latency rows; RSS for the
/// soak) and, with `--json`, one JSON object per row and client with the medians (`client` `c`/`amqp`/`bus`, and
/// `c-wire` on `bus-publish`, `mode`, `size`, `messages`, `seconds`, `msgs_per_sec`, plus `window` / `prefetch` /
/// `rate` / `store`, `repeat`, spread, process CPU per message, `ratio` (client / C) on the non-C objects,
/// `ratio_c_wire` (bus / C-wire) on the bus object of `bus-publish`, `mallocs_per_msg` (the counted pass) on the bus
/// rows, `p50_ms` / `p99_ms` on latency and outbox rows,
/// `rss_*` on the soak row, and `target_met` on the client a target applies to).
struct BenchmarkReport {
    /// The end-to-end p99 the bus must stay under on `bus-e2e` rows, in milliseconds.
    static let targetP99Milliseconds = 2.0

    let results: [RowResult]

    /// The table's heading; `wireFormat` adds what C-wire means (when a `bus-publish` row is in the run), `durable`
    /// what C-durable means (when a `bus-e2e` row is).
    static func heading(repetitions: String, wireFormat: Bool = false, durable: Bool = false, counted: Bool = false, instructions: Bool = false) -> String {
        var text = "median msgs/s [min–max over \(repetitions) repetitions]; (×r) = client / C. Targets: AMQP layer ≥ 0.95× C, "
            + "bus ≥ 0.8× C, bus-e2e p99 ≤ \(String(format: "%.0f", targetP99Milliseconds)) ms"
        if wireFormat {
            text += "\nbus-publish: C-wire = C publishing the bus's wire format (properties, cloudEvents_* headers, mandatory, "
                + "bus exchange); (×w vs C-wire) = bus / C-wire, the cost of the Swift code alone"
        }
        if counted {
            text += "\nbus rows: mallocs/msg = malloc and calloc calls of the whole process per message, counted in one more run of each client "
                + "(not timed): unlike CPU time it does not move with the machine's load"
        }
        if instructions {
            text += "\nbus-cpu: thousands of instructions per message of the whole process, counted by valgrind's callgrind "
                + "(publish window 100, consume prefetch 100; each client warmed up first); (bus ×r) = bus / C-wire for publish, "
                + "bus / AMQP for consume. Does not move with the machine's load"
        }
        if durable {
            text += "\nbus-e2e: C-durable = the C latency loop with persistent messages, like the AMQP and bus rows (C's are transient)"
        }
        return text
    }

    /// The human table, one line per row.
    func table() -> String {
        var lines: [String] = []
        let modeWidth = max(16, results.map { $0.row.mode.rawValue.count + 1 }.max() ?? 0)
        for result in results {
            let row = result.row
            var line = Format.pad(row.mode.rawValue, modeWidth) + Format.padLeft(row.sizeLabel, 6)
                + "  " + Format.pad(row.parameterLabel, 15)
            if row.mode == .busCPU {
                lines.append(line + Self.instructionsText(result))
                continue
            }
            let summaries = row.mode.clients.map { ($0, result.summary($0)) }
            guard summaries.allSatisfy({ $0.1 != nil }) else {
                line += "FAILED: \(result.failure ?? "no measurements")"
                lines.append(line)
                continue
            }
            switch row.mode {
            case .busE2E:
                for (client, summary) in summaries {
                    guard let summary else { continue }
                    line += Format.pad(
                        "\(client.displayName) p50 \(Format.milliseconds(summary.p50Milliseconds)) "
                            + "p99 \(Format.milliseconds(summary.p99Milliseconds)) ms", 32)
                }
                if let bus = result.summary(.bus), let p99 = bus.p99Milliseconds {
                    line += p99 <= Self.targetP99Milliseconds ? " (bus p99 ≤ 2 ms)" : "  bus p99 > 2 ms"
                }
            case .busSoak:
                guard let bus = result.summary(.bus) else { break }
                line += "Bus " + Format.rate(bus.messagesPerSecond) + " msg/s"
                if let memory = bus.memory {
                    line += ", RSS MiB start \(Format.mebibytes(memory.startKiB)) first \(Format.mebibytes(memory.firstKiB))"
                        + " last \(Format.mebibytes(memory.lastKiB)) max \(Format.mebibytes(memory.maximumKiB))"
                        + String(format: "; from %dk on: slope %+.2f MiB per 100k events, growth %+.1f MiB",
                            memory.steadyFromEvents / 1_000, memory.slopeKiBPer100k / 1_024, Double(memory.steadyGrowthKiB) / 1_024)
                        + " (dedup store bounded: capacity \(Format.rate(Double(memory.storeCapacity))),"
                        + " \(Format.rate(Double(memory.storeCount))) ids held at the end)"
                }
            case .outbox:
                guard let bus = result.summary(.bus) else { break }
                line += "Bus " + Format.rate(bus.messagesPerSecond) + " events/s"
                line += " [" + Format.rate(bus.minimumPerSecond) + "–" + Format.rate(bus.maximumPerSecond) + "]"
                if result.row.outbox?.relayDrain == true {
                    line += ", the relay alone draining \(Format.rate(Double(result.row.count))) saved events"
                } else {
                    line += ", commit→confirm p50 \(Format.milliseconds(bus.p50Milliseconds)) p99 \(Format.milliseconds(bus.p99Milliseconds)) ms"
                }
            default:
                var cpu: [String] = []
                for (client, summary) in summaries {
                    guard let summary else { continue }
                    var segment = client.displayName + " " + Format.padLeft(Format.rate(summary.messagesPerSecond), 7) + " msg/s"
                    segment += " [" + Format.rate(summary.minimumPerSecond) + "–" + Format.rate(summary.maximumPerSecond) + "]"
                    if let ratio = result.ratio(client) { segment += String(format: " (×%.2f)", ratio) }
                    if let ratio = result.wireRatio(client) { segment += String(format: " (×%.2f vs C-wire)", ratio) }
                    line += Format.pad(segment, client == .c ? 36 : 46)
                    if let perMessage = summary.cpuMicrosecondsPerMessage {
                        cpu.append(client.displayName + " " + String(format: "%.1f", perMessage))
                    }
                }
                if !cpu.isEmpty { line += " CPU µs/msg " + cpu.joined(separator: " ") }
                let mallocs = row.mode.clients.compactMap { client in
                    result.mallocsPerMessage[client].map { client.displayName + " " + String(format: "%.1f", $0) }
                }
                if !mallocs.isEmpty { line += "  mallocs/msg " + mallocs.joined(separator: " ") }
                if let target = row.targetRatio, let ratio = result.ratio(row.mode.primaryClient), ratio < target {
                    line += "  \(row.mode.primaryClient.displayName) < \(target)× C"
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The `bus-cpu` row's figures: thousands of instructions per message per phase and client, and the bus over the
    /// phase's reference (C-wire for publish, the `AMQP` layer for consume).
    private static func instructionsText(_ result: RowResult) -> String {
        if let failure = result.failure { return "FAILED: \(failure)" }
        var parts: [String] = []
        for phase in BusCPUBenchmark.Phase.allCases {
            var part = phase.rawValue + " k instr/msg"
            for client in phase.clients {
                guard let value = result.instructionsPerMessage[.init(phase: phase, client: client)] else { continue }
                part += " " + client.displayName + " " + String(format: "%.1f", value / 1_000)
            }
            if let ratio = result.instructionRatio(phase) {
                part += String(format: " (bus ×%.2f ", ratio) + phase.reference.displayName + ")"
            }
            parts.append(part)
        }
        return parts.joined(separator: "; ")
    }

    /// Whether `client`'s summary meets the mode's target, when the mode has one for that client.
    private func targetMet(_ result: RowResult, _ client: BenchmarkClient) -> Bool? {
        let mode = result.row.mode
        guard client == mode.primaryClient else { return nil }
        if let target = result.row.targetRatio, let ratio = result.ratio(client) { return ratio >= target }
        if mode == .busE2E, let p99 = result.summary(client)?.p99Milliseconds { return p99 <= Self.targetP99Milliseconds }
        return nil
    }

    /// One JSON object per line, per row and client (in the mode's client order). Failed rows give `"ok": false`
    /// and `error`.
    func jsonLines() -> [String] {
        var lines: [String] = []
        for result in results {
            if result.row.mode == .busCPU {
                lines += instructionJSONLines(result)
                continue
            }
            for client in result.row.mode.clients {
                var object = JSONObject()
                object.add("client", client.rawValue)
                object.add("mode", result.row.mode.rawValue)
                object.add("size", result.row.size)
                if let window = result.row.window { object.add("window", window) }
                if let prefetch = result.row.prefetch { object.add("prefetch", prefetch) }
                if let rate = result.row.rate { object.add("rate", rate) }
                if let store = result.row.store { object.add("store", store) }
                if let shape = result.row.outbox {
                    object.add("tasks", shape.tasks)
                    object.add("events_per_transaction", shape.eventsPerTransaction)
                    if shape.relayDrain { object.add("relay_drain", true) }
                }
                object.add("repeat", result.repetitions)
                if let summary = result.summary(client) {
                    object.add("messages", summary.messages)
                    object.add("seconds", summary.seconds, decimals: 6)
                    object.add("msgs_per_sec", summary.messagesPerSecond, decimals: 1)
                    object.add("min_msgs_per_sec", summary.minimumPerSecond, decimals: 1)
                    object.add("max_msgs_per_sec", summary.maximumPerSecond, decimals: 1)
                    if let p50 = summary.p50Milliseconds { object.add("p50_ms", p50, decimals: 3) }
                    if let p99 = summary.p99Milliseconds { object.add("p99_ms", p99, decimals: 3) }
                    if let cpu = summary.cpuMicrosecondsPerMessage { object.add("cpu_us_per_msg", cpu, decimals: 2) }
                    if let mallocs = result.mallocsPerMessage[client] { object.add("mallocs_per_msg", mallocs, decimals: 2) }
                    if !result.row.mode.isLatency, let ratio = result.ratio(client) { object.add("ratio", ratio, decimals: 4) }
                    if let ratio = result.wireRatio(client) { object.add("ratio_c_wire", ratio, decimals: 4) }
                    if let memory = summary.memory {
                        object.add("rss_start_kib", memory.startKiB)
                        object.add("rss_first_kib", memory.firstKiB)
                        object.add("rss_last_kib", memory.lastKiB)
                        object.add("rss_max_kib", memory.maximumKiB)
                        object.add("rss_steady_from_events", memory.steadyFromEvents)
                        object.add("rss_slope_kib_per_100k", memory.slopeKiBPer100k, decimals: 1)
                        object.add("rss_steady_growth_kib", memory.steadyGrowthKiB)
                        object.add("rss_samples", memory.samples.count)
                        object.add("rss_sample_every", memory.samples.first?.events ?? 0)
                        object.add("store_capacity", memory.storeCapacity)
                    }
                    if let met = targetMet(result, client) { object.add("target_met", met) }
                    object.add("ok", true)
                } else {
                    object.add("messages", result.row.count)
                    object.add("ok", false)
                    object.add("error", result.failure ?? "no measurements")
                }
                lines.append(object.text)
            }
        }
        return lines
    }
}

extension BenchmarkReport {
    /// `bus-cpu`: one object per phase and client (`phase`, `instructions_per_msg`, and `ratio_instructions` = bus /
    /// the phase's reference on the bus object), or one failed object.
    fileprivate func instructionJSONLines(_ result: RowResult) -> [String] {
        var lines: [String] = []
        for phase in BusCPUBenchmark.Phase.allCases {
            for client in phase.clients {
                var object = JSONObject()
                object.add("client", client.rawValue)
                object.add("mode", result.row.mode.rawValue)
                object.add("phase", phase.rawValue)
                object.add("size", result.row.size)
                object.add("messages", result.row.count)
                if let value = result.instructionsPerMessage[.init(phase: phase, client: client)] {
                    object.add("instructions_per_msg", value, decimals: 1)
                    if client == .bus, let ratio = result.instructionRatio(phase) {
                        object.add("ratio_instructions", ratio, decimals: 4)
                        object.add("reference", phase.reference.rawValue)
                    }
                    object.add("ok", true)
                } else {
                    object.add("ok", false)
                    object.add("error", result.failure ?? "not counted")
                }
                lines.append(object.text)
            }
        }
        return lines
    }
}

extension RowResult {
    /// `bus-cpu`: the bus's instructions per message over the phase's reference client's.
    func instructionRatio(_ phase: BusCPUBenchmark.Phase) -> Double? {
        guard let bus = instructionsPerMessage[.init(phase: phase, client: .bus)],
            let reference = instructionsPerMessage[.init(phase: phase, client: phase.reference)], reference > 0
        else { return nil }
        return bus / reference
    }
}

/// A flat JSON object written field by field, so the keys keep a stable, readable order.
struct JSONObject {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String) { fields.append("\(Self.quote(key)):\(Self.quote(value))") }
    mutating func add(_ key: String, _ value: Int) { fields.append("\(Self.quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Bool) { fields.append("\(Self.quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Double, decimals: Int) {
        let number = value.isFinite ? String(format: "%.\(decimals)f", value) : "null"
        fields.append("\(Self.quote(key)):\(number)")
    }

    var text: String { "{" + fields.joined(separator: ",") + "}" }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Number and column formatting for the human output.
enum Format {
    /// `18 900`: rounded, thousands separated by spaces.
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "?" }
        let digits = String(Int(value.rounded()))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += " " }
            out.append(digit)
        }
        return out
    }

    /// `45.3` (KiB given, MiB shown).
    static func mebibytes(_ kibibytes: Int) -> String { String(format: "%.1f", Double(kibibytes) / 1_024) }

    /// `0.412`, or `?`.
    static func milliseconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "?" }
        return String(format: value < 10 ? "%.3f" : "%.1f", value)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
