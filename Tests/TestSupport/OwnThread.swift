import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs CPU-bound synchronous work (a property test's loop) on a thread of its own, at the lowest scheduling
/// priority, and returns its result.
///
/// Swift Testing runs tests in parallel on the cooperative pool, which has one thread per core: two property tests
/// looping there for 20 s each would leave none for the tests waiting on timers and the broker, and those time out.
/// On a thread of its own at nice 19 the loop takes only the CPU that the broker, the databases and the other
/// tests leave: at full priority three such loops on two cores starved the broker while the whole run connected.
/// Record issues from the result, back in the test's task (`#expect` needs the test's task-local context).
public func onOwnThread<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        Thread {
            #if canImport(Glibc)
            // Linux keeps a nice value per thread, and `who` 0 is the calling thread: this lowers only the loop's.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            #endif
            continuation.resume(returning: work())
        }.start()
    }
}
