// BridgeReceiver.swift - host B's side of the bridge: the only producer of the
// destination ring, fed by DATA frames over a ROUTER socket, de-duplicating by index and
// source position, its state in a sidecar written ahead of each write (SPEC.md §24).

import CZmq
import RingFormat

/// Carries a ring that a `BridgeSender` sends into the destination ring at `path`.
///
/// The receiver holds the destination's producer role for as long as it runs: the bridge
/// must be the destination's only producer (the sidecar's replay after a crash relies on
/// it, SPEC.md §24.7). It binds a ROUTER socket; the sender connects. It applies each DATA
/// frame from its applied index on, in one commit per batch when there is room, answers
/// with ACKs (applied index and position, credit), and closes the destination's stream
/// when END arrives. A peer that sends DATA before its HELLO is asked for one.
///
/// Not `Sendable`: one thread runs it (`run` or `step`).
public final class BridgeReceiver {
    /// The destination ring's path.
    public let path: String
    /// The endpoint, as bound (a tcp port `*` resolved).
    public var endpoint: String { socket.endpoint }
    /// What it did so far.
    public private(set) var counters = BridgeReceiverCounters()
    /// Called with a line for each event worth a log (a drop, a refusal, a handshake).
    public var onLog: ((String) -> Void)?
    /// The stream it holds (nil: none yet).
    public var streamId: UInt64? { state?.streamId }
    /// True once END was applied.
    public var isEnded: Bool { state?.ended ?? false }

    private let ring: Ring
    private var producer: RingProducer?
    private let socket: BridgeSocket
    private let sidecar: BridgeSidecar
    private let options: BridgeOptions
    private var state: BridgeState?
    /// The sender that last made a handshake: DATA is taken from it only.
    private var peer: [UInt8]?
    private var ackDue = false
    private var lastCredit: UInt64 = 0
    private var lastSend: UInt64 = 0
    private var lastReceive: UInt64 = 0
    private var lastHelloAsked: UInt64 = 0
    private var endedAt: UInt64?
    private var peerSilent = false
    /// The stop condition of the `run` in progress (consulted while waiting for room).
    private var stopping: () -> Bool = { false }

    /// Opens (or, with `create`, makes) the destination ring, recovers the state of its
    /// sidecar (`path`.bridge) and binds `endpoint`. `reset` forgets the sidecar's stream.
    /// - Throws: `BridgeError`: an unsupported ring, a damaged sidecar, a destination
    ///   another producer moved, or a ring or libzmq failure (BUSY: another producer).
    public init(destination path: String, endpoint: String, create: (capacity: Int, policy: RingPolicy)? = nil,
                reset: Bool = false, options: BridgeOptions = BridgeOptions()) throws(BridgeError) {
        self.path = path
        self.options = options
        let ring: Ring
        if let create {
            ring = try ringCall { () throws(RingError) in
                try Ring.openOrCreate(at: path, capacity: create.capacity, policy: create.policy, acceptAnyGeometry: true)
            }
        } else {
            ring = try ringCall { () throws(RingError) in try Ring.open(at: path) }
        }
        self.ring = ring
        let g = ring.geometry
        guard !g.hasProducers, !g.isTyped else {
            throw .unsupportedRing(path: path, reason: "a destination with producer slots or of items (the bridge is its one producer of byte records)")
        }
        let sidecar = try BridgeSidecar(path: path + ".bridge")
        self.sidecar = sidecar
        if reset { sidecar.remove() }
        if let slot = sidecar.latest, slot.ended {
            // The stream ended before: answer ACK_ENDED; close the writer again if a crash
            // came between the sidecar's ENDED and the close.
            state = try BridgeSidecar.recover(slot, destination: slot.baseDestination, capacity: g.capacity,
                                              destinationRecordHeader: g.messageHeaderSize)
            if try ringCall({ () throws(RingError) in try ring.stats() }).isWriterClosed == false {
                let p = try ringCall { () throws(RingError) in try ring.makeProducer() }
                p.closeWriter()
            }
        } else {
            let p = try ringCall { () throws(RingError) in try ring.makeProducer() }
            producer = p
            if let slot = sidecar.latest {
                state = try BridgeSidecar.recover(slot, destination: p.committedPosition, capacity: g.capacity,
                                                  destinationRecordHeader: g.messageHeaderSize)
            }
        }
        socket = try ringCall { () throws(RingError) in try BridgeSocket(kind: .router, endpoint: endpoint, options: options) }
        if let state {
            log("resuming stream \(hex(state.streamId)) at index \(state.appliedIndex), source position \(state.appliedPosition)\(state.ended ? " (ended)" : "")")
        }
    }

    /// Closes the socket and gives up the destination's producer role (its stream stays
    /// open unless END arrived).
    public func close() {
        socket.close()
        producer?.close()
        producer = nil
    }

    /// Runs until the stream ended (and `endLinger` passed without a frame) or `stop`
    /// returns true, calling `tick` about every `tickInterval`.
    public func run(stop: () -> Bool = { false }, tickInterval: Duration = .seconds(1),
                    tick: (BridgeReceiver) -> Void = { _ in }) throws(BridgeError) {
        try withoutActuallyEscaping(stop) { (stop) throws(BridgeError) in
            stopping = stop
            defer { stopping = { false } }
            do throws(BridgeError) {
                try runBridgeTurns(stop: stop, tickInterval: tickInterval, tick: { tick(self) }, step: step)
            } catch .stoppedWhileFull {
                return  // closed, as asked; the sidecar's plan completes the frame at the next open
            }
        }
    }

    /// One turn: takes in the frames that are there (waiting up to a millisecond for the
    /// first), answers, and sends a heartbeat when due. True once the stream ended and
    /// `endLinger` passed without a frame.
    public func step() throws(BridgeError) -> Bool {
        var taken = 0
        let ready = try ringCall { () throws(RingError) in try socket.waitReadable(milliseconds: 1) }
        if let zap = socket.zap {
            for key in try ringCall({ () throws(RingError) in try zap.serve() }) {
                counters.unknownKeys += 1
                log("refused a connection: client key \(key) is not allowed")
            }
        }
        if ready {
            while taken < 256 {
                let got: Bool
                do { got = try socket.receive { peer, frame in try self.take(peer, frame) } }
                catch let e as BridgeError { throw e } catch let e as RingError { throw .ring(e) } catch { throw .ring(.closed) }
                if !got { break }
                taken += 1
            }
        }
        let now = ZmqDeadline.now()
        if taken > 0 { lastReceive = now; peerSilent = false }
        try refreshCredit()
        if ackDue { try sendAck() }
        if peer != nil, now &- lastSend >= BridgeOptions.nanoseconds(options.heartbeatInterval) { try sendHeartbeat() }
        if peer != nil, !peerSilent, now &- lastReceive >= BridgeOptions.nanoseconds(options.peerTimeout) {
            peerSilent = true
            counters.peerTimeouts += 1
            log("the sender is silent (\(options.peerTimeout)); waiting for it to come back")
        }
        if let endedAt { return now &- max(endedAt, lastReceive) >= BridgeOptions.nanoseconds(options.endLinger) }
        return false
    }

    // MARK: Frames

    /// One received message from `from`: parsed once, then handled by kind.
    private func take(_ from: [UInt8], _ bytes: UnsafeRawBufferPointer?) throws(BridgeError) {
        guard let bytes else { return drop("a message of more than one frame part") }
        let parsed: ParsedFrame
        do { parsed = try Frame.parse(bytes) } catch { return drop(error.description) }
        let h = parsed.header
        switch h.kind {
        case .hello:
            do { try hello(from, try BridgeHello.parse(h, bytes)) } catch let e as BridgeFrameError { drop("\(e)") }
            catch let e as BridgeError { throw e } catch { drop("\(error)") }
        case .data: try data(from, parsed, bytes)
        case .end: try end(from, h)
        case .heartbeat:
            do { try BridgeHeartbeat.parse(h) } catch { drop("\(error)") }
        case .ack: drop("an ACK sent to the receiver")
        }
    }

    /// A sender's HELLO: adopt its stream (the first), or check it is ours; then ACK.
    private func hello(_ from: [UInt8], _ hello: BridgeHello) throws(BridgeError) {
        guard hello.role == .sender else { return drop("a receiver's HELLO sent to the receiver") }
        if state == nil {
            guard let producer else { return }
            let fresh = BridgeState(streamId: hello.streamId, recordHeader: hello.recordHeader, appliedIndex: 0,
                                    appliedPosition: hello.position, destination: producer.committedPosition, ended: false)
            try sidecar.write(slot(from: fresh))
            state = fresh
            log("new stream \(hex(hello.streamId)) from source position \(hello.position)")
        }
        guard let s = state else { return }
        if s.streamId != hello.streamId || s.recordHeader != hello.recordHeader {
            counters.refusals += 1
            log("refused: \(BridgeError.streamMismatch(held: s.streamId, offered: hello.streamId))")
            return try sendAck(to: from, status: BridgeAck.streamMismatch, streamId: hello.streamId)
        }
        // The sender keeps its position at what was acknowledged: never past what was applied.
        if hello.position &- s.appliedPosition != 0, hello.position &- s.appliedPosition < 1 << 63 {
            counters.refusals += 1
            log("refused: \(BridgeError.sourceAhead(applied: s.appliedPosition, source: hello.position))")
            return try sendAck(to: from, status: BridgeAck.sourceAhead, streamId: hello.streamId)
        }
        peer = from
        counters.handshakes += 1
        log("handshake: stream \(hex(s.streamId)), sender at \(hello.position), applied index \(s.appliedIndex) position \(s.appliedPosition)")
        try sendAck()
    }

    /// A DATA frame from the peer of the handshake: the part from the applied index on is
    /// written to the destination.
    private func data(_ from: [UInt8], _ parsed: ParsedFrame, _ bytes: UnsafeRawBufferPointer) throws(BridgeError) {
        let h = parsed.header
        guard var s = state, from == peer, h.streamId == s.streamId, !s.ended else {
            counters.framesDropped += 1
            return try askHello(from)
        }
        let count = UInt64(h.count)
        let skip = s.appliedIndex &- h.firstIndex
        if skip >= 1 << 63 {
            // It starts after the applied index: a frame before it was lost. Resume.
            counters.gaps += 1
            log("gap: a frame starts at index \(h.firstIndex), \(s.appliedIndex) expected; asking the sender to resume")
            return try askHello(from)
        }
        if skip >= count {
            counters.duplicateRecords += count
            ackDue = true
            return
        }
        // The source position of each record: the frame's records are contiguous in the
        // source (SPEC.md §24.3), each align8(recordHeader + length) bytes.
        let header = Int(s.recordHeader)
        var position = h.firstPosition
        for r in parsed.payloads[0..<Int(skip)] { position &+= UInt64(align8(header + r.count)) }
        let distance = position &- s.appliedPosition
        guard skip == 0 ? distance < 1 << 40 : distance == 0 else {
            counters.framesDropped += 1
            log("dropped: a DATA frame at index \(h.firstIndex) puts source position \(position) where \(s.appliedPosition) was applied")
            return try askHello(from)
        }
        counters.duplicateRecords += skip
        var next = Int(skip)
        while next < parsed.payloads.count {
            let chunk = Array(parsed.payloads[next..<min(parsed.payloads.count, next + BridgeSidecar.maxPlanned)])
            try apply(chunk, from: bytes, at: position, state: &s)
            for r in chunk { position &+= UInt64(align8(header + r.count)) }
            next += chunk.count
        }
        ackDue = true
    }

    /// Writes `payloads` (their first at source position `position`) to the destination:
    /// the sidecar's plan first, then the messages, in one commit when there is room.
    private func apply(_ payloads: [Range<Int>], from bytes: UnsafeRawBufferPointer, at position: UInt64,
                       state s: inout BridgeState) throws(BridgeError) {
        guard let producer else { return }
        var plan = slot(from: s)
        plan.planPosition = position
        plan.lengths = payloads.map { UInt32($0.count) }
        try sidecar.write(plan)
        var done = 0
        while done < payloads.count {
            done += try ringCall { () throws(RingError) in
                try producer.write(batchCount: payloads.count - done) { i in
                    UnsafeRawBufferPointer(rebasing: bytes[payloads[done + i]])
                }
            }
            guard done < payloads.count else { break }
            // No room (reject-when-full): wait for the destination's consumer, in slices,
            // keeping the sender informed.
            do {
                try producer.write(UnsafeRawBufferPointer(rebasing: bytes[payloads[done]]), timeout: .milliseconds(50))
                done += 1
            } catch .full {
                counters.destinationFullWaits += 1
                if stopping() {
                    // Like a crash between two commits of the plan: the sidecar holds the plan,
                    // so reopening finishes it. This receiver is done.
                    log("stopped while the destination was full, \(done) of \(payloads.count) messages of a frame applied; the next start completes it")
                    close()
                    throw .stoppedWhileFull(path: path)
                }
                if peer != nil { try sendHeartbeat() }
            } catch {
                throw .ring(error)
            }
        }
        let header = Int(s.recordHeader)
        var end = position
        for r in payloads { end &+= UInt64(align8(header + r.count)); counters.bytesApplied += UInt64(r.count) }
        s.appliedIndex &+= UInt64(payloads.count)
        s.appliedPosition = end
        s.destination = producer.committedPosition
        counters.recordsApplied += UInt64(payloads.count)
        state = s
    }

    /// END from the peer: the stream is complete if it ends where the applied messages do.
    private func end(_ from: [UInt8], _ h: FrameHeader) throws(BridgeError) {
        guard var s = state, from == peer, h.streamId == s.streamId else {
            counters.framesDropped += 1
            return try askHello(from)
        }
        if !s.ended {
            guard h.firstIndex == s.appliedIndex, h.firstPosition == s.appliedPosition else {
                counters.gaps += 1
                log("END at index \(h.firstIndex) position \(h.firstPosition), applied \(s.appliedIndex) at \(s.appliedPosition); asking the sender to resume")
                return try askHello(from)
            }
            s.ended = true
            // The sidecar first: a crash after it closes the writer again at restart.
            try sidecar.write(slot(from: s))
            producer?.closeWriter()
            producer = nil
            state = s
            log("END: \(s.appliedIndex) messages; the destination's stream is closed")
        }
        endedAt = ZmqDeadline.now()
        try sendAck()
    }

    // MARK: Sending

    /// A sidecar slot holding `s` and no plan.
    private func slot(from s: BridgeState) -> SidecarSlot {
        SidecarSlot(sequence: 0, streamId: s.streamId, baseIndex: s.appliedIndex, basePosition: s.appliedPosition,
                    baseDestination: s.destination, recordHeader: s.recordHeader, ended: s.ended)
    }

    /// The credit to grant: the window, bounded by the destination's room under
    /// reject-when-full (never below one full frame, so a sender is never stopped for good).
    private func credit() -> UInt64 {
        guard let producer, ring.policy == .rejectWhenFull else { return UInt64(options.window) }
        return UInt64(max(options.maxFrameBytes, min(options.window, producer.freeBytes)))
    }

    /// Sends a fresh ACK when the credit grew by a quarter of the window since the last.
    private func refreshCredit() throws(BridgeError) {
        guard peer != nil, state != nil else { return }
        if credit() >= lastCredit &+ UInt64(options.window / 4) { ackDue = true }
    }

    /// ACK to the peer of the handshake: the applied index and position, the credit.
    private func sendAck() throws(BridgeError) {
        guard let peer, let s = state else { ackDue = false; return }
        try sendAck(to: peer, status: s.ended ? BridgeAck.ended : BridgeAck.ok, streamId: s.streamId)
    }

    private func sendAck(to: [UInt8], status: UInt32, streamId: UInt64) throws(BridgeError) {
        let s = state
        let granted = credit()
        counters.destinationDropped = producer?.droppedCount ?? counters.destinationDropped
        let ack = BridgeAck(streamId: streamId, appliedIndex: s?.appliedIndex ?? 0, appliedPosition: s?.appliedPosition ?? 0,
                            credit: granted, status: status, destinationDropped: counters.destinationDropped)
        if try send(ack.encode(), to: to) {
            counters.acksSent += 1
            ackDue = false
            lastCredit = granted
        }
    }

    /// Asks `to` for a HELLO (it sent DATA without one, or must resume), at most once per retry interval.
    private func askHello(_ to: [UInt8]) throws(BridgeError) {
        let now = ZmqDeadline.now()
        guard now &- lastHelloAsked >= BridgeOptions.nanoseconds(options.retryInterval) else { return }
        lastHelloAsked = now
        let hello = BridgeHello(role: .receiver, streamId: state?.streamId ?? 1, index: state?.appliedIndex ?? 0,
                                position: state?.appliedPosition ?? 0, recordHeader: 0, capacity: 0)
        _ = try send(hello.encode(), to: to)
    }

    private func sendHeartbeat() throws(BridgeError) {
        guard let peer, let s = state else { return }
        _ = try send(BridgeHeartbeat.encode(streamId: s.streamId, index: s.appliedIndex, position: s.appliedPosition), to: peer)
    }

    private func send(_ frame: [UInt8], to: [UInt8]) throws(BridgeError) -> Bool {
        let sent = try ringCall { () throws(RingError) in try socket.send(frame, to: to) }
        if sent { lastSend = ZmqDeadline.now() }
        return sent
    }

    private func drop(_ why: String) {
        counters.framesDropped += 1
        log("dropped a frame: \(why)")
    }

    private func log(_ line: String) { onLog?(line) }
}
