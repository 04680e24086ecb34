// ProducerReaders.swift - the producer's side of a ring with readers (SPEC.md
// §17.2, §17.7): continuing the message numbering when it takes the role, and
// reclaiming room by moving tailPosition, which only it writes, never past the
// slowest live gating reader under reject-when-full.

import Atomics

extension RingProducer {
    /// On taking the role of a ring with readers: continue the numbering after the
    /// last committed message (or at nextIndex if none is left), and end a reclaim
    /// a dead predecessor left half done (SPEC.md §17.2, §17.3).
    func takeOverReaderRing() throws(RingError) {
        var position = cachedTail
        var last: UInt64? = nil
        var steps = 0
        var unread: UInt64 = 0
        while position != head {
            let record = try RecordIO.parse(data, at: position, committed: head, geometry: geometry)
            last = record.index
            position = record.end
            unread &+= 1
            steps += 1
            if steps > geometry.capacity / RingLayout.recordAlignment { throw .corrupt(.positionsUnstable) }
        }
        // relaxed: only producers write it, and we hold the role.
        nextIndex = last.map { $0 &+ 1 } ?? storage.nextIndexWord.load(ordering: .relaxed)
        if geometry.keepsCounts {
            // The count is nextIndex - droppedCount: a reclaimer that died between its tail store
            // and its droppedCount store left it off; we walked every unread message (SPEC.md §22.3).
            // relaxed: statistics; only the producer writes droppedCount.
            let dropped = nextIndex &- unread
            if storage.droppedCount.load(ordering: .relaxed) != dropped { storage.droppedCount.store(dropped, ordering: .relaxed) }
        }
        // seq_cst: pairs with joining gating readers' seq_cst loads (SPEC.md §17.5 step 5).
        let sequence = storage.reclaimSequence.load(ordering: .sequentiallyConsistent)
        if sequence & 1 != 0 { storage.reclaimSequence.store(sequence &+ 1, ordering: .sequentiallyConsistent) }
    }

    /// Makes `total` bytes free after `pendingHead` by moving tailPosition past the
    /// oldest records: under reject-when-full never past a gating reader that counts
    /// (SPEC.md §17.7), under overwrite-oldest as far as needed. Returns false if the
    /// room cannot be made now (reject-when-full).
    func reclaimForReaders(_ total: UInt64, pendingHead: UInt64) throws(RingError) -> Bool {
        let capacity = UInt64(geometry.capacity)
        let gating = geometry.policy == .rejectWhenFull
        while true {
            let tail = cachedTail
            let free = capacity &- (pendingHead &- tail)
            if free >= total { return true }
            // Under reject-when-full reclaim at least a sixteenth of the ring at a time: every
            // gating reader has read it, and one reclaim then serves many writes (SPEC.md
            // §17.7 step 2). Under overwrite-oldest exactly what is needed: the deque keeps the newest.
            let need = total &- free
            let want = gating ? max(need, capacity / 16) : need
            if gating {
                // seq_cst: the odd value is ordered before our loads of the slots, so a
                // reader whose join raced this reclaim waits for it (SPEC.md §17.5 step 5).
                storage.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent)
            }
            var newTail = tail
            var dropped: UInt64 = 0
            do throws(RingError) {
                let limit = gating
                    ? try gateKeeper.limit(storage, head: head, tail: tail, want: need)
                    : head
                // Walk our own committed records from tailPosition, checked as a reader checks them.
                while newTail != limit && newTail &- tail < want {
                    let record = try RecordIO.parse(data, at: newTail, committed: head, geometry: geometry)
                    guard record.end &- tail <= limit &- tail else { break }
                    newTail = record.end
                    dropped &+= 1
                }
            } catch {
                if gating { storage.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent) }
                throw error
            }
            if newTail != tail {
                // seq_cst: readers validate their copies against tailPosition after an
                // acquire fence (RingConsumer's wasReclaimed); joiners load it seq_cst.
                storage.consumerPosition.store(newTail, ordering: .sequentiallyConsistent)
                cachedTail = newTail
                // relaxed: statistics; only the producer writes droppedCount.
                let n = storage.droppedCount.load(ordering: .relaxed)
                storage.droppedCount.store(n &+ dropped, ordering: .relaxed)
            }
            if gating { storage.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent) }
            if newTail != tail {
                // No byte of the reclaimed records is overwritten before the new tailPosition
                // is visible to every reader (their validation pairs with it).
                atomicMemoryFence(ordering: .sequentiallyConsistent)
            }
            if capacity &- (pendingHead &- newTail) >= total { return true }
            if newTail != tail { continue }
            // Nothing more can be reclaimed now.
            guard !gating else { return false }
            // Overwrite-oldest: only this producer's uncommitted batch is left; commit it
            // so that it can be reclaimed like any other (deque(maxlen) keeps the newest).
            guard pendingHead != head, tail == head else { return false }
            try commit(pendingHead)
        }
    }
}
