// Consumer.swift - the reading side (SPEC.md §8.2, §9). One consumer per ring
// at a time (SPEC.md §11). consumerPosition lives in the file, so a consumer
// that restarts resumes where the last one stopped.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// Receives the messages of a batch read (`RingConsumer.consumeBatch`, `visitUnread`).
///
/// Under overwrite-oldest the producer may reclaim a batch while it is being
/// shown; the batch is then discarded and shown again from the new oldest
/// message, after `restart()`. When the read returns, the visitor holds what
/// the last pass showed it, and nothing else.
package protocol RecordVisitor {
    /// A pass begins: forget everything earlier passes showed.
    mutating func restart()
    /// Message `index` of this pass, in the mapping (valid only during the call).
    /// Returns false to stop before it; it is then not consumed.
    mutating func visit(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool
}

/// Copies every message it is shown.
struct MessageCollector: RecordVisitor {
    var messages: [[UInt8]] = []
    mutating func restart() { messages.removeAll(keepingCapacity: true) }
    mutating func visit(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        messages.append([UInt8](bytes))
        return true
    }
}

/// The single consumer of a 1.0 ring, or one of the readers of a ring with a
/// reader table (`RingReader`, SPEC.md §17): the same read API for both.
///
/// Reads are FIFO. Under reject-when-full the consumer owns consumerPosition;
/// under overwrite-oldest the producer may move it forward to reclaim old
/// records, and the consumer only keeps a record whose position it could move
/// past with a compare-and-swap, so it never returns a torn or overwritten
/// record (SPEC.md §9.2). A consumer is meant for one thread at a time.
///
/// The consumer owns its view state (SPEC.md §8.2.1): while a view is out
/// (`withNextMessage`'s body, or `peek()` until `release()`/`cancelPeek()`),
/// every other read or wait on it fails with `busy(.consumer)`.
///
/// A reader (made by `Ring.makeReader`) moves its own cursor in the reader table
/// instead of consumerPosition, validates every copy against tailPosition, and
/// when the producer laps it skips to the oldest message and counts what it
/// missed (`missedCount`); a gating reader is never lapped (SPEC.md §17.6).
public final class RingConsumer {
    let storage: RingStorage
    let data: UnsafeMutableRawPointer
    let geometry: RingGeometry
    /// The 1.0 consumer of an overwrite-oldest ring: consumerPosition is shared with the producer.
    let overwrite: Bool
    /// Records may be reclaimed under us: an overwrite-oldest consumer, or any reader.
    let lapping: Bool
    /// The 1.0 consumer of a ring that keeps counts: it stores consumedCount (SPEC.md §22.2).
    let countsConsumed: Bool
    /// consumerPosition as we last read or wrote it (SPEC.md's `tail`); for a
    /// reader, its cursor.
    @exclusivity(unchecked)
    var tail: UInt64
    /// The reader's slot and state; nil for the 1.0 consumer.
    @exclusivity(unchecked)
    var reader: ReaderState?
    /// Last producerPosition we read; re-read only when we catch up with it (SPEC.md's `cachedHead`).
    @exclusivity(unchecked)
    var cachedHead: UInt64
    /// The message handed out and not yet consumed or given back.
    @exclusivity(unchecked)
    var view: OpenView?
    /// Set by close(); only the thread using this object touches it.
    @exclusivity(unchecked)
    var closed = false
    /// Set by `interrupt()` from any thread: waits end with `closed`.
    let interrupted = ManagedAtomic<Bool>(false)
    /// Rings with producers: the front this side waits behind, for settling it (SPEC.md §18.7).
    @exclusivity(unchecked)
    var frontWatch = FrontWatch()
    /// When this side last looked at the front (rings with producers).
    @exclusivity(unchecked)
    var lastSettle: UInt64 = 0
    /// A reader looks at a front that is not moving at most this often.
    static let settleIntervalNanoseconds: UInt64 = 1_000_000
    /// The doorbell (SPEC.md §21), made by the first `doorbellDescriptor()` or `armDoorbell()`.
    @exclusivity(unchecked)
    var bell: Doorbell?
    /// True once closed.
    public var isClosed: Bool { closed }
    /// When true, a read that finds nothing to read, the stream not closed and no live
    /// producer (`Ring.producerAlive`) throws `producerGone` instead of returning nothing,
    /// `empty` or waiting on (SPEC.md §22.1): blocking, timed and non-blocking reads, waits
    /// and the doorbell alike. Every message committed before the producer died is read
    /// first. A wait notices a death within about 200 ms (a probe at most every 100 ms,
    /// one wait slice). With no producer yet started the ring counts as gone too. False
    /// by default: a read waits for a producer that may come back.
    @exclusivity(unchecked)
    public var stopsWhenProducerGone = false
    /// The last probe of the producer's liveness (`stopsWhenProducerGone`).
    @exclusivity(unchecked)
    var producerWatch = LivenessWatch()
    /// The consumer's copy of consumedCount (rings that keep counts, SPEC.md §22.2): only
    /// the consumer writes the word while it holds the role.
    @exclusivity(unchecked)
    var consumed: UInt64 = 0

    /// A view out: the position it was read from, the position after it, its message's index.
    struct OpenView {
        let start: UInt64
        let end: UInt64
        let index: UInt64
    }

    /// What a reader keeps of its own (SPEC.md §17.6).
    struct ReaderState {
        let slot: ReaderSlot
        let gating: Bool
        let durable: Bool
        /// The index of the next message, once known.
        var expected: UInt64?
        /// After a lap (or a durable resume): the index the missed count starts from.
        var missBase: UInt64?
        /// Messages missed because the producer lapped us.
        var missed: UInt64
        /// Set when a read found its records reclaimed: the next start jumps to tailPosition.
        var lapped = false
        /// The index of the first message of the last scan.
        var scanFirst: UInt64 = 0
    }

    /// Reads that find their records reclaimed this many times in a row give up
    /// with `corrupt(.positionsUnstable)` (SPEC.md §13): an honest producer cannot
    /// lap a reader that often, a peer scribbling on consumerPosition can.
    static let retryLimit = 10_000

    init(storage: RingStorage) throws(RingError) {
        guard !storage.geometry.isTyped else {
            throw .invalidArgument("\(storage.path) is a typed ring (SPEC.md §19): read it with an ItemConsumer")
        }
        try storage.takeRole(.consumer)
        self.storage = storage
        self.data = storage.data
        self.geometry = storage.geometry
        guard !storage.geometry.hasReaders else {
            storage.releaseRole(.consumer)
            throw .invalidArgument("\(storage.path) has a reader table (format 1.1): join it as a reader, not as the consumer")
        }
        self.overwrite = storage.geometry.policy == .overwriteOldest
        self.lapping = overwrite
        self.countsConsumed = storage.geometry.keepsCounts
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
        // A predecessor that died between its position store and its count store left the
        // count off by that batch: recount once while no producer runs (SPEC.md §22.3).
        if countsConsumed { consumed = storage.repairCountsAsConsumer() }
    }

    /// Joins a ring with readers as a reader (SPEC.md §17.5).
    init(storage: RingStorage, reader options: ReaderOptions) throws(RingError) {
        self.storage = storage
        self.data = storage.data
        self.geometry = storage.geometry
        self.overwrite = false
        self.lapping = true
        self.countsConsumed = false
        let joined = try ReaderJoin.join(storage, options)
        tail = joined.cursor
        cachedHead = joined.cursor
        reader = ReaderState(slot: joined.slot, gating: joined.gating, durable: joined.durable,
                             expected: nil, missBase: joined.resumeIndex, missed: joined.missed)
    }

    deinit {
        if !isClosed { giveUp() }
    }

    /// Gives up the role, or the reader's slot (kept for a durable reader unless `free`).
    func giveUp(free: Bool = false) {
        // Our count leaves the wait line before the role or slot does.
        bell?.disarm()
        bell = nil
        if let r = reader {
            storage.releaseSlot(r.slot, free: free || !r.durable)
        } else {
            storage.releaseRole(.consumer)
        }
    }

    /// Closes a reader and frees its slot, a durable reader's too: its name is given up and
    /// the next reader of that name starts afresh (`close()` keeps a durable reader's slot
    /// for its return). On the 1.0 consumer it is `close()`.
    public func leave() {
        guard !isClosed else { return }
        closed = true
        view = nil
        giveUp(free: true)
    }

    /// Messages this reader missed because the producer lapped it (0 for the consumer).
    public var missedCount: UInt64 { reader?.missed ?? 0 }

    /// The reader's slot in the reader table; nil for the consumer.
    public var readerSlot: Int? { reader?.slot.number }

    /// The ring's geometry (capacity, policy, versions).
    public var ringGeometry: RingGeometry { geometry }

    /// Throws unless a read may start now: open, in the process that opened it, no view out.
    @inline(__always)
    func checkUsable() throws(RingError) {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard view == nil else { throw .busy(.consumer) }
    }

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
        try checkUsable()
        var attempts = 0
        while true {
            let (start, found) = try next()
            guard let record = found else {
                if try isEnded() { throw .endOfStream }
                if geometry.hasProducers, try settleFront() { continue }
                return nil
            }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length))
            // A peer that truncated the file turned the pages we copied into zeros.
            try storage.checkNotTruncated()
            if try advance(from: start, to: record.end, count: 1, firstIndex: claimIndex(record)) { return bytes }
            try countRetry(&attempts)
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
        var collector = MessageCollector()
        _ = try consumeBatch(maxCount: maxCount, &collector)
        return collector.messages
    }

    /// Consumes up to `maxCount` messages with one position update, showing
    /// each to `visitor` in the mapping. Returns how many were consumed (0 if
    /// none are there); the visitor then holds exactly those (see `RecordVisitor`).
    /// - Throws: `endOfStream` if none are left and the stream ended.
    package func consumeBatch<V: RecordVisitor>(maxCount: Int, _ visitor: inout V) throws(RingError) -> Int {
        try checkUsable()
        guard maxCount > 0 else { return 0 }
        var attempts = 0
        while true {
            let start = try startPosition()
            visitor.restart()
            if let (count, end) = try scan(from: start, maxCount: maxCount, &visitor) {
                try storage.checkNotTruncated()
                if count == 0 {
                    if try isEnded() { throw .endOfStream }
                    if geometry.hasProducers, try settleFront() { continue }
                    return 0
                }
                if try advance(from: start, to: end, count: count, firstIndex: reader?.scanFirst ?? 0) { return count }
            }
            try countRetry(&attempts)
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
        var collector = MessageCollector()
        _ = try visitUnread(maxCount: Int.max, &collector)
        return collector.messages
    }

    /// Shows up to `maxCount` unread messages, oldest first, to `visitor`
    /// without consuming them. Returns how many were shown; the visitor then
    /// holds exactly those (see `RecordVisitor`).
    package func visitUnread<V: RecordVisitor>(maxCount: Int, _ visitor: inout V) throws(RingError) -> Int {
        try checkUsable()
        var attempts = 0
        while true {
            let start = try startPosition()
            visitor.restart()
            if let (count, _) = try scan(from: start, maxCount: maxCount, &visitor) {
                try storage.checkNotTruncated()
                // Under overwrite-oldest what was shown is good only if the producer
                // reclaimed nothing meanwhile: it moves consumerPosition first.
                if !lapping || !wasReclaimed(since: start) { return count }
                _ = lap()
            }
            try countRetry(&attempts)
        }
    }

    /// Shows up to `maxCount` committed messages from `start` to `visitor` (which
    /// returns false to stop before one). Returns how many and the position after
    /// them, or nil if, under overwrite-oldest, the producer reclaimed some meanwhile.
    func scan<V: RecordVisitor>(from start: UInt64, maxCount: Int, _ visitor: inout V)
        throws(RingError) -> (count: Int, end: UInt64)? {
        var position = start
        var count = 0
        while count < maxCount {
            switch try locate(at: position, batchStart: start) {
            case .record(let record):
                if reader != nil, geometry.hasProducers {
                    // Only a claim's first message carries its index (SPEC.md §18.6).
                    if count == 0 { reader!.scanFirst = claimIndex(record) }
                } else if reader != nil {
                    // The indexes of one pass follow each other; a gap is a lap or corruption.
                    if count == 0 {
                        reader!.scanFirst = record.index
                    } else if record.index != reader!.scanFirst &+ UInt64(count) {
                        if wasReclaimed(since: start) { _ = lap(); return nil }
                        throw .corrupt(.badRecordIndex(position: record.start, index: record.index,
                                                       expected: reader!.scanFirst &+ UInt64(count)))
                    }
                }
                let bytes = UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length)
                guard visitor.visit(count, bytes) else { return (count, position) }
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
    /// nil waits without limit). The bytes are valid only inside `body`, and
    /// `body` must not use this consumer (its calls fail with `busy`).
    /// Under overwrite-oldest the producer may reclaim the record while `body`
    /// runs; then the result is discarded and `body` runs again on the next
    /// record, so `body` must tolerate seeing bytes that are being overwritten
    /// and should have no side effects it cannot repeat.
    /// - Throws: `empty`, `endOfStream`, `closed`, `corrupt`, or what `body` throws.
    public func withNextMessage<R>(timeout: Duration? = .zero, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try checkUsable()
        let deadline = Deadline(after: timeout)
        var attempts = 0
        while true {
            let (start, found) = try next()
            guard let record = found else {
                if try isEnded() { throw RingError.endOfStream }
                guard try waitForData(deadline) else {
                    if case (_, nil) = try next() { throw RingError.empty }
                    continue
                }
                continue
            }
            view = OpenView(start: start, end: record.end, index: claimIndex(record))
            let result: R
            do {
                result = try body(UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length))
            } catch {
                view = nil
                throw error
            }
            view = nil
            try storage.checkNotTruncated()
            if try advance(from: start, to: record.end, count: 1, firstIndex: claimIndex(record)) { return result }
            try countRetry(&attempts)
        }
    }

    /// Returns the oldest message's bytes in the mapping without consuming
    /// it, or nil if there is none, and opens a view on it: until `release()`
    /// or `cancelPeek()` every other read fails with `busy`. The bytes stay
    /// valid until then under reject-when-full; under overwrite-oldest the
    /// producer may overwrite them, and `release()` then returns false. For bindings.
    package func peek() throws(RingError) -> UnsafeRawBufferPointer? {
        try checkUsable()
        let (start, found) = try next()
        guard let record = found else {
            if try isEnded() { throw .endOfStream }
            return nil
        }
        view = OpenView(start: start, end: record.end, index: claimIndex(record))
        return UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length)
    }

    /// Whether a `peek()` is open.
    package var hasOpenView: Bool { view != nil }

    /// Consumes the message of the open `peek()`, moving consumerPosition from
    /// where that peek read it. Returns false if, under overwrite-oldest, it was
    /// reclaimed by the producer while held (its bytes may have been torn:
    /// discard what was read from them). Returns true if no peek is open.
    package func release() throws(RingError) -> Bool {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard let open = view else { return true }
        view = nil
        try storage.checkNotTruncated()
        return try advance(from: open.start, to: open.end, count: 1, firstIndex: open.index)
    }

    /// Gives up a `peek()` without consuming the message.
    package func cancelPeek() { view = nil }

    /// Waits up to `timeout` until a message or the end of stream is there.
    /// Returns false if the timeout passed first.
    public func waitForMessage(timeout: Duration?) throws(RingError) -> Bool {
        try checkUsable()
        if case (_, nil) = try next(), !(try isEnded()) {
            return try waitForData(Deadline(after: timeout))
        }
        return true
    }

    /// Ends any wait on this consumer, from any thread: the waiting call
    /// returns `closed` (the caller then closes it). For bindings whose close
    /// must not wait for a blocked read.
    package func interrupt() {
        interrupted.store(true, ordering: .relaxed)
        WaitWord.wakeWithoutSignal(storage.dataChannel)
    }

    /// Closes this consumer; the next consumer resumes at its position.
    /// In a process that inherited it across fork() the role is left to the
    /// process that took it (SPEC.md §11.3).
    public func close() {
        guard !isClosed else { return }
        closed = true
        view = nil
        giveUp()
    }

    /// Writes the mapping's dirty pages (including the consumer position) to the file.
    public func flush() throws(RingError) {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        try storage.flush()
    }

    // MARK: The protocol

    /// Where the next read starts: our own position, or under overwrite-oldest
    /// the shared one (the producer may have moved it), checked (SPEC.md §9.2).
    @inline(__always)
    func startPosition() throws(RingError) -> UInt64 {
        if reader != nil, reader!.lapped { try skipToTail() }
        if overwrite {
            // acquire: pairs with the producer's CAS in RingProducer.makeRoom.
            let position = storage.consumerPosition.load(ordering: .acquiring)
            guard position & UInt64(RingLayout.recordAlignment - 1) == 0 else {
                throw .corrupt(.misalignedPosition(position))
            }
            tail = position
        }
        return tail
    }

    /// The next message from the start position, retrying over reclaims:
    /// where it was read from, and the record (nil: nothing is committed there).
    @inline(__always)
    func next() throws(RingError) -> (start: UInt64, record: LocatedRecord?) {
        var attempts = 0
        while true {
            let start = try startPosition()
            switch try locate(at: start) {
            case .record(let r): return (start, r)
            case .none: return (start, nil)
            case .reclaimed: try countRetry(&attempts)
            }
        }
    }

    /// Counts one more retry after a reclaim; throws once there were too many.
    @inline(__always)
    func countRetry(_ attempts: inout Int) throws(RingError) {
        attempts += 1
        if attempts >= Self.retryLimit { throw .corrupt(.positionsUnstable) }
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
            let head = storage.producerPosition.load(ordering: .acquiring)
            guard head & UInt64(RingLayout.recordAlignment - 1) == 0 else {
                throw .corrupt(.misalignedPosition(head))
            }
            cachedHead = head
            available = head &- position
            if available == 0 { return .none }
            guard available <= capacity else {
                if lapping && wasReclaimed(since: batchStart ?? position) { return lap() }
                throw .corrupt(.positionsOutOfOrder(producer: head, consumer: position))
            }
        }
        do throws(RingError) {
            let record = try RecordIO.parse(data, at: position, committed: cachedHead, geometry: geometry)
            if record.isSkipOnly {
                // Cancelled claims and no message after them (SPEC.md §18.6): a read that
                // starts here consumes them, so that their room is given back.
                if batchStart == nil || batchStart == position {
                    _ = try advance(from: position, to: record.end, count: 0, firstIndex: 0)
                }
                return .none
            }
            return .record(record)
        } catch {
            // Under overwrite-oldest, bytes the producer is overwriting look like
            // garbage; it is corruption only if the producer did not reclaim them.
            if lapping && wasReclaimed(since: batchStart ?? position) { return lap() }
            throw error
        }
    }

    /// Under overwrite-oldest: whether the producer moved consumerPosition past `start`.
    @inline(__always)
    func wasReclaimed(since start: UInt64) -> Bool { storage.wasReclaimed(since: start) }

    /// Moves consumerPosition from `start` (where the record was read from) to
    /// `end`. Under overwrite-oldest returns false if the producer reclaimed
    /// records meanwhile (the copies are then discarded).
    @inline(__always)
    func advance(from start: UInt64, to end: UInt64, count: Int, firstIndex: UInt64) throws(RingError) -> Bool {
        if reader != nil { return try advanceReader(from: start, to: end, count: count, firstIndex: firstIndex) }
        if !overwrite {
            // seq_cst store: its release half pairs with the producer's acquire load in
            // makeRoom (our reads of the record are done before it may overwrite the
            // bytes); seq_cst keeps the writerWaiters load below after it (SPEC.md §10).
            storage.consumerPosition.store(end, ordering: .sequentiallyConsistent)
            tail = end
            if countsConsumed && count != 0 { countConsumed(count) }
            WaitWord.signalIfWaiting(storage.spaceChannel)
            return true
        }
        // seq_cst CAS: pairs with the producer's CAS in makeRoom; whoever moves the
        // position first owns the records it passes, and our copies of them were
        // loaded before it (its release half).
        let (won, current) = storage.consumerPosition.compareExchange(
            expected: start, desired: end, ordering: .sequentiallyConsistent)
        tail = won ? end : current
        if won && countsConsumed && count != 0 { countConsumed(count) }
        return won
    }

    /// Adds `count` to consumedCount, after the position store that consumed them (SPEC.md §22.2).
    @inline(__always)
    func countConsumed(_ count: Int) {
        consumed &+= UInt64(count)
        // relaxed: statistics; only the consumer writes it, and a reader of the count clamps it.
        storage.consumedCount.store(consumed, ordering: .relaxed)
    }

    /// True if the ring is drained and the producer closed the stream.
    func isEnded() throws(RingError) -> Bool {
        // acquire: pairs with the release store in RingProducer.closeWriter.
        let state = storage.writerState.load(ordering: .acquiring)
        if state == RingLayout.writerStateOpen {
            // Drained, and (with the option) nobody left to write more (SPEC.md §22.1).
            if stopsWhenProducerGone, try producerIsGone() { throw .producerGone }
            return false
        }
        guard state == RingLayout.writerStateClosed else { throw .corrupt(.badWriterState(state)) }
        // A ring with producers: a dead producer's claim at the front may hide messages other
        // producers committed before the close; settle it (not rate-limited) before judging.
        if geometry.hasProducers { try storage.settleFront(&frontWatch) }
        // Every commit happened before the close: re-read the final position.
        return try next().record == nil
    }

    /// Rings with producers: publishes and settles the claim at the front (SPEC.md §18.7);
    /// true if producerPosition moved, so a read may find a message now.
    @inline(never)
    func settleFront() throws(RingError) -> Bool {
        // Producers publish their own claims: a reader only settles a front that stays put,
        // so polling an empty ring costs no loads of the producers' line (once a millisecond).
        let now = SystemCalls.monotonicNanoseconds()
        if now &- lastSettle < Self.settleIntervalNanoseconds { return false }
        lastSettle = now
        // relaxed: a hint; the reads that follow load it again with acquire.
        let before = storage.producerPosition.load(ordering: .relaxed)
        try storage.settleFront(&frontWatch)
        return storage.producerPosition.load(ordering: .relaxed) != before
    }

    /// The index of `record` for the reader's accounting: in a ring with producers the
    /// one it expects (a claim's later messages carry none, SPEC.md §18.6), else the
    /// record's own.
    @inline(__always)
    func claimIndex(_ record: LocatedRecord) -> UInt64 {
        guard geometry.hasProducers, let r = reader else { return record.index }
        if let e = r.expected { return e }
        return record.indexKnown ? record.index : (r.missBase ?? 0)
    }

    func emptyOrEnd() throws(RingError) -> RingError {
        try isEnded() ? .endOfStream : .empty
    }

    /// Sleeps until producerPosition moves past our position or the stream
    /// ends, or the deadline passes (false).
    func waitForData(_ deadline: Deadline) throws(RingError) -> Bool {
        try WaitWord.wait(storage.dataChannel, deadline: deadline, afterSleep: storage.checkFileSize,
                          sleepMark: reader?.slot.sleeping, ready: dataReady)
    }

    /// The condition a consumer or reader waits for (SPEC.md §10): producerPosition is past
    /// our position, or the stream is no longer open. Blocking waits and the doorbell share it.
    func dataReady() throws(RingError) -> Bool {
        if interrupted.load(ordering: .relaxed) { throw .closed }
        // A claim held up at the front is settled by those who wait behind it (SPEC.md §18.7).
        if geometry.hasProducers { _ = try settleFront() }
        // seq_cst: pairs with the producer's seq_cst store in publish (SPEC.md §10).
        let head = storage.producerPosition.load(ordering: .sequentiallyConsistent)
        let position = overwrite ? storage.consumerPosition.load(ordering: .sequentiallyConsistent) : tail
        if head != position
            || storage.writerState.load(ordering: .sequentiallyConsistent) != RingLayout.writerStateOpen { return true }
        // The read that follows judges it again, with death first (isEnded).
        guard stopsWhenProducerGone else { return false }
        return try producerWatch.producerGone(storage)
    }
}

/// A reader of a ring with a reader table (SPEC.md §17): the same type, and the
/// same read API, as the consumer of a 1.0 ring.
public typealias RingReader = RingConsumer
