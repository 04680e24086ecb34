// Deadline.swift - a point on the monotonic clock, and how many milliseconds are left
// before it in the form zmq_poll takes them.

import RingFormat

/// When a timed call gives up; nil timeout: never.
struct ZmqDeadline {
    /// Nanoseconds of CLOCK_MONOTONIC, or nil for no limit.
    private let end: UInt64?

    /// The deadline `timeout` from now (nil: none; zero or negative: already passed).
    init(after timeout: Duration?) {
        guard let timeout else { end = nil; return }
        let (seconds, attoseconds) = timeout.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { end = 0; return }
        let ns = UInt64(min(seconds, Int64(UInt64.max / 2_000_000_000))) * 1_000_000_000
            + UInt64(attoseconds / 1_000_000_000)
        end = Self.now() &+ ns
    }

    /// Now on CLOCK_MONOTONIC, in nanoseconds.
    static func now() -> UInt64 { SystemCalls.monotonicNanoseconds() }

    /// Milliseconds to wait in zmq_poll: -1 for no limit, nil once the deadline passed,
    /// otherwise what is left, rounded up so a wait never ends early.
    var pollMilliseconds: Int? {
        guard let end else { return -1 }
        let now = Self.now()
        guard now < end else { return nil }
        return Int((end - now + 999_999) / 1_000_000)
    }
}
