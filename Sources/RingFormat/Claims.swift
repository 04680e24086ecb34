// Claims.swift - the claims of a ring with several producers (SPEC.md §18.3,
// §18.5, §18.7): the control word's stamps, walking a claim's records,
// publishing the claims at the front and settling one whose producer died or
// stopped. Producers, the consumer and readers all run these: any of them may
// finish a publication another began, so every store here is a CAS.

import Atomics

/// The stamps of a claim's control word (SPEC.md §18.3).
enum Stamp {
    /// The low 53 bits of an index, as PUBLISHED keeps them.
    static let index53: UInt64 = (1 << 53) - 1

    /// Position of the control word of a claim that starts at `c`.
    @inline(__always)
    static func position(ofClaimAt c: UInt64, _ g: RingGeometry) -> UInt64 {
        UInt64(g.capacity) &- (c & g.mask) >= 16 ? c &+ 8 : c &+ 16
    }

    /// The lap of the word at position `w`.
    @inline(__always)
    static func lap(_ w: UInt64, _ g: RingGeometry) -> UInt64 { w >> UInt64(g.capacityShift) }

    /// CLAIMED(slot) for the control word at `w`.
    @inline(__always)
    static func claimed(_ slot: Int, at w: UInt64, _ g: RingGeometry) -> UInt64 {
        RingLayout.stampClaimed << 62 | UInt64(slot) << 52 | lap(w, g)
    }

    /// COMMITTED(slot) for the control word at `w`.
    @inline(__always)
    static func committed(_ slot: Int, at w: UInt64, _ g: RingGeometry) -> UInt64 {
        claimed(slot, at: w, g) | 1 << 56
    }

    /// CANCELLED for the claim of `size` bytes at `c` whose control word is at `w`.
    static func cancelled(at w: UInt64, claim c: UInt64, size: UInt64, _ g: RingGeometry) -> UInt64 {
        let d: UInt64 = w &- c == 16 ? 1 : 0
        return RingLayout.stampCancelled << 62 | d << 61 | lap(w, g) << UInt64(g.capacityShift - 3) | size >> 3
    }

    /// PUBLISHED with first index `first` for the control word at `w`.
    @inline(__always)
    static func published(at w: UInt64, first: UInt64, _ g: RingGeometry) -> UInt64 {
        RingLayout.stampPublished << 62 | (lap(w, g) & 0xFF) << 53 | first & index53
    }

    /// What a control word says, once checked to be current.
    enum Seen: Equatable {
        case claimed(slot: Int)
        case committed(slot: Int)
        case cancelled(size: UInt64)
        /// The low 53 bits of the claim's first index.
        case published(low: UInt64)
        /// Not a current stamp of a claim at that position: nobody stamped it yet.
        case none
    }

    /// What the value `v` of the control word at `w` says about a claim starting at `c`.
    @inline(__always)
    static func read(_ v: UInt64, at w: UInt64, claim c: UInt64, _ g: RingGeometry) -> Seen {
        switch v >> 62 {
        case RingLayout.stampClaimed:
            guard v & ((1 << 52) - 1) == lap(w, g), (v >> 57) & 0x1F == 0 else { return .none }
            let slot = Int(truncatingIfNeeded: (v >> 52) & 0xF)
            return v & (1 << 56) != 0 ? .committed(slot: slot) : .claimed(slot: slot)
        case RingLayout.stampCancelled:
            let d: UInt64 = w &- c == 16 ? 1 : 0
            guard (v >> 61) & 1 == d else { return .none }
            let shift = UInt64(g.capacityShift - 3)
            guard (v & ((1 << 61) - 1)) >> shift == lap(w, g) else { return .none }
            return .cancelled(size: (v & ((1 << shift) - 1)) << 3)
        case RingLayout.stampPublished:
            guard (v >> 53) & 0xFF == lap(w, g) & 0xFF else { return .none }
            return .published(low: v & index53)
        default:
            return .none
        }
    }

    /// The index whose low 53 bits are `low`: the largest such value below `next`
    /// (nextIndex loaded after the claim was published).
    @inline(__always)
    static func fullIndex(low: UInt64, next: UInt64) -> UInt64 {
        next &- ((next &- low) & index53)
    }
}

/// A settler's memory of the front it waits behind (SPEC.md §18.7). Private to it.
struct FrontWatch {
    var front: UInt64 = 0
    var since: UInt64 = 0
    var probedAt: UInt64 = 0
    var watching = false

    /// A settler probes the claim at the front at most this often.
    static let probeIntervalNanoseconds: UInt64 = 10_000_000
    /// How long a live producer's claim may hold the front (SPEC.md §18.7, CLAIM_TIMEOUT_MS).
    static let claimTimeoutNanoseconds = UInt64(RingLayout.claimTimeoutMs) * 1_000_000
}

extension RingStorage {
    /// The control word at position `w`, as an atomic.
    @inline(__always)
    func controlWord(_ w: UInt64) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: (data + Int(truncatingIfNeeded: w & geometry.mask))
            .assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    /// The records of the finished claim at `f` (SPEC.md §18.3): an optional padding
    /// record, messages of kind 4 then one of kind 1, or kind 4 and a filler. Returns the
    /// claim's end and how many messages it holds; `badClaim` for records no producer writes.
    func walkClaim(at f: UInt64, limit cl: UInt64) throws(RingError) -> (end: UInt64, count: Int) {
        let g = geometry
        let bad = RingError.corrupt(.badClaim(position: f))
        var pos = f
        var offset = Int(truncatingIfNeeded: pos & g.mask)
        var (length, kind) = RecordIO.readHeader(data, at: offset)
        if kind == RingLayout.recordKindPadding {
            let toEnd = g.capacity - offset
            guard Int(length) == toEnd - RingLayout.recordHeaderSize, UInt64(toEnd) < cl &- pos else { throw bad }
            pos &+= UInt64(toEnd)
            offset = 0
            (length, kind) = RecordIO.readHeader(data, at: 0)
        }
        var count = 0
        while true {
            guard kind == RingLayout.recordKindMessage || kind == RingLayout.recordKindMessageMore else { throw bad }
            let len = Int(length)
            guard len <= g.maxMessageSize else { throw bad }
            let size = g.recordSize(payloadLength: len)
            guard UInt64(size) <= cl &- pos, offset + size <= g.capacity else { throw bad }
            count += 1
            pos &+= UInt64(size)
            if kind == RingLayout.recordKindMessage { return (pos, count) }
            // Kind 4: another record of the claim follows, before the end of the region.
            offset += size
            guard offset < g.capacity, pos != cl else { throw bad }
            (length, kind) = RecordIO.readHeader(data, at: offset)
            if kind == RingLayout.recordKindFiller {
                let fill = RingLayout.recordHeaderSize + Int(length)
                guard Int(length) & 7 == 0, UInt64(fill) <= cl &- pos, offset + fill <= g.capacity else { throw bad }
                return (pos &+ UInt64(fill), count)
            }
        }
    }

    /// Publishes the done claims at the front (SPEC.md §18.5). Returns nil when every
    /// claim is published, else the front, where a claim is not done yet.
    @discardableResult
    func publishClaims() throws(RingError) -> UInt64? {
        let g = geometry
        let capacity = UInt64(g.capacity)
        var turns = 0
        while true {
            turns += 1
            if turns > g.capacity / RingLayout.recordAlignment + RingConsumer.retryLimit {
                throw .corrupt(.positionsUnstable)
            }
            // seq_cst: the committer stores its control word, then loads this; we CAS this,
            // then load the next control word (Dekker, SPEC.md §18.5).
            let f = producerPosition.load(ordering: .sequentiallyConsistent)
            // acquire: pairs with the claimers' seq_cst CAS of claimPosition.
            let cl = claimPosition.load(ordering: .acquiring)
            if f == cl { return nil }
            guard f & UInt64(RingLayout.recordAlignment - 1) == 0 else { throw .corrupt(.misalignedPosition(f)) }
            guard cl & UInt64(RingLayout.recordAlignment - 1) == 0, cl &- f <= capacity else {
                // A front loaded before much progress is stale, not a bad claimPosition.
                // seq_cst: as the load above.
                if producerPosition.load(ordering: .sequentiallyConsistent) != f { continue }
                throw .corrupt(.badClaimPosition(cl))
            }
            let w = Stamp.position(ofClaimAt: f, g)
            let word = controlWord(w)
            // seq_cst: see the load of the front.
            let v = word.load(ordering: .sequentiallyConsistent)
            // relaxed: the publisher of the claim before stored it before the front's CAS we loaded.
            let n = nextIndexWord.load(ordering: .relaxed)
            var first: UInt64 = 0
            var count = 0
            var end: UInt64
            switch Stamp.read(v, at: w, claim: f, g) {
            case .committed:
                do throws(RingError) {
                    (end, count) = try walkClaim(at: f, limit: cl)
                } catch {
                    // Another publisher may have published it meanwhile, and its bytes been read
                    // and reused: then what we walked is not this claim. Corrupt only if not.
                    // seq_cst: as the loads above.
                    if producerPosition.load(ordering: .sequentiallyConsistent) != f
                        || word.load(ordering: .sequentiallyConsistent) != v { continue }
                    throw error
                }
                // seq_cst: the publication token; of all publishers of this claim one wins.
                guard word.compareExchange(expected: v, desired: Stamp.published(at: w, first: n, g),
                                           ordering: .sequentiallyConsistent).exchanged else { continue }
                first = n
            case .published(let low):
                // A publisher took the token and has not finished: finish it with the same values.
                guard let walked = try? walkClaim(at: f, limit: cl) else {
                    // seq_cst: as above; a front that moved was published by someone else.
                    if producerPosition.load(ordering: .sequentiallyConsistent) != f { continue }
                    return f
                }
                if low == n & Stamp.index53 {
                    first = n
                } else if low == (n &- UInt64(walked.count)) & Stamp.index53 {
                    first = n &- UInt64(walked.count)
                } else {
                    return f // a PUBLISHED of an older lap: the claim is not done
                }
                (end, count) = walked
            case .cancelled(let size):
                guard size >= UInt64(RingLayout.indexedRecordHeaderSize), size <= cl &- f else {
                    throw .corrupt(.badClaim(position: f))
                }
                end = f &+ size
            case .claimed, .none:
                return f
            }
            if count > 0 {
                // relaxed: published to the next publisher and to readers by the release half of
                // the producerPosition CAS below; a failure means another publisher did it.
                _ = nextIndexWord.compareExchange(expected: first, desired: first &+ UInt64(count), ordering: .relaxed)
            }
            // seq_cst: its release half pairs with readers' acquire loads of producerPosition
            // (the claim's records and nextIndex are visible to them); a failure means someone
            // else moved the front.
            _ = producerPosition.compareExchange(expected: f, desired: end, ordering: .sequentiallyConsistent)
            WaitWord.signalIfWaiting(dataChannel)
        }
    }

    /// Publishes what is done and, if the claim at the front is held up, settles it
    /// (SPEC.md §18.7): one whose producer died at once, one a live producer has held for
    /// CLAIM_TIMEOUT_MS after that. For those about to wait; `watch` is theirs.
    func settleFront(_ watch: inout FrontWatch) throws(RingError) {
        guard let f = try publishClaims() else { watch.watching = false; return }
        let now = SystemCalls.monotonicNanoseconds()
        if !watch.watching || watch.front != f { watch = FrontWatch(front: f, since: now, probedAt: 0, watching: true) }
        guard now &- watch.probedAt >= FrontWatch.probeIntervalNanoseconds else { return }
        watch.probedAt = now
        try settle(front: f, stuckFor: now &- watch.since)
    }

    /// SPEC.md §18.7 steps 1-4 for the claim at front `f`.
    func settle(front f: UInt64, stuckFor: UInt64) throws(RingError) {
        let g = geometry
        /// What no producer's claim explains is a lie of the table once the front has stayed put
        /// for twice the claim timeout (SPEC.md §18.7 step 1); until then a producer may be moving.
        func judge() throws(RingError) {
            if stuckFor > 2 * FrontWatch.claimTimeoutNanoseconds { throw .corrupt(.badClaim(position: f)) }
        }
        // acquire: pairs with the claimers' seq_cst CAS (their intents are visible after it).
        let cl = claimPosition.load(ordering: .acquiring)
        let w = Stamp.position(ofClaimAt: f, g)
        let word = controlWord(w)
        // seq_cst: as in publishClaims.
        let v = word.load(ordering: .sequentiallyConsistent)
        let owner: Int
        switch Stamp.read(v, at: w, claim: f, g) {
        case .claimed(let k):
            owner = k
        case .none:
            guard let k = try ownerOfUnstampedClaim(at: f, limit: cl) else {
                // No producer says it made this claim: the table lies (SPEC.md §18.10).
                try judge()
                return
            }
            owner = k
        default:
            try publishClaims()
            return
        }
        guard owner < g.producerSlots else { throw .corrupt(.badClaim(position: f)) }
        let slot = producerSlot(owner)
        let state = try slot.checkedClaimState()
        // relaxed: after the seq_cst claimState load.
        guard state != RingLayout.claimIdle, slot.claimStart.load(ordering: .relaxed) == f else {
            // The producer moved on (it committed meanwhile), or the slot lies.
            try judge()
            return
        }
        let end = slot.claimEnd.load(ordering: .relaxed)
        // The producer may be writing its next intent (claimEnd first, then claimStart): a
        // pair is only used if claimStart and claimState still say the same after (seq_cst:
        // as the producer's store of claimState).
        guard try slot.checkedClaimState() == state, slot.claimStart.load(ordering: .relaxed) == f else { return }
        guard end &- f >= UInt64(RingLayout.indexedRecordHeaderSize), end &- f <= cl &- f else {
            try judge()
            return
        }
        let cancelled = Stamp.cancelled(at: w, claim: f, size: end &- f, g)
        if isLive(slot) {
            guard stuckFor >= FrontWatch.claimTimeoutNanoseconds else { return }
            // Stopped or starved: hold its bytes, then cancel (SPEC.md §18.7 step 4).
            // seq_cst: the hold is visible to claimers before the claim is published as cancelled.
            _ = slot.claimState.compareExchange(expected: RingLayout.claimIntent, desired: RingLayout.claimHeld,
                                                ordering: .sequentiallyConsistent)
            _ = heldClaims.loadThenBitwiseOr(with: UInt32(1) << UInt32(owner), ordering: .sequentiallyConsistent)
            // seq_cst: against the producer's CAS to CLAIMED or COMMITTED; one wins.
            _ = word.compareExchange(expected: v, desired: cancelled, ordering: .sequentiallyConsistent)
            try publishClaims()
            return
        }
        // Dead: act for it while holding its slot, so that no two settlers do (step 3).
        guard try lockProducerSlot(slot) else { return }
        defer { unlockProducerSlot(slot) }
        // seq_cst: re-check under the slot's lock that nothing moved.
        guard producerPosition.load(ordering: .sequentiallyConsistent) == f,
              word.load(ordering: .sequentiallyConsistent) == v else { return }
        _ = word.compareExchange(expected: v, desired: cancelled, ordering: .sequentiallyConsistent)
        try publishClaims()
        // seq_cst: as the producer's own stores of claimState.
        _ = slot.claimState.compareExchange(expected: state, desired: RingLayout.claimIdle, ordering: .sequentiallyConsistent)
        clearHeld(slot)
    }

    /// The slot whose claim at `f` nobody has stamped yet (SPEC.md §18.7 step 1): among
    /// the slots with an intent at `f`, the one whose end is the smallest boundary.
    func ownerOfUnstampedClaim(at f: UInt64, limit cl: UInt64) throws(RingError) -> Int? {
        var candidates: [(slot: Int, end: UInt64)] = []
        var starts: [UInt64] = []
        for n in 0..<geometry.producerSlots {
            let slot = producerSlot(n)
            guard try slot.checkedClaimState() != RingLayout.claimIdle else { continue }
            // relaxed: after the seq_cst claimState load.
            let start = slot.claimStart.load(ordering: .relaxed)
            starts.append(start)
            if start == f { candidates.append((n, slot.claimEnd.load(ordering: .relaxed))) }
        }
        if candidates.count <= 1 { return candidates.first?.slot }
        var best: (slot: Int, end: UInt64)? = nil
        for c in candidates {
            let size = c.end &- f
            guard size <= cl &- f else { continue }
            let w = Stamp.position(ofClaimAt: c.end, geometry)
            // relaxed: a hint only; the CAS that uses the answer checks the word again.
            let boundary = c.end == cl || starts.contains(c.end)
                || Stamp.read(controlWord(w).load(ordering: .relaxed), at: w, claim: c.end, geometry) != .none
            if boundary, best == nil || size < best!.end &- f { best = c }
        }
        return best?.slot
    }
}
