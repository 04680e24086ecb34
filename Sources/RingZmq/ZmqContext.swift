// ZmqContext.swift - one libzmq context: its I/O thread and the sockets made in it.

import CZmq
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// A libzmq context (the C function `zmq_ctx_new`), terminated when the last handle
/// holding it goes away (`zmq_ctx_term`, which waits for each socket's linger).
///
/// Every producer and consumer makes its own context unless `ZmqOptions.context` hands it
/// one to share (inproc:// endpoints need a shared context). A context is thread-safe; the
/// sockets made in it are not.
///
/// **Fork.** Never fork after creating a context and use it, or anything made in it, in
/// the child: libzmq's I/O thread does not exist there. A handle used in a child fails with
/// FORKED when it makes a socket or waits; its close and the context's deinit leave the
/// parent's sockets and context alone there. Create contexts after forking.
public final class ZmqContext: @unchecked Sendable {
    /// The libzmq context (`void *`).
    let handle: UnsafeMutableRawPointer
    /// The process that made the context.
    let creator: pid_t

    /// Makes a context with libzmq's defaults (one I/O thread).
    /// - Throws: SYSTEM when libzmq cannot make one (`zmq_ctx_new` returned NULL).
    public init() throws(RingError) {
        guard let made = zmq_ctx_new() else { throw zmqFailure("zmq_ctx_new", endpoint: nil, code: errno) }
        handle = made
        creator = getpid()
    }

    /// True in a child process that inherited the context across fork().
    var isInherited: Bool { getpid() != creator }

    /// FORKED in a child that inherited the context.
    func checkProcess() throws(RingError) {
        if isInherited { throw .forked }
    }

    deinit {
        guard !isInherited else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
