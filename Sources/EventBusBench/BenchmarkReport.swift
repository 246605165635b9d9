import Foundation

/// Output of a run: the human table (medians, min–max spread, ratio) and, with `--json`, one JSON object per
/// row and client with the medians (`client`, `mode`, `size`, `messages`, `seconds`, `msgs_per_sec`, plus
/// `window` / `prefetch`, `repeat`, spread, process CPU per message, and `ratio` on the Swift object).
struct BenchmarkReport {
    /// The ratio the Swift layer must reach on every row.
    static let targetRatio = 0.95

    let results: [RowResult]

    /// The human table, one line per row.
    func table() -> String {
        var lines: [String] = []
        let modeWidth = max(16, results.map { $0.row.mode.rawValue.count + 1 }.max() ?? 0)
        for result in results {
            let row = result.row
            var line = Format.pad(row.mode.rawValue, modeWidth) + Format.padLeft(ByteCount.format(row.size), 6)
                + "  " + Format.pad(row.parameterLabel, 15)
            guard let c = result.summary(.c), let swift = result.summary(.swift), let ratio = result.ratio else {
                line += "FAILED: \(result.failure ?? "no measurements")"
                lines.append(line)
                continue
            }
            line += "C " + Format.padLeft(Format.rate(c.messagesPerSecond), 7) + " msg/s"
            line += " [" + Format.rate(c.minimumPerSecond) + "–" + Format.rate(c.maximumPerSecond) + "]"
            line = Format.pad(line, modeWidth + 8 + 15 + 36)
            line += "Swift " + Format.padLeft(Format.rate(swift.messagesPerSecond), 7) + " msg/s"
            line += " [" + Format.rate(swift.minimumPerSecond) + "–" + Format.rate(swift.maximumPerSecond) + "]"
            line = Format.pad(line, modeWidth + 8 + 15 + 36 + 40)
            line += "ratio " + String(format: "%.2f", ratio)
            if let cCPU = c.cpuMicrosecondsPerMessage, let swiftCPU = swift.cpuMicrosecondsPerMessage {
                line += String(format: "   CPU µs/msg C %.1f Swift %.1f", cCPU, swiftCPU)
            }
            if ratio < Self.targetRatio { line += "  < \(Self.targetRatio)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object per line, per row and client (C first). Failed rows give `"ok": false` and `error`.
    func jsonLines() -> [String] {
        var lines: [String] = []
        for result in results {
            for client in BenchmarkClient.allCases {
                var object = JSONObject()
                object.add("client", client.rawValue)
                object.add("mode", result.row.mode.rawValue)
                object.add("size", result.row.size)
                if let window = result.row.window { object.add("window", window) }
                if let prefetch = result.row.prefetch { object.add("prefetch", prefetch) }
                if let rate = result.row.rate { object.add("rate", rate) }
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
                    if client == .swift, let ratio = result.ratio { object.add("ratio", ratio, decimals: 4) }
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

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
