// ConsumerReaders.swift - what a reader of a ring with a reader table does
// beyond the 1.0 consumer (SPEC.md §17.5, §17.6): joining a slot, validating
// every read against tailPosition, skipping to the oldest message when the
// producer laps it, and counting exactly what it missed from the indexes the
// records carry.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

extension RingConsumer {
    /// A read found its records reclaimed: a reader jumps to tailPosition before
    /// its next attempt; the overwrite-oldest consumer re-reads consumerPosition.
    @inline(__always)
    func lap() -> Found {
        if reader != nil { reader!.lapped = true }
        return .reclaimed
    }

    /// After a lap: move the cursor forward to tailPosition (SPEC.md §17.6 step 6).
    func skipToTail() throws(RingError) {
        // acquire: pairs with the producer's seq_cst store in reclaimForReaders.
        let t = storage.consumerPosition.load(ordering: .acquiring)
        guard t & UInt64(RingLayout.recordAlignment - 1) == 0 else { throw .corrupt(.misalignedPosition(t)) }
        // tailPosition only moves forward: a value behind our cursor means we were not passed.
        if tail &- t > UInt64(geometry.capacity) { tail = t }
        if let e = reader!.expected {
            reader!.missBase = e
            reader!.expected = nil
        }
        reader!.lapped = false
        cachedHead = tail
    }

    /// A reader's step 3–5 of SPEC.md §17.6 for the `count` messages from `start`
    /// to `end`: false if the producer reclaimed them meanwhile (a lap).
    @inline(__always)
    func advanceReader(from start: UInt64, to end: UInt64, count: Int, firstIndex: UInt64) throws(RingError) -> Bool {
        if storage.wasReclaimed(since: start) {
            reader!.lapped = true
            return false
        }
        if count == 0 {
            // Cancelled claims passed over (SPEC.md §18.6): no index changes.
            tail = end
            storeCursor(end)
            return true
        }
        if let expected = reader!.expected {
            guard firstIndex == expected else {
                throw .corrupt(.badRecordIndex(position: start, index: firstIndex, expected: expected))
            }
        } else {
            if let base = reader!.missBase, firstIndex &- base < 1 << 63 {
                reader!.missed &+= firstIndex &- base
                // relaxed: statistics for inspection.
                reader!.slot.missedCount.store(reader!.missed, ordering: .relaxed)
            }
            reader!.missBase = nil
        }
        let next = firstIndex &+ UInt64(count)
        reader!.expected = next
        tail = end
        if reader!.durable {
            // relaxed: read back only by this reader's name after a restart (SPEC.md §17.5 step 3).
            reader!.slot.resumeIndex.store(next, ordering: .relaxed)
        }
        storeCursor(end)
        return true
    }

    /// Publishes the reader's cursor (SPEC.md §17.6 step 5).
    @inline(__always)
    func storeCursor(_ end: UInt64) {
        if reader!.gating {
            // seq_cst: pairs with the producer's seq_cst cursor loads in GateKeeper.limit,
            // and orders the writerWaiters load below after it (SPEC.md §10, §17.8).
            reader!.slot.cursor.store(end, ordering: .sequentiallyConsistent)
            WaitWord.signalIfWaiting(storage.spaceChannel)
        } else {
            // relaxed: a lapping reader's cursor is only shown by inspection.
            reader!.slot.cursor.store(end, ordering: .relaxed)
        }
    }
}

/// Joining the reader table (SPEC.md §17.5).
enum ReaderJoin {
    /// What a join found and decided.
    struct Joined {
        let slot: ReaderSlot
        let cursor: UInt64
        /// The index the missed count starts from (nil: unknown, as after joining at the newest).
        let resumeIndex: UInt64?
        let missed: UInt64
        let gating: Bool
        let durable: Bool
    }

    static func join(_ storage: RingStorage, _ options: ReaderOptions) throws(RingError) -> Joined {
        try storage.checkProcess()
        let g = storage.geometry
        guard g.hasReaders else {
            throw .invalidArgument("\(storage.path) has no reader table (a 1.0 ring): take the consumer role, or create the ring with reader slots")
        }
        guard !(options.gating && g.policy == .overwriteOldest) else {
            throw .invalidArgument("a gating reader needs reject-when-full: under overwrite-oldest every reader is lapping (ask for a lapping reader)")
        }
        let name = options.name.map { Array($0.utf8) } ?? []
        guard name.count < RingLayout.ReaderSlot.name.size, !name.contains(0) else {
            throw .invalidArgument("a reader name is at most \(RingLayout.ReaderSlot.name.size - 1) bytes of UTF-8 without NUL")
        }
        guard options.name == nil || !name.isEmpty else { throw .invalidArgument("a reader name may not be empty") }
        let durable = !name.isEmpty
        let (seconds, attoseconds) = options.gateTimeout.components
        let ms = max(0, min(Int64(UInt32.max), seconds * 1000 + attoseconds / 1_000_000_000_000_000))

        // Durable joins hold the name lock from finding a slot to publishing it, so that two
        // joiners of one new name cannot both take a free slot for it (SPEC.md §17.5 step 1).
        let nameLocked = durable ? try lockNames(storage) : false
        defer { if nameLocked { unlockNames(storage) } }
        let (slot, resuming) = try takeSlot(storage, name: name)
        do throws(RingError) {
            // The gate timeout matters only for a durable gating reader; others write 0.
            return try start(storage, slot, options, name: name, durable: durable,
                             gateTimeoutMs: durable && options.gating ? UInt32(ms) : 0, resuming: resuming)
        } catch {
            storage.releaseSlot(slot, free: !resuming)
            throw error
        }
    }

    /// Takes the durable-name lock (SPEC.md §17.5): a write lock on READER_NAME_LOCK_OFFSET,
    /// waited for (it is held for microseconds) up to a second. A read lock only in the way
    /// (someone who may only read the file) is not waited for: the join goes on without it.
    static func lockNames(_ storage: RingStorage) throws(RingError) -> Bool {
        let offset = Int64(RingLayout.readerNameLockOffset)
        for attempt in 0..<2000 {
            let rc = ringsys_lock_range(storage.fd.rawValue, offset, 1, storage.classicLocks)
            if rc == 0 { return true }
            guard rc == -EAGAIN else {
                throw .system(operation: "fcntl(F_OFD_SETLK) on the name lock of \(storage.path)", errno: -rc)
            }
            if ringsys_lock_holder(storage.fd.rawValue, offset, 1, storage.classicLocks) == 1 { return false }
            if attempt < 64 { SystemCalls.yield() } else { SystemCalls.sleep(nanoseconds: 500_000) }
        }
        throw .busy(.reader)
    }

    static func unlockNames(_ storage: RingStorage) {
        _ = ringsys_unlock_range(storage.fd.rawValue, Int64(RingLayout.readerNameLockOffset), 1, storage.classicLocks)
    }

    /// Step 1: the durable reader's own slot, or a free one (or a dead anonymous reader's).
    static func takeSlot(_ storage: RingStorage, name: [UInt8]) throws(RingError) -> (ReaderSlot, resuming: Bool) {
        let slots = storage.geometry.readerSlots
        if !name.isEmpty {
            for n in 0..<slots {
                let slot = storage.readerSlot(n)
                guard try slot.checkedState() == RingLayout.readerSlotActive,
                      slot.flags.load(ordering: .relaxed) & RingLayout.readerFlagDurable != 0,
                      slot.loadName() == name else { continue }
                guard try storage.takeSlot(slot) else { throw .busy(.reader) }
                // Re-checked under the lock: it may have been given up meanwhile.
                if try slot.checkedState() == RingLayout.readerSlotActive, slot.loadName() == name {
                    repairSleepCount(storage, slot)
                    return (slot, true)
                }
                storage.releaseSlot(slot, free: false)
                break
            }
        }
        for n in 0..<slots {
            let slot = storage.readerSlot(n)
            let state = try slot.checkedState()
            let anonymous = slot.flags.load(ordering: .relaxed) & RingLayout.readerFlagDurable == 0
            guard state == RingLayout.readerSlotFree || anonymous, try storage.takeSlot(slot) else { continue }
            // Under the lock nobody else changes it; a durable reader's slot is not ours.
            if try slot.checkedState() == RingLayout.readerSlotFree
                || slot.flags.load(ordering: .relaxed) & RingLayout.readerFlagDurable == 0 {
                repairSleepCount(storage, slot)
                return (slot, false)
            }
            storage.releaseSlot(slot, free: false)
        }
        throw .busy(.reader)
    }

    /// A dead reader counted asleep in the slot we now hold: undo its count (SPEC.md §17.8).
    static func repairSleepCount(_ storage: RingStorage, _ slot: ReaderSlot) {
        // seq_cst: as the waiter's own stores in WaitWord.wait.
        if slot.sleeping.load(ordering: .sequentiallyConsistent) != 0 {
            slot.sleeping.store(0, ordering: .sequentiallyConsistent)
            storage.dataChannel.waiters.wrappingDecrement(ordering: .sequentiallyConsistent)
        }
    }

    /// Steps 2–5: where the reader starts, the slot's fields, and a gating reader's settling.
    static func start(_ storage: RingStorage, _ slot: ReaderSlot, _ options: ReaderOptions, name: [UInt8],
                      durable: Bool, gateTimeoutMs: UInt32, resuming: Bool) throws(RingError) -> Joined {
        let (head, tailPosition) = try storage.snapshotPositions()
        var cursor: UInt64
        var base: UInt64?
        var missed: UInt64 = 0
        if resuming {
            // Our own slot, but untrusted like any word of the file.
            let stored = slot.cursor.load(ordering: .relaxed)
            guard stored & UInt64(RingLayout.recordAlignment - 1) == 0 else {
                throw .corrupt(.badReaderCursor(slot: slot.number, cursor: stored))
            }
            let ahead = stored &- head
            if ahead != 0 && ahead < 1 << 63 { throw .corrupt(.badReaderCursor(slot: slot.number, cursor: stored)) }
            // Behind tailPosition: lapped while away; the count starts at the stored index.
            cursor = stored &- tailPosition <= head &- tailPosition ? stored : tailPosition
            let index = slot.resumeIndex.load(ordering: .relaxed)
            base = index == RingLayout.unknownIndex ? nil : index
            missed = slot.missedCount.load(ordering: .relaxed)
        } else if options.start == .oldest {
            (cursor, base) = try oldest(storage)
        } else {
            cursor = head
            base = nil
        }
        let gating = options.gating
        slot.flags.store((gating ? RingLayout.readerFlagGating : 0) | (durable ? RingLayout.readerFlagDurable : 0),
                         ordering: .relaxed)
        slot.gateTimeoutMs.store(gateTimeoutMs, ordering: .relaxed)
        slot.storeName(name)
        slot.missedCount.store(missed, ordering: .relaxed)
        if durable { slot.resumeIndex.store(base ?? RingLayout.unknownIndex, ordering: .relaxed) }
        // seq_cst: pairs with the producer's seq_cst cursor loads (SPEC.md §17.5 step 4).
        slot.cursor.store(cursor, ordering: .sequentiallyConsistent)
        // seq_cst: pairs with the seq_cst loads of state (ReaderSlot.checkedState); the
        // producer's limit relies on the order of this store and the load of reclaimSequence
        // in settle (SPEC.md §17.7).
        slot.state.store(RingLayout.readerSlotActive, ordering: .sequentiallyConsistent)
        if gating { cursor = try settle(storage, slot, cursor) }
        return Joined(slot: slot, cursor: cursor, resumeIndex: base, missed: missed, gating: gating, durable: durable)
    }

    /// tailPosition and the index of the message there (or of the next one, if the ring
    /// is empty), from one snapshot whose record was not reclaimed while it was read.
    static func oldest(_ storage: RingStorage) throws(RingError) -> (UInt64, UInt64?) {
        for _ in 0..<RingConsumer.retryLimit {
            let (head, tail) = try storage.snapshotPositions()
            // relaxed after the acquire loads of the snapshot: the producer stores it before it reclaims.
            if head == tail { return (tail, storage.nextIndexWord.load(ordering: .relaxed)) }
            do throws(RingError) {
                let record = try RecordIO.parse(storage.data, at: tail, committed: head, geometry: storage.geometry)
                if !storage.wasReclaimed(since: tail) {
                    // Only cancelled claims there (rings with producers): the next index is nextIndex's.
                    if record.isSkipOnly { return (tail, storage.nextIndexWord.load(ordering: .relaxed)) }
                    return (tail, record.index)
                }
            } catch {
                if !storage.wasReclaimed(since: tail) { throw error }
            }
        }
        throw .corrupt(.positionsUnstable)
    }

    /// Step 5 of SPEC.md §17.5: a gating reader's start is safe once no reclaim that
    /// read the slots before our cursor store can still move tailPosition past it.
    static func settle(_ storage: RingStorage, _ slot: ReaderSlot, _ start: UInt64) throws(RingError) -> UInt64 {
        var cursor = start
        let deadline = Deadline(after: settleLimit)
        var attempt = 0
        var moves = 0
        while true {
            attempt += 1
            // seq_cst: pairs with the producer's seq_cst increments in reclaimForReaders.
            let sequence = storage.reclaimSequence.load(ordering: .sequentiallyConsistent)
            if sequence & 1 != 0 {
                // A reclaim in progress (it takes microseconds, unless the producer is
                // descheduled or stopped); a dead producer's half-done one never ends.
                if attempt % 64 == 0 {
                    if !(try storage.reclaimerIsLive(sequence: sequence)) { return cursor }
                    if deadline.remaining == 0 { throw .busy(.producer) }
                    SystemCalls.sleep(nanoseconds: 200_000)
                } else {
                    SystemCalls.yield()
                }
                continue
            }
            // seq_cst: as above; sees the result of any reclaim that ended before the load of the sequence.
            let t = storage.consumerPosition.load(ordering: .sequentiallyConsistent)
            guard t & UInt64(RingLayout.recordAlignment - 1) == 0 else { throw .corrupt(.misalignedPosition(t)) }
            guard cursor &- t > UInt64(storage.geometry.capacity) else { return cursor }
            cursor = t
            // seq_cst: as the first cursor store.
            slot.cursor.store(cursor, ordering: .sequentiallyConsistent)
            moves += 1
            if moves > RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
        }
    }

    /// How long a gating join waits for a live producer to finish a reclaim it is in the
    /// middle of (SPEC.md §17.5 step 5): then BUSY(producer), the producer being stopped.
    static let settleLimit: Duration = .seconds(2)
}
