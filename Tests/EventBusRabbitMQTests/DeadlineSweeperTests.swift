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

    @Test func operationsFinishingInTimeReturnTheirResult() async throws {
        let sweeper = DeadlineSweeper()
        let deadline = ContinuousClock.now + .seconds(10)
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<200 {
                group.addTask { try await sweeper.wait(until: deadline, timeoutError: { TimedOut(name: "\(value)") }) { $0.finish(.success(value)) } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values.sorted() == Array(0..<200))
        sweeper.stop()
    }

    @Test func errorsOfTheOperationComeThrough() async {
        let sweeper = DeadlineSweeper()
        await #expect(throws: TimedOut(name: "own")) {
            try await sweeper.wait(until: ContinuousClock.now + .seconds(10), timeoutError: { TimedOut(name: "timeout") }) {
                $0.finish(Result<Void, any Error>.failure(TimedOut(name: "own")))
            }
        }
    }

    @Test func registrationsExpireEarliestFirstAndNeverBeforeTheirDeadline() async {
        let sweeper = DeadlineSweeper()
        let start = ContinuousClock.now
        let expired = Mutex<[(bound: Int, elapsed: Duration)]>([])
        // Registered late-deadline first, so the earlier ones must re-arm the timer.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for bound in [600, 300, 100] {
                _ = sweeper.register(deadline: start + .milliseconds(bound)) {
                    let count = expired.withLock { expired in
                        expired.append((bound, start.duration(to: .now)))
                        return expired.count
                    }
                    if count == 3 { done.resume() }
                }
            }
        }
        let outcomes = expired.withLock { $0 }
        #expect(outcomes.map(\.bound) == [100, 300, 600])
        for (bound, elapsed) in outcomes { #expect(elapsed >= .milliseconds(bound), "\(bound) ms expired after \(elapsed)") }
    }

    @Test func anOperationThatNeverCompletesFailsWithItsTimeoutErrorAndALateResultIsDropped() async {
        let sweeper = DeadlineSweeper()
        let start = ContinuousClock.now
        let late = Mutex<DeadlineSweeper.Waiter<Int>?>(nil)
        await #expect(throws: TimedOut(name: "slow")) {
            _ = try await sweeper.wait(until: start + .milliseconds(100), timeoutError: { TimedOut(name: "slow") }) { complete in
                late.withLock { $0 = complete }
            }
        }
        #expect(start.duration(to: .now) >= .milliseconds(100))
        // The operation finishing afterwards resumes nobody a second time.
        late.withLock { $0 }?.finish(.success(1))
    }

    @Test func aDeadlineThatPassedAlreadyDoesNotStartTheOperation() async {
        let sweeper = DeadlineSweeper()
        let started = Mutex(false)
        await #expect(throws: TimedOut(name: "late")) {
            try await sweeper.wait(until: ContinuousClock.now - .milliseconds(1), timeoutError: { TimedOut(name: "late") }) {
                started.withLock { $0 = true }
                $0.finish(.success(()))
            }
        }
        #expect(!started.withLock { $0 })
    }

    @Test func aCheckpointRunsOnceForAnOperationStillRunningAndTheDeadlineStillBoundsIt() async {
        let sweeper = DeadlineSweeper()
        let start = ContinuousClock.now
        let checked = Mutex<[Duration]>([])
        await #expect(throws: TimedOut(name: "stalled")) {
            _ = try await sweeper.wait(
                until: start + .milliseconds(300),
                checkpoint: .init(at: start + .milliseconds(100)) { checked.withLock { $0.append(start.duration(to: .now)) } },
                timeoutError: { TimedOut(name: "stalled") }
            ) { (_: DeadlineSweeper.Waiter<Int>) in }
        }
        #expect(start.duration(to: .now) >= .milliseconds(300))
        let runs = checked.withLock { $0 }
        #expect(runs.count == 1)
        #expect(runs.allSatisfy { $0 >= .milliseconds(100) }, "checkpoint ran after \(runs)")
    }

    @Test func aCheckpointThatEndsTheOperationEndsTheWaitWithTheOperationsResult() async throws {
        // As a stalled publish: the checkpoint closes the channel, which completes the operation with an error.
        let sweeper = DeadlineSweeper()
        let complete = Mutex<DeadlineSweeper.Waiter<Int>?>(nil)
        await #expect(throws: TimedOut(name: "channel closed")) {
            _ = try await sweeper.wait(
                until: ContinuousClock.now + .seconds(30),
                checkpoint: .init(at: .now + .milliseconds(50)) {
                    complete.withLock { $0 }?.finish(.failure(TimedOut(name: "channel closed")))
                },
                timeoutError: { TimedOut(name: "deadline") }
            ) { done in complete.withLock { $0 = done } }
        }
        // The deadline's registration was removed with the operation: the timer is released at once.
        sweeper.stop()
    }

    @Test func aCheckpointNeverRunsForAnOperationThatFinishedBeforeIt() async throws {
        let sweeper = DeadlineSweeper()
        let start = ContinuousClock.now
        let checked = Mutex(0)
        let value = try await sweeper.wait(
            until: start + .seconds(30), checkpoint: .init(at: start + .milliseconds(50)) { checked.withLock { $0 += 1 } },
            timeoutError: { TimedOut(name: "deadline") }
        ) { $0.finish(.success(7)) }
        #expect(value == 7)
        // A later registration expires after the checkpoint's time would have passed (earliest first).
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            _ = sweeper.register(deadline: start + .milliseconds(100)) { done.resume() }
        }
        #expect(checked.withLock { $0 } == 0)
    }

    @Test func aCheckpointAtOrAfterTheDeadlineRunsAtTheDeadlineBeforeTheTimeout() async {
        let sweeper = DeadlineSweeper()
        let start = ContinuousClock.now
        let order = Mutex<[String]>([])
        await #expect(throws: TimedOut(name: "deadline")) {
            _ = try await sweeper.wait(
                until: start + .milliseconds(100),
                checkpoint: .init(at: start + .seconds(10)) { order.withLock { $0.append("checkpoint") } },
                timeoutError: {
                    order.withLock { $0.append("timeout") }
                    return TimedOut(name: "deadline")
                }
            ) { (_: DeadlineSweeper.Waiter<Int>) in }
        }
        #expect(order.withLock { $0 } == ["checkpoint", "timeout"])
        #expect(start.duration(to: .now) >= .milliseconds(100))
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
