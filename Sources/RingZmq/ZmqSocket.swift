// ZmqSocket.swift - a thin wrapper of one libzmq socket: options, bind and connect, and
// sending and receiving one message with a deadline (a non-blocking try, then zmq_poll).

import CZmq
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// One libzmq socket of a context (the C function `zmq_socket`).
///
/// Like every libzmq socket it is used by one thread at a time; it is not `Sendable`.
/// The producer and consumer use PUSH and PULL sockets; tests use a raw PUSH socket to
/// send frames of their own making.
public final class ZmqSocket {
    /// The socket types this package uses.
    public enum Kind: Sendable {
        /// ZMQ_PUSH: sends, round-robin over its peers, blocks at the high-water mark.
        case push
        /// ZMQ_PULL: receives, fair-queued from its peers.
        case pull

        var raw: Int32 { self == .push ? ZMQ_PUSH : ZMQ_PULL }
    }

    /// The libzmq socket (`void *`); nil once closed.
    private(set) var handle: UnsafeMutableRawPointer?
    /// The context, kept alive while the socket is open (zmq_ctx_term waits for its sockets).
    let context: ZmqContext
    /// The endpoint last bound or connected, for error messages.
    private(set) var endpoint: String?

    /// Makes a socket of `kind` in `context`.
    /// - Throws: SYSTEM from `zmq_socket` (EMFILE: too many sockets), CLOSED if the context is terminating.
    public init(context: ZmqContext, kind: Kind) throws(RingError) {
        try context.checkProcess()
        guard let made = zmq_socket(context.handle, kind.raw) else { throw zmqFailure("zmq_socket", endpoint: nil) }
        handle = made
        self.context = context
    }

    deinit { close() }

    /// The open socket, or CLOSED.
    private func open() throws(RingError) -> UnsafeMutableRawPointer {
        guard let handle else { throw .closed }
        return handle
    }

    /// Sets an integer option (`zmq_setsockopt`), such as ZMQ_SNDHWM or ZMQ_LINGER.
    public func setOption(_ option: Int32, _ value: Int32) throws(RingError) {
        var v = value
        guard zmq_setsockopt(try open(), option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw zmqFailure("zmq_setsockopt(\(option))", endpoint: endpoint)
        }
    }

    /// Sets a 64-bit option (`zmq_setsockopt`), such as ZMQ_MAXMSGSIZE.
    public func setOption(_ option: Int32, _ value: Int64) throws(RingError) {
        var v = value
        guard zmq_setsockopt(try open(), option, &v, MemoryLayout<Int64>.size) == 0 else {
            throw zmqFailure("zmq_setsockopt(\(option))", endpoint: endpoint)
        }
    }

    /// Listens on `endpoint` (`zmq_bind`): ipc://PATH, tcp://HOST:PORT (PORT `*` picks a
    /// free one: read `lastEndpoint`), inproc://NAME.
    /// - Throws: SYSTEM: EADDRINUSE, EPROTONOSUPPORT, EINVAL (malformed endpoint), ...
    public func bind(_ endpoint: String) throws(RingError) {
        self.endpoint = endpoint
        guard zmq_bind(try open(), endpoint) == 0 else { throw zmqFailure("zmq_bind", endpoint: endpoint) }
    }

    /// Connects to `endpoint` (`zmq_connect`). libzmq connects in the background and
    /// reconnects by itself; messages queue (up to the high-water mark) until it does.
    public func connect(_ endpoint: String) throws(RingError) {
        self.endpoint = endpoint
        guard zmq_connect(try open(), endpoint) == 0 else { throw zmqFailure("zmq_connect", endpoint: endpoint) }
    }

    /// The endpoint last bound, resolved (ZMQ_LAST_ENDPOINT): a bound tcp://127.0.0.1:*
    /// reads back as tcp://127.0.0.1:PORT.
    public func lastEndpoint() throws(RingError) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        let rc = buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, $0.baseAddress, &size) }
        guard rc == 0 else { throw zmqFailure("zmq_getsockopt(ZMQ_LAST_ENDPOINT)", endpoint: endpoint) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sends `bytes` as one single-part message, waiting up to `timeout` for room below the
    /// high-water mark (nil: no limit). Returns false if the time ran out (nothing was sent).
    public func send(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws(RingError) -> Bool {
        let socket = try open()
        let deadline = ZmqDeadline(after: timeout)
        while true {
            if zmq_send(socket, bytes.baseAddress, bytes.count, ZMQ_DONTWAIT) >= 0 { return true }
            guard try mayWait(for: Int16(ZMQ_POLLOUT), until: deadline, after: "zmq_send") else { return false }
        }
    }

    /// Sends the message in `message` (`zmq_msg_send`, which empties it on success),
    /// waiting as `send(_:timeout:)`. On false or a throw the message is still the caller's.
    func send(message: UnsafeMutablePointer<zmq_msg_t>, until deadline: ZmqDeadline) throws(RingError) -> Bool {
        let socket = try open()
        while true {
            if zmq_msg_send(message, socket, ZMQ_DONTWAIT) >= 0 { return true }
            guard try mayWait(for: Int16(ZMQ_POLLOUT), until: deadline, after: "zmq_msg_send") else { return false }
        }
    }

    /// Receives one message part into `message` (`zmq_msg_recv`, which releases what it
    /// held), waiting until `deadline`. Returns false if the time ran out.
    func receive(into message: UnsafeMutablePointer<zmq_msg_t>, until deadline: ZmqDeadline) throws(RingError) -> Bool {
        let socket = try open()
        while true {
            if zmq_msg_recv(message, socket, ZMQ_DONTWAIT) >= 0 { return true }
            guard try mayWait(for: Int16(ZMQ_POLLIN), until: deadline, after: "zmq_msg_recv") else { return false }
        }
    }

    /// After a non-blocking call failed: true to try it again (EINTR, or EAGAIN with time
    /// left, after zmq_poll waited for `events`), false when EAGAIN and the deadline passed.
    private func mayWait(for events: Int16, until deadline: ZmqDeadline, after call: String) throws(RingError) -> Bool {
        let code = zmq_errno()
        if code == EINTR { return true }
        guard code == EAGAIN else { throw zmqFailure(call, endpoint: endpoint, code: code) }
        guard let ms = deadline.pollMilliseconds else { return false }
        try context.checkProcess()
        var item = zmq_pollitem_t(socket: try open(), fd: 0, events: events, revents: 0)
        if zmq_poll(&item, 1, ms) < 0 {
            let failed = zmq_errno()
            if failed != EINTR { throw zmqFailure("zmq_poll", endpoint: endpoint, code: failed) }
        }
        return true
    }

    /// Closes the socket (`zmq_close`); its linger then governs what is still queued.
    /// Idempotent. In a child that inherited the context it only forgets the socket.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        if !context.isInherited { zmq_close(handle) }
    }
}
