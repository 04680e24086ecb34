// Producer.swift - the writing side (SPEC.md §8.1, §9). One producer per ring
// at a time (SPEC.md §11). A record is written in place after the committed
// position and becomes visible only when producerPosition moves past it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// The single writer of a ring.
///
/// A producer holds the producer role of its ring file until `close()`,
/// `closeWriter()` or deinit; the kernel releases the role if the process
/// dies. A producer is meant for one thread at a time (it is not `Sendable`):
/// open one per thread that writes, or guard it with your own lock.
public final class RingProducer {
    let storage: RingStorage
    @usableFromInline let data: UnsafeMutableRawPointer
    @usableFromInline let geometry: RingGeometry
    /// Our own producerPosition: the end of the last committed record.
    @exclusivity(unchecked)
    @usableFromInline var head: UInt64
    /// Last consumerPosition we read; re-read only when the ring looks full. In a
    /// ring with readers, tailPosition, which only we write: exact.
    @exclusivity(unchecked)
    @usableFromInline var cachedTail: UInt64
    /// Bytes before a message's payload: 8, or 16 in a ring with readers.
    let messageHeaderSize: Int
    /// Rings with readers: the index of the next message to commit (SPEC.md §17.2).
    @exclusivity(unchecked)
    var nextIndex: UInt64 = 0
    /// Rings with readers: messages written since the last commit (a batch).
    @exclusivity(unchecked)
    var pendingMessages = 0
    /// Rings with readers: which gating readers still hold us back (SPEC.md §17.7).
    @exclusivity(unchecked)
    var gateKeeper = GateKeeper()
    /// Where the open reservation (zero-copy write) starts, if any.
    @exclusivity(unchecked)
    var reservation: (recordStart: UInt64, capacity: Int, newHead: UInt64)?
    /// Set by close(); only the thread using this object touches it.
    @exclusivity(unchecked)
    var closed = false
    /// Set by `interrupt()` from any thread: waits end with `closed`.
    let interrupted = ManagedAtomic<Bool>(false)
    /// Rings with producers: our slot of the producer table (SPEC.md §18.2); nil otherwise.
    let producerSlot: ProducerSlot?
    /// Rings with producers: the open zero-copy reservation, if any.
    @exclusivity(unchecked)
    var sharedReservation: SharedReservation?
    /// Rings with producers: the front we wait behind, for settling it (SPEC.md §18.7).
    @exclusivity(unchecked)
    var frontWatch = FrontWatch()
    /// Whether our records carry indexes we write (rings with readers and one producer).
    let writesIndexes: Bool
    /// Whether we count the messages we commit into nextIndex: with indexes, or in a ring
    /// that keeps counts (SPEC.md §22.2).
    let countsMessages: Bool
    /// True once closed.
    public var isClosed: Bool { closed }
    /// The doorbell (SPEC.md §21), made by the first `doorbellDescriptor()` or `armDoorbell(forPayload:)`.
    @exclusivity(unchecked)
    var bell: Doorbell?

    init(storage: RingStorage) throws(RingError) {
        guard !storage.geometry.isTyped else {
            throw .invalidArgument("\(storage.path) is a typed ring (SPEC.md §19): write it with an ItemProducer")
        }
        self.storage = storage
        self.data = storage.data
        self.geometry = storage.geometry
        self.messageHeaderSize = storage.geometry.messageHeaderSize
        self.writesIndexes = storage.geometry.hasReaders && !storage.geometry.hasProducers
        self.countsMessages = writesIndexes || (storage.geometry.keepsCounts && !storage.geometry.hasProducers)
        if storage.geometry.hasProducers {
            // Several producers: a slot of the producer table, not the producer role (SPEC.md §18.2).
            producerSlot = try storage.takeProducerSlot()
            head = 0
            cachedTail = 0
            // seq_cst: after our slot's ACTIVE store; pairs with closers of the stream (SPEC.md §18.8).
            storage.writerState.store(RingLayout.writerStateOpen, ordering: .sequentiallyConsistent)
            return
        }
        producerSlot = nil
        try storage.takeRole(.producer)
        do throws(RingError) {
            let (p, c) = try storage.snapshotPositions()
            head = p
            cachedTail = c
            if geometry.hasReaders {
                try takeOverReaderRing()
            } else if geometry.keepsCounts {
                // Go on counting from nextIndex, made exact first while no consumer runs (SPEC.md §22.3).
                nextIndex = storage.repairCountsAsProducer()
            }
        } catch {
            storage.releaseRole(.producer)
            throw error
        }
        // A writer that died while sleeping left its count behind; we hold the
        // role, so nobody else can be waiting for space now.
        storage.spaceChannel.waiters.store(0, ordering: .relaxed)
        // release: pairs with the consumer's acquire load of writerState. A new
        // producer reopens a stream a previous one closed (SPEC.md §8.3).
        storage.writerState.store(RingLayout.writerStateOpen, ordering: .releasing)
    }

    deinit {
        if !isClosed { giveUp() }
    }

    /// Gives up the role, or the slot of a ring with producers.
    func giveUp() {
        // Our count leaves the wait line before the role or slot does.
        bell?.disarm()
        bell = nil
        if let slot = producerSlot {
            if sharedReservation != nil { sharedAbortReservation() }
            storage.releaseProducerSlot(slot)
        } else {
            storage.releaseRole(.producer)
        }
    }

    /// The ring's geometry (capacity, policy, versions).
    public var ringGeometry: RingGeometry { geometry }

    /// The largest payload `write` accepts.
    public var maxMessageSize: Int { geometry.maxMessageSize }

    // MARK: Writing

    /// Writes one message without blocking.
    ///
    /// - Throws: `full` (reject-when-full and no room), `invalidSize`,
    ///   `closed`, `corrupt`, `busy` while a zero-copy reservation is open.
    public func write(_ message: UnsafeRawBufferPointer) throws(RingError) {
        guard try tryWrite(message) else { throw .full }
    }

    /// Writes one message without blocking; returns false if the ring is full.
    public func tryWrite(_ message: UnsafeRawBufferPointer) throws(RingError) -> Bool {
        try checkUsable()
        guard message.count <= geometry.maxMessageSize else {
            throw .invalidSize(size: message.count, maximum: geometry.maxMessageSize)
        }
        if producerSlot != nil { return try sharedWrite(count: 1, message: { _ in message }) == 1 }
        guard let start = try reserve(payload: message.count, pendingHead: head) else { return false }
        let end = fill(at: start, length: message.count, from: message)
        try commit(end)
        return true
    }

    /// Throws unless a write may start now: open, in the process that opened it,
    /// no reservation open, the file not truncated.
    @inline(__always)
    func checkUsable() throws(RingError) {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard reservation == nil, sharedReservation == nil else { throw .busy(.producer) }
        try storage.checkNotTruncated()
    }

    /// Writes one message, waiting up to `timeout` for room (nil: no limit).
    ///
    /// - Throws: `full` when the timeout passes, `invalidSize`, `closed`, `corrupt`.
    public func write(_ message: UnsafeRawBufferPointer, timeout: Duration?) throws(RingError) {
        if try tryWrite(message) { return }
        let deadline = Deadline(after: timeout)
        while true {
            let ok = try WaitWord.wait(storage.spaceChannel, deadline: deadline, afterSleep: storage.checkFileSize) { () throws(RingError) -> Bool in
                try roomReady(payload: message.count)
            }
            if try tryWrite(message) { return }
            if !ok { throw .full }
        }
    }

    /// The condition a producer waits for (SPEC.md §10): room for a message of `payload`
    /// bytes. Blocking waits and the doorbell share it.
    func roomReady(payload: Int) throws(RingError) -> Bool {
        if interrupted.load(ordering: .relaxed) { throw .closed }
        if producerSlot != nil { return try sharedHasRoom(payload: payload) }
        let total = bytesNeeded(payload: payload, at: head)
        // A ring with readers: room is what we may reclaim; the slot loads in it are
        // seq_cst and pair with gating readers' cursor stores (SPEC.md §17.8).
        if geometry.hasReaders { return try reclaimForReaders(total, pendingHead: head) }
        // seq_cst: pairs with the consumer's seq_cst store of consumerPosition (SPEC.md §10).
        let tail = storage.consumerPosition.load(ordering: .sequentiallyConsistent)
        return UInt64(geometry.capacity) &- (head &- tail) >= total
    }

    /// Writes one message given as bytes, without blocking (see `write(_:)`).
    public func write(_ message: some Collection<UInt8>) throws(RingError) {
        try withBytes(message) { (raw) throws(RingError) in try write(raw) }
    }

    /// Writes one message given as bytes; returns false if the ring is full.
    public func tryWrite(_ message: some Collection<UInt8>) throws(RingError) -> Bool {
        try withBytes(message) { (raw) throws(RingError) -> Bool in try tryWrite(raw) }
    }

    /// Writes one message given as bytes, waiting up to `timeout` for room.
    public func write(_ message: some Collection<UInt8>, timeout: Duration?) throws(RingError) {
        try withBytes(message) { (raw) throws(RingError) in try write(raw, timeout: timeout) }
    }

    /// Writes the longest prefix of `messages` that fits now, with a single
    /// commit, and returns how many were written. Nothing is written if any
    /// message is larger than `maxMessageSize` (`invalidSize`).
    public func write<Messages: Collection>(batch messages: Messages) throws(RingError) -> Int
    where Messages.Element: Collection, Messages.Element.Element == UInt8 {
        try checkUsable()
        for m in messages where m.count > geometry.maxMessageSize {
            throw .invalidSize(size: m.count, maximum: geometry.maxMessageSize)
        }
        if producerSlot != nil {
            // One flat copy, so that every message is a pointer into it while we claim.
            var flat: [UInt8] = []
            var bounds: [Range<Int>] = []
            for m in messages { let start = flat.count; flat.append(contentsOf: m); bounds.append(start..<flat.count) }
            let outcome: Result<Int, RingError> = flat.withUnsafeBytes { all in
                do throws(RingError) {
                    return .success(try sharedWriteBatch(count: bounds.count) { i in UnsafeRawBufferPointer(rebasing: all[bounds[i]]) })
                } catch { return .failure(error) }
            }
            return try outcome.get()
        }
        var pending = head
        var written = 0
        for m in messages {
            let ok = try withBytes(m) { (raw) throws(RingError) -> Bool in
                guard let start = try reserve(payload: raw.count, pendingHead: pending) else { return false }
                pending = fill(at: start, length: raw.count, from: raw)
                return true
            }
            if !ok { break }
            written += 1
        }
        if pending != head { try commit(pending) }
        return written
    }

    /// Writes `count` messages given by `message(i)` (raw buffers), as many as
    /// fit now, with one commit. For bindings that hold pointer/length pairs.
    package func write(batchCount count: Int, message: (Int) -> UnsafeRawBufferPointer) throws(RingError) -> Int {
        try checkUsable()
        for i in 0..<count where message(i).count > geometry.maxMessageSize {
            throw .invalidSize(size: message(i).count, maximum: geometry.maxMessageSize)
        }
        if producerSlot != nil { return try sharedWriteBatch(count: count, message: message) }
        var pending = head
        var written = 0
        while written < count {
            let raw = message(written)
            guard let start = try reserve(payload: raw.count, pendingHead: pending) else { break }
            pending = fill(at: start, length: raw.count, from: raw)
            written += 1
        }
        if pending != head { try commit(pending) }
        return written
    }

    // MARK: Zero-copy writing

    /// Reserves room for a message of up to `size` bytes and returns the
    /// bytes to fill, in the mapping. Nothing is visible to the consumer until
    /// `commitReservation(length:)`; `abortReservation()` gives the room back.
    /// Returns nil if the ring is full.
    public func reserve(size: Int) throws(RingError) -> UnsafeMutableRawBufferPointer? {
        try checkUsable()
        guard size >= 0, size <= geometry.maxMessageSize else {
            throw .invalidSize(size: size, maximum: geometry.maxMessageSize)
        }
        if producerSlot != nil { return try sharedReserve(size: size) }
        guard let start = try reserve(payload: size, pendingHead: head) else { return nil }
        let offset = Int(truncatingIfNeeded: start & geometry.mask)
        reservation = (start, size, start &+ UInt64(RingLayout.recordSize(payloadLength: size, headerSize: messageHeaderSize)))
        return UnsafeMutableRawBufferPointer(start: data + offset + messageHeaderSize, count: size)
    }

    /// Commits the open reservation as a message of `length` bytes (at most the reserved size).
    public func commitReservation(length: Int) throws(RingError) {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        if let r = sharedReservation {
            guard length >= 0, length <= r.capacity else { throw .invalidSize(size: length, maximum: r.capacity) }
            return try sharedCommitReservation(length: length)
        }
        guard let r = reservation else { throw .invalidSize(size: length, maximum: 0) }
        guard length >= 0, length <= r.capacity else { throw .invalidSize(size: length, maximum: r.capacity) }
        reservation = nil
        let end = fill(at: r.recordStart, length: length, from: nil)
        try commit(end)
    }

    /// Gives back the open reservation; nothing is committed.
    public func abortReservation() {
        reservation = nil
        if sharedReservation != nil { sharedAbortReservation() }
    }

    /// Stops using this producer as if its process had been killed here (golden vectors
    /// and tests): a shared ring's slot lock and owner word are given up, its claim, if any,
    /// stays as it was, for the settlers of SPEC.md §18.7. Nothing else is written.
    package func crashForTests() {
        guard !closed, let slot = producerSlot else { return close() }
        closed = true
        sharedReservation = nil
        storage.unlockProducerSlot(slot)
    }

    /// Whether a reservation is open.
    package var hasOpenReservation: Bool { reservation != nil || sharedReservation != nil }

    /// Ends any wait on this producer, from any thread: the waiting call
    /// returns `closed` (the caller then closes it). For bindings whose close
    /// must not wait for a blocked write.
    package func interrupt() {
        interrupted.store(true, ordering: .relaxed)
        WaitWord.wakeWithoutSignal(storage.spaceChannel)
    }

    /// Reserves `size` bytes, lets `body` fill them and return how many it
    /// used, then commits; if `body` throws, nothing is committed.
    /// - Throws: `full` if there is no room now, `invalidSize`, `closed`, or what `body` throws.
    public func write(reserving size: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        guard let buffer = try reserve(size: size) else { throw RingError.full }
        let used: Int
        do { used = try body(buffer) } catch { abortReservation(); throw error }
        do { try commitReservation(length: used) } catch { abortReservation(); throw error }
    }

    // MARK: Ending

    /// Marks the end of the stream and closes this producer: the consumer
    /// reads what is left, then gets `endOfStream` (SPEC.md §8.3).
    public func closeWriter() {
        guard !isClosed else { return }
        guard !storage.isInherited else { return close() }
        if producerSlot != nil {
            if sharedReservation != nil { sharedAbortReservation() }
            sharedCloseWriter()
            return close()
        }
        // release: pairs with the consumer's acquire load of writerState; every
        // commit before this store is visible to a reader that sees "closed".
        storage.writerState.store(RingLayout.writerStateClosed, ordering: .releasing)
        WaitWord.wake(storage.dataChannel)
        close()
    }

    /// Closes this producer without ending the stream; a later producer may go on.
    /// In a process that inherited it across fork() the role is left to the
    /// process that took it (SPEC.md §11.3).
    public func close() {
        guard !isClosed else { return }
        closed = true
        reservation = nil
        giveUp()
    }

    /// Writes the mapping's dirty pages to the file (msync), for surviving a machine restart.
    public func flush() throws(RingError) {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        try storage.flush()
    }

    // MARK: The protocol

    /// Payloads from this size on are copied with non-temporal stores: a reader on
    /// another core then streams them from the shared cache or memory rather than
    /// pulling each line out of this core's cache (README, Benchmarks).
    static let streamingCopyThreshold = 32 << 10

    /// Finds room for a record of `payload` bytes after `pendingHead`,
    /// writing a padding record first if it would not fit before the end of
    /// the data region (SPEC.md §6.3). Returns the record's start position, or
    /// nil if the ring is full (reject-when-full).
    @inline(__always)
    func reserve(payload: Int, pendingHead: UInt64) throws(RingError) -> UInt64? {
        let size = RingLayout.recordSize(payloadLength: payload, headerSize: messageHeaderSize)
        let offset = Int(truncatingIfNeeded: pendingHead & geometry.mask)
        let toEnd = geometry.capacity - offset
        let needsPadding = size > toEnd
        let total = UInt64(needsPadding ? toEnd + size : size)
        if UInt64(geometry.capacity) &- (pendingHead &- cachedTail) < total {
            guard try makeRoom(total, pendingHead: pendingHead) else { return nil }
        }
        if needsPadding {
            RecordIO.writeHeader(data, at: offset, length: UInt32(toEnd - RingLayout.recordHeaderSize),
                                 kind: RingLayout.recordKindPadding)
            return pendingHead &+ UInt64(toEnd)
        }
        return pendingHead
    }

    /// Bytes a record of `payload` bytes takes after `position`, with the
    /// padding record it needs if it would cross the end of the data region.
    @inline(__always)
    func bytesNeeded(payload: Int, at position: UInt64) -> UInt64 {
        let size = RingLayout.recordSize(payloadLength: payload, headerSize: messageHeaderSize)
        let toEnd = geometry.capacity - Int(truncatingIfNeeded: position & geometry.mask)
        return UInt64(size > toEnd ? toEnd + size : size)
    }

    /// Re-reads consumerPosition and, under overwrite-oldest, reclaims the
    /// oldest committed records until `total` bytes are free after `pendingHead`.
    func makeRoom(_ total: UInt64, pendingHead: UInt64) throws(RingError) -> Bool {
        if geometry.hasReaders { return try reclaimForReaders(total, pendingHead: pendingHead) }
        let capacity = UInt64(geometry.capacity)
        // Each turn reclaims a record or sees the consumer move: a peer that keeps
        // moving consumerPosition without freeing room ends this (SPEC.md §13).
        var turns = 0
        let maxTurns = geometry.capacity / RingLayout.recordHeaderSize + RingConsumer.retryLimit
        while true {
            turns += 1
            if turns > maxTurns { throw .corrupt(.positionsUnstable) }
            // acquire: pairs with the consumer's seq_cst store / CAS of consumerPosition
            // in RingConsumer.advance, so the bytes it finished reading may be overwritten.
            let tail = storage.consumerPosition.load(ordering: .acquiring)
            guard tail & UInt64(RingLayout.recordAlignment - 1) == 0 else {
                throw .corrupt(.misalignedPosition(tail))
            }
            guard head &- tail <= capacity else {
                throw .corrupt(.positionsOutOfOrder(producer: head, consumer: tail))
            }
            cachedTail = tail
            if capacity &- (pendingHead &- tail) >= total { return true }
            guard geometry.policy == .overwriteOldest else { return false }
            if tail == head {
                // Only uncommitted records of this batch are left: commit them
                // so they can be reclaimed like any other (deque(maxlen) keeps the newest).
                guard pendingHead != head else { return false }
                try commit(pendingHead)
                continue
            }
            let record: LocatedRecord
            do throws(RingError) {
                record = try RecordIO.parse(data, at: tail, committed: head, geometry: geometry)
            } catch {
                // SPEC.md §9.2: a record the consumer moved past meanwhile is not ours to judge.
                // acquire: as above.
                if storage.consumerPosition.load(ordering: .acquiring) != tail { continue }
                throw error
            }
            // A padding record is reclaimed by itself (it may free enough room); a
            // message record is a dropped message (SPEC.md §9.2).
            let isPadding = record.start != tail
            let newTail = isPadding ? record.start : record.end
            // seq_cst CAS: pairs with the consumer's CAS in RingConsumer.advance; whoever
            // moves the position first owns the records it passes, and our coming
            // overwrite of their bytes stays after it (its acquire half).
            let (won, _) = storage.consumerPosition.compareExchange(
                expected: tail, desired: newTail, ordering: .sequentiallyConsistent)
            if won {
                // release fence: our coming overwrite of the reclaimed bytes becomes visible only
                // after the CAS (an LL/SC CAS does not order later plain stores by itself), so a
                // peek's re-check of consumerPosition (RingStorage.wasReclaimed) sees the move first.
                atomicMemoryFence(ordering: .releasing)
                if !isPadding {
                    // relaxed: statistics; only the producer writes droppedCount.
                    let n = storage.droppedCount.load(ordering: .relaxed)
                    storage.droppedCount.store(n &+ 1, ordering: .relaxed)
                }
                cachedTail = newTail
            }
        }
    }

    /// Writes the record header, zeroes the alignment bytes and copies the
    /// payload (if given) for a record at `start`; returns the position after it.
    @inline(__always)
    func fill(at start: UInt64, length: Int, from payload: UnsafeRawBufferPointer?,
              kind: UInt32 = RingLayout.recordKindMessage) -> UInt64 {
        let offset = Int(truncatingIfNeeded: start & geometry.mask)
        let size = RingLayout.recordSize(payloadLength: length, headerSize: messageHeaderSize)
        if length > 0 {
            // The last 8-byte word holds the payload's tail and the alignment
            // bytes; zero it first so the alignment bytes are zero (SPEC.md §6.2).
            if let payload {
                data.storeBytes(of: UInt64(0), toByteOffset: offset + size - 8, as: UInt64.self)
                let target = data + offset + messageHeaderSize
                if length >= Self.streamingCopyThreshold {
                    ringsys_copy_streaming(target, payload.baseAddress!, length)
                } else {
                    target.copyMemory(from: payload.baseAddress!, byteCount: length)
                }
            } else {
                let tailStart = offset + messageHeaderSize + length
                let pad = size - messageHeaderSize - length
                if pad > 0 { (data + tailStart).initializeMemory(as: UInt8.self, repeating: 0, count: pad) }
            }
        }
        if countsMessages {
            if writesIndexes { RecordIO.writeIndex(data, at: offset, nextIndex &+ UInt64(pendingMessages)) }
            pendingMessages += 1
        }
        RecordIO.writeHeader(data, at: offset, length: UInt32(length), kind: kind)
        return start &+ UInt64(size)
    }

    /// Makes every record before `newHead` visible (SPEC.md §8.1 step 4) and
    /// wakes a sleeping consumer, unless the file was truncated while they were
    /// written: stores into vanished pages went to a private zero page, so nothing
    /// of them is committed (SPEC.md §12).
    @inline(__always)
    func commit(_ newHead: UInt64) throws(RingError) {
        try storage.checkNotTruncated()
        publish(newHead)
    }

    /// Moves producerPosition to `newHead` and wakes a sleeping consumer.
    @inline(__always)
    func publish(_ newHead: UInt64) {
        // seq_cst store: its release half pairs with the consumer's acquire load of
        // producerPosition (RingConsumer.locateUnchecked), so the record bytes written
        // above are visible before the position that covers them; seq_cst keeps the
        // readerWaiters load in signalIfWaiting after this store (SPEC.md §10).
        storage.producerPosition.store(newHead, ordering: .sequentiallyConsistent)
        head = newHead
        if pendingMessages != 0 {
            nextIndex &+= UInt64(pendingMessages)
            pendingMessages = 0
            // relaxed: read by the next producer when the ring is empty (SPEC.md §17.2), and as a
            // count that is clamped (SPEC.md §22.2); one plain store on our own line.
            storage.nextIndexWord.store(nextIndex, ordering: .relaxed)
        }
        WaitWord.signalIfWaiting(storage.dataChannel)
    }

    @inline(__always)
    func withBytes<C: Collection<UInt8>, R>(_ c: C, _ body: (UnsafeRawBufferPointer) throws(RingError) -> R) throws(RingError) -> R {
        let fast: Result<R, RingError>? = c.withContiguousStorageIfAvailable { buf in
            do throws(RingError) { return .success(try body(UnsafeRawBufferPointer(buf))) } catch { return .failure(error) }
        }
        if let fast { return try fast.get() }
        let copy = Array(c)
        let slow: Result<R, RingError> = copy.withUnsafeBytes { raw in
            do throws(RingError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try slow.get()
    }
}
