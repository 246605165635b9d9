import Foundation

/// Runs rows: for each repetition, each of the mode's clients in turn (the order rotates between repetitions so
/// no client always runs on a warmer or colder broker), each against a fresh, uniquely named durable queue that
/// is declared and purged before and deleted after the measurement.
struct BenchmarkRunner {
    let target: BrokerTarget
    let admin: AdminSession
    let options: BenchmarkOptions
    /// Progress lines (stderr).
    let log: @Sendable (String) -> Void

    func run(_ row: BenchmarkRow, repetitions: Int) async -> RowResult {
        if row.mode == .busCPU { return await BusCPUBenchmark(target: target, admin: admin, options: options, log: log).run(row) }
        let benchmark = row.makeBenchmark(target: target, options: options)
        var result = RowResult(row: row, repetitions: repetitions)
        for repetition in 0..<repetitions {
            let clients = row.mode.clients
            let shift = repetition % clients.count
            let order = Array(clients[shift...] + clients[..<shift])
            var line = "\(row.label): \(repetition + 1)/\(repetitions)"
            for client in order {
                let queue = await admin.uniqueQueueName(row: row, client: client)
                do {
                    try await admin.declareEmptyQueue(queue)
                    let measurement = try await benchmark.measure(client: client, queue: queue, admin: admin)
                    result.measurements[client, default: []].append(measurement)
                    line += "  \(client.displayName) \(Format.rate(measurement.messagesPerSecond)) msg/s"
                    line += " (\(String(format: "%.3f", measurement.seconds)) s"
                    if let p50 = measurement.p50Milliseconds, let p99 = measurement.p99Milliseconds {
                        line += String(format: ", p50 %.3f p99 %.3f ms", p50, p99)
                    }
                    if let cpu = measurement.cpuMicrosecondsPerMessage { line += String(format: ", %.1f µs CPU/msg", cpu) }
                    if let memory = measurement.memory {
                        line += ", RSS MiB start \(Format.mebibytes(memory.startKiB)) \(memory.samplesText)"
                    }
                    line += ")"
                } catch {
                    result.failure = "\(client.displayName), repetition \(repetition + 1): \(error)"
                    log(line + "  FAILED: \(result.failure!)")
                    await cleanUp(queue)
                    return result
                }
                await cleanUp(queue)
            }
            log(line)
        }
        if row.mode.countsAllocations { await countMallocs(row, benchmark: benchmark, into: &result) }
        return result
    }

    /// One more run of each client with `malloc` counting on (``MallocCount``), for its allocations per message; its
    /// time and CPU are not part of the medians (counting costs an atomic add per allocation). A failure here is
    /// logged and leaves the row's timed results as they are.
    private func countMallocs(_ row: BenchmarkRow, benchmark: any RowBenchmark, into result: inout RowResult) async {
        guard result.failure == nil else { return }
        MallocCount.armed.store(true, ordering: .relaxed)
        defer { MallocCount.armed.store(false, ordering: .relaxed) }
        var line = "\(row.label): counted pass, malloc and calloc calls per message:"
        for client in row.mode.clients {
            let queue = await admin.uniqueQueueName(row: row, client: client)
            do {
                try await admin.declareEmptyQueue(queue)
                let measurement = try await benchmark.measure(client: client, queue: queue, admin: admin)
                if let perMessage = measurement.mallocsPerMessage {
                    result.mallocsPerMessage[client] = perMessage
                    line += "  \(client.displayName) \(String(format: "%.1f", perMessage))"
                }
            } catch {
                log("warning: \(row.label): counted pass of \(client.displayName) failed: \(error)")
            }
            await cleanUp(queue)
        }
        log(line)
    }

    private func cleanUp(_ queue: String) async {
        if let error = await admin.deleteQueue(queue) {
            log("warning: could not delete queue \(queue): \(error)")
        }
    }
}

/// Everything measured for one row.
struct RowResult: Sendable {
    let row: BenchmarkRow
    let repetitions: Int
    var measurements: [BenchmarkClient: [Measurement]] = [:]
    /// `malloc` calls per message from the counted pass (bus rows only; see ``MallocCount``).
    var mallocsPerMessage: [BenchmarkClient: Double] = [:]
    /// Instructions per message counted under callgrind (`bus-cpu` only; see ``BusCPUBenchmark``).
    var instructionsPerMessage: [BusCPUBenchmark.Figure: Double] = [:]
    /// Why the row could not be completed; `nil` when every repetition succeeded for every client.
    var failure: String?

    func summary(_ client: BenchmarkClient) -> ClientSummary? {
        guard failure == nil, let values = measurements[client], !values.isEmpty else { return nil }
        return ClientSummary(values)
    }

    /// `client`'s median msgs/s over C's median msgs/s (`nil` for C itself and for rows without C).
    func ratio(_ client: BenchmarkClient) -> Double? {
        ratio(client, to: .c)
    }

    /// `client`'s median msgs/s over `base`'s (`nil` for `base` itself and for rows without `base`).
    func ratio(_ client: BenchmarkClient, to base: BenchmarkClient) -> Double? {
        guard client != base, let reference = summary(base), let other = summary(client), reference.messagesPerSecond > 0
        else { return nil }
        return other.messagesPerSecond / reference.messagesPerSecond
    }

    /// On `bus-publish`: the bus's median msgs/s over C-wire's (C publishing the bus's wire format), so the cost of
    /// the Swift code shows apart from the cost of the wire format.
    func wireRatio(_ client: BenchmarkClient) -> Double? {
        guard client == .bus, row.mode.clients.contains(.cWire) else { return nil }
        return ratio(.bus, to: .cWire)
    }
}

/// Medians and spread of one client's repetitions on one row.
struct ClientSummary: Sendable {
    var messages: Int
    var seconds: Double
    var messagesPerSecond: Double
    var minimumPerSecond: Double
    var maximumPerSecond: Double
    var p50Milliseconds: Double?
    var p99Milliseconds: Double?
    /// Median process CPU microseconds per message.
    var cpuMicrosecondsPerMessage: Double?
    /// The memory profile of the repetition with the steepest RSS slope (`bus-soak`).
    var memory: MemoryProfile?

    init(_ measurements: [Measurement]) {
        let rates = measurements.map(\.messagesPerSecond)
        messages = measurements[0].messages
        seconds = Self.median(measurements.map(\.seconds))
        messagesPerSecond = Self.median(rates)
        minimumPerSecond = rates.min() ?? 0
        maximumPerSecond = rates.max() ?? 0
        let p50 = measurements.compactMap(\.p50Milliseconds)
        let p99 = measurements.compactMap(\.p99Milliseconds)
        p50Milliseconds = p50.isEmpty ? nil : Self.median(p50)
        p99Milliseconds = p99.isEmpty ? nil : Self.median(p99)
        let cpu = measurements.compactMap(\.cpuMicrosecondsPerMessage)
        cpuMicrosecondsPerMessage = cpu.isEmpty ? nil : Self.median(cpu)
        memory = measurements.compactMap(\.memory).max { $0.slopeKiBPer100k < $1.slopeKiBPer100k }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
