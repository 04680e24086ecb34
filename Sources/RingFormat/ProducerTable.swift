// ProducerTable.swift - the producer table of a ring with several producers
// (SPEC.md §18.2): its slots as atomic views into the mapping, taking and giving
// up a slot, and the HELD claims no claim may reuse (SPEC.md §18.7). Every value
// read from a slot is untrusted: loaded once, checked, then used.

import Atomics
import CRingSys

/// One producer of a ring as the producer table shows it (`Ring.producers()`).
public struct ProducerInfo: Sendable, Equatable {
    /// The slot number.
    public let slot: Int
    /// Whether a live process holds the slot.
    public let isLive: Bool
    /// Whether a claim of this slot is in progress, and where it starts.
    public let claimStart: UInt64?
    /// Whether that claim was cancelled while its producer lived (its bytes are held).
    public let isHeld: Bool
    /// Messages this producer committed.
    public let committedCount: UInt64
    /// Claims of this producer that were cancelled.
    public let cancelledCount: UInt64
}

/// Atomic views of one producer slot (SPEC.md §18.2).
struct ProducerSlot {
    /// The slot number.
    let number: Int
    /// File offset of the slot (also its lock byte).
    let offset: Int
    let state: UnsafeAtomic<UInt32>
    let claimState: UnsafeAtomic<UInt32>
    let owner: UnsafeAtomic<UInt64>
    let claimStart: UnsafeAtomic<UInt64>
    let claimEnd: UnsafeAtomic<UInt64>
    let committedCount: UnsafeAtomic<UInt64>
    let cancelledCount: UnsafeAtomic<UInt64>
    let sleeping: UnsafeAtomic<UInt32>

    init(base: UnsafeMutableRawPointer, headerSize: Int, number: Int) {
        self.number = number
        offset = RingLayout.producerTableOffset(headerSize: headerSize) + number * RingLayout.producerSlotSize
        let slot = base + offset
        func a64(_ f: FieldLayout) -> UnsafeAtomic<UInt64> { RingStorage.atomic64(slot, f) }
        func a32(_ f: FieldLayout) -> UnsafeAtomic<UInt32> { RingStorage.atomic32(slot, f) }
        state = a32(RingLayout.ProducerSlot.state)
        claimState = a32(RingLayout.ProducerSlot.claimState)
        owner = a64(RingLayout.ProducerSlot.owner)
        claimStart = a64(RingLayout.ProducerSlot.claimStart)
        claimEnd = a64(RingLayout.ProducerSlot.claimEnd)
        committedCount = a64(RingLayout.ProducerSlot.committedCount)
        cancelledCount = a64(RingLayout.ProducerSlot.cancelledCount)
        sleeping = a32(RingLayout.ProducerSlot.sleeping)
    }

    /// claimState, checked (SPEC.md §18.10).
    func checkedClaimState() throws(RingError) -> UInt32 {
        // seq_cst: pairs with the producer's seq_cst store of INTENT before its claim CAS,
        // and with a settler's CAS to HELD.
        let s = claimState.load(ordering: .sequentiallyConsistent)
        guard s <= RingLayout.claimHeld else { throw .corrupt(.badProducerSlot(slot: number, state: s)) }
        return s
    }

    /// Adds `n` to a statistics word that only this slot's holder writes.
    func add(_ n: UInt64, to word: UnsafeAtomic<UInt64>) {
        // relaxed: statistics, written by the slot's holder only.
        word.store(word.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }
}

extension RingStorage {
    /// Slot `number` of the producer table (requires number < geometry.producerSlots).
    func producerSlot(_ number: Int) -> ProducerSlot {
        ProducerSlot(base: base, headerSize: geometry.headerSize, number: number)
    }

    /// Whether a live process holds producer slot `slot` (SPEC.md §18.2, §17.4).
    func isLive(_ slot: ProducerSlot) -> Bool {
        isSlotLive(lockOffset: slot.offset, owner: slot.owner, takenHere: producerSlotTaken[slot.number])
    }

    /// Takes the lock of producer slot `slot` for this open (a producer, or a settler
    /// acting for a dead one, SPEC.md §18.7). Returns false if someone else holds it.
    func lockProducerSlot(_ slot: ProducerSlot) throws(RingError) -> Bool {
        try takeSlotLock(lockOffset: slot.offset, owner: slot.owner, takenHere: producerSlotTaken[slot.number],
                         name: "producer slot \(slot.number)")
    }

    /// Gives back a slot lock taken with `lockProducerSlot`. In a process that inherited
    /// the file across fork() nothing is touched (SPEC.md §11.3).
    func unlockProducerSlot(_ slot: ProducerSlot) {
        if isInherited { return }
        releaseSlotLock(lockOffset: slot.offset, owner: slot.owner, takenHere: producerSlotTaken[slot.number])
    }

    /// Takes a producer slot for a new producer of this open (SPEC.md §18.2): FREE, or
    /// ACTIVE with a dead holder whose claim is done. Throws `busy(.producer)` if none.
    func takeProducerSlot() throws(RingError) -> ProducerSlot {
        try checkProcess()
        for n in 0..<geometry.producerSlots {
            let slot = producerSlot(n)
            guard try lockProducerSlot(slot) else { continue }
            // seq_cst: pairs with the seq_cst stores of state by other takers and closers.
            let state = slot.state.load(ordering: .sequentiallyConsistent)
            guard state <= RingLayout.producerSlotActive else {
                unlockProducerSlot(slot)
                throw .corrupt(.badProducerSlot(slot: n, state: state))
            }
            // A dead holder's claim still ahead of the front is the settlers' (SPEC.md §18.7).
            if try slot.checkedClaimState() != RingLayout.claimIdle, try !claimIsBehindFront(slot) {
                unlockProducerSlot(slot)
                continue
            }
            // seq_cst: closers of the stream look for ACTIVE slots after their own FREE store (SPEC.md §18.8).
            slot.state.store(RingLayout.producerSlotActive, ordering: .sequentiallyConsistent)
            slot.claimState.store(RingLayout.claimIdle, ordering: .relaxed)
            clearHeld(slot)
            // A holder that died asleep left its count in writerWaiters (SPEC.md §18.2).
            // seq_cst: as the waiter count itself.
            if slot.sleeping.exchange(0, ordering: .sequentiallyConsistent) != 0 {
                spaceChannel.waiters.wrappingDecrement(ordering: .sequentiallyConsistent)
            }
            return slot
        }
        throw .busy(.producer)
    }

    /// Gives a producer's slot up (closing the producer): FREE, then the lock.
    func releaseProducerSlot(_ slot: ProducerSlot) {
        if isInherited { return }
        // seq_cst: pairs with the seq_cst loads of closers and takers (SPEC.md §18.8).
        slot.state.store(RingLayout.producerSlotFree, ordering: .sequentiallyConsistent)
        unlockProducerSlot(slot)
        // A producer waiting for room may now find the HELD claim of this slot released.
        WaitWord.signalIfWaiting(spaceChannel)
    }

    /// Whether the claim slot `slot` names starts behind producerPosition (it is published).
    func claimIsBehindFront(_ slot: ProducerSlot) throws(RingError) -> Bool {
        // acquire: pairs with the seq_cst CAS of producerPosition by publishers.
        let front = producerPosition.load(ordering: .acquiring)
        // relaxed: ordered after the seq_cst claimState load of the caller.
        let start = slot.claimStart.load(ordering: .relaxed)
        let end = slot.claimEnd.load(ordering: .relaxed)
        // Published when the front is at or past its end (positions mod 2^64, within a ring).
        let passed = front &- start
        return passed >= end &- start && passed < 1 << 62
    }

    /// Clears bit `slot` of heldClaims.
    func clearHeld(_ slot: ProducerSlot) {
        // seq_cst: pairs with the fetch-or of a settler (SPEC.md §18.7 step 4).
        _ = heldClaims.loadThenBitwiseAnd(with: ~(UInt32(1) << UInt32(slot.number)), ordering: .sequentiallyConsistent)
    }

    /// Whether a claim ending at `end` would reuse bytes of a HELD claim (SPEC.md §18.4
    /// step 1). A HELD claim whose holder died after it was published is released on the way.
    func heldClaimInTheWay(end: UInt64) throws(RingError) -> Bool {
        // acquire: pairs with the settler's seq_cst fetch-or before it cancels.
        let held = heldClaims.load(ordering: .acquiring)
        guard held != 0 else { return false }
        for n in 0..<geometry.producerSlots where held & (UInt32(1) << UInt32(n)) != 0 {
            let slot = producerSlot(n)
            guard try slot.checkedClaimState() == RingLayout.claimHeld else {
                clearHeld(slot) // the holder reset it: its bit is stale
                continue
            }
            if !isLive(slot), try claimIsBehindFront(slot) {
                // Nobody can store into it any more: release it (SPEC.md §18.7 step 5).
                // seq_cst: as the settler's CAS that set HELD.
                if slot.claimState.compareExchange(expected: RingLayout.claimHeld, desired: RingLayout.claimIdle,
                                                   ordering: .sequentiallyConsistent).exchanged { clearHeld(slot) }
                continue
            }
            // relaxed: after the seq_cst claimState load.
            let start = slot.claimStart.load(ordering: .relaxed)
            let distance = end &- start
            if distance > UInt64(geometry.capacity) && distance < 1 << 62 { return true }
        }
        return false
    }

    /// The producer table as it is now (`Ring.producers()`).
    func producerInfos() throws(RingError) -> [ProducerInfo] {
        guard geometry.hasProducers else { return [] }
        var out: [ProducerInfo] = []
        for n in 0..<geometry.producerSlots {
            let slot = producerSlot(n)
            // seq_cst: as in takeProducerSlot.
            let state = slot.state.load(ordering: .sequentiallyConsistent)
            guard state <= RingLayout.producerSlotActive else { throw .corrupt(.badProducerSlot(slot: n, state: state)) }
            let claim = try slot.checkedClaimState()
            guard state == RingLayout.producerSlotActive || claim != RingLayout.claimIdle else { continue }
            // An intent whose claim is published already (its producer died after committing) is no
            // claim; a HELD one is shown while its bytes are held, published (as cancelled) or not.
            let published = try claimIsBehindFront(slot)
            let claiming = claim == RingLayout.claimHeld || (claim == RingLayout.claimIntent && !published)
            out.append(ProducerInfo(
                slot: n, isLive: isLive(slot),
                claimStart: claiming ? slot.claimStart.load(ordering: .relaxed) : nil,
                isHeld: claim == RingLayout.claimHeld,
                committedCount: slot.committedCount.load(ordering: .relaxed),
                cancelledCount: slot.cancelledCount.load(ordering: .relaxed)))
        }
        return out
    }
}
