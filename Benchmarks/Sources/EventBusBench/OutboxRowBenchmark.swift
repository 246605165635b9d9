import Foundation

/// `outbox`: the transactional outbox through the bus (save the domain change and the event in one local
/// transaction, publish, confirm), measured by `runOutboxBenchmark` (OutboxBenchmark.swift) on SQLite or
/// PostgreSQL. One client (`bus`); the row reports events/s and the commit→confirm p50/p99. The runner's queue is
/// not used: the outbox benchmark declares and deletes its own exchange and queue.
struct OutboxRowBenchmark: RowBenchmark {
    let target: BrokerTarget
    /// `sqlite` or `postgres`.
    let store: String
    let shape: OutboxShape
    let count: Int
    let options: BenchmarkOptions

    func measure(client: BenchmarkClient, queue: String, admin: AdminSession) async throws -> Measurement {
        guard client == .bus else { throw BenchmarkFailure("the outbox row measures the bus only") }
        if store == "postgres", options.postgresURL == nil {
            throw BenchmarkFailure("the postgres outbox row needs EVENTBUS_POSTGRES_URL")
        }
        return try await ProcessCPU.measuring {
            let result: (eventsPerSecond: Double, p50Ms: Double?, p99Ms: Double?)
            do {
                result = try await runOutboxBenchmark(
                    store: store, shape: shape, count: count, brokerURL: target.url, postgresURL: options.postgresURL)
            } catch let failure as BenchmarkFailure {
                throw failure
            } catch {
                throw BenchmarkFailure("outbox (\(store)): \(error)")
            }
            guard result.eventsPerSecond > 0, result.eventsPerSecond.isFinite else {
                throw BenchmarkFailure("outbox (\(store)): reported \(result.eventsPerSecond) events/s")
            }
            var measurement = Measurement(seconds: Double(count) / result.eventsPerSecond, messages: count)
            measurement.p50Milliseconds = result.p50Ms
            measurement.p99Milliseconds = result.p99Ms
            return measurement
        }
    }
}
