// ZmqCall.swift - the one funnel from a failed libzmq call to a RingError, and the one
// EINTR policy: a call interrupted by a signal is retried, by the caller's loop.

import CZmq
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// libzmq's error number of the last failed call on this thread (the C function `zmq_errno`).
@inline(__always) func lastZmqErrno() -> Int32 { zmq_errno() }

/// The RingError for a libzmq call that failed with `code`.
///
/// ETERM (the context is being terminated) is CLOSED, as a ring handle closed under a
/// blocked call; everything else is SYSTEM with libzmq's error number, the call and the
/// endpoint in `operation`, and, for libzmq's own numbers (from ZMQ_HAUSNUMERO on, which
/// strerror does not know), the words of `zmq_strerror` after them.
func zmqFailure(_ call: String, endpoint: String?, code: Int32 = lastZmqErrno()) -> RingError {
    if code == ETERM { return .closed }
    var operation = call
    if let endpoint { operation += " \(endpoint)" }
    if code >= ZMQ_HAUSNUMERO { operation += " (\(zmqErrorWords(code)))" }
    return .system(operation: operation, errno: code)
}

/// The words libzmq gives an error number (the C function `zmq_strerror`); for the
/// system's own numbers they are strerror's.
public func zmqErrorWords(_ code: Int32) -> String {
    guard let text = zmq_strerror(code) else { return "error \(code)" }
    return String(cString: text)
}

extension RingError {
    /// A one-line description that names a libzmq error with libzmq's words
    /// (`zmq_strerror`) where `description` would use strerror's.
    public var zmqDescription: String {
        if case let .system(operation, code) = self {
            return "\(operation) failed: \(zmqErrorWords(code)) (errno \(code))"
        }
        return description
    }
}
