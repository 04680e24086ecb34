// ZmqProducer.swift - the sending side of a ring over ZeroMQ: messages in DATA frames
// (one per frame, or packed), END at the close of the stream (SPEC.md §23).

import CZmq
import RingFormat

/// Sends messages to the consumers of one endpoint over a ZeroMQ PUSH socket, with the
/// shape of a ring's producer: `put` (FULL when no room comes in time), `tryPut`,
/// `put(batch:)` (many messages per frame), `closeWriter` (END), `close`.
///
/// "Room" is the socket's queue: `ZmqOptions.sendHighWaterMark` frames per peer (plus, over
/// ipc:// and tcp://, the kernel's socket buffers and the consumer's receive queue). A put
/// that finds it full waits up to its timeout, then fails with FULL and sends nothing.
/// A bound PUSH socket with no consumer connected has no room at all.
///
/// A producer is used by one thread at a time (libzmq sockets are not thread-safe); it is
/// not `Sendable`. Do not fork while it is open (see `ZmqContext`).
public final class ZmqProducer {
    /// The socket; nil once closed.
    private var socket: ZmqSocket?
    /// The endpoint: as bound (tcp port `*` resolved), or as connected.
    public let endpoint: String
    /// The topology the endpoint was opened for.
    public let topology: ZmqTopology
    /// This producer's stream identity, in every frame it sends.
    public let streamId: UInt64
    /// The largest payload `put` takes.
    public let maxMessageSize: Int
    /// What has been sent.
    public private(set) var counters = ZmqCounters()
    /// The packing limits of `put(batch:)`.
    private let maxMessagesPerFrame: Int, maxFrameBytes: Int
    /// The index and stream position of the next message (SPEC.md §23.4).
    private var nextIndex: UInt64 = 0, nextPosition: UInt64 = 0
    /// Whether `closeWriter` sent END.
    private var ended = false
    /// The one libzmq message buffer frames are written into before sending.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// Opens a producer on `endpoint` (ipc://PATH, tcp://HOST:PORT, inproc://NAME),
    /// binding or connecting as `topology` says (or `options.bind`).
    /// - Throws: INVALID_ARGUMENT for bad options, SYSTEM for libzmq's refusals (an
    ///   endpoint in use or malformed).
    public init(endpoint: String, topology: ZmqTopology = .spsc, options: ZmqOptions = ZmqOptions()) throws(RingError) {
        let (socket, resolved) = try ZmqEndpoint.open(endpoint, side: .producer, topology: topology, options: options)
        self.socket = socket
        self.endpoint = resolved
        self.topology = topology
        streamId = options.streamId ?? UInt64.random(in: 1...UInt64.max)
        maxMessageSize = options.maxMessageSize
        maxMessagesPerFrame = options.maxMessagesPerFrame
        maxFrameBytes = options.maxFrameBytes
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        close()
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Whether `close()` was called.
    public var isClosed: Bool { socket == nil }

    /// The open socket; CLOSED after `close()` or `closeWriter()`.
    private func writable() throws(RingError) -> ZmqSocket {
        guard let socket, !ended else { throw .closed }
        return socket
    }

    // MARK: One message per frame

    /// Sends one message in a frame of its own, waiting up to `timeout` for room (nil: no limit).
    /// - Throws: FULL when the time runs out (nothing sent), INVALID_SIZE, CLOSED, SYSTEM.
    public func put(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws(RingError) {
        guard try send(bytes, until: ZmqDeadline(after: timeout)) else { throw .full }
    }

    /// Sends one message without waiting. - Throws: FULL if there is no room now.
    public func put(_ bytes: some Collection<UInt8>) throws(RingError) {
        try put(bytes, timeout: .zero)
    }

    /// Sends one message, waiting up to `timeout` for room (nil: no limit).
    /// - Throws: FULL when the time runs out (nothing sent), INVALID_SIZE, CLOSED, SYSTEM.
    public func put(_ bytes: some Collection<UInt8>, timeout: Duration?) throws(RingError) {
        try withMessageBytes(bytes) { (raw) throws(RingError) in try put(raw, timeout: timeout) }
    }

    /// Sends one message if there is room now; false (nothing sent) if not.
    public func tryPut(_ bytes: some Collection<UInt8>) throws(RingError) -> Bool {
        try withMessageBytes(bytes) { (raw) throws(RingError) -> Bool in try send(raw, until: ZmqDeadline(after: .zero)) }
    }

    /// A DATA frame of one message; false if the deadline passed first.
    private func send(_ bytes: UnsafeRawBufferPointer, until deadline: ZmqDeadline) throws(RingError) -> Bool {
        let socket = try writable()
        guard bytes.count <= maxMessageSize else { throw .invalidSize(size: bytes.count, maximum: maxMessageSize) }
        let body = Frame.recordSize(payload: bytes.count)
        return try sendFrame(socket, .data, count: 1, body: body, payloadBytes: bytes.count, until: deadline) { out in
            Frame.writeRecord(bytes, to: out)
        }
    }

    // MARK: Packed frames

    /// Sends `messages` in order, packed into DATA frames of at most
    /// `ZmqOptions.maxMessagesPerFrame` messages and `maxFrameBytes` body bytes, waiting up
    /// to `timeout` in all for room (the default, zero: only what fits now). Returns how
    /// many messages were sent: all, or the messages of the frames sent before the time
    /// ran out (a frame is sent whole or not at all). Nothing is sent if any message is
    /// larger than `maxMessageSize` (INVALID_SIZE).
    @discardableResult
    public func put<Messages: Collection>(batch messages: Messages, timeout: Duration? = .zero) throws(RingError) -> Int
    where Messages.Element: Collection, Messages.Element.Element == UInt8 {
        let socket = try writable()
        let sizes = messages.map { $0.count }
        for size in sizes where size > maxMessageSize { throw .invalidSize(size: size, maximum: maxMessageSize) }
        let deadline = ZmqDeadline(after: timeout)
        var sent = 0
        var start = messages.startIndex
        while start != messages.endIndex {
            // The longest run from `start` within both limits (at least one message).
            var end = start, count = 0, body = 0, payload = 0
            while end != messages.endIndex, count < maxMessagesPerFrame {
                let record = Frame.recordSize(payload: sizes[sent + count])
                if count > 0, body + record > maxFrameBytes { break }
                body += record; payload += sizes[sent + count]; count += 1
                messages.formIndex(after: &end)
            }
            let run = messages[start..<end]
            let ok = try sendFrame(socket, .data, count: count, body: body, payloadBytes: payload, until: deadline) { out in
                var offset = 0
                for m in run { offset += writeRecord(m, to: out + offset) }
            }
            guard ok else { break }
            sent += count
            start = end
        }
        return sent
    }

    /// Writes a record of a message given as any collection of bytes; returns its size.
    private func writeRecord<C: Collection<UInt8>>(_ m: C, to out: UnsafeMutableRawPointer) -> Int {
        if let size = m.withContiguousStorageIfAvailable({ Frame.writeRecord(UnsafeRawBufferPointer($0), to: out) }) {
            return size
        }
        return Array(m).withUnsafeBytes { Frame.writeRecord($0, to: out) }
    }

    // MARK: Frames

    /// Builds a frame of `kind` in the message buffer (header, then `fill` writes `body`
    /// bytes) and sends it by `deadline`. On success the index and position advance past
    /// its `count` messages; on false or a throw the frame is discarded.
    private func sendFrame(_ socket: ZmqSocket, _ kind: FrameKind, count: Int, body: Int, payloadBytes: Int,
                           until deadline: ZmqDeadline, fill: (UnsafeMutableRawPointer) -> Void) throws(RingError) -> Bool {
        guard body <= WireLayout.maxBodyLength else { throw .invalidSize(size: body, maximum: WireLayout.maxBodyLength) }
        guard zmq_msg_init_size(message, WireLayout.headerSize + body) == 0 else {
            throw zmqFailure("zmq_msg_init_size", endpoint: endpoint)
        }
        defer { zmq_msg_close(message) }  // after a send it is empty; otherwise this discards it
        let out = zmq_msg_data(message)!
        Frame.writeHeader(FrameHeader(kind: kind, count: UInt32(count), bodyLength: UInt32(body), streamId: streamId,
                                      firstIndex: nextIndex, firstPosition: nextPosition), to: out)
        fill(out + WireLayout.headerSize)
        guard try socket.send(message: message, until: deadline) else { return false }
        nextIndex &+= UInt64(count)
        nextPosition &+= UInt64(body)
        counters.framesSent += 1
        counters.messagesSent += UInt64(count)
        counters.bytesSent += UInt64(payloadBytes)
        return true
    }

    // MARK: End of stream

    /// Ends the stream: sends `endFrames` END frames carrying how many messages the stream
    /// sent, waiting up to `timeout` for room (nil: no limit). Afterwards every put fails
    /// with CLOSED; calling it again does nothing.
    ///
    /// What END means per topology (SPEC.md §23.7): SPSC, one END ends the consumer's stream.
    /// MPSC, each producer sends one; the consumer ends after `ZmqOptions.producers` streams
    /// ended. SPMC, PUSH deals the END frames round-robin like data, so send one per consumer
    /// (`endFrames`: their number); a consumer whose queue is full when they go may miss its
    /// END and another get two, so SPMC's end of stream is best-effort — a later part's bridge
    /// carries END over a connection of its own.
    /// - Throws: FULL if an END could not be queued in time (call again to retry), CLOSED, SYSTEM.
    public func closeWriter(endFrames: Int = 1, timeout: Duration? = nil) throws(RingError) {
        guard !ended else { return }
        guard let socket else { throw .closed }
        guard endFrames >= 1 else { throw .invalidArgument("endFrames must be at least 1") }
        let deadline = ZmqDeadline(after: timeout)
        for _ in 0..<endFrames {
            guard try sendFrame(socket, .end, count: 0, body: 0, payloadBytes: 0, until: deadline, fill: { _ in }) else {
                throw .full
            }
        }
        ended = true
    }

    /// Closes the socket. Frames still queued leave within `ZmqOptions.linger`; if the
    /// producer owns its context, close waits that long for them (`zmq_ctx_term`).
    /// Idempotent; later calls fail with CLOSED.
    public func close() {
        socket?.close()
        socket = nil
    }
}
