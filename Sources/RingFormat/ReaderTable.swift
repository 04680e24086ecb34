// ReaderTable.swift - the reader table of a 1.1 ring (SPEC.md §17): its slots
// as atomic views into the mapping, taking and giving up a slot, whether a
// slot's reader is alive, and the producer's limit (the slowest live gating
// reader). Every value read from a slot is untrusted: loaded once, checked,
// then used; a bad slot gives CORRUPT, never a bad access.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// How a reader starts when it joins (SPEC.md §17.5).
public enum ReaderStart: Sendable, Equatable {
    /// At the oldest message still in the ring.
    case oldest
    /// After the newest message: only messages committed from now on.
    case newest
}

/// How a reader joins a ring (SPEC.md §17.5).
public struct ReaderOptions: Sendable, Equatable {
    /// A name makes the reader durable: its slot and cursor stay when it closes
    /// or dies, and a reader that joins with the same name resumes there.
    /// At most 63 bytes of UTF-8. nil: an anonymous reader.
    public var name: String?
    /// A gating reader holds the producer back under reject-when-full: nothing is
    /// reclaimed before it read it. A lapping one never does (and counts what it
    /// missed). Under overwrite-oldest every reader is lapping.
    public var gating: Bool
    /// Where a new reader starts (a durable reader that comes back resumes instead).
    public var start: ReaderStart
    /// How long a durable gating reader that died still holds the producer back
    /// (SPEC.md §17.7); 0 stops it gating as soon as the producer finds it dead.
    public var gateTimeout: Duration

    /// Options: anonymous unless `name`, gating, from the oldest message, a 10 s gate timeout.
    public init(name: String? = nil, gating: Bool = true, start: ReaderStart = .oldest,
                gateTimeout: Duration = .seconds(10)) {
        self.name = name
        self.gating = gating
        self.start = start
        self.gateTimeout = gateTimeout
    }
}

/// One reader of a ring as the reader table shows it (`Ring.readers()`).
public struct ReaderInfo: Sendable, Equatable {
    /// The slot number.
    public let slot: Int
    /// The reader's name; nil for an anonymous reader.
    public let name: String?
    /// Whether it gates the producer.
    public let isGating: Bool
    /// Whether it is durable (named).
    public let isDurable: Bool
    /// Whether a live process holds the slot (a durable reader may be away).
    public let isLive: Bool
    /// The position of the next record it reads.
    public let cursor: UInt64
    /// Bytes between its cursor and producerPosition (0 if it was lapped to nothing).
    public let lagBytes: UInt64
    /// Messages it missed because the producer lapped it.
    public let missedCount: UInt64
}

/// Atomic views of one reader slot (SPEC.md §17.4).
struct ReaderSlot {
    /// The slot number.
    let number: Int
    /// File offset of the slot (also its lock byte).
    let offset: Int
    let cursor: UnsafeAtomic<UInt64>
    let resumeIndex: UnsafeAtomic<UInt64>
    let state: UnsafeAtomic<UInt32>
    let flags: UnsafeAtomic<UInt32>
    let owner: UnsafeAtomic<UInt64>
    let missedCount: UnsafeAtomic<UInt64>
    let gateTimeoutMs: UnsafeAtomic<UInt32>
    let sleeping: UnsafeAtomic<UInt32>
    /// The 64 name bytes.
    let name: UnsafeMutableRawPointer

    init(base: UnsafeMutableRawPointer, number: Int) {
        self.number = number
        offset = RingLayout.readerTableOffset + number * RingLayout.readerSlotSize
        let slot = base + offset
        func a64(_ f: FieldLayout) -> UnsafeAtomic<UInt64> { RingStorage.atomic64(slot, f) }
        func a32(_ f: FieldLayout) -> UnsafeAtomic<UInt32> { RingStorage.atomic32(slot, f) }
        cursor = a64(RingLayout.ReaderSlot.cursor)
        resumeIndex = a64(RingLayout.ReaderSlot.resumeIndex)
        state = a32(RingLayout.ReaderSlot.state)
        flags = a32(RingLayout.ReaderSlot.flags)
        owner = a64(RingLayout.ReaderSlot.owner)
        missedCount = a64(RingLayout.ReaderSlot.missedCount)
        gateTimeoutMs = a32(RingLayout.ReaderSlot.gateTimeoutMs)
        sleeping = a32(RingLayout.ReaderSlot.sleeping)
        name = slot + RingLayout.ReaderSlot.name.offset
    }

    /// The name bytes up to the first NUL, loaded one byte at a time (relaxed): a
    /// peer may rewrite them meanwhile; the result is only compared or shown.
    func loadName() -> [UInt8] {
        var bytes: [UInt8] = []
        for i in 0..<(RingLayout.ReaderSlot.name.size - 1) {
            let b = UInt8.AtomicRepresentation.atomicLoad(
                at: (name + i).assumingMemoryBound(to: UInt8.AtomicRepresentation.self), ordering: .relaxed)
            if b == 0 { break }
            bytes.append(b)
        }
        return bytes
    }

    /// Writes `bytes` (at most 63) and NULs after them.
    func storeName(_ bytes: [UInt8]) {
        for i in 0..<RingLayout.ReaderSlot.name.size {
            let b: UInt8 = i < bytes.count ? bytes[i] : 0
            UInt8.AtomicRepresentation.atomicStore(
                b, at: (name + i).assumingMemoryBound(to: UInt8.AtomicRepresentation.self), ordering: .relaxed)
        }
    }

    /// The slot's state, checked (SPEC.md §17.4).
    func checkedState() throws(RingError) -> UInt32 {
        // seq_cst: pairs with the seq_cst store of state at join and leave. Acquire would make
        // the fields written before it (flags, name, cursor) visible, but the producer's
        // limit needs the total order: a joiner stores state, then loads reclaimSequence;
        // the producer increments reclaimSequence, then loads state (SPEC.md §17.7).
        let s = state.load(ordering: .sequentiallyConsistent)
        guard s == RingLayout.readerSlotFree || s == RingLayout.readerSlotActive else {
            throw .corrupt(.badReaderSlot(slot: number, state: s))
        }
        return s
    }
}

extension RingStorage {
    /// Slot `number` of the reader table (requires number < geometry.readerSlots).
    func readerSlot(_ number: Int) -> ReaderSlot {
        ReaderSlot(base: base, number: number)
    }

    /// Whether a live reader holds `slot` (SPEC.md §17.4): one of this open's own
    /// readers, or a write lock on its lock byte, or a read lock while its owner runs.
    func isLive(_ slot: ReaderSlot) -> Bool {
        isSlotLive(lockOffset: slot.offset, owner: slot.owner, takenHere: readerTaken[slot.number])
    }

    /// Takes `slot` for a reader of this open (see `takeSlotLock`). Returns false if
    /// someone else holds it.
    func takeSlot(_ slot: ReaderSlot) throws(RingError) -> Bool {
        try takeSlotLock(lockOffset: slot.offset, owner: slot.owner, takenHere: readerTaken[slot.number],
                         name: "reader slot \(slot.number)")
    }

    /// Whether a live process holds the table slot whose lock byte is at `lockOffset`:
    /// this open (`takenHere`), or a write lock on the byte, or a read lock while the
    /// slot's `owner` token names a running process (SPEC.md §17.4, §18.2).
    func isSlotLive(lockOffset: Int, owner: UnsafeAtomic<UInt64>, takenHere: ManagedAtomic<Bool>) -> Bool {
        if takenHere.load(ordering: .relaxed) { return true }
        let holder = ringsys_lock_holder(fd.rawValue, Int64(lockOffset), 1, classicLocks)
        if holder == 2 { return true }
        // acquire: pairs with the release CAS with which a holder gives the word up.
        let token = owner.load(ordering: .acquiring)
        if holder == 1 { return token != 0 && ringsys_process_alive(token) != 0 }
        // An error of the probe (not expected): count the slot as live, the safe side.
        return holder < 0
    }

    /// Takes a table slot for this open: the in-process flag, the lock byte and the owner
    /// word, as a role is taken (SPEC.md §11.1, §11.4). Returns false if someone else holds it.
    func takeSlotLock(lockOffset: Int, owner: UnsafeAtomic<UInt64>, takenHere flag: ManagedAtomic<Bool>,
                      name: String) throws(RingError) -> Bool {
        guard flag.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        let offset = Int64(lockOffset)
        var locked = false
        let rc = ringsys_lock_range(fd.rawValue, offset, 1, classicLocks)
        if rc == 0 {
            locked = true
        } else if rc == -EAGAIN {
            // Only a read lock in the way: the owner word decides (SPEC.md §11.4).
            if ringsys_lock_holder(fd.rawValue, offset, 1, classicLocks) != 1 {
                flag.store(false, ordering: .releasing)
                return false
            }
        } else {
            flag.store(false, ordering: .releasing)
            throw .system(operation: "fcntl(F_OFD_SETLK) on \(name) of \(path)", errno: -rc)
        }
        let mine = ringsys_process_token()
        for _ in 0..<16 {
            // acquire: pairs with the release CAS of a previous holder in releaseSlotLock.
            let current = owner.load(ordering: .acquiring)
            if current != 0 && current != mine && !locked && ringsys_process_alive(current) != 0 { break }
            // acq_rel: one of several takers of a dead holder's slot wins.
            if owner.compareExchange(expected: current, desired: mine, ordering: .acquiringAndReleasing).exchanged {
                return true
            }
        }
        if locked { _ = ringsys_unlock_range(fd.rawValue, offset, 1, classicLocks) }
        flag.store(false, ordering: .releasing)
        return false
    }

    /// Gives back a slot taken with `takeSlotLock`: the owner word, the lock, the flag.
    func releaseSlotLock(lockOffset: Int, owner: UnsafeAtomic<UInt64>, takenHere: ManagedAtomic<Bool>) {
        // release: pairs with the acquire load of the next taker in takeSlotLock.
        _ = owner.compareExchange(expected: ringsys_process_token(), desired: 0, ordering: .releasing)
        _ = ringsys_unlock_range(fd.rawValue, Int64(lockOffset), 1, classicLocks)
        takenHere.store(false, ordering: .releasing)
    }

    /// Gives back a slot taken with `takeSlot`; `free` also marks it FREE (an
    /// anonymous reader, or a durable one giving its name up). In a process that
    /// inherited the file across fork() nothing is touched (SPEC.md §11.3).
    func releaseSlot(_ slot: ReaderSlot, free: Bool) {
        if isInherited { return }
        // seq_cst: pairs with the seq_cst loads of state (ReaderSlot.checkedState).
        if free { slot.state.store(RingLayout.readerSlotFree, ordering: .sequentiallyConsistent) }
        releaseSlotLock(lockOffset: slot.offset, owner: slot.owner, takenHere: readerTaken[slot.number])
        // A producer waiting for this (gating) reader may go on now, or start its gate timeout.
        WaitWord.signalIfWaiting(spaceChannel)
    }

    /// The reader table as it is now (`Ring.readers()`).
    func readerInfos() throws(RingError) -> [ReaderInfo] {
        guard geometry.hasReaders else { return [] }
        // acquire: pairs with the producer's seq_cst store of producerPosition.
        let head = producerPosition.load(ordering: .acquiring)
        var out: [ReaderInfo] = []
        for n in 0..<geometry.readerSlots {
            let slot = readerSlot(n)
            guard try slot.checkedState() == RingLayout.readerSlotActive else { continue }
            let flags = slot.flags.load(ordering: .relaxed)
            let cursor = slot.cursor.load(ordering: .acquiring)
            let name = slot.loadName()
            let lag = head &- cursor
            out.append(ReaderInfo(
                slot: n, name: name.isEmpty ? nil : String(decoding: name, as: UTF8.self),
                isGating: flags & RingLayout.readerFlagGating != 0, isDurable: flags & RingLayout.readerFlagDurable != 0,
                isLive: isLive(slot), cursor: cursor, lagBytes: lag <= UInt64(geometry.capacity) ? lag : 0,
                missedCount: slot.missedCount.load(ordering: .relaxed)))
        }
        return out
    }
}

/// The producer's view of the gating readers (SPEC.md §17.7): which dead ones it
/// stopped counting, and when it last probed each slot. Private to the producer.
struct GateKeeper {
    /// When the producer last probed a slot's liveness, and what it found.
    struct Probe {
        var owner: UInt64
        var checkedAt: UInt64
        var deadSince: UInt64?
    }
    var probes: [Int: Probe] = [:]

    /// Slots are probed at most this often while they hold the producer back.
    static let probeIntervalNanoseconds: UInt64 = 10_000_000

    /// The lowest position the producer may not reclaim past: producerPosition
    /// `head`, lowered to the cursor of each gating reader within [tail, head] that
    /// counts (live, or dead but durable within its gate timeout), and how many
    /// bytes past `tail` it is. `needed` is the room the producer wants: only a
    /// slot whose cursor keeps it from that room is probed for liveness.
    mutating func limit(_ storage: RingStorage, head: UInt64, tail: UInt64, want: UInt64) throws(RingError) -> UInt64 {
        let g = storage.geometry
        var limit = head
        for n in 0..<g.readerSlots {
            let slot = storage.readerSlot(n)
            guard try slot.checkedState() == RingLayout.readerSlotActive else { continue }
            let flags = slot.flags.load(ordering: .relaxed)
            guard flags & RingLayout.readerFlagGating != 0 else { continue }
            // seq_cst: pairs with the reader's seq_cst cursor store (SPEC.md §17.5 step 5, §17.7).
            let cursor = slot.cursor.load(ordering: .sequentiallyConsistent)
            guard cursor & UInt64(RingLayout.recordAlignment - 1) == 0 else {
                throw .corrupt(.badReaderCursor(slot: n, cursor: cursor))
            }
            let ahead = cursor &- head
            if ahead != 0 && ahead < 1 << 63 {
                // With several producers our head is a snapshot the reader may have read past.
                if g.hasProducers && ahead <= UInt64(g.capacity) { continue }
                throw .corrupt(.badReaderCursor(slot: n, cursor: cursor))
            }
            // Behind tailPosition: it joined or was lapped and moves to tailPosition itself.
            guard cursor &- tail <= head &- tail, cursor &- tail < limit &- tail else { continue }
            if cursor &- tail < want {
                let holdsUsBack = try counts(storage, slot, flags: flags)
                if !holdsUsBack { continue }
            }
            limit = cursor
        }
        return limit
    }

    /// Whether a gating reader in the way still holds the producer back: a live one
    /// does; a dead anonymous one does not; a dead durable one does until its gate
    /// timeout has passed since the producer first found it dead.
    ///
    /// Only a verdict of "alive" is reused (for at most probeIntervalNanoseconds: it errs
    /// on the safe side). A slot found dead is probed again at every reclaim it stands in
    /// the way of, so a reader that took it over meanwhile — even one of the same
    /// process, with the same owner token — is never taken for the dead one (SPEC.md §17.7).
    mutating func counts(_ storage: RingStorage, _ slot: ReaderSlot, flags: UInt32) throws(RingError) -> Bool {
        let now = SystemCalls.monotonicNanoseconds()
        // acquire: pairs with the owner CAS of a reader taking the slot.
        let owner = slot.owner.load(ordering: .acquiring)
        var probe = probes[slot.number] ?? Probe(owner: owner, checkedAt: 0, deadSince: nil)
        if probe.owner != owner { probe = Probe(owner: owner, checkedAt: 0, deadSince: nil) }
        let aliveRecently = probe.checkedAt != 0 && probe.deadSince == nil
            && now &- probe.checkedAt < Self.probeIntervalNanoseconds
        if !aliveRecently {
            probe.checkedAt = now
            if storage.isLive(slot) {
                probe.deadSince = nil
            } else if probe.deadSince == nil {
                probe.deadSince = now
            }
        }
        probes[slot.number] = probe
        guard let since = probe.deadSince else { return true }
        guard flags & RingLayout.readerFlagDurable != 0 else { return false }
        let timeout = UInt64(slot.gateTimeoutMs.load(ordering: .relaxed)) &* 1_000_000
        return now &- since < timeout
    }
}
