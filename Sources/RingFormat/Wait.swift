// Wait.swift - blocking waits on the shared wait words (SPEC.md §10): spin a
// little, then sleep on a futex word in the file mapping, so a blocked side
// uses no CPU and the other side only makes a system call when someone sleeps.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// One wait word of SPEC.md §10 and the count of those sleeping on it.
struct WaitChannel {
    /// The futex word; its value changes whenever the awaited side makes progress.
    let signal: UnsafeAtomic<UInt32>
    /// How many are sleeping (or about to sleep) on `signal`.
    let waiters: UnsafeAtomic<UInt32>
    /// The address of `signal`, for the futex calls.
    let address: UnsafeMutablePointer<UInt32>
}

/// A point on the monotonic clock after which a wait gives up.
struct Deadline {
    /// Nanoseconds on the monotonic clock; nil: never.
    let nanoseconds: UInt64?

    /// The deadline `timeout` from now; nil timeout: no deadline.
    init(after timeout: Duration?) {
        guard let timeout else { nanoseconds = nil; return }
        let (seconds, attoseconds) = timeout.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) {
            nanoseconds = 0 // passed already, without reading the clock
            return
        }
        let ns = UInt64(min(seconds, 1 << 32)) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
        nanoseconds = SystemCalls.monotonicNanoseconds() &+ ns
    }

    /// Nanoseconds left (0 when passed); -1 for no deadline.
    var remaining: Int64 {
        guard let nanoseconds else { return -1 }
        let now = SystemCalls.monotonicNanoseconds()
        return now >= nanoseconds ? 0 : Int64(nanoseconds - now)
    }
}

/// The wait/wake protocol of SPEC.md §10, for one (signal, waiters) pair.
enum WaitWord {
    /// How long a waiter spins, re-checking, before it sleeps: long enough that a
    /// stream with short gaps (a slower peer, a descheduled process) never reaches
    /// the futex, so neither side makes system calls while data flows.
    static let spinNanoseconds: UInt64 = 50_000

    /// The longest single sleep (SPEC.md §10): a waiter re-checks at least this
    /// often, so no value a peer writes into the wait words makes a wait endless.
    static let sliceNanoseconds: Int64 = 100_000_000

    /// Waits until `ready()` is true or the deadline passes; returns whether it became ready.
    /// `afterSleep` runs after each sleep (at least every `sliceNanoseconds`) and may throw.
    ///
    /// `ready` must read the other side's position with sequentially consistent
    /// ordering: the waiter increments `waiters` (seq_cst) and then reads the
    /// position, the other side stores the position (seq_cst) and then reads
    /// `waiters`; one of the two sees the other's write, so no wake-up is lost.
    ///
    /// `sleepMark` (a reader's slot word, SPEC.md §17.8) is 1 while this waiter is
    /// counted in `waiters`, so whoever takes a dead reader's slot can undo its count.
    static func wait(
        _ channel: WaitChannel, deadline: Deadline, afterSleep: () throws(RingError) -> Void = {},
        sleepMark: UnsafeAtomic<UInt32>? = nil, ready: () throws(RingError) -> Bool
    ) throws(RingError) -> Bool {
        if try ready() { return true }
        if deadline.remaining == 0 { return false }
        // Spin for spinNanoseconds (never past the deadline), reading the clock every 64 pauses.
        let spinStart = SystemCalls.monotonicNanoseconds()
        let spinEnd = min(spinStart &+ spinNanoseconds, deadline.nanoseconds ?? .max)
        var spins = 0
        while true {
            if try ready() { return true }
            ringsys_cpu_relax()
            spins &+= 1
            if spins & 63 == 0 && SystemCalls.monotonicNanoseconds() >= spinEnd { break }
        }
        var backoff: UInt64 = 20_000
        // The mark is 1 only while the count includes us: set after the increment, cleared
        // before the decrement, so a slot's next taker never undoes a count we did not add.
        func leave() {
            sleepMark?.store(0, ordering: .sequentiallyConsistent)
            channel.waiters.wrappingDecrement(ordering: .sequentiallyConsistent)
        }
        while true {
            // seq_cst: pairs with the seq_cst load of `waiters` in signalIfWaiting.
            channel.waiters.wrappingIncrement(ordering: .sequentiallyConsistent)
            sleepMark?.store(1, ordering: .sequentiallyConsistent)
            // The value to sleep on is read before the final check, so a
            // signal after the check changes it and the futex returns at once.
            let seen = channel.signal.load(ordering: .sequentiallyConsistent)
            let isReady: Bool
            do throws(RingError) { isReady = try ready() } catch {
                leave()
                throw error
            }
            if isReady {
                leave()
                return true
            }
            let remaining = deadline.remaining
            if remaining == 0 {
                leave()
                return false
            }
            let slice = remaining < 0 ? sliceNanoseconds : min(remaining, sliceNanoseconds)
            let rc = ringsys_futex_wait(channel.address, seen, slice)
            if rc == -ENOSYS {
                // Portable fallback: poll with a growing sleep, at most 1 ms.
                let nap = min(backoff, UInt64(slice))
                SystemCalls.sleep(nanoseconds: nap)
                backoff = min(backoff * 2, 1_000_000)
            }
            leave()
            // At least once a slice: what the ready check cannot see (a truncated file).
            try afterSleep()
            if try ready() { return true }
            if deadline.remaining == 0 { return false }
        }
    }

    /// Wakes every sleeper on `signal` if `waiters` says there is one. Call it
    /// right after the seq_cst store that made progress visible.
    @inline(__always)
    static func signalIfWaiting(_ channel: WaitChannel) {
        // seq_cst: pairs with the waiter's seq_cst increment in wait().
        if channel.waiters.load(ordering: .sequentiallyConsistent) != 0 {
            wake(channel)
        }
    }

    /// Wakes every sleeper on `signal` without changing the file: for ending this
    /// process's own waits (`interrupt()`). A waiter about to sleep may miss it and
    /// then wakes at the end of its slice (`sliceNanoseconds`).
    static func wakeWithoutSignal(_ channel: WaitChannel) {
        _ = ringsys_futex_wake_all(channel.address)
    }

    /// Bumps `signal` and wakes every sleeper on it, unconditionally.
    static func wake(_ channel: WaitChannel) {
        channel.signal.wrappingIncrement(ordering: .sequentiallyConsistent)
        _ = ringsys_futex_wake_all(channel.address)
    }
}

