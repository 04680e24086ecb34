// ItemProducer.swift - the writing side of a typed ring (SPEC.md §19.4): items
// carry no record header; a batch of n items is one copy and one commit.
// Positions count items.

import Atomics

/// The single writer of a typed ring (SPEC.md §19).
///
/// It holds the producer role of its ring, as `RingProducer` does, until `close()`,
/// `closeWriter()` or deinit. Under reject-when-full a write that does not fit fails
/// (or waits); under overwrite-oldest it never waits and drops the oldest items, as
/// `deque(maxlen)` does. Meant for one thread at a time.
public final class ItemProducer: ItemHandle {
    /// Our own producerPosition, in items.
    @exclusivity(unchecked)
    var head: UInt64
    /// Items handed out by `writableSpans()` and not yet committed.
    @exclusivity(unchecked)
    var lent: Int?

    init(storage: RingStorage) throws(RingError) {
        head = 0
        try super.init(storage: storage, role: .producer) { p, _ in p }
        head = start
        // release: pairs with the consumer's acquire load of writerState (SPEC.md §8.3).
        storage.writerState.store(RingLayout.writerStateOpen, ordering: .releasing)
    }

    override func dropLent() { lent = nil }

    /// Items dropped under overwrite-oldest since the ring was made.
    public var droppedCount: UInt64 { storage.droppedCount.load(ordering: .relaxed) }

    @inline(__always)
    func checkUsable() throws(RingError) {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard lent == nil else { throw .busy(.producer) }
        try storage.checkNotTruncated()
    }

    // MARK: Writing with a copy

    /// Writes `items` (a whole number of items' bytes) as one commit, without waiting;
    /// false if they do not fit now (reject-when-full).
    /// - Throws: `invalidArgument` for a byte count that is not a multiple of the item size,
    ///   `invalidSize` for more items than the ring holds (reject-when-full), `closed`, `corrupt`.
    public func tryWrite(_ items: UnsafeRawBufferPointer) throws(RingError) -> Bool {
        try checkUsable()
        let count = try itemCount(items)
        guard count > 0 else { return true }
        if geometry.policy == .overwriteOldest { return try overwrite(items, count: count) }
        guard count <= itemCapacity else { throw .invalidSize(size: count, maximum: itemCapacity) }
        guard try free() >= count else { return false }
        spans(from: head, count: count).fill(from: items.baseAddress!)
        try publish(head &+ UInt64(count))
        return true
    }

    /// Writes `items` as one commit, waiting up to `timeout` for room (nil: no limit).
    /// - Throws: `full` when the timeout passes; as `tryWrite`.
    public func write(_ items: UnsafeRawBufferPointer, timeout: Duration? = .zero) throws(RingError) {
        if try tryWrite(items) { return }
        let count = try itemCount(items)
        let deadline = Deadline(after: timeout)
        while true {
            let ok = try waitForRoom(count, deadline)
            if try tryWrite(items) { return }
            if !ok { throw .full }
        }
    }

    /// The number of items in `items`, which must be whole.
    func itemCount(_ items: UnsafeRawBufferPointer) throws(RingError) -> Int {
        guard items.count % itemSize == 0 else {
            throw .invalidArgument("\(items.count) bytes are not a whole number of \(itemSize)-byte items")
        }
        return items.count / itemSize
    }

    /// Free item slots, from a checked load of consumerPosition.
    @inline(__always)
    func free() throws(RingError) -> Int {
        // acquire: pairs with the consumer's seq_cst store (or CAS) of consumerPosition in
        // ItemConsumer.giveBack, so the items it finished reading may be overwritten.
        let tail = storage.consumerPosition.load(ordering: .acquiring)
        let used = head &- tail
        guard used <= UInt64(itemCapacity) else {
            throw storage.judged(.corrupt(.positionsOutOfOrder(producer: head, consumer: tail)))
        }
        return itemCapacity - Int(used)
    }

    /// Overwrite-oldest (SPEC.md §19.4 step 1): drops what it must, writes, commits. A batch
    /// larger than the ring is written in commits of itemCapacity items, so that the
    /// positions never pass each other and a consumer counts every dropped item.
    func overwrite(_ items: UnsafeRawBufferPointer, count: Int) throws(RingError) -> Bool {
        var done = 0
        while done < count {
            let n = min(count - done, itemCapacity)
            try makeRoom(n)
            spans(from: head, count: n).fill(from: items.baseAddress! + done * itemSize)
            try publish(head &+ UInt64(n))
            done += n
        }
        return true
    }

    /// Moves consumerPosition forward by CAS until `n` items fit, counting what it drops.
    func makeRoom(_ n: Int) throws(RingError) {
        var turns = 0
        while true {
            // acquire: as in free().
            let tail = storage.consumerPosition.load(ordering: .acquiring)
            let used = head &- tail
            guard used <= UInt64(itemCapacity) else {
                throw storage.judged(.corrupt(.positionsOutOfOrder(producer: head, consumer: tail)))
            }
            if itemCapacity - Int(used) >= n { return }
            let newTail = head &+ UInt64(n) &- UInt64(itemCapacity)
            // seq_cst CAS: pairs with the consumer's CAS in ItemConsumer.giveBack: whoever moves
            // the position first owns the items it passes, and our overwrite stays after it.
            if storage.consumerPosition.compareExchange(expected: tail, desired: newTail,
                                                        ordering: .sequentiallyConsistent).exchanged {
                // release fence: the item stores that follow become visible only after the CAS
                // (an LL/SC CAS does not order later plain stores by itself), so a consumer that
                // checks consumerPosition after reading in place sees the move first; pairs with
                // the acquire fence in ItemConsumer.withUnread and consume(0).
                atomicMemoryFence(ordering: .releasing)
                // relaxed: statistics; only the producer writes droppedCount.
                let dropped = storage.droppedCount.load(ordering: .relaxed)
                storage.droppedCount.store(dropped &+ (newTail &- tail), ordering: .relaxed)
                return
            }
            // The consumer moved it meanwhile, by at least one item each time: an honest one
            // cannot do so more than itemCapacity times (SPEC.md §13's bound, in items).
            turns += 1
            if turns > itemCapacity + RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
        }
    }

    /// Moves producerPosition to `newHead` and wakes a sleeping consumer (SPEC.md §19.4 step 2).
    @inline(__always)
    func publish(_ newHead: UInt64) throws(RingError) {
        try storage.checkNotTruncated()
        // seq_cst store: its release half pairs with the consumer's acquire load of
        // producerPosition in ItemConsumer.available, so the item bytes are visible first;
        // seq_cst keeps the readerWaiters load in signalIfWaiting after it (SPEC.md §10).
        storage.producerPosition.store(newHead, ordering: .sequentiallyConsistent)
        head = newHead
        WaitWord.signalIfWaiting(storage.dataChannel)
    }

    /// Sleeps until `count` items fit, the deadline passes (false), or the handle closes.
    func waitForRoom(_ count: Int, _ deadline: Deadline) throws(RingError) -> Bool {
        try WaitWord.wait(storage.spaceChannel, deadline: deadline, afterSleep: storage.checkFileSize) { () throws(RingError) -> Bool in
            try roomReady(count)
        }
    }

    /// The condition the producer waits for: room for `count` items (at most itemCapacity).
    /// Blocking waits and the doorbell share it.
    func roomReady(_ count: Int) throws(RingError) -> Bool {
        if interrupted.load(ordering: .relaxed) { throw .closed }
        // seq_cst: pairs with the consumer's seq_cst store of consumerPosition (SPEC.md §10).
        let tail = storage.consumerPosition.load(ordering: .sequentiallyConsistent)
        return UInt64(itemCapacity) &- (head &- tail) >= UInt64(min(count, itemCapacity))
    }

    // MARK: Writing in place

    /// The free item slots at the producer's position, in place (vmcircbuffer's `slice()`):
    /// fill some of them, then `commit(_:)`. At least `minimum` slots (1 to itemCapacity):
    /// under reject-when-full it waits up to `timeout` for them (nil: no limit); under
    /// overwrite-oldest it drops the oldest items to free them, and the span holds every slot
    /// that holds no unread item. One span when double-mapped.
    /// - Throws: `full` when the timeout passes, `busy` if spans are already out,
    ///   `invalidSize` for a bad minimum, `closed`, `corrupt`.
    public func writableSpans(minimum: Int = 1, timeout: Duration? = .zero) throws(RingError) -> ItemSpans {
        try checkUsable()
        guard minimum >= 1, minimum <= itemCapacity else { throw .invalidSize(size: minimum, maximum: itemCapacity) }
        if geometry.policy == .overwriteOldest { try makeRoom(minimum) }
        var free = try self.free()
        if free < minimum {
            let deadline = Deadline(after: timeout)
            while free < minimum {
                let ok = try waitForRoom(minimum, deadline)
                free = try self.free()
                if !ok && free < minimum { throw .full }
            }
        }
        lent = free
        return spans(from: head, count: free)
    }

    /// Commits the first `count` items written into the spans of `writableSpans()` (0: none).
    /// - Throws: `invalidSize` for more than were handed out, `closed`.
    public func commit(_ count: Int) throws(RingError) {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        guard let lent, count >= 0, count <= lent else { throw .invalidSize(size: count, maximum: lent ?? 0) }
        self.lent = nil
        if count > 0 { try publish(head &+ UInt64(count)) }
    }

    // MARK: Ending

    /// Ends the stream (SPEC.md §8.3): the consumer reads what is left, then gets
    /// `endOfStream`. Gives up the role.
    public func closeWriter() {
        guard !closed else { return }
        guard !storage.isInherited else { return close() }
        // release: pairs with the consumer's acquire load of writerState; every commit
        // before this store is visible to a consumer that sees "closed".
        storage.writerState.store(RingLayout.writerStateClosed, ordering: .releasing)
        WaitWord.wake(storage.dataChannel)
        close()
    }
}
