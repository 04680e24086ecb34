// Consumer.swift - the reading side (SPEC.md §8.2, §9). One consumer per ring
// at a time (SPEC.md §11). consumerPosition lives in the file, so a consumer
// that restarts resumes where the last one stopped.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics

/// The single reader of a ring.
///
/// Reads are FIFO. Under reject-when-full the consumer owns consumerPosition;
/// under overwrite-oldest the producer may move it forward to reclaim old
/// records, and the consumer only keeps a record whose position it could move
/// past with a compare-and-swap, so it never returns a torn or overwritten
/// record (SPEC.md §9.2). A consumer is meant for one thread at a time.
public final class RingConsumer {
    let storage: RingStorage
    let data: UnsafeMutableRawPointer
    let geometry: RingGeometry
    let overwrite: Bool
    /// consumerPosition as we last read or wrote it.
    @exclusivity(unchecked)
    var tail: UInt64
    /// Last producerPosition we read; re-read only when we catch up with it.
    @exclusivity(unchecked)
    var cachedHead: UInt64
    /// The record handed out by `peek()` and not yet released.
    @exclusivity(unchecked)
    var peeked: LocatedRecord?
    /// Set by close(); only the thread using this object touches it.
    @exclusivity(unchecked)
    var closed = false
    /// True once closed.
    public var isClosed: Bool { closed }

    init(storage: RingStorage) throws(RingError) {
        try storage.takeRole(.consumer)
        self.storage = storage
        self.data = storage.data
        self.geometry = storage.geometry
        self.overwrite = storage.geometry.policy == .overwriteOldest
        do throws(RingError) {
            let (p, c) = try storage.snapshotPositions()
            tail = c
            cachedHead = p
        } catch {
            storage.releaseRole(.consumer)
            throw error
        }
        // A reader that died while sleeping left its count behind; we hold the
        // role, so nobody else reads this ring now.
        storage.dataChannel.waiters.store(0, ordering: .relaxed)
    }

    deinit {
        if !isClosed { storage.releaseRole(.consumer) }
    }

    /// The ring's geometry (capacity, policy, versions).
    public var ringGeometry: RingGeometry { geometry }

    // MARK: Reading with a copy

    /// Reads and consumes the oldest message without blocking.
    /// - Throws: `empty`, `endOfStream`, `closed`, `corrupt`.
    public func read() throws(RingError) -> [UInt8] {
        guard let bytes = try tryRead() else { throw try emptyOrEnd() }
        return bytes
    }

    /// Reads and consumes the oldest message; nil if the ring is empty.
    /// - Throws: `endOfStream` once the producer closed the stream and it is drained.
    public func tryRead() throws(RingError) -> [UInt8]? {
        guard !isClosed else { throw .closed }
        while true {
            let record: LocatedRecord
            switch try locate(at: startPosition()) {
            case .record(let r): record = r
            case .reclaimed: continue
            case .none:
                if try isEnded() { throw .endOfStream }
                return nil
            }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length))
            // A peer that truncated the file turned the pages we copied into zeros.
            try storage.checkNotTruncated()
            if advance(to: record.end) { return bytes }
        }
    }

    /// Reads and consumes the oldest message, waiting up to `timeout` for one (nil: no limit).
    /// - Throws: `empty` when the timeout passes, `endOfStream`, `closed`, `corrupt`.
    public func read(timeout: Duration?) throws(RingError) -> [UInt8] {
        let deadline = Deadline(after: timeout)
        while true {
            if let bytes = try tryRead() { return bytes }
            guard try waitForData(deadline) else {
                if let bytes = try tryRead() { return bytes }
                throw .empty
            }
        }
    }

    /// Reads and consumes up to `maxCount` messages with one position update.
    /// Returns an empty array if there are none now.
    /// - Throws: `endOfStream` if none are left and the stream ended.
    public func read(maxCount: Int) throws(RingError) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        _ = try consumeBatch(maxCount: maxCount) { index, bytes in
            if index == 0 { messages.removeAll(keepingCapacity: true) }
            messages.append([UInt8](bytes))
            return true
        }
        return messages
    }

    /// Consumes up to `maxCount` messages with one position update, showing
    /// each to `visit(index, bytes)` in the mapping; `visit` returns false to
    /// stop before that message (it is then not consumed). Under
    /// overwrite-oldest a batch the producer reclaimed meanwhile is discarded
    /// and visited again from index 0. Returns how many were consumed (0 if
    /// none are there). For bindings that copy into their own buffers.
    /// - Throws: `endOfStream` if none are left and the stream ended.
    package func consumeBatch(maxCount: Int, _ visit: (Int, UnsafeRawBufferPointer) -> Bool) throws(RingError) -> Int {
        guard !isClosed else { throw .closed }
        guard maxCount > 0 else { return 0 }
        while true {
            guard let (count, position) = try scan(from: startPosition(), maxCount: maxCount, visit) else { continue }
            try storage.checkNotTruncated()
            if count == 0 {
                if try isEnded() { throw .endOfStream }
                return 0
            }
            if advance(to: position) { return count }
        }
    }

    /// Like `read(maxCount:)`, but waits up to `timeout` for at least one message.
    /// - Throws: `empty` when the timeout passes with nothing to read.
    public func read(maxCount: Int, timeout: Duration?) throws(RingError) -> [[UInt8]] {
        let deadline = Deadline(after: timeout)
        while true {
            let batch = try read(maxCount: maxCount)
            if !batch.isEmpty || maxCount <= 0 { return batch }
            guard try waitForData(deadline) else {
                let last = try read(maxCount: maxCount)
                if last.isEmpty { throw .empty }
                return last
            }
        }
    }

    /// Every unread message, oldest first, without consuming any
    /// (like mm_toolbox `unwrapped()`).
    public func peekAll() throws(RingError) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        _ = try visitUnread(maxCount: Int.max) { index, bytes in
            if index == 0 { messages.removeAll(keepingCapacity: true) }
            messages.append([UInt8](bytes))
            return true
        }
        return messages
    }

    /// Shows up to `maxCount` unread messages, oldest first, to
    /// `visit(index, bytes)` without consuming them; `visit` returns false to
    /// stop. Under overwrite-oldest, if the producer reclaimed any of them
    /// meanwhile, the visit starts again from index 0 with the new oldest.
    /// Returns how many were visited. For bindings.
    package func visitUnread(maxCount: Int, _ visit: (Int, UnsafeRawBufferPointer) -> Bool) throws(RingError) -> Int {
        guard !isClosed else { throw .closed }
        while true {
            let start = startPosition()
            guard let (count, _) = try scan(from: start, maxCount: maxCount, visit) else { continue }
            try storage.checkNotTruncated()
            // Under overwrite-oldest what was shown is good only if the producer
            // reclaimed nothing meanwhile: it moves consumerPosition first.
            if !overwrite || storage.consumerPosition.load(ordering: .acquiring) == start {
                return count
            }
        }
    }

    /// Shows up to `maxCount` committed messages from `start` to `visit` (which
    /// returns false to stop before one). Returns how many and the position after
    /// them, or nil if, under overwrite-oldest, the producer reclaimed some meanwhile.
    func scan(from start: UInt64, maxCount: Int, _ visit: (Int, UnsafeRawBufferPointer) -> Bool)
        throws(RingError) -> (count: Int, end: UInt64)? {
        var position = start
        var count = 0
        while count < maxCount {
            switch try locate(at: position, batchStart: start) {
            case .record(let record):
                let bytes = UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length)
                guard visit(count, bytes) else { return (count, position) }
                position = record.end
                count += 1
            case .reclaimed: return nil
            case .none: return (count, position)
            }
        }
        return (count, position)
    }

    // MARK: Zero-copy reading

    /// Calls `body` with the oldest message's bytes in the mapping, then
    /// consumes it. If `body` throws, the message is not consumed.
    ///
    /// Waits up to `timeout` for a message (the default, zero, does not wait;
    /// nil waits without limit). The bytes are valid only inside `body`.
    /// Under overwrite-oldest the producer may reclaim the record while `body`
    /// runs; then the result is discarded and `body` runs again on the next
    /// record, so `body` must tolerate seeing bytes that are being overwritten
    /// and should have no side effects it cannot repeat.
    /// - Throws: `empty`, `endOfStream`, `closed`, `corrupt`, or what `body` throws.
    public func withNextMessage<R>(timeout: Duration? = .zero, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard !isClosed else { throw RingError.closed }
        let deadline = Deadline(after: timeout)
        while true {
            let record: LocatedRecord
            switch try locate(at: startPosition()) {
            case .record(let r): record = r
            case .reclaimed: continue
            case .none:
                if try isEnded() { throw RingError.endOfStream }
                guard try waitForData(deadline) else {
                    if case .none = try locate(at: startPosition()) { throw RingError.empty }
                    continue
                }
                continue
            }
            let result = try body(UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length))
            try storage.checkNotTruncated()
            if advance(to: record.end) { return result }
        }
    }

    /// Returns the oldest message's bytes in the mapping without consuming
    /// it, or nil if there is none. The bytes stay valid until `release()`
    /// (reject-when-full); under overwrite-oldest the producer may overwrite
    /// them, and `release()` then returns false. For bindings.
    package func peek() throws(RingError) -> UnsafeRawBufferPointer? {
        guard !isClosed else { throw .closed }
        var found = try locate(at: startPosition())
        while case .reclaimed = found { found = try locate(at: startPosition()) }
        guard case .record(let record) = found else {
            if try isEnded() { throw .endOfStream }
            return nil
        }
        peeked = record
        return UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length)
    }

    /// Consumes the message returned by `peek()`. Returns false if, under
    /// overwrite-oldest, it was reclaimed by the producer while held (its
    /// bytes may have been torn: discard what was read from them).
    package func release() throws(RingError) -> Bool {
        guard !isClosed else { throw .closed }
        guard let record = peeked else { return true }
        try storage.checkNotTruncated()
        peeked = nil
        return advance(to: record.end)
    }

    /// Gives up a `peek()` without consuming the message.
    package func cancelPeek() { peeked = nil }

    /// Waits up to `timeout` until a message or the end of stream is there.
    /// Returns false if the timeout passed first.
    public func waitForMessage(timeout: Duration?) throws(RingError) -> Bool {
        guard !isClosed else { throw .closed }
        if case .none = try locate(at: startPosition()), !(try isEnded()) {
            return try waitForData(Deadline(after: timeout))
        }
        return true
    }

    /// Closes this consumer; the next consumer resumes at its position.
    public func close() {
        guard !isClosed else { return }
        closed = true
        peeked = nil
        storage.releaseRole(.consumer)
    }

    /// Writes the mapping's dirty pages (including the consumer position) to the file.
    public func flush() throws(RingError) {
        guard !isClosed else { throw .closed }
        try storage.flush()
    }

    // MARK: The protocol

    /// Where the next read starts: our own position, or under overwrite-oldest
    /// the shared one (the producer may have moved it).
    @inline(__always)
    func startPosition() -> UInt64 {
        if overwrite {
            // acquire: pairs with the producer's CAS in RingProducer.makeRoom.
            tail = storage.consumerPosition.load(ordering: .acquiring)
        }
        return tail
    }

    /// What `locate` found.
    enum Found {
        /// A checked message record.
        case record(LocatedRecord)
        /// Nothing is committed at the position.
        case none
        /// Overwrite-oldest: the producer reclaimed records since the read
        /// began; start again from the new consumerPosition.
        case reclaimed
    }

    /// The checked record at `position`. `batchStart` is where this read
    /// began (for telling an overwrite from corruption).
    @inline(__always)
    func locate(at position: UInt64, batchStart: UInt64? = nil) throws(RingError) -> Found {
        do {
            return try locateUnchecked(at: position, batchStart: batchStart)
        } catch {
            // Zeros read from pages a truncation took away are not corruption of the ring.
            try storage.checkNotTruncated()
            throw error
        }
    }

    @inline(__always)
    func locateUnchecked(at position: UInt64, batchStart: UInt64?) throws(RingError) -> Found {
        let capacity = UInt64(geometry.capacity)
        var available = cachedHead &- position
        if available == 0 || available > capacity {
            // acquire: pairs with the producer's store in RingProducer.publish; the
            // record bytes below this position are visible after this load.
            cachedHead = storage.producerPosition.load(ordering: .acquiring)
            available = cachedHead &- position
            if available == 0 { return .none }
            guard cachedHead & UInt64(RingLayout.recordAlignment - 1) == 0 else {
                throw .corrupt(.misalignedPosition(cachedHead))
            }
            guard available <= capacity else {
                if overwrite && wasReclaimed(since: batchStart ?? position) { return .reclaimed }
                throw .corrupt(.positionsOutOfOrder(producer: cachedHead, consumer: position))
            }
        }
        do throws(RingError) {
            return .record(try RecordIO.locate(data, at: position, committed: cachedHead, geometry: geometry))
        } catch {
            // Under overwrite-oldest, bytes the producer is overwriting look like
            // garbage; it is corruption only if the producer did not reclaim them.
            if overwrite && wasReclaimed(since: batchStart ?? position) { return .reclaimed }
            throw error
        }
    }

    /// Under overwrite-oldest: whether the producer moved consumerPosition past `start`.
    func wasReclaimed(since start: UInt64) -> Bool {
        // acquire: pairs with the producer's CAS in RingProducer.makeRoom.
        storage.consumerPosition.load(ordering: .acquiring) != start
    }

    /// Moves consumerPosition to `end`. Under overwrite-oldest returns false
    /// if the producer reclaimed records meanwhile (the copies are discarded).
    @inline(__always)
    func advance(to end: UInt64) -> Bool {
        if !overwrite {
            // release: pairs with the producer's acquire load in makeRoom: our reads of
            // the record are done before it may overwrite the bytes.
            // seq_cst: keeps the writerWaiters load below after this store (SPEC.md §10).
            storage.consumerPosition.store(end, ordering: .sequentiallyConsistent)
            tail = end
            WaitWord.signalIfWaiting(storage.spaceChannel)
            return true
        }
        // acq_rel (seq_cst): pairs with the producer's CAS in makeRoom; whoever
        // moves the position first owns the records it passes.
        let (won, current) = storage.consumerPosition.compareExchange(
            expected: tail, desired: end, ordering: .sequentiallyConsistent)
        tail = won ? end : current
        return won
    }

    /// True if the ring is drained and the producer closed the stream.
    func isEnded() throws(RingError) -> Bool {
        // acquire: pairs with the release store in RingProducer.closeWriter.
        let state = storage.writerState.load(ordering: .acquiring)
        if state == RingLayout.writerStateOpen { return false }
        guard state == RingLayout.writerStateClosed else { throw .corrupt(.badWriterState(state)) }
        // Every commit happened before the close: re-read the final position.
        while true {
            switch try locate(at: startPosition()) {
            case .none: return true
            case .record: return false
            case .reclaimed: continue
            }
        }
    }

    func emptyOrEnd() throws(RingError) -> RingError {
        try isEnded() ? .endOfStream : .empty
    }

    /// Sleeps until producerPosition moves past our position or the stream
    /// ends, or the deadline passes (false).
    func waitForData(_ deadline: Deadline) throws(RingError) -> Bool {
        try WaitWord.wait(storage.dataChannel, deadline: deadline) { () throws(RingError) -> Bool in
            // seq_cst: pairs with the producer's seq_cst store in publish (SPEC.md §10).
            let head = storage.producerPosition.load(ordering: .sequentiallyConsistent)
            let position = overwrite ? storage.consumerPosition.load(ordering: .sequentiallyConsistent) : tail
            return head != position
                || storage.writerState.load(ordering: .sequentiallyConsistent) != RingLayout.writerStateOpen
        }
    }
}
