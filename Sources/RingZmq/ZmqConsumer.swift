// ZmqConsumer.swift - the receiving side of a ring over ZeroMQ: frames parsed and checked
// (SPEC.md §23.5), their messages queued and handed out one by one or in batches, END
// frames counted per stream (§23.7).

import CZmq
import RingFormat

/// Receives the messages of one endpoint over a ZeroMQ PULL socket, with the shape of a
/// ring's consumer: `get` (EMPTY when none comes in time, END_OF_STREAM once the stream
/// ended and every message was taken), `tryGet`, `get(maxCount:)`, `close`.
///
/// A frame that breaks SPEC.md §23.5 is dropped whole: counted in
/// `counters.framesDropped`, its reason kept in `lastDrop` and passed to `onDrop`; the
/// consumer goes on with the next frame.
///
/// A consumer is used by one thread at a time (libzmq sockets are not thread-safe); it is
/// not `Sendable`. Do not fork while it is open (see `ZmqContext`).
public final class ZmqConsumer {
    /// The socket; nil once closed.
    private var socket: ZmqSocket?
    /// The endpoint: as bound (tcp port `*` resolved), or as connected.
    public let endpoint: String
    /// The topology the endpoint was opened for.
    public let topology: ZmqTopology
    /// How many streams' END frames end this consumer's stream (`ZmqOptions.producers`).
    public let producers: Int
    /// What has been received and dropped.
    public private(set) var counters = ZmqCounters()
    /// Why the last malformed frame was dropped (nil: none was).
    public private(set) var lastDrop: FrameError?
    /// Called with the reason of each dropped frame, for logging.
    public var onDrop: ((FrameError) -> Void)?

    /// Messages received and not yet handed out: `queue[head...]`.
    private var queue: [[UInt8]] = []
    private var head = 0
    /// What each stream heard from so far is expected to send next (SPEC.md §23.7).
    private var streams: [UInt64: StreamState] = [:]
    /// Streams whose END arrived.
    private var endedStreams = 0
    /// True while the rest of a multi-part message (already dropped) arrives.
    private var insideMultipart = false
    /// The one libzmq message frames are received into.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// One sender's stream, as this consumer has seen it.
    private struct StreamState {
        /// The index its next DATA frame should start at.
        var nextIndex: UInt64 = 0
        /// Whether its END arrived.
        var ended = false
    }

    /// Opens a consumer on `endpoint`, binding or connecting as `topology` says (or
    /// `options.bind`).
    /// - Throws: INVALID_ARGUMENT for bad options, SYSTEM for libzmq's refusals.
    public init(endpoint: String, topology: ZmqTopology = .spsc, options: ZmqOptions = ZmqOptions()) throws(RingError) {
        let (socket, resolved) = try ZmqEndpoint.open(endpoint, side: .consumer, topology: topology, options: options)
        self.socket = socket
        self.endpoint = resolved
        self.topology = topology
        producers = options.producers
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

    /// Messages received and not yet taken.
    public var pendingCount: Int { queue.count - head }

    /// True once enough streams ended and every message was taken.
    private var isEnded: Bool { endedStreams >= producers && head == queue.count }

    // MARK: Reading

    /// Takes the next message without waiting.
    /// - Throws: EMPTY if none is there, END_OF_STREAM, CLOSED, SYSTEM.
    public func get() throws(RingError) -> [UInt8] {
        try get(timeout: .zero)
    }

    /// Takes the next message, or nil if none is there now.
    /// - Throws: END_OF_STREAM once the stream ended and every message was taken.
    public func tryGet() throws(RingError) -> [UInt8]? {
        do { return try get(timeout: .zero) } catch .empty { return nil }
    }

    /// Takes the next message, waiting up to `timeout` for one (nil: no limit).
    /// - Throws: EMPTY when the time runs out, END_OF_STREAM, CLOSED, SYSTEM.
    public func get(timeout: Duration?) throws(RingError) -> [UInt8] {
        try awaitMessage(until: ZmqDeadline(after: timeout))
        return pop()
    }

    /// Takes up to `maxCount` messages that are there now, without waiting; [] if none.
    /// (mm_toolbox's `consume_all` is `get(maxCount: .max)`.)
    /// - Throws: END_OF_STREAM if none is left and the stream ended.
    public func get(maxCount: Int) throws(RingError) -> [[UInt8]] {
        do { return try get(maxCount: maxCount, timeout: .zero) } catch .empty { return [] }
    }

    /// Takes up to `maxCount` messages, waiting up to `timeout` for the first (nil: no
    /// limit); then only what has arrived.
    /// - Throws: EMPTY when the time runs out with none, END_OF_STREAM, CLOSED, SYSTEM.
    public func get(maxCount: Int, timeout: Duration?) throws(RingError) -> [[UInt8]] {
        guard maxCount > 0 else { return [] }
        try awaitMessage(until: ZmqDeadline(after: timeout))
        let now = ZmqDeadline(after: .zero)
        while pendingCount < maxCount, try receiveFrame(until: now) {}
        let taken = Array(queue[head..<(head + min(maxCount, pendingCount))])
        head += taken.count
        compact()
        return taken
    }

    /// Waits up to `timeout` (nil: no limit) for a message and returns the size of the next
    /// one without taking it: a caller with a buffer of its own sizes it, then `take(into:capacity:)`.
    /// - Throws: EMPTY when the time runs out, END_OF_STREAM, CLOSED, SYSTEM.
    public func nextSize(timeout: Duration?) throws(RingError) -> Int {
        try awaitMessage(until: ZmqDeadline(after: timeout))
        return queue[head].count
    }

    /// Copies the next received message to `destination` and takes it, if there is one and
    /// it fits in `capacity` bytes; returns its size, or nil with nothing taken. Receives nothing.
    public func take(into destination: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        guard head < queue.count, queue[head].count <= capacity else { return nil }
        return pop().withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { destination.copyMemory(from: base, byteCount: bytes.count) }
            return bytes.count
        }
    }

    /// The one wait of every read: returns once a received message is queued, receiving
    /// frames until `deadline`.
    /// - Throws: EMPTY when the deadline passes first, END_OF_STREAM once enough streams
    ///   ended and every message was taken, CLOSED, SYSTEM.
    private func awaitMessage(until deadline: ZmqDeadline) throws(RingError) {
        while head == queue.count {
            if isEnded { throw .endOfStream }
            guard try receiveFrame(until: deadline) else { throw .empty }
        }
    }

    /// The next queued message (the caller checked there is one).
    private func pop() -> [UInt8] {
        let m = queue[head]
        queue[head] = []
        head += 1
        compact()
        return m
    }

    /// Forgets taken messages once they are half the queue (amortized O(1) per message).
    private func compact() {
        if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
        else if head > 1024, head * 2 > queue.count { queue.removeFirst(head); head = 0 }
    }

    // MARK: Frames

    /// Receives one ZeroMQ message by `deadline` and takes in what it holds; false if none came.
    private func receiveFrame(until deadline: ZmqDeadline) throws(RingError) -> Bool {
        guard let socket else { throw .closed }
        guard try socket.receive(into: message, until: deadline) else { return false }
        let more = zmq_msg_more(message) != 0
        defer { insideMultipart = more }
        if insideMultipart { return true }  // a later part of a message already dropped
        if more { drop(.multipart); return true }
        let frame = UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))
        let parsed: ParsedFrame
        do { parsed = try Frame.parse(frame) } catch { drop(error); return true }
        take(parsed, from: frame)
        return true
    }

    /// Queues a DATA frame's messages, counts an END, ignores the bridge's kinds.
    private func take(_ parsed: ParsedFrame, from frame: UnsafeRawBufferPointer) {
        let h = parsed.header
        switch h.kind {
        case .data:
            var stream = streams[h.streamId, default: StreamState()]
            if breaksSequence(h.firstIndex, expected: stream.nextIndex) { counters.sequenceBreaks += 1 }
            stream.nextIndex = h.firstIndex &+ UInt64(h.count)
            streams[h.streamId] = stream
            for range in parsed.payloads {
                queue.append([UInt8](UnsafeRawBufferPointer(rebasing: frame[range])))
                counters.bytesReceived += UInt64(range.count)
            }
            counters.framesReceived += 1
            counters.messagesReceived += UInt64(h.count)
        case .end:
            counters.framesReceived += 1
            var stream = streams[h.streamId, default: StreamState()]
            guard !stream.ended else { return }
            // END carries how many messages the stream sent: a shortfall is a break.
            if breaksSequence(h.firstIndex, expected: stream.nextIndex) { counters.sequenceBreaks += 1 }
            stream.ended = true
            streams[h.streamId] = stream
            endedStreams += 1
            counters.endFramesReceived += 1
        case .hello, .ack, .heartbeat:
            counters.framesIgnored += 1
        }
    }

    /// Whether a frame starting at `index` breaks its stream's sequence. SPSC and MPSC: it
    /// must start where the stream's last frame ended. SPMC: each consumer sees only some
    /// frames, so an index may only never go back (END, counting all, is not checked).
    private func breaksSequence(_ index: UInt64, expected: UInt64) -> Bool {
        topology == .spmc ? index < expected : index != expected
    }

    /// Counts and reports a malformed frame.
    private func drop(_ error: FrameError) {
        counters.framesDropped += 1
        lastDrop = error
        onDrop?(error)
    }

    /// Closes the socket; queued messages not yet taken are dropped with it.
    /// Idempotent; later calls fail with CLOSED.
    public func close() {
        socket?.close()
        socket = nil
        queue.removeAll()
        head = 0
    }
}
