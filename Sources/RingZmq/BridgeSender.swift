// BridgeSender.swift - host A's side of the bridge: reads the source ring ahead of its
// position without consuming, sends DATA frames over a DEALER socket within the
// receiver's credit, and consumes only what the receiver acknowledged (SPEC.md §24).

import CZmq
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// Carries the ring at `path` to a `BridgeReceiver` at `endpoint`.
///
/// On a 1.0 ring the sender takes the consumer role; on a ring with readers it joins as a
/// durable gating reader named "bridge:NAME" (SPEC.md §17.5), so the source's producer
/// cannot reclaim what the receiver has not acknowledged. Its position in the file
/// (consumerPosition, or its reader's cursor) is always the last acknowledged message:
/// a sender killed and restarted resends at most what was not acknowledged, and the
/// receiver skips what it already has. The source must be reject-when-full, without
/// producer slots, of byte records.
///
/// Not `Sendable`: one thread runs it (`run` or `step`).
public final class BridgeSender {
    /// The source ring's path.
    public let path: String
    /// The stream's identity: stable for one source path and bridge name.
    public let streamId: UInt64
    /// What it did so far.
    public private(set) var counters = BridgeSenderCounters()
    /// Called with a line for each event worth a log.
    public var onLog: ((String) -> Void)?
    /// True once the receiver acknowledged END.
    public private(set) var isEnded = false

    private enum Phase { case handshaking, streaming, ending }
    private let ring: Ring
    private let consumer: RingConsumer
    private let socket: BridgeSocket
    private let options: BridgeOptions
    private let recordHeader: Int
    private var phase = Phase.handshaking
    private var handshakes = 0

    /// The next message the receiver will apply, and the source position before it.
    private var ackedIndex: UInt64 = 0
    /// Where the frame being built continues: the index and position after its last record.
    private var readIndex: UInt64 = 0
    private var readPosition: UInt64 = 0
    private var credit: UInt64 = 0
    /// Frames sent and not yet acknowledged, oldest first.
    private var inFlight: [InFlight] = []
    private var inFlightHead = 0
    private var inFlightBytes: UInt64 = 0
    private struct InFlight { let endIndex: UInt64; let endPosition: UInt64; let bodyBytes: UInt64; let payloadBytes: UInt64 }

    /// The frame being built: header space, then records.
    private var frame: [UInt8]
    private var frameCount = 0
    private var frameBody = 0
    private var framePayload = 0
    private var frameFirstIndex: UInt64 = 0
    private var frameFirstPosition: UInt64 = 0
    private var frameStarted: UInt64 = 0

    private var lastSend: UInt64 = 0
    private var lastReceive: UInt64 = 0
    private var lastHello: UInt64 = 0
    private var lastEnd: UInt64 = 0
    private var stalled = false

    /// Opens the source ring at `path`, takes its consumer role (or joins it as a durable
    /// gating reader) and connects to `endpoint` (libzmq connects and reconnects in the
    /// background).
    /// - Throws: `BridgeError`: an unsupported source, or a ring or libzmq failure (BUSY:
    ///   another consumer, or a bridge of the same name runs).
    public init(source path: String, endpoint: String, options: BridgeOptions = BridgeOptions()) throws(BridgeError) {
        self.path = path
        self.options = options
        let ring = try ringCall { () throws(RingError) in try Ring.open(at: path) }
        self.ring = ring
        let g = ring.geometry
        guard g.policy == .rejectWhenFull else {
            throw .unsupportedRing(path: path, reason: "an overwrite-oldest source reclaims what the bridge has not carried yet")
        }
        guard !g.hasProducers, !g.isTyped else {
            throw .unsupportedRing(path: path, reason: "a source with producer slots or of items")
        }
        if g.hasReaders {
            let name = "bridge:" + options.name
            // The gate holds the source's producer back for as long as the bridge may be away.
            let reader = ReaderOptions(name: name, gating: true, start: .oldest, gateTimeout: .milliseconds(Int64(UInt32.max)))
            consumer = try ringCall { () throws(RingError) in try ring.makeReader(reader) }
        } else {
            consumer = try ringCall { () throws(RingError) in try ring.makeConsumer() }
        }
        recordHeader = g.messageHeaderSize
        streamId = Self.streamId(path: path, name: options.name)
        frame = [UInt8](repeating: 0, count: WireLayout.headerSize + options.maxFrameBytes)
        socket = try ringCall { () throws(RingError) in try BridgeSocket(kind: .dealer, endpoint: endpoint, options: options) }
        readPosition = consumer.position
    }

    /// FNV-1a of the source's resolved path and the bridge's name; never 0.
    static func streamId(path: String, name: String) -> UInt64 {
        var resolved = path
        if let real = realpath(path, nil) { resolved = String(cString: real); free(real) }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(resolved.utf8) + [0] + Array(name.utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash == 0 ? 1 : hash
    }

    /// Closes the socket and gives up the source's role (its position stays in the file).
    public func close() {
        socket.close()
        consumer.close()
    }

    /// Runs until the receiver acknowledged END or `stop` returns true, calling `tick`
    /// about every `tickInterval`.
    public func run(stop: () -> Bool = { false }, tickInterval: Duration = .seconds(1),
                    tick: (BridgeSender) -> Void = { _ in }) throws(BridgeError) {
        try runBridgeTurns(stop: stop, tickInterval: tickInterval, tick: { tick(self) }, step: step)
    }

    /// One turn: takes in what the receiver sent, sends what the credit allows, repeats
    /// an unanswered HELLO or END, sends a heartbeat when due. True once END was acknowledged.
    public func step() throws(BridgeError) -> Bool {
        var received = 0
        while received < 256 {
            let got: Bool
            do { got = try socket.receive { _, frame in try self.take(frame) } }
            catch let e as BridgeError { throw e } catch let e as RingError { throw .ring(e) } catch { throw .ring(.closed) }
            if !got { break }
            received += 1
        }
        if isEnded { return true }
        var now = ZmqDeadline.now()
        if received > 0 { lastReceive = now }
        var busy = false
        switch phase {
        case .handshaking:
            if now &- lastHello >= BridgeOptions.nanoseconds(options.retryInterval) { try sendHello() }
        case .streaming:
            busy = try pump()
            if !busy, inFlightBytes == 0, frameCount == 0, try sourceEnded() {
                phase = .ending
                lastEnd = 0
            }
        case .ending:
            if now &- lastEnd >= BridgeOptions.nanoseconds(options.retryInterval) { try sendEnd() }
        }
        now = ZmqDeadline.now()
        if phase != .handshaking, now &- lastReceive >= BridgeOptions.nanoseconds(options.peerTimeout) {
            counters.peerTimeouts += 1
            log("the receiver is silent (\(options.peerTimeout)); starting a new handshake")
            restartHandshake()
        }
        if phase != .handshaking, now &- lastSend >= BridgeOptions.nanoseconds(options.heartbeatInterval) {
            _ = try send(BridgeHeartbeat.encode(streamId: streamId, index: ackedIndex, position: consumer.position))
        }
        counters.lagRecords = readIndex &- ackedIndex
        if !busy && received == 0 { try idle() }
        return false
    }

    /// Waits for the next thing to do: a frame from the receiver, and, with nothing in
    /// flight, a message in the source (its doorbell, SPEC.md §21), up to half a heartbeat
    /// interval; a partly built frame only polls.
    private func idle() throws(BridgeError) {
        if frameCount > 0 {
            _ = try ringCall { () throws(RingError) in try socket.waitReadable(milliseconds: 0) }
            return
        }
        var bell: Int32?
        if phase == .streaming, inFlightBytes == 0, (try? consumer.armDoorbell()) == true {
            bell = try? consumer.doorbellDescriptor()
        }
        defer { if bell != nil { consumer.disarmDoorbell() } }
        let ms = bell == nil ? 1 : max(1, Int(BridgeOptions.nanoseconds(options.heartbeatInterval) / 2_000_000))
        _ = try ringCall { () throws(RingError) in try socket.waitReadable(milliseconds: ms, or: bell) }
    }

    // MARK: Receiving

    private func take(_ bytes: UnsafeRawBufferPointer?) throws(BridgeError) {
        guard let bytes else { return drop("a message of more than one frame part") }
        let parsed: ParsedFrame
        do { parsed = try Frame.parse(bytes) } catch { return drop(error.description) }
        let h = parsed.header
        guard h.streamId == streamId else { return drop("a frame of stream \(hex(h.streamId))") }
        switch h.kind {
        case .ack:
            let ack: BridgeAck
            do { ack = try BridgeAck.parse(h, bytes) } catch { return drop("\(error)") }
            try acknowledged(ack)
        case .hello:
            do { _ = try BridgeHello.parse(h, bytes) } catch { return drop("\(error)") }
            // The receiver asks us to introduce ourselves again (it restarted, or lost a frame).
            if phase != .handshaking {
                log("the receiver asks for a new handshake")
                restartHandshake()
            }
        case .heartbeat:
            do { try BridgeHeartbeat.parse(h) } catch { return drop("\(error)") }
        case .data, .end:
            drop("a \(h.kind) frame sent to the sender")
        }
    }

    /// An ACK: the answer to our HELLO (we resume where it says), or progress.
    private func acknowledged(_ ack: BridgeAck) throws(BridgeError) {
        switch ack.status {
        case BridgeAck.streamMismatch, BridgeAck.sourceAhead:
            log("refused: \(BridgeAck.statusName(ack.status))")
            throw .refused(status: ack.status)
        default: break
        }
        credit = ack.credit
        counters.destinationDropped = ack.destinationDropped
        if phase == .handshaking {
            // An ACK behind our position was sent before we consumed up to it: not the answer.
            let ahead = ack.appliedPosition &- consumer.position
            guard ahead < 1 << 63 else { return }
            try resume(at: ack)
            if ack.status == BridgeAck.ended { isEnded = true }
            return
        }
        let advance = ack.appliedIndex &- ackedIndex
        if advance == 0 || advance >= 1 << 63 {
            if ack.status == BridgeAck.ended, phase == .ending { isEnded = true }
            return  // credit only, or a stale ACK
        }
        // It must end one of our frames: consume up to that frame's end.
        var popped = inFlightHead
        var bytes: UInt64 = 0
        var payload: UInt64 = 0
        while popped < inFlight.count, inFlight[popped].endIndex &- ackedIndex <= advance {
            bytes += inFlight[popped].bodyBytes
            payload += inFlight[popped].payloadBytes
            popped += 1
        }
        guard popped > inFlightHead, inFlight[popped - 1].endIndex == ack.appliedIndex,
              inFlight[popped - 1].endPosition == ack.appliedPosition else {
            counters.framesDropped += 1
            log("an ACK at index \(ack.appliedIndex) position \(ack.appliedPosition) ends none of the frames sent; starting a new handshake")
            restartHandshake()
            return
        }
        try ringCall { () throws(RingError) in try consumer.consume(to: ack.appliedPosition, count: Int(advance)) }
        ackedIndex = ack.appliedIndex
        inFlightHead = popped
        inFlightBytes -= bytes
        if inFlightHead == inFlight.count {
            inFlight.removeAll(keepingCapacity: true)
            inFlightHead = 0
        } else if inFlightHead > 1024, inFlightHead * 2 > inFlight.count {
            inFlight.removeFirst(inFlightHead)  // amortized O(1) per frame
            inFlightHead = 0
        }
        counters.recordsAcked += advance
        counters.bytesAcked += payload
        if ack.status == BridgeAck.ended { isEnded = true }
    }

    /// After a handshake: consume what the receiver already applied (our position may be
    /// behind it if we died between its ACK and our consume), then send from there.
    private func resume(at ack: BridgeAck) throws(BridgeError) {
        let start = consumer.position
        let distance = ack.appliedPosition &- start
        if distance != 0 {
            guard distance <= UInt64(ring.capacity) else {
                throw .sourceAhead(applied: ack.appliedPosition, source: start)
            }
            var count = 0
            var payload = 0
            var reached = false
            _ = try ringCall { () throws(RingError) in
                try consumer.lookAhead(from: start, maxCount: .max) { _, end, bytes in
                    count += 1
                    payload += bytes.count
                    reached = end == ack.appliedPosition
                    return !reached && end &- start < distance
                }
            }
            guard reached else { throw .badAcknowledgement(position: ack.appliedPosition, index: ack.appliedIndex) }
            try ringCall { () throws(RingError) in try consumer.consume(to: ack.appliedPosition, count: count) }
            counters.recordsAcked += UInt64(count)
            counters.bytesAcked += UInt64(payload)
            log("skipped \(count) messages the receiver already had")
        }
        ackedIndex = ack.appliedIndex
        readIndex = ack.appliedIndex
        readPosition = ack.appliedPosition
        inFlight.removeAll(keepingCapacity: true)
        inFlightHead = 0
        inFlightBytes = 0
        frameCount = 0; frameBody = 0; framePayload = 0
        handshakes += 1
        if handshakes > 1 { counters.reconnects += 1 }
        phase = .streaming
        lastReceive = ZmqDeadline.now()
        log("streaming from index \(ackedIndex), source position \(readPosition) (credit \(credit))")
    }

    private func restartHandshake() {
        phase = .handshaking
        lastHello = 0
    }

    // MARK: Sending

    /// Adds committed records to the frame and sends it when it is full, old enough, or
    /// the link is idle. True if it sent or added anything.
    private func pump() throws(BridgeError) -> Bool {
        var progress = false
        while true {
            let (added, closed) = try fill()
            if added > 0 { progress = true }
            guard frameCount > 0 else { break }
            let full = closed || frameBody >= options.maxFrameBytes - 8
            let old = ZmqDeadline.now() &- frameStarted >= BridgeOptions.nanoseconds(options.flushInterval)
            guard full || old || inFlightBytes == 0 else { break }
            if !creditAllows(UInt64(frameBody)) {
                if !stalled { counters.creditStalls += 1; stalled = true }
                break
            }
            guard try sendFrame() else { break }
            progress = true
            stalled = false
            if !closed && added == 0 { break }
        }
        counters.lagBytes = consumer.lastSeenProducerPosition &- consumer.position
        return progress
    }

    /// Whether a frame of `bytes` more may go: within the credit, or alone on an idle link.
    private func creditAllows(_ bytes: UInt64) -> Bool {
        inFlightBytes + bytes <= credit || (inFlightBytes == 0 && credit > 0)
    }

    /// Appends the committed records from readPosition that fit the frame (a frame's
    /// records are contiguous in the source: it ends before a padding record). Returns how
    /// many, and whether the frame is closed (the next record does not belong in it).
    private func fill() throws(BridgeError) -> (added: Int, closed: Bool) {
        let limit = options.maxFrameBytes
        var added = 0
        var closed = false
        let result = try ringCall { () throws(RingError) in
            try consumer.lookAhead(from: readPosition, maxCount: .max) { start, end, bytes in
                let size = align8(8 + bytes.count)
                if frameCount > 0 {
                    if start != readPosition || frameBody + size > limit || !creditAllows(UInt64(frameBody + size)) {
                        closed = true
                        return false
                    }
                }
                if WireLayout.headerSize + frameBody + size > frame.count {
                    frame.append(contentsOf: repeatElement(0, count: WireLayout.headerSize + frameBody + size - frame.count))
                }
                if frameCount == 0 {
                    frameFirstIndex = readIndex
                    frameFirstPosition = start
                    frameStarted = ZmqDeadline.now()
                }
                frame.withUnsafeMutableBytes { out in
                    _ = Frame.writeRecord(bytes, to: out.baseAddress! + WireLayout.headerSize + frameBody)
                }
                frameBody += size
                framePayload += bytes.count
                frameCount += 1
                readIndex &+= 1
                readPosition = end
                added += 1
                if frameBody >= limit { closed = true }
                return !closed
            }
        }
        _ = result
        return (added, closed)
    }

    /// Sends the frame built; false if it cannot go now (kept for the next turn).
    private func sendFrame() throws(BridgeError) -> Bool {
        frame.withUnsafeMutableBytes { out in
            Frame.writeHeader(FrameHeader(kind: .data, count: UInt32(frameCount), bodyLength: UInt32(frameBody),
                                          streamId: streamId, firstIndex: frameFirstIndex, firstPosition: frameFirstPosition),
                              to: out.baseAddress!)
        }
        let size = WireLayout.headerSize + frameBody
        let sent = try ringCall { () throws(RingError) in try socket.send(frame, count: size) }
        guard sent else { return false }
        lastSend = ZmqDeadline.now()
        inFlight.append(InFlight(endIndex: readIndex, endPosition: readPosition, bodyBytes: UInt64(frameBody),
                                 payloadBytes: UInt64(framePayload)))
        inFlightBytes += UInt64(frameBody)
        counters.framesSent += 1
        counters.recordsSent += UInt64(frameCount)
        counters.bytesSent += UInt64(framePayload)
        frameCount = 0; frameBody = 0; framePayload = 0
        return true
    }

    /// Whether the source's stream ended with everything read: writerState CLOSED, then
    /// nothing committed past readPosition (SPEC.md §8.3's order).
    private func sourceEnded() throws(BridgeError) -> Bool {
        guard consumer.writerClosed else { return false }
        let more = try ringCall { () throws(RingError) in try consumer.lookAhead(from: readPosition, maxCount: 1) { _, _, _ in true } }
        return more.count == 0
    }

    private func sendHello() throws(BridgeError) {
        let hello = BridgeHello(role: .sender, streamId: streamId, index: 0, position: consumer.position,
                                recordHeader: UInt32(recordHeader), capacity: UInt64(ring.capacity))
        if try send(hello.encode()) { lastHello = ZmqDeadline.now() }
    }

    private func sendEnd() throws(BridgeError) {
        let end = Frame.encode(kind: .end, streamId: streamId, firstIndex: readIndex, firstPosition: readPosition)
        if try send(end) { lastEnd = ZmqDeadline.now() }
    }

    private func send(_ bytes: [UInt8]) throws(BridgeError) -> Bool {
        let sent = try ringCall { () throws(RingError) in try socket.send(bytes) }
        if sent { lastSend = ZmqDeadline.now() }
        return sent
    }

    private func drop(_ why: String) {
        counters.framesDropped += 1
        log("dropped a frame: \(why)")
    }

    private func log(_ line: String) { onLog?(line) }
}
