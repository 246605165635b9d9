/// The connection thread as a task executor: tasks that prefer it run between the thread's turns, so a delivery
/// or a confirm resumes its task without waking another thread, and the commands such a task queues (acks,
/// publishes) need no wake-up either.
extension ConnectionDriver: TaskExecutor {
    /// Queues `job` for the connection thread and wakes it when it sleeps. Once the thread has exited, the job goes
    /// to the global concurrent executor instead, so a task that still prefers this connection keeps running.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let (accepted, wake) = shared.withLock { shared -> (Bool, Bool) in
            guard !shared.threadExited else { return (false, false) }
            shared.jobs.append(job)
            let wake = shared.sleeping
            shared.sleeping = false
            return (true, wake)
        }
        if !accepted {
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        } else if wake {
            self.wake()
        }
    }

    /// Runs the jobs queued so far (on the connection thread, outside every lock). Jobs they queue run at the next
    /// turn, so commands and frames are never starved.
    func runJobs() {
        shared.withLock { shared in swap(&shared.jobs, &jobBatch) }
        guard !jobBatch.isEmpty else { return }
        let executor = asUnownedTaskExecutor()
        let started = ContinuousClock.now
        for job in jobBatch { job.runSynchronously(on: executor) }
        let took = ContinuousClock.now - started
        if took >= Self.longJobsWarning {
            logger.warning(
                "tasks on the AMQP connection's thread ran without suspending for longer than \(Self.longJobsWarning); the connection read no frames and sent no heartbeat meanwhile: move long synchronous work off this thread (for the event bus: consumesOnConnectionThread = false)",
                metadata: ["milliseconds": "\(took.components.seconds * 1_000 + took.components.attoseconds / 1_000_000_000_000_000)"])
        }
        jobBatch.removeAll(keepingCapacity: true)
    }

    /// Jobs that keep the thread longer than this in one turn are logged as a warning.
    static let longJobsWarning = Duration.seconds(1)

    /// The thread is about to exit: jobs queued from now on, and those still queued, go to the global executor.
    func handOffJobs() {
        let left = shared.withLock { shared -> [UnownedJob] in
            shared.threadExited = true
            defer { shared.jobs.removeAll() }
            return shared.jobs
        }
        for job in left { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
    }
}
