// AsyncWaits.swift - the Swift concurrency reactor: one background thread of the
// process waits in epoll for the doorbells (SPEC.md §21) of every suspended task,
// so that a task whose handle must wait ties up no thread.
//
// A task that would wait hands the reactor its doorbell's descriptor and its arm
// step, and suspends. The reactor thread arms (SPEC.md §21.1 steps 1-5), watches the
// descriptor, and resumes the task once it is readable; the task then disarms and
// tries its operation again (AsyncSequences.swift).
//
// Why the reactor thread arms, not the task's thread: the io_uring futex wait of a
// doorbell completes as task work on the thread that submitted it, and a thread that
// exits cancels its waits (SPEC.md §21.2). The reactor thread never exits and sits in
// epoll_wait, which the kernel interrupts to run that task work, so the completion
// lands at once and in the thread that is about to see it. A cooperative-pool thread
// may be retired while idle (libdispatch lets idle workers exit), and each wake-up
// would cost one more thread hop.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRingSys

/// One suspended wait handed to the reactor: a doorbell's descriptor and the step that
/// arms it. `phase`, `cancelled`, `token` and `continuation` are guarded by the reactor's
/// lock. `arm` captures the waiting handle, which is not Sendable: only the reactor
/// thread calls it, while the task is suspended (after `enqueue`, before any resumption),
/// when nothing else touches the handle - hence `@unchecked Sendable`.
final class DoorbellWait: @unchecked Sendable {
    /// Where the wait is; each step is made under the reactor's lock.
    enum Phase {
        /// Made, not yet handed to the reactor.
        case new
        /// In the reactor's queue, to be armed by the reactor thread.
        case queued
        /// The reactor thread is running `arm`: a cancel only marks it.
        case arming
        /// Armed and watched by epoll.
        case armed
        /// Resumed, or about to be; nothing more happens to it.
        case finished
    }

    let descriptor: Int32
    let arm: () throws(RingError) -> Bool
    var phase = Phase.new
    var cancelled = false
    var token: UInt64 = 0
    var continuation: CheckedContinuation<Void, any Error>?

    init(descriptor: Int32, arm: @escaping () throws(RingError) -> Bool) {
        self.descriptor = descriptor
        self.arm = arm
    }
}

/// The lock word of DoorbellReactor's registry (a global, so that the fork handler reaches it).
nonisolated(unsafe) private let registryLockWord: UnsafeMutablePointer<UInt32> = {
    let word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    word.initialize(to: 0)
    return word
}()

/// The process's reactor: an epoll instance, an eventfd that wakes it for new waits, and
/// the thread that runs `run()`. Made on the first async wait, once per process (again in
/// the child of a fork, which has no reactor thread).
final class DoorbellReactor: @unchecked Sendable {
    private let poller: Int32
    private let wakeup: Int32
    /// A ringsys mutex word guarding `queue`, `armed`, `nextToken` and every wait's fields.
    private let lockWord: UnsafeMutablePointer<UInt32>
    /// Waits handed over and not yet taken by the reactor thread.
    private var queue: [DoorbellWait] = []
    /// Waits whose descriptor epoll watches, by token.
    private var armed: [UInt64: DoorbellWait] = [:]
    /// The token of the next wait; 0 is the eventfd's.
    private var nextToken: UInt64 = 1
    /// The fork generation this reactor's thread runs in.
    let forkGeneration: UInt32

    /// The reactor of this process, started on first use.
    /// - Throws: `system` if epoll, the eventfd or the thread cannot be made.
    static func current() throws(RingError) -> DoorbellReactor {
        try registry.current()
    }

    private static let registry = Registry()

    /// Holds the process's reactor; a fork's child makes its own (the parent's thread is not there).
    private final class Registry: @unchecked Sendable {
        /// A ringsys mutex word guarding `reactor`: registryLockWord, which a fork's child
        /// finds free even if another thread of the parent held it at the fork.
        private let lockWord = registryLockWord
        private var reactor: DoorbellReactor?

        init() {
            // In the child only the forking thread runs: no one holds the lock there.
            pthread_atfork(nil, nil, { registryLockWord.pointee = 0 })
        }

        func current() throws(RingError) -> DoorbellReactor {
            ringsys_mutex_lock(lockWord) // paired with the unlock in the defer
            defer { ringsys_mutex_unlock(lockWord) } // pairs with the lock above
            if let reactor, reactor.forkGeneration == ringsys_fork_generation() { return reactor }
            let made = try DoorbellReactor()
            reactor = made
            return made
        }
    }

    private init() throws(RingError) {
        let poller = ringsys_poller_open()
        guard poller >= 0 else { throw .system(operation: "epoll_create1 (the async reactor)", errno: -poller) }
        let wakeup = ringsys_wakeup_open()
        guard wakeup >= 0 else {
            close(poller)
            throw .system(operation: "eventfd (the async reactor)", errno: -wakeup)
        }
        let added = ringsys_poller_add(poller, wakeup, 0, 0)
        guard added == 0 else {
            close(poller); close(wakeup)
            throw .system(operation: "epoll_ctl (the async reactor's eventfd)", errno: -added)
        }
        self.poller = poller
        self.wakeup = wakeup
        lockWord = .allocate(capacity: 1)
        lockWord.initialize(to: 0)
        forkGeneration = ringsys_fork_generation()
        try startThread()
    }

    /// Starts the reactor thread (detached; it runs as long as the process).
    private func startThread() throws(RingError) {
        var thread = pthread_t()
        // The thread holds a reference for good: the reactor is never freed.
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let reactor = Unmanaged<DoorbellReactor>.fromOpaque(context!).takeUnretainedValue()
            ringsys_name_thread("ring-reactor")
            reactor.run()
        }, context)
        guard rc == 0 else {
            Unmanaged<DoorbellReactor>.fromOpaque(context).release()
            throw .system(operation: "pthread_create (the async reactor)", errno: rc)
        }
        pthread_detach(thread)
    }

    /// Runs `body` holding the lock.
    private func locked<R>(_ body: () -> R) -> R {
        ringsys_mutex_lock(lockWord) // paired with the unlock below
        let result = body()
        ringsys_mutex_unlock(lockWord) // pairs with the lock above
        return result
    }

    /// Suspends the calling task until the doorbell `descriptor` may end its wait:
    /// the reactor thread calls `arm` (a handle's armDoorbell); false (ready now) resumes
    /// at once, true watches the descriptor and resumes when it is readable. The caller
    /// disarms afterwards in every case (the handle may be armed when this throws).
    /// - Throws: `CancellationError` when the task is cancelled first (exactly one
    ///   resumption either way), the `RingError` that `arm` threw, `system` if epoll refuses.
    nonisolated(nonsending) func wait(descriptor: Int32, arming arm: @escaping () throws(RingError) -> Bool) async throws {
        let wait = DoorbellWait(descriptor: descriptor, arm: arm)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enqueue(wait, continuation)
            }
        } onCancel: {
            cancel(wait)
        }
    }

    /// Hands `wait` to the reactor thread, or resumes it with CancellationError if the
    /// task was cancelled before it got here.
    private func enqueue(_ wait: DoorbellWait, _ continuation: CheckedContinuation<Void, any Error>) {
        let refused: Bool = locked {
            if wait.cancelled {
                wait.phase = .finished
                return true
            }
            wait.token = nextToken
            nextToken += 1
            wait.continuation = continuation
            wait.phase = .queued
            queue.append(wait)
            return false
        }
        if refused {
            continuation.resume(throwing: CancellationError())
        } else {
            ringsys_wakeup_signal(wakeup)
        }
    }

    /// The task of `wait` was cancelled (from any thread): resumes it with CancellationError
    /// unless the reactor thread is arming it (then the reactor resumes it when done) or it
    /// was resumed already.
    private func cancel(_ wait: DoorbellWait) {
        let resumption: CheckedContinuation<Void, any Error>? = locked {
            switch wait.phase {
            case .new, .arming:
                wait.cancelled = true
                return nil
            case .queued:
                // The reactor thread skips it when it takes the queue.
                wait.phase = .finished
            case .armed:
                armed[wait.token] = nil
                _ = ringsys_poller_remove(poller, wait.descriptor)
                wait.phase = .finished
            case .finished:
                return nil
            }
            defer { wait.continuation = nil }
            return wait.continuation
        }
        resumption?.resume(throwing: CancellationError())
    }

    /// The reactor thread: waits for events, resumes the waits whose descriptor turned
    /// readable, and arms the waits handed over since.
    private func run() -> Never {
        var tokens = [UInt64](repeating: 0, count: 64)
        while true {
            let count = tokens.withUnsafeMutableBufferPointer { ringsys_poller_wait(poller, $0.baseAddress, 64, -1) }
            precondition(count >= 0 || count == -EINTR, "epoll_wait failed in the async reactor: errno \(-count)")
            var woken: [CheckedContinuation<Void, any Error>] = []
            let taken: [DoorbellWait] = locked {
                for token in tokens.prefix(Int(max(count, 0))) {
                    if token == 0 {
                        ringsys_wakeup_drain(wakeup)
                        continue
                    }
                    // Not there: cancelled since epoll reported it.
                    guard let wait = armed.removeValue(forKey: token) else { continue }
                    _ = ringsys_poller_remove(poller, wait.descriptor)
                    wait.phase = .finished
                    if let c = wait.continuation { woken.append(c) }
                    wait.continuation = nil
                }
                let taken = queue.filter { $0.phase == .queued }
                queue.removeAll(keepingCapacity: true)
                for wait in taken { wait.phase = .arming }
                return taken
            }
            for c in woken { c.resume() }
            for wait in taken { arm(wait) }
        }
    }

    /// Arms `wait` on the reactor thread and watches its descriptor, or resumes it: ready
    /// now, `arm` failed, or its task was cancelled meanwhile.
    private func arm(_ wait: DoorbellWait) {
        let outcome = Result { () throws(RingError) -> Bool in try wait.arm() }
        let resumption: (CheckedContinuation<Void, any Error>, (any Error)?)? = locked {
            var failure: (any Error)? = nil
            if wait.cancelled {
                failure = CancellationError()
            } else {
                switch outcome {
                case .failure(let error): failure = error
                case .success(false): break
                case .success(true):
                    let rc = ringsys_poller_add(poller, wait.descriptor, wait.token, 1)
                    if rc == 0 {
                        wait.phase = .armed
                        armed[wait.token] = wait
                        return nil
                    }
                    failure = RingError.system(operation: "epoll_ctl (watching a doorbell)", errno: -rc)
                }
            }
            wait.phase = .finished
            defer { wait.continuation = nil }
            return wait.continuation.map { ($0, failure) }
        }
        guard let (continuation, failure) = resumption else { return }
        if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
    }
}

/// One wait of a handle for its condition without a thread: suspends until the doorbell
/// `descriptor` may end the wait (see `DoorbellReactor.wait`), then `disarm`s, whatever
/// happened. The caller then tries its operation again.
nonisolated(nonsending) func awaitDoorbell(descriptor: Int32, arm: @escaping () throws(RingError) -> Bool,
                                          disarm: () -> Void) async throws {
    defer { disarm() }
    try await DoorbellReactor.current().wait(descriptor: descriptor, arming: arm)
}
