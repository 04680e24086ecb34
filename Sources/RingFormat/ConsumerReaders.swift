// ConsumerReaders.swift - what a reader of a ring with a reader table does
// beyond the 1.0 consumer (SPEC.md §17.5, §17.6): joining a slot, validating
// every read against tailPosition, skipping to the oldest message when the
// producer laps it, and counting exactly what it missed from the indexes the
// records carry.

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
        if reader!.gating {
            // seq_cst: pairs with the producer's seq_cst cursor loads in GateKeeper.limit,
            // and orders the writerWaiters load below after it (SPEC.md §10, §17.8).
            reader!.slot.cursor.store(end, ordering: .sequentiallyConsistent)
            WaitWord.signalIfWaiting(storage.spaceChannel)
        } else {
            // relaxed: a lapping reader's cursor is only shown by inspection.
            reader!.slot.cursor.store(end, ordering: .relaxed)
        }
        return true
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
            throw .invalidArgument("a gating reader needs reject-when-full: under overwrite-oldest every reader is lapping (gating: false)")
        }
        let name = options.name.map { Array($0.utf8) } ?? []
        guard name.count < RingLayout.ReaderSlot.name.size, !name.contains(0) else {
            throw .invalidArgument("a reader name is at most \(RingLayout.ReaderSlot.name.size - 1) bytes of UTF-8 without NUL")
        }
        guard options.name == nil || !name.isEmpty else { throw .invalidArgument("a reader name may not be empty") }
        let durable = !name.isEmpty
        let (seconds, attoseconds) = options.gateTimeout.components
        let ms = max(0, min(Int64(UInt32.max), seconds * 1000 + attoseconds / 1_000_000_000_000_000))

        for attempt in 0..<2 {
            let (slot, resuming) = try takeSlot(storage, name: name)
            do throws(RingError) {
                let joined = try start(storage, slot, options, name: name, durable: durable,
                                       gateTimeoutMs: UInt32(ms), resuming: resuming)
                // Two joiners of one new name may both have taken free slots: the lower slot keeps it.
                if durable && !resuming && attempt == 0, try hasLowerTwin(storage, slot, name: name) {
                    storage.releaseSlot(slot, free: true)
                    continue
                }
                return joined
            } catch {
                storage.releaseSlot(slot, free: !resuming)
                throw error
            }
        }
        throw .busy(.reader)
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
                // A dead reader counted asleep: undo its count (SPEC.md §17.8).
                // seq_cst: as the waiter's own stores in WaitWord.wait.
                if slot.sleeping.load(ordering: .sequentiallyConsistent) != 0 {
                    slot.sleeping.store(0, ordering: .sequentiallyConsistent)
                    storage.dataChannel.waiters.wrappingDecrement(ordering: .sequentiallyConsistent)
                }
                return (slot, false)
            }
            storage.releaseSlot(slot, free: false)
        }
        throw .busy(.reader)
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
            base = slot.resumeIndex.load(ordering: .relaxed)
            missed = slot.missedCount.load(ordering: .relaxed)
        } else if options.start == .oldest {
            cursor = tailPosition
            base = try oldestIndex(storage, head: head, tail: tailPosition)
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
        if durable { slot.resumeIndex.store(base ?? 0, ordering: .relaxed) }
        // seq_cst: pairs with the producer's seq_cst cursor loads (SPEC.md §17.5 step 4).
        slot.cursor.store(cursor, ordering: .sequentiallyConsistent)
        // release: pairs with the acquire load of state by the producer, joiners and inspection.
        slot.state.store(RingLayout.readerSlotActive, ordering: .releasing)
        if gating { cursor = try settle(storage, slot, cursor) }
        return Joined(slot: slot, cursor: cursor, resumeIndex: base, missed: missed, gating: gating, durable: durable)
    }

    /// The index of the oldest message (or of the next one, if the ring is empty).
    static func oldestIndex(_ storage: RingStorage, head: UInt64, tail: UInt64) throws(RingError) -> UInt64? {
        // relaxed after the acquire loads of the snapshot: the producer stores it before it reclaims.
        if head == tail { return storage.nextIndexWord.load(ordering: .relaxed) }
        do throws(RingError) {
            let record = try RecordIO.parse(storage.data, at: tail, committed: head, geometry: storage.geometry)
            // The record may be reclaimed as we read it: then the first read counts from nothing.
            return storage.wasReclaimed(since: tail) ? nil : record.index
        } catch {
            if storage.wasReclaimed(since: tail) { return nil }
            throw error
        }
    }

    /// Step 5 of SPEC.md §17.5: a gating reader's start is safe once no reclaim that
    /// read the slots before our cursor store can still move tailPosition past it.
    static func settle(_ storage: RingStorage, _ slot: ReaderSlot, _ start: UInt64) throws(RingError) -> UInt64 {
        var cursor = start
        for attempt in 0..<RingConsumer.retryLimit {
            // seq_cst: pairs with the producer's seq_cst increments in reclaimForReaders.
            let sequence = storage.reclaimSequence.load(ordering: .sequentiallyConsistent)
            if sequence & 1 != 0 {
                // A reclaim in progress; a dead producer's half-done one never ends.
                if attempt % 64 == 63, !(try storage.roleStatus(.producer).isHeld) { return cursor }
                SystemCalls.yield()
                continue
            }
            // seq_cst: as above; sees the result of any reclaim that ended before the load of the sequence.
            let t = storage.consumerPosition.load(ordering: .sequentiallyConsistent)
            guard t & UInt64(RingLayout.recordAlignment - 1) == 0 else { throw .corrupt(.misalignedPosition(t)) }
            guard cursor &- t > UInt64(storage.geometry.capacity) else { return cursor }
            cursor = t
            // seq_cst: as the first cursor store.
            slot.cursor.store(cursor, ordering: .sequentiallyConsistent)
        }
        return cursor
    }

    /// Whether another ACTIVE slot below ours carries the same durable name.
    static func hasLowerTwin(_ storage: RingStorage, _ slot: ReaderSlot, name: [UInt8]) throws(RingError) -> Bool {
        for n in 0..<slot.number {
            let other = storage.readerSlot(n)
            if try other.checkedState() == RingLayout.readerSlotActive,
               other.flags.load(ordering: .relaxed) & RingLayout.readerFlagDurable != 0,
               other.loadName() == name { return true }
        }
        return false
    }
}
