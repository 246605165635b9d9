@testable import EventBusRabbitMQ
import Foundation
import Synchronization
import Testing

/// The deadline sweeper that bounds publishes: operations that finish in time return their result, overdue ones fail
/// with the timeout error at (never before) their own deadline, whatever order deadlines are registered in.
@Suite(.timeLimit(.minutes(1))) struct DeadlineSweeperTests {
    struct TimedOut: Error, Equatable {
        let name: String
    }

    /// An operation that never finishes by itself (until `release`), like a publish whose confirm never comes.
    final class Gate: Sendable {
        private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
        private let open = Mutex(false)

        func wait() async {
            await withCheckedContinuation { continuation in
                let resumeNow = open.withLock { $0 } || {
                    waiters.withLock { $0.append(continuation) }
                    return false
                }()
                if resumeNow { continuation.resume() }
            }
        }

        func release() {
            open.withLock { $0 = true }
            for waiter in waiters.withLock({ taken in defer { taken.removeAll() }; return taken }) { waiter.resume() }
        }
    }

    @Test func operationsFinishingInTimeReturnTheirResult() async throws {
        let sweeper = DeadlineSweeper()
        let deadline = ContinuousClock.now + .seconds(10)
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<200 {
                group.addTask { try await sweeper.run(until: deadline, timeoutError: { TimedOut(name: "\(value)") }) { value } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values.sorted() == Array(0..<200))
        sweeper.stop()
    }

    @Test func errorsOfTheOperationComeThrough() async {
        let sweeper = DeadlineSweeper()
        await #expect(throws: TimedOut(name: "own")) {
            try await sweeper.run(until: ContinuousClock.now + .seconds(10), timeoutError: { TimedOut(name: "timeout") }) {
                throw TimedOut(name: "own")
            }
        }
    }

    @Test func overdueOperationsFailAtTheirOwnDeadlineInAnyRegistrationOrder() async throws {
        let sweeper = DeadlineSweeper()
        let gate = Gate()
        let start = ContinuousClock.now
        // Registered late-deadline first, so the earlier ones must re-arm the timer.
        let bounds: [Duration] = [.milliseconds(600), .milliseconds(300), .milliseconds(100)]
        let outcomes = await withTaskGroup(of: (Duration, Duration, Bool).self) { group in
            for bound in bounds {
                group.addTask {
                    do {
                        try await sweeper.run(until: start + bound, timeoutError: { TimedOut(name: "\(bound)") }) { await gate.wait() }
                        return (bound, start.duration(to: .now), false)
                    } catch {
                        return (bound, start.duration(to: .now), error as? TimedOut == TimedOut(name: "\(bound)"))
                    }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        gate.release()
        // Each fails at its own deadline, never before it, and none waits for a later one: they end earliest first.
        #expect(outcomes.map(\.0) == [.milliseconds(100), .milliseconds(300), .milliseconds(600)])
        for (bound, elapsed, timedOut) in outcomes {
            #expect(timedOut, "\(bound)")
            #expect(elapsed >= bound, "\(bound) failed after \(elapsed)")
        }
    }

    @Test func aDeadlineThatPassedAlreadyDoesNotStartTheOperation() async {
        let sweeper = DeadlineSweeper()
        let started = Mutex(false)
        await #expect(throws: TimedOut(name: "late")) {
            try await sweeper.run(until: ContinuousClock.now - .milliseconds(1), timeoutError: { TimedOut(name: "late") }) {
                started.withLock { $0 = true }
            }
        }
        #expect(!started.withLock { $0 })
    }

    @Test func waitingForAChannelTimesOutWithTheGivenError() async {
        let link = ChannelLink()
        let start = ContinuousClock.now
        await #expect(throws: TimedOut(name: "no channel")) {
            _ = try await link.channel(until: start + .milliseconds(100)) { TimedOut(name: "no channel") }
        }
        #expect(start.duration(to: .now) >= .milliseconds(100))
        link.stop(TimedOut(name: "stopped"))
        await #expect(throws: TimedOut(name: "stopped")) {
            _ = try await link.channel(until: .now + .seconds(5)) { TimedOut(name: "no channel") }
        }
    }
}
