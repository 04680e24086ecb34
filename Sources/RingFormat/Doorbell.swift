// Doorbell.swift - the pollable wake-up of SPEC.md §21: a file descriptor that
// becomes readable when a wait of one handle may end, for event loops (asyncio,
// epoll, select) and the Swift concurrency reactor (AsyncWaits.swift).
//
// The waiter counts itself in the wait channel as a sleeper does (SPEC.md §10
// steps 2-4), and instead of sleeping in FUTEX_WAIT it leaves the futex wait to
// an io_uring of its own (CRingSys/doorbell.c): the writer's ordinary FUTEX_WAKE
// completes it. No writer changes, no field in the file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// How a doorbell's descriptor is woken (SPEC.md §21.2).
public enum DoorbellKind: String, Sendable, Equatable {
    /// An io_uring holding a futex wait on the ring's wait word (Linux 6.7 and later):
    /// the writer's FUTEX_WAKE makes the descriptor readable.
    case futex
    /// A timer that fires after a short interval (20 µs doubling to 1 ms): a poll, where
    /// the kernel cannot run a futex wait for a descriptor (an older kernel, io_uring
    /// refused). `RINGFORMAT_DOORBELL=poll` in the environment chooses it everywhere.
    case poll
}

/// One handle's doorbell: made on first use, closed with the handle, used only by
/// the thread (or task) using the handle.
final class Doorbell {
    private let bell: OpaquePointer
    /// How the descriptor is woken.
    let kind: DoorbellKind
    /// The descriptor to poll for readability.
    let fileDescriptor: Int32
    /// The channel whose waiter count holds our increment, while armed.
    private var counted: WaitChannel?
    /// The reader slot's sleeping word set while counted (SPEC.md §17.8).
    private var sleepMark: UnsafeAtomic<UInt32>?
    /// A wait was handed to the bell since the last disarm.
    private var submitted = false

    /// The kind `RINGFORMAT_DOORBELL` asks for: 0 (the best there is) or RINGSYS_BELL_POLL.
    private static let requestedKind: Int32 = {
        guard let value = getenv("RINGFORMAT_DOORBELL") else { return 0 }
        return String(cString: value) == "poll" ? RINGSYS_BELL_POLL : 0
    }()

    /// Opens a doorbell for a handle of the ring at `path` (for the error's words).
    init(path: String) throws(RingError) {
        var made: OpaquePointer?
        let rc = ringsys_bell_open(&made, Self.requestedKind)
        guard rc == 0, let made else {
            throw .system(operation: "io_uring_setup or timerfd_create (the doorbell of \(path))", errno: -rc)
        }
        bell = made
        kind = ringsys_bell_kind(made) == RINGSYS_BELL_FUTEX ? .futex : .poll
        fileDescriptor = ringsys_bell_fd(made)
    }

    deinit {
        disarm()
        ringsys_bell_close(bell)
    }

    /// Steps 2-4 of SPEC.md §10, then the futex wait handed to the bell instead of step 6.
    /// Returns false when `ready()` holds (nothing is armed: the caller goes on now), true
    /// when armed: the descriptor becomes readable when the other side signals the channel,
    /// or after one slice (WaitWord.sliceNanoseconds) at the latest, and the caller then
    /// calls `disarm()` and tries again.
    func arm(_ channel: WaitChannel, sleepMark: UnsafeAtomic<UInt32>?,
             ready: () throws(RingError) -> Bool) throws(RingError) -> Bool {
        disarm()
        if try ready() {
            ringsys_bell_reset(bell)
            return false
        }
        // seq_cst: pairs with the seq_cst load of `waiters` in WaitWord.signalIfWaiting, as a
        // sleeper's increment does (SPEC.md §10 step 2); undone by disarm().
        channel.waiters.wrappingIncrement(ordering: .sequentiallyConsistent)
        sleepMark?.store(1, ordering: .sequentiallyConsistent)
        counted = channel
        self.sleepMark = sleepMark
        // The value the futex wait compares is read before the final check, so a signal
        // after the check changes it and the bell fires at once (SPEC.md §10 step 3).
        let seen = channel.signal.load(ordering: .sequentiallyConsistent)
        let isReady: Bool
        do throws(RingError) { isReady = try ready() } catch {
            disarm()
            throw error
        }
        if isReady {
            disarm()
            ringsys_bell_reset(bell)
            return false
        }
        let rc = ringsys_bell_arm(bell, channel.address, seen, WaitWord.sliceNanoseconds)
        submitted = true
        if rc != 0 {
            disarm()
            throw .system(operation: "io_uring_enter (a doorbell's futex wait)", errno: -rc)
        }
        return true
    }

    /// Takes our count out of the channel and consumes the descriptor's readiness; a wait
    /// still pending in the bell is cancelled. Idempotent.
    func disarm() {
        if let channel = counted {
            // The mark is cleared before the decrement, as WaitWord.wait's leave() does.
            sleepMark?.store(0, ordering: .sequentiallyConsistent)
            // seq_cst: undoes the increment of arm().
            channel.waiters.wrappingDecrement(ordering: .sequentiallyConsistent)
            counted = nil
            sleepMark = nil
        }
        if submitted {
            _ = ringsys_bell_disarm(bell)
            submitted = false
        }
    }

    /// Whether the bell's count is in a waiter count now.
    var isArmed: Bool { counted != nil }
}
