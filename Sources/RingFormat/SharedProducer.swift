// SharedProducer.swift - a producer of a ring with several producers (SPEC.md
// §18.4, §18.8, §18.9): it claims room with a CAS of claimPosition after
// writing its intent, stamps and commits its claim through the claim's control
// word, and publishes what is done at the front. A claim a settler cancelled is
// acknowledged and written again, so no message is lost.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// Named steps of a shared-producer write at which a test may stop the process
/// (environment RINGFORMAT_TEST_STOP_AT=step[:n]: SIGSTOP itself the n-th time it gets
/// there, n 1 by default). For kill and stop tests only.
package enum ClaimStep: String {
    /// After the claim CAS, before the stamp.
    case claimed
    /// After the stamp, before the records are written.
    case stamped
    /// After the records are written, before the commit.
    case written
    /// After the commit, before publishing.
    case committed

    /// The step and count from the environment, read once.
    static let stop: (step: ClaimStep, count: Int)? = {
        guard let raw = getenv("RINGFORMAT_TEST_STOP_AT").map({ String(cString: $0) }) else { return nil }
        let parts = raw.split(separator: ":")
        guard let name = parts.first, let step = ClaimStep(rawValue: String(name)) else { return nil }
        return (step, parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    nonisolated(unsafe) static var seen = 0

    /// Stops the process here if the environment says so.
    @inline(__always)
    static func reach(_ step: ClaimStep) {
        guard let stop, stop.step == step else { return }
        seen += 1
        if seen == stop.count { raise(SIGSTOP) }
    }
}

extension RingProducer {
    /// Writes `count` messages given by `message(i)` as one claim: the longest prefix that
    /// fits now (SPEC.md §18.4). Returns how many were written (0: the ring is full).
    @inline(never)
    func sharedWrite(count: Int, message: (Int) -> UnsafeRawBufferPointer) throws(RingError) -> Int {
        guard count > 0, let slot = producerSlot else { return 0 }
        // Each turn ends in a write, or in a claim a settler cancelled (after its timeout).
        while true {
            guard let (c, plan, stamp) = try claim(slot, count: count, size: { message($0).count }) else { return 0 }
            ClaimStep.reach(.stamped)
            var position = c
            if plan.pad > 0 {
                RecordIO.writeHeader(data, at: Int(truncatingIfNeeded: c & geometry.mask),
                                     length: UInt32(plan.pad - RingLayout.recordHeaderSize), kind: RingLayout.recordKindPadding)
                position &+= UInt64(plan.pad)
            }
            for i in 0..<plan.count {
                let raw = message(i)
                position = fill(at: position, length: raw.count, from: raw,
                                kind: i == plan.count - 1 ? RingLayout.recordKindMessage : RingLayout.recordKindMessageMore)
            }
            ClaimStep.reach(.written)
            // Stores into vanished pages reached a private zero page: commit nothing (SPEC.md §12).
            try storage.checkNotTruncated()
            guard try commitClaim(slot, at: c, stamp: stamp, messages: plan.count) else { continue }
            return plan.count
        }
    }

    /// Steps 1-4 of SPEC.md §18.4, again while another producer claims first or a settler
    /// cancels the claim before it is stamped: where the claim starts, what it holds and its
    /// CLAIMED stamp. Nil if not even the first message fits now.
    func claim(_ slot: ProducerSlot, count: Int, size: (Int) -> Int)
        throws(RingError) -> (UInt64, (end: UInt64, count: Int, pad: Int), UInt64)? {
        // Each turn that does not end is a claim another producer made meanwhile (SPEC.md §13).
        for _ in 0..<(geometry.capacity / RingLayout.recordAlignment + RingConsumer.retryLimit) {
            guard let (c, plan) = try planClaim(count: count, size: size) else { return nil }
            guard try stake(slot, at: c, end: plan.end) else { continue }
            guard let stamp = try stamp(slot, at: c) else { continue }
            return (c, plan, stamp)
        }
        throw .corrupt(.positionsUnstable)
    }

    /// A batch of shared-producer writes: as many claims as it takes while they fit.
    @inline(never)
    func sharedWriteBatch(count: Int, message: (Int) -> UnsafeRawBufferPointer) throws(RingError) -> Int {
        var written = 0
        while written < count {
            let n = try sharedWrite(count: count - written, message: { message(written + $0) })
            if n == 0 { break }
            written += n
        }
        return written
    }

    /// Where the next claim starts and what fits in it: at most `count` messages of
    /// `size(i)` bytes, with the padding the first needs (SPEC.md §18.4 step 1). Nil if
    /// not even the first fits now.
    func planClaim(count: Int, size: (Int) -> Int) throws(RingError) -> (UInt64, (end: UInt64, count: Int, pad: Int))? {
        let g = geometry
        let capacity = UInt64(g.capacity)
        var c: UInt64 = 0
        // A claimPosition loaded before the tail may be overtaken by it (others claimed,
        // published and were read meanwhile): load both again, a bounded number of times.
        for attempt in 0... {
            // acquire: pairs with the claimers' seq_cst CAS of claimPosition.
            c = storage.claimPosition.load(ordering: .acquiring)
            guard c & UInt64(RingLayout.recordAlignment - 1) == 0 else { throw .corrupt(.badClaimPosition(c)) }
            if c &- cachedTail <= capacity { break }
            let tail = try loadTail()
            if c &- tail <= capacity { cachedTail = tail; break }
            if attempt >= RingConsumer.retryLimit { throw .corrupt(.badClaimPosition(c)) }
        }
        func plan(_ tail: UInt64) -> (end: UInt64, count: Int, pad: Int) {
            let offset = Int(truncatingIfNeeded: c & g.mask)
            let first = g.recordSize(payloadLength: size(0))
            let pad = first > g.capacity - offset ? g.capacity - offset : 0
            var room = pad > 0 ? g.capacity : g.capacity - offset // bytes before the region's end
            var end = c &+ UInt64(pad)
            var n = 0
            while n < count {
                let s = g.recordSize(payloadLength: size(n))
                guard s <= room, (end &+ UInt64(s)) &- tail <= capacity else { break }
                end &+= UInt64(s)
                room -= s
                n += 1
            }
            return (end, n, pad)
        }
        var result = plan(cachedTail)
        if result.count < count {
            let tail = try loadTail()
            // The tail passed our claimPosition: it is stale; the caller loads it again.
            if c &- tail > capacity { return nil }
            if tail != cachedTail {
                cachedTail = tail
                result = plan(tail)
            }
            if result.count == 0, geometry.hasReaders {
                // Room is what we may reclaim (SPEC.md §18.9): enough for the first message.
                let first = g.recordSize(payloadLength: size(0))
                let offset = Int(truncatingIfNeeded: c & g.mask)
                let pad = first > g.capacity - offset ? g.capacity - offset : 0
                if try sharedReclaim(claimEnd: c &+ UInt64(pad + first)) { result = plan(cachedTail) }
            }
        }
        guard result.count > 0 else { return nil }
        if try storage.heldClaimInTheWay(end: result.end) { return nil }
        return (c, result)
    }

    /// The tail (consumerPosition, or tailPosition with readers), checked as a position.
    func loadTail() throws(RingError) -> UInt64 {
        // acquire: pairs with the consumer's seq_cst store (or a reclaimer's) of the tail: the
        // bytes it gave back were read before we overwrite them.
        let tail = storage.consumerPosition.load(ordering: .acquiring)
        guard tail & UInt64(RingLayout.recordAlignment - 1) == 0 else { throw .corrupt(.misalignedPosition(tail)) }
        return tail
    }

    /// Steps 2-3 of SPEC.md §18.4: the intent, then the claim CAS. False if another
    /// producer claimed first (the intent is withdrawn).
    func stake(_ slot: ProducerSlot, at c: UInt64, end: UInt64) throws(RingError) -> Bool {
        // relaxed: published by the seq_cst store of claimState below.
        slot.claimEnd.store(end, ordering: .relaxed)
        slot.claimStart.store(c, ordering: .relaxed)
        // seq_cst: the intent is visible to a settler that sees our claim (it loads claimPosition
        // with acquire, which our CAS below follows).
        slot.claimState.store(RingLayout.claimIntent, ordering: .sequentiallyConsistent)
        // seq_cst: the claim; pairs with other claimers' CAS and the acquire loads of settlers.
        guard storage.claimPosition.compareExchange(expected: c, desired: end, ordering: .sequentiallyConsistent).exchanged else {
            slot.claimState.store(RingLayout.claimIdle, ordering: .relaxed)
            return false
        }
        ClaimStep.reach(.claimed)
        return true
    }

    /// Step 4: stamps CLAIMED(slot) on the claim at `c`. Returns the stamp, or nil if a
    /// settler cancelled the claim first (it is then acknowledged).
    func stamp(_ slot: ProducerSlot, at c: UInt64) throws(RingError) -> UInt64? {
        let w = Stamp.position(ofClaimAt: c, geometry)
        let word = storage.controlWord(w)
        // acquire: pairs with a settler's seq_cst CAS to CANCELLED.
        let v = word.load(ordering: .acquiring)
        let stamp = Stamp.claimed(slot.number, at: w, geometry)
        if case .cancelled = Stamp.read(v, at: w, claim: c, geometry) {
            acknowledgeCancelled(slot)
            return nil
        }
        // seq_cst: against a settler's CAS of the same word (SPEC.md §18.7); one wins.
        guard word.compareExchange(expected: v, desired: stamp, ordering: .sequentiallyConsistent).exchanged else {
            acknowledgeCancelled(slot)
            return nil
        }
        return stamp
    }

    /// Steps 6-7: commit, publish, withdraw the intent. False if the claim was cancelled
    /// meanwhile (it is then acknowledged, and the caller writes again).
    func commitClaim(_ slot: ProducerSlot, at c: UInt64, stamp: UInt64, messages: Int) throws(RingError) -> Bool {
        let word = storage.controlWord(Stamp.position(ofClaimAt: c, geometry))
        // seq_cst: the commit. Its release half publishes our records to the publisher that
        // takes the token; the load of producerPosition in publishClaims stays after it (Dekker).
        guard word.compareExchange(expected: stamp, desired: stamp | 1 << 56, ordering: .sequentiallyConsistent).exchanged else {
            acknowledgeCancelled(slot)
            return false
        }
        slot.add(UInt64(messages), to: slot.committedCount)
        ClaimStep.reach(.committed)
        try storage.publishClaims()
        // release: our stores into the claim happen before it.
        slot.claimState.store(RingLayout.claimIdle, ordering: .releasing)
        return true
    }

    /// Step 8: our claim was cancelled. Every store into it is done: give its bytes back.
    func acknowledgeCancelled(_ slot: ProducerSlot) {
        // release: our stores into the claim happen before the bytes may be reused.
        slot.claimState.store(RingLayout.claimIdle, ordering: .releasing)
        storage.clearHeld(slot)
        slot.add(1, to: slot.cancelledCount)
    }

    /// Whether a message of `payload` bytes has room now (for waits), settling the front
    /// on the way (SPEC.md §18.7).
    @inline(never)
    func sharedHasRoom(payload: Int) throws(RingError) -> Bool {
        try storage.settleFront(&frontWatch)
        return try planClaim(count: 1, size: { _ in payload }) != nil
    }

    /// Ends this producer's part of the stream; the last producer to leave so ends it
    /// (SPEC.md §18.8).
    func sharedCloseWriter() {
        guard let slot = producerSlot else { return }
        // seq_cst: against joiners' seq_cst store of state ACTIVE, then of writerState OPEN.
        slot.state.store(RingLayout.producerSlotFree, ordering: .sequentiallyConsistent)
        if !(othersLive(than: slot)) {
            // seq_cst: see above; the re-check below pairs with a joiner that came meanwhile.
            storage.writerState.store(RingLayout.writerStateClosed, ordering: .sequentiallyConsistent)
            if othersLive(than: slot) {
                storage.writerState.store(RingLayout.writerStateOpen, ordering: .sequentiallyConsistent)
            }
        }
        WaitWord.wake(storage.dataChannel)
    }

    /// Whether a producer slot other than `mine` is ACTIVE and held by a live process.
    func othersLive(than mine: ProducerSlot) -> Bool {
        for n in 0..<geometry.producerSlots where n != mine.number {
            let slot = storage.producerSlot(n)
            // seq_cst: see sharedCloseWriter.
            if slot.state.load(ordering: .sequentiallyConsistent) == RingLayout.producerSlotActive, storage.isLive(slot) {
                return true
            }
        }
        return false
    }

    // MARK: Zero-copy reservations

    /// Claims room for one message of up to `size` bytes and returns its payload bytes.
    @inline(never)
    func sharedReserve(size: Int) throws(RingError) -> UnsafeMutableRawBufferPointer? {
        guard let slot = producerSlot, let (c, plan, stamp) = try claim(slot, count: 1, size: { _ in size }) else { return nil }
        let start = c &+ UInt64(plan.pad)
        sharedReservation = SharedReservation(claim: c, pad: plan.pad, recordStart: start, capacity: size, stamp: stamp)
        let offset = Int(truncatingIfNeeded: start & geometry.mask)
        return UnsafeMutableRawBufferPointer(start: data + offset + messageHeaderSize, count: size)
    }

    /// Commits the open reservation as a message of `length` bytes (SPEC.md §18.4): a
    /// filler ends the claim if the message is shorter than reserved. If a settler cancelled
    /// the claim meanwhile, its bytes (held for us) are written again in a new claim.
    @inline(never)
    func sharedCommitReservation(length: Int) throws(RingError) {
        guard let r = sharedReservation, let slot = producerSlot else { return }
        sharedReservation = nil
        let g = geometry
        if r.pad > 0 {
            RecordIO.writeHeader(data, at: Int(truncatingIfNeeded: r.claim & g.mask),
                                 length: UInt32(r.pad - RingLayout.recordHeaderSize), kind: RingLayout.recordKindPadding)
        }
        let reserved = g.recordSize(payloadLength: r.capacity)
        let used = g.recordSize(payloadLength: length)
        let end = fill(at: r.recordStart, length: length, from: nil,
                       kind: used == reserved ? RingLayout.recordKindMessage : RingLayout.recordKindMessageMore)
        if used < reserved {
            RecordIO.writeHeader(data, at: Int(truncatingIfNeeded: end & g.mask),
                                 length: UInt32(reserved - used - RingLayout.recordHeaderSize), kind: RingLayout.recordKindFiller)
        }
        try storage.checkNotTruncated()
        if try commitClaim(slot, at: r.claim, stamp: r.stamp, messages: 1) { return }
        // Cancelled: the payload is still in the held claim (we acknowledged only now).
        let payload = UnsafeRawBufferPointer(start: data + Int(truncatingIfNeeded: r.recordStart & g.mask) + messageHeaderSize,
                                             count: length)
        let copy = [UInt8](payload)
        let outcome: Result<Void, RingError> = copy.withUnsafeBytes { raw in
            let deadline = Deadline(after: .seconds(10))
            do throws(RingError) {
                while try sharedWrite(count: 1, message: { _ in raw }) == 0 {
                    if deadline.remaining == 0 { throw RingError.full }
                    SystemCalls.sleep(nanoseconds: 100_000)
                }
                return .success(())
            } catch { return .failure(error) }
        }
        try outcome.get()
    }

    /// Gives back the open reservation: its claim is cancelled by us and published.
    func sharedAbortReservation() {
        guard let r = sharedReservation, let slot = producerSlot else { return }
        sharedReservation = nil
        let w = Stamp.position(ofClaimAt: r.claim, geometry)
        // relaxed: the claim is ours and nothing of it was reported.
        let end = slot.claimEnd.load(ordering: .relaxed)
        // seq_cst: against a settler's CAS; if it cancelled first, nothing is left to do.
        _ = storage.controlWord(w).compareExchange(
            expected: r.stamp, desired: Stamp.cancelled(at: w, claim: r.claim, size: end &- r.claim, geometry),
            ordering: .sequentiallyConsistent)
        _ = try? storage.publishClaims()
        // SPEC.md §18.4 step 8, without the retry: the claim counts as cancelled.
        acknowledgeCancelled(slot)
    }

    // MARK: With readers

    /// Moves tailPosition so that a claim ending at `claimEnd` fits, one producer at a time
    /// (SPEC.md §18.9): reclaimSequence from even to odd by CAS, the limit of §17.7, whole
    /// claims only. Returns whether it moved.
    func sharedReclaim(claimEnd: UInt64) throws(RingError) -> Bool {
        guard let slot = producerSlot else { return false }
        let capacity = UInt64(geometry.capacity)
        // seq_cst: pairs with joining readers' seq_cst loads (SPEC.md §17.5 step 5).
        let sequence = storage.reclaimSequence.load(ordering: .sequentiallyConsistent)
        if sequence & 1 != 0 {
            // Another producer reclaims; a dead one's odd value is ended by whoever finds it.
            if !(try storage.reclaimerIsLive(sequence: sequence)) {
                _ = storage.reclaimSequence.compareExchange(expected: sequence, desired: sequence &+ 1,
                                                            ordering: .sequentiallyConsistent)
            }
            SystemCalls.yield()
            return false
        }
        // seq_cst: the odd value is ordered before our loads of the slots (SPEC.md §17.5, §17.7).
        guard storage.reclaimSequence.compareExchange(expected: sequence, desired: sequence &+ 1,
                                                      ordering: .sequentiallyConsistent).exchanged else { return false }
        let mine = UInt32(slot.number + 1)
        storage.reclaimOwner.store(mine, ordering: .relaxed)
        defer {
            // seq_cst: the even value; joiners that load it see our tailPosition.
            storage.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent)
            // Cleared after the even value, and only if still ours: a next reclaimer may have
            // named itself already (SPEC.md §18.9).
            _ = storage.reclaimOwner.compareExchange(expected: mine, desired: 0, ordering: .relaxed)
        }
        let tail = try loadTail()
        // acquire: pairs with publishers' CAS; only published records are reclaimed.
        let head = storage.producerPosition.load(ordering: .acquiring)
        guard head &- tail <= capacity else { throw .corrupt(.positionsOutOfOrder(producer: head, consumer: tail)) }
        let need = claimEnd &- tail &- capacity
        let want = max(need, capacity / 16)
        let limit = try gateKeeper.limit(storage, head: head, tail: tail, want: need)
        var newTail = tail
        var boundary = tail
        var dropped: UInt64 = 0
        var pending: UInt64 = 0
        while newTail != limit && boundary &- tail < want {
            let record = try RecordIO.parse(data, at: newTail, committed: head, geometry: geometry)
            if record.isSkipOnly {
                // Cancelled claims up to the front: whole claims, but never past the limit.
                if record.end &- tail <= limit &- tail { boundary = record.end }
                break
            }
            guard record.end &- tail <= limit &- tail else { break }
            newTail = record.end
            pending &+= 1
            if record.endsClaim {
                boundary = newTail
                dropped &+= pending
                pending = 0
            }
        }
        guard boundary != tail else { return false }
        // seq_cst: readers validate their copies against tailPosition after an acquire fence.
        storage.consumerPosition.store(boundary, ordering: .sequentiallyConsistent)
        cachedTail = boundary
        // relaxed: statistics; only the holder of the odd reclaimSequence writes droppedCount.
        storage.droppedCount.store(storage.droppedCount.load(ordering: .relaxed) &+ dropped, ordering: .relaxed)
        // No byte of the reclaimed claims is overwritten before the new tail is visible.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return true
    }
}

/// An open zero-copy reservation of a shared-producer ring.
struct SharedReservation {
    let claim: UInt64
    let pad: Int
    let recordStart: UInt64
    let capacity: Int
    let stamp: UInt64
}

extension RingStorage {
    /// Whether the producer holding reclaimSequence odd (`sequence`) is alive: in a ring with
    /// producers the slot reclaimOwner names (SPEC.md §18.9), else the producer role. A
    /// reclaimer names itself just after its CAS makes the value odd: an odd value with no
    /// owner is one in that window, and counts as live until the same value has stayed
    /// ownerless for CLAIM_TIMEOUT_MS (its producer died right there).
    func reclaimerIsLive(sequence: UInt32) throws(RingError) -> Bool {
        guard geometry.hasProducers else { return try roleStatus(.producer).isHeld }
        // relaxed: read inside the odd value it belongs to.
        let owner = Int(reclaimOwner.load(ordering: .relaxed))
        if owner == 0 {
            let now = SystemCalls.monotonicNanoseconds()
            let watched = UInt64(sequence) &+ 1
            // relaxed: this process's own bookkeeping.
            if ownerlessSequence.exchange(watched, ordering: .relaxed) != watched {
                ownerlessSince.store(now, ordering: .relaxed)
                return true
            }
            return now &- ownerlessSince.load(ordering: .relaxed) < UInt64(RingLayout.claimTimeoutMs) * 1_000_000
        }
        guard owner <= geometry.producerSlots else { return false }
        return isLive(producerSlot(owner - 1))
    }
}
