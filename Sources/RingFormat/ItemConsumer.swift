// ItemConsumer.swift - the reading side of a typed ring (SPEC.md §19.4): copy
// up to n items out, or lend them in place, then give them back with one
// position update. Under overwrite-oldest the producer may drop items being
// read; a give-back by CAS tells, and the dropped items are counted as missed.

import Atomics

/// The single reader of a typed ring (SPEC.md §19).
///
/// Reads are FIFO. Under overwrite-oldest the consumer keeps only items whose position it
/// could move past with a compare-and-swap, so it never returns an item the producer was
/// overwriting, and it counts the items the producer dropped before it read them
/// (`missedCount`). While spans are lent (`readableSpans`), other reads fail with
/// `busy(.consumer)` until `consume(_:)`. Meant for one thread at a time.
public final class ItemConsumer: ItemHandle {
    let overwrite: Bool
    /// consumerPosition as we last read or wrote it, in items.
    @exclusivity(unchecked)
    var tail: UInt64
    /// Items the producer dropped before we read them (overwrite-oldest).
    @exclusivity(unchecked)
    public private(set) var missedCount: UInt64 = 0
    /// The lent run: its start and count, until `consume(_:)`.
    @exclusivity(unchecked)
    var lent: (start: UInt64, count: Int)?
    /// When true, a read that finds no item, the stream not closed and no live producer
    /// throws `producerGone` instead of returning nothing, `empty` or waiting on (SPEC.md
    /// §22.1), as `RingConsumer.stopsWhenProducerGone`. False by default.
    @exclusivity(unchecked)
    public var stopsWhenProducerGone = false
    /// The last probe of the producer's liveness (`stopsWhenProducerGone`).
    @exclusivity(unchecked)
    var producerWatch = LivenessWatch()

    init(storage: RingStorage) throws(RingError) {
        overwrite = storage.geometry.policy == .overwriteOldest
        tail = 0
        try super.init(storage: storage, role: .consumer) { _, c in c }
        tail = start
    }

    override func dropLent() { lent = nil }

    @inline(__always)
    func checkUsable() throws(RingError) {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard lent == nil else { throw .busy(.consumer) }
        try storage.checkNotTruncated()
    }

    /// The unread run from our position, checked (SPEC.md §19.3): its start and length.
    /// Under overwrite-oldest a consumerPosition the producer moved is taken over first,
    /// and the items it passed are counted as missed.
    func available() throws(RingError) -> (start: UInt64, count: Int) {
        var attempts = 0
        while true {
            // acquire: pairs with the producer's CAS in ItemProducer.makeRoom (overwrite-oldest).
            let position = overwrite ? storage.consumerPosition.load(ordering: .acquiring) : tail
            // acquire: pairs with the producer's seq_cst store in ItemProducer.publish, so the
            // item bytes before that position are visible.
            let head = storage.producerPosition.load(ordering: .acquiring)
            // Checked before anything is kept: the producer moves consumerPosition only forward
            // and never past its own position, so it lies between our tail and head.
            let moved = position &- tail
            let used = head &- position
            // head - tail beyond 2^63: a position behind ours (positions never go back, §13).
            if moved <= head &- tail && head &- tail <= UInt64.max / 2 && used <= UInt64(itemCapacity) {
                if moved != 0 {
                    missedCount &+= moved
                    tail = position
                }
                return (tail, Int(used))
            }
            // Under overwrite-oldest the producer moves consumerPosition before its own
            // position: a consumerPosition loaded before a move and a later producerPosition
            // may be too far apart. Only a pair that stays so is out of order.
            // acquire: as above.
            guard overwrite, storage.consumerPosition.load(ordering: .acquiring) != position else {
                throw storage.judged(.corrupt(.positionsOutOfOrder(producer: head, consumer: position)))
            }
            attempts += 1
            if attempts > RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
        }
    }

    /// Gives back `count` items read from `start` (SPEC.md §19.4 step 3) and returns how many
    /// of the first of them the producer dropped meanwhile (overwrite-oldest): 0 when all were
    /// consumed intact; `count` when none is left (nothing was consumed: `available()` counts
    /// them next). Otherwise the first ones were dropped (what was read of them is not to be
    /// trusted; they are counted as missed) and the rest were consumed intact: a producer that
    /// moved consumerPosition to `seen` had not overwritten the items from `seen` on, and our
    /// CAS from `seen` succeeding means it has not moved again since.
    @inline(__always)
    func giveBack(from start: UInt64, count: Int) throws(RingError) -> Int {
        try storage.checkNotTruncated()
        let end = start &+ UInt64(count)
        if overwrite {
            var expected = start
            var attempts = 0
            while true {
                // seq_cst CAS: pairs with the producer's CAS in ItemProducer.makeRoom; its release
                // half keeps our loads of the items before it (SPEC.md §9.2).
                let (won, seen) = storage.consumerPosition.compareExchange(
                    expected: expected, desired: end, ordering: .sequentiallyConsistent)
                if won { break }
                // The producer moved it: keep the items it left us, if any.
                guard seen &- start < UInt64(count), seen &- start > expected &- start else { return count }
                expected = seen
                attempts += 1
                if attempts > RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
            }
            let dropped = Int(expected &- start)
            missedCount &+= UInt64(dropped)
            tail = end
            WaitWord.signalIfWaiting(storage.spaceChannel)
            return dropped
        } else {
            // seq_cst store: pairs with the producer's acquire load in ItemProducer.free (its
            // release half keeps our loads of the items before it) and orders the writerWaiters
            // load in signalIfWaiting after it (SPEC.md §10).
            storage.consumerPosition.store(end, ordering: .sequentiallyConsistent)
        }
        tail = end
        WaitWord.signalIfWaiting(storage.spaceChannel)
        return 0
    }

    // MARK: Reading with a copy

    /// Reads and consumes up to `maxItems` items into `buffer` (room for `maxItems * itemSize`
    /// bytes), oldest first, without waiting; returns how many (0: none now).
    /// - Throws: `endOfStream` once the producer closed the stream and it is drained,
    ///   `invalidArgument` for a buffer too small, `closed`, `corrupt`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, maxItems: Int) throws(RingError) -> Int {
        try checkUsable()
        guard maxItems > 0 else { return 0 }
        let wanted = min(maxItems, itemCapacity)
        guard buffer.count >= wanted * itemSize else {
            throw .invalidArgument("a buffer of \(buffer.count) bytes has no room for \(wanted) items of \(itemSize) bytes")
        }
        var attempts = 0
        while true {
            let (start, available) = try self.available()
            let count = min(available, wanted)
            if count == 0 {
                if try isEnded() { throw .endOfStream }
                return 0
            }
            spans(from: start, count: count).copy(to: buffer.baseAddress!)
            let dropped = try giveBack(from: start, count: count)
            if dropped == 0 { return count }
            if dropped < count {
                // The producer dropped the first ones while we copied: the rest are intact.
                let base = buffer.baseAddress!
                base.copyMemory(from: base + dropped * itemSize, byteCount: (count - dropped) * itemSize)
                return count - dropped
            }
            // It dropped all we were copying: take the new position and read again.
            attempts += 1
            if attempts > RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
        }
    }

    /// Like `read(into:maxItems:)`, waiting up to `timeout` for at least one item (nil: no limit).
    /// - Throws: `empty` when the timeout passes; as `read(into:maxItems:)`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, maxItems: Int, timeout: Duration?) throws(RingError) -> Int {
        let deadline = Deadline(after: timeout)
        while true {
            let n = try read(into: buffer, maxItems: maxItems)
            if n > 0 || maxItems <= 0 { return n }
            guard try waitForData(deadline) else {
                let last = try read(into: buffer, maxItems: maxItems)
                if last == 0 { throw .empty }
                return last
            }
        }
    }

    // MARK: Reading in place

    /// Lends the unread items in place, oldest first, without consuming them (vmcircbuffer's
    /// reader `slice()`): one span when double-mapped. Waits up to `timeout` for one item
    /// (nil: no limit). End the lend with `consume(_:)`.
    /// - Throws: `empty` when the timeout passes, `endOfStream`, `busy` while a lend is out, `closed`, `corrupt`.
    public func readableSpans(timeout: Duration? = .zero) throws(RingError) -> ItemSpans {
        try checkUsable()
        let deadline = Deadline(after: timeout)
        while true {
            let (start, count) = try available()
            if count > 0 {
                lent = (start, count)
                return spans(from: start, count: count)
            }
            if try isEnded() { throw .endOfStream }
            guard try waitForData(deadline) else {
                let (start, count) = try available()
                guard count > 0 else { throw .empty }
                lent = (start, count)
                return spans(from: start, count: count)
            }
        }
    }

    /// Ends the lend of `readableSpans`, consuming its first `count` items (0: none), and
    /// returns how many of those first `count` the producer dropped while they were held
    /// (overwrite-oldest; OVERWRITTEN in C): what was read from them is not to be trusted, and
    /// they are counted in `missedCount`; the rest were consumed intact. 0 under
    /// reject-when-full.
    /// - Throws: `invalidSize` for more than were lent (or nothing lent), `closed`, `corrupt`.
    @discardableResult
    public func consume(_ count: Int) throws(RingError) -> Int {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard let lent, count >= 0, count <= lent.count else { throw .invalidSize(size: count, maximum: lent?.count ?? 0) }
        self.lent = nil
        try storage.checkNotTruncated()
        guard overwrite else {
            if count > 0 { _ = try giveBack(from: lent.start, count: count) }
            return 0
        }
        if count == 0 {
            // How far the producer moved the position since the lend: it moves it before it writes.
            // acquire fence: keeps the caller's loads of the lent items ahead of the load below.
            atomicMemoryFence(ordering: .acquiring)
            let moved = storage.consumerPosition.load(ordering: .relaxed) &- lent.start
            guard moved != 0 else { return 0 }
            _ = try available()   // takes the new position over and counts what was dropped
            return moved > UInt64(lent.count) ? lent.count : Int(moved)
        }
        let dropped = try giveBack(from: lent.start, count: count)
        if dropped == count { _ = try available() }   // counts what was dropped
        return dropped
    }

    /// The unread items in place, oldest first, without consuming or lending them
    /// (NumericRingBuffer's `unwrapped()`); `body` gets the run, and `dropped` says how many of
    /// its first items the producer dropped (overwrite-oldest) while `body` ran: what `body`
    /// read of those is not to be trusted; the rest were intact. The memory is valid while this
    /// consumer lives.
    /// - Throws: what `body` throws, `corrupt` (a file truncated under it), `closed`, `busy`.
    public func withUnread<R>(_ body: (ItemSpans) throws(RingError) -> R) throws(RingError) -> (result: R, dropped: Int) {
        try checkUsable()
        let (start, count) = try available()
        let result = try body(spans(from: start, count: count))
        // A peer that truncated the file turned the pages `body` read into zeros.
        try storage.checkNotTruncated()
        guard overwrite else { return (result, 0) }
        // acquire fence: keeps the loads `body` made ahead of the load below (a seqlock reader's
        // check, SPEC.md §8.2 Peeks); pairs with the producer's CAS (and the release fence after
        // it) in ItemProducer.makeRoom.
        atomicMemoryFence(ordering: .acquiring)
        let moved = storage.consumerPosition.load(ordering: .relaxed) &- start
        return (result, moved > UInt64(count) ? count : Int(moved))
    }

    /// Unread items now (a snapshot; under overwrite-oldest the producer may drop some next).
    public var count: Int { (try? available().count) ?? 0 }

    // MARK: End of stream and waiting

    /// Whether the producer closed the stream and no item is left.
    func isEnded() throws(RingError) -> Bool {
        // acquire: pairs with the release store in ItemProducer.closeWriter.
        let state = storage.writerState.load(ordering: .acquiring)
        if state == RingLayout.writerStateOpen {
            // Drained, and (with the option) nobody left to write more (SPEC.md §22.1).
            if stopsWhenProducerGone, try producerIsGone() { throw .producerGone }
            return false
        }
        guard state == RingLayout.writerStateClosed else { throw .corrupt(.badWriterState(state)) }
        // Every commit happened before the close: look at the final position again.
        return try available().count == 0
    }

    /// Sleeps until producerPosition moves past our position or the stream ends, or the
    /// deadline passes (false).
    func waitForData(_ deadline: Deadline) throws(RingError) -> Bool {
        try WaitWord.wait(storage.dataChannel, deadline: deadline, afterSleep: storage.checkFileSize, ready: dataReady)
    }

    /// The condition the consumer waits for: producerPosition past our position, or the
    /// stream no longer open. Blocking waits and the doorbell share it.
    func dataReady() throws(RingError) -> Bool {
        if interrupted.load(ordering: .relaxed) { throw .closed }
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
