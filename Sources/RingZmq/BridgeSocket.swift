// BridgeSocket.swift - the bridge's one libzmq socket: DEALER on the sender (connects),
// ROUTER on the receiver (binds), with reconnect and ZMTP heartbeat options, and
// non-blocking sends and receives of one frame (SPEC.md §24.2).

import CZmq
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// A DEALER or ROUTER socket of the bridge. One thread at a time; not `Sendable`.
final class BridgeSocket {
    /// The two ends of a bridge.
    enum Kind {
        /// ZMQ_DEALER, the sender: connects, reconnects by itself.
        case dealer
        /// ZMQ_ROUTER, the receiver: binds; each connection is a peer with a routing id.
        case router
    }

    /// The libzmq socket; nil once closed.
    private var handle: UnsafeMutableRawPointer?
    /// The socket's own context, kept while the socket is open and terminated by `close`
    /// (which so returns only once libzmq let go of the endpoint).
    private var context: ZmqContext?
    let kind: Kind
    /// As bound (a tcp port `*` resolved) or connected.
    private(set) var endpoint: String
    /// The message frames are received into.
    private let message: UnsafeMutablePointer<zmq_msg_t>
    /// The receiver's ZAP handler, with CURVE.
    private(set) var zap: ZapHandler?

    /// Makes the socket, sets its options and binds (router) or connects (dealer).
    init(kind: Kind, endpoint: String, options: BridgeOptions) throws(RingError) {
        let context = try ZmqContext()
        self.context = context
        guard let made = zmq_socket(context.handle, kind == .dealer ? ZMQ_DEALER : ZMQ_ROUTER) else {
            throw zmqFailure("zmq_socket", endpoint: endpoint)
        }
        handle = made
        self.kind = kind
        self.endpoint = endpoint
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
        let ms = { (d: Duration) -> Int32 in
            let (s, atto) = d.components
            return Int32(clamping: s * 1000 + atto / 1_000_000_000_000_000)
        }
        // Nothing queued is ever relied on: ACKs say what arrived, so closing waits for nothing.
        try set(ZMQ_LINGER, 0)
        try set(ZMQ_RECONNECT_IVL, max(1, ms(options.reconnectInterval)))
        try set(ZMQ_RECONNECT_IVL_MAX, max(1, ms(options.reconnectInterval) * 10))
        // ZMTP heartbeats: libzmq closes a connection whose peer stopped answering (a cut
        // link), and the dealer reconnects.
        try set(ZMQ_HEARTBEAT_IVL, max(1, ms(options.heartbeatInterval)))
        try set(ZMQ_HEARTBEAT_TIMEOUT, max(1, ms(options.peerTimeout)))
        try set(ZMQ_HEARTBEAT_TTL, max(100, ms(options.peerTimeout)))
        try set(ZMQ_SNDHWM, options.sendHighWaterMark)
        try set(ZMQ_RCVHWM, options.sendHighWaterMark)
        if let bytes = options.kernelBufferBytes {
            try set(ZMQ_SNDBUF, bytes)
            try set(ZMQ_RCVBUF, bytes)
        }
        if let curve = options.curve {
            guard BridgeCurve.isAvailable else { throw .invalidArgument("this libzmq has no CURVE (zmq_has(\"curve\") is 0)") }
            try setKey(ZMQ_CURVE_SECRETKEY, curve.secretKey)
            if kind == .dealer {
                guard let server = curve.serverKey else { throw .invalidArgument("a CURVE sender needs the receiver's public key") }
                try setKey(ZMQ_CURVE_PUBLICKEY, try BridgeCurve.publicKey(of: curve.secretKey))
                try setKey(ZMQ_CURVE_SERVERKEY, server)
            } else {
                zap = try ZapHandler(context: context.handle, allowed: curve.allowedClients)
                try set(ZMQ_CURVE_SERVER, 1)
                let domain = "ringbridge"
                guard zmq_setsockopt(made, ZMQ_ZAP_DOMAIN, domain, domain.utf8.count) == 0 else {
                    throw zmqFailure("zmq_setsockopt(ZMQ_ZAP_DOMAIN)", endpoint: endpoint)
                }
            }
        }
        switch kind {
        case .dealer:
            // Frames are not queued for a connection that is not up: a send fails (EAGAIN)
            // and the sender tries again after its handshake.
            try set(ZMQ_IMMEDIATE, 1)
            guard zmq_connect(made, endpoint) == 0 else { throw zmqFailure("zmq_connect", endpoint: endpoint) }
        case .router:
            // A send to a peer that is gone fails (EHOSTUNREACH) instead of vanishing.
            try set(ZMQ_ROUTER_MANDATORY, 1)
            var limit = Int64(options.maxReceiveFrameBytes)
            guard zmq_setsockopt(made, ZMQ_MAXMSGSIZE, &limit, 8) == 0 else {
                throw zmqFailure("zmq_setsockopt(ZMQ_MAXMSGSIZE)", endpoint: endpoint)
            }
            guard zmq_bind(made, endpoint) == 0 else { throw zmqFailure("zmq_bind", endpoint: endpoint) }
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            if buffer.withUnsafeMutableBytes({ zmq_getsockopt(made, ZMQ_LAST_ENDPOINT, $0.baseAddress, &size) }) == 0 {
                self.endpoint = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    deinit {
        close()
        zmq_msg_close(message)
        message.deallocate()
    }

    /// A CURVE key option, as 40 Z85 characters (libzmq reads 41 bytes: with the NUL).
    private func setKey(_ option: Int32, _ key: String) throws(RingError) {
        guard key.utf8.count == 40, BridgeCurve.decode(key) != nil else { throw .invalidArgument("a CURVE key is 40 Z85 characters") }
        guard zmq_setsockopt(handle, option, key, 41) == 0 else {
            throw zmqFailure("zmq_setsockopt(\(option))", endpoint: endpoint)
        }
    }

    private func set(_ option: Int32, _ value: Int32) throws(RingError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw zmqFailure("zmq_setsockopt(\(option))", endpoint: endpoint)
        }
    }

    private func open() throws(RingError) -> UnsafeMutableRawPointer {
        guard let handle else { throw .closed }
        return handle
    }

    /// Sends the first `count` bytes of `frame` (all by default) as one message, to `peer`
    /// on a router (its routing id as a first part). Never waits: false when it cannot go
    /// now (the high-water mark, no connection, or a router's peer that is gone).
    func send(_ frame: [UInt8], count: Int? = nil, to peer: [UInt8] = []) throws(RingError) -> Bool {
        let socket = try open()
        let size = count ?? frame.count
        while true {
            let rc: Int32 = frame.withUnsafeBytes { raw in
                if kind == .router {
                    let first = peer.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, ZMQ_SNDMORE | ZMQ_DONTWAIT) }
                    if first < 0 { return first }
                }
                return zmq_send(socket, raw.baseAddress, size, ZMQ_DONTWAIT)
            }
            if rc >= 0 { return true }
            let code = zmq_errno()
            if code == EINTR { continue }
            if code == EAGAIN || code == EHOSTUNREACH { return false }
            throw zmqFailure("zmq_send", endpoint: endpoint, code: code)
        }
    }

    /// Receives one message without waiting and shows it to `body`: the peer's routing id
    /// (router; empty on a dealer) and the frame, or nil for a message of the wrong number
    /// of parts (dropped whole). Returns false if none was there.
    func receive(_ body: (_ peer: [UInt8], _ frame: UnsafeRawBufferPointer?) throws -> Void) throws -> Bool {
        let socket = try open()
        let partsOfAFrame = kind == .router ? 2 : 1
        var parts = 0
        var peer: [UInt8] = []
        while true {
            if zmq_msg_recv(message, socket, ZMQ_DONTWAIT) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                if code == EAGAIN && parts == 0 { return false }
                throw zmqFailure("zmq_msg_recv", endpoint: endpoint, code: code)
            }
            parts += 1
            let more = zmq_msg_more(message) != 0
            if kind == .router && parts == 1 {
                peer = [UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
            }
            if more { continue }
            // The last part: a frame in place (no copy) if the message had the right parts.
            try body(peer, parts == partsOfAFrame
                     ? UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)) : nil)
            return true
        }
    }

    /// Waits up to `milliseconds` for a message to receive, or for `descriptor` (a ring's
    /// doorbell) to be readable (`zmq_poll`); true if a message is there.
    func waitReadable(milliseconds: Int, or descriptor: Int32? = nil) throws(RingError) -> Bool {
        var items = [zmq_pollitem_t(socket: try open(), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
        if let z = zap?.socket { items.append(zmq_pollitem_t(socket: z, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)) }
        if let descriptor { items.append(zmq_pollitem_t(socket: nil, fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        let rc = zmq_poll(&items, Int32(items.count), milliseconds)
        if rc < 0 {
            let code = zmq_errno()
            if code == EINTR { return false }
            throw zmqFailure("zmq_poll", endpoint: endpoint, code: code)
        }
        return items[0].revents & Int16(ZMQ_POLLIN) != 0
    }

    /// Closes the socket (linger 0: what is queued is dropped). Idempotent.
    func close() {
        zap?.close()
        guard let handle else { return }
        self.handle = nil
        if context?.isInherited == false { zmq_close(handle) }
        // zmq_close leaves the rest to the I/O thread: a bound endpoint stays taken until it
        // is done. Terminating the context (linger 0) waits for that, so a receiver opened
        // right after this one binds the same endpoint (EADDRINUSE otherwise).
        context = nil
    }
}
