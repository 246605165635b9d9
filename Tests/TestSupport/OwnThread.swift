import Foundation

/// Runs CPU-bound synchronous work (a property test's loop) on a thread of its own and returns its result.
///
/// Swift Testing runs tests in parallel on the cooperative pool, which has one thread per core: two property tests
/// looping there for 20 s each would leave none for the tests waiting on timers and the broker, and those time out.
/// Record issues from the result, back in the test's task (`#expect` needs the test's task-local context).
public func onOwnThread<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
