// ThreadExecutor.swift - a TaskExecutor with a thread of its own, for the tests that time
// how soon a task resumes. Swift Testing runs suites in parallel, and its synchronous
// tests (the ten-million-message run, the process tests) block the threads of the
// cooperative pool, which has one per core: on a 2-core machine a resumed task may wait
// seconds for a pool thread. A test that measures the library's wake-up, not the pool's
// backlog, runs its tasks here.

#if canImport(Glibc)
import Glibc
#endif

/// Runs the jobs given to it, in order, on one thread it owns (for the life of the process).
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// Guards `jobs`; `ready` is signalled when a job is added.
    private var mutex = pthread_mutex_t()
    private var ready = pthread_cond_t()
    private var jobs: [UnownedJob] = []

    /// Starts the executor's thread.
    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&ready, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque() // the thread keeps it for good
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<ThreadExecutor>.fromOpaque(context!).takeUnretainedValue().run()
        }, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        pthread_detach(thread)
    }

    /// Queues `job` for the executor's thread.
    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(&mutex) // paired with the unlock below
        jobs.append(unowned)
        pthread_cond_signal(&ready)
        pthread_mutex_unlock(&mutex) // pairs with the lock above
    }

    private func run() -> Never {
        while true {
            pthread_mutex_lock(&mutex) // paired with the unlock below
            while jobs.isEmpty { pthread_cond_wait(&ready, &mutex) }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            pthread_mutex_unlock(&mutex) // pairs with the lock above
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

/// Holds threads of the global concurrent pool blocked, as a blocking test of another suite
/// does: `count` tasks that each block their thread until `release()` or `limit` passes.
final class PoolHold: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var released = pthread_cond_t()
    private var done = false

    /// Starts `count` blocking tasks on the global pool.
    init(count: Int, limit: Duration) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&released, nil)
        let seconds = limit.components.seconds
        for _ in 0..<count {
            Task.detached { [self] in self.block(seconds: Int(seconds)) }
        }
    }

    private func block(seconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var until = now
        until.tv_sec += seconds
        pthread_mutex_lock(&mutex) // paired with the unlock below
        while !done {
            if pthread_cond_timedwait(&released, &mutex, &until) == ETIMEDOUT { break }
        }
        pthread_mutex_unlock(&mutex) // pairs with the lock above
    }

    /// Lets every blocked task end.
    func release() {
        pthread_mutex_lock(&mutex) // paired with the unlock below
        done = true
        pthread_cond_broadcast(&released)
        pthread_mutex_unlock(&mutex) // pairs with the lock above
    }
}
