// Storage.swift - one open ring file: its descriptor, its mapping, the
// validated geometry and atomic views of the shared header words. Shared by
// a Ring and the producer and consumer made from it; unmapped when the last
// of them goes away.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

final class RingStorage: @unchecked Sendable {
    let path: RingPath
    let fd: FileDescriptor
    let base: UnsafeMutableRawPointer
    let geometry: RingGeometry
    /// First byte of the data region (base + headerSize).
    let data: UnsafeMutableRawPointer
    /// Whether the data region is mapped a second time right after the first (SPEC.md §20.1):
    /// then data[x] and data[x + capacity] are the same byte.
    let isDoubleMapped: Bool
    /// Bytes mapped at base: headerSize + capacity, or headerSize + 2 * capacity double-mapped.
    let mappedLength: Int
    /// A typed ring's type description as a C string, for the C ABI; nil for byte rings.
    let itemTypeCString: UnsafeMutablePointer<CChar>?

    // Atomic views of the mutable header words (SPEC.md §3.2-§3.4).
    let producerPosition: UnsafeAtomic<UInt64>
    let droppedCount: UnsafeAtomic<UInt64>
    let writerState: UnsafeAtomic<UInt32>
    let consumerPosition: UnsafeAtomic<UInt64>
    /// consumedCount (COMPAT_COUNTS rings, SPEC.md §22.2): written by the consumer only.
    let consumedCount: UnsafeAtomic<UInt64>
    /// dataSignal + readerWaiters: the consumer sleeps here, the producer wakes it.
    let dataChannel: WaitChannel
    /// spaceSignal + writerWaiters: the producer sleeps here, the consumer wakes it.
    let spaceChannel: WaitChannel

    /// Set (by the SIGBUS guard in CRingSys) when an access hit a page past the
    /// end of the file: a peer truncated it. Private memory, not in the file.
    let truncationFlag: UnsafeAtomic<Int32>
    private let truncationWord: UnsafeMutablePointer<Int32.AtomicRepresentation>
    /// The SIGBUS guard's slot for this mapping (nil: unguarded, and so unusable).
    let guardSlot: UnsafeMutableRawPointer?

    /// Roles taken through this open file description (the OFD lock cannot
    /// tell two handles of the same description apart, so these do).
    let producerTaken = ManagedAtomic<Bool>(false)
    let consumerTaken = ManagedAtomic<Bool>(false)
    /// Reader slots taken through this open file description, one flag per slot (SPEC.md §17.4).
    let readerTaken: [ManagedAtomic<Bool>]
    /// nextIndex and reclaimSequence (rings with readers, SPEC.md §17.2, §17.3).
    let nextIndexWord: UnsafeAtomic<UInt64>
    let reclaimSequence: UnsafeAtomic<UInt32>
    /// claimPosition, heldClaims and reclaimOwner (rings with producers, SPEC.md §18.1).
    let claimPosition: UnsafeAtomic<UInt64>
    let heldClaims: UnsafeAtomic<UInt32>
    let reclaimOwner: UnsafeAtomic<UInt32>
    /// Producer slots taken through this open file description, one flag per slot (SPEC.md §18.2).
    let producerSlotTaken: [ManagedAtomic<Bool>]
    /// An odd reclaimSequence (+ 1) seen with no reclaimOwner, and since when (reclaimerIsLive).
    let ownerlessSequence = ManagedAtomic<UInt64>(0)
    let ownerlessSince = ManagedAtomic<UInt64>(0)

    /// The fork generation of the process that opened the file (SPEC.md §11.3):
    /// in a child of fork() every handle made from it fails with `forked`.
    let forkGeneration: UInt32
    /// Whether role locks on this file are classic POSIX locks (SPEC.md §11.2), not OFD locks.
    let classicLocks: Int32

    /// Snapshots that see consumerPosition change this many times in a row give
    /// up with `corrupt(.positionsUnstable)` (SPEC.md §13).
    static let snapshotAttempts = 10_000

    /// Takes ownership of `fd`: validates the header it holds and maps the file, twice over
    /// its data region if `mapping` asks for it and the host allows (SPEC.md §20.1).
    init(path: RingPath, fd: FileDescriptor, mapping: RingMapping = .automatic) throws(RingError) {
        var doubled = false
        do throws(RingError) {
            // SPEC.md §13: a directory is SYSTEM(EISDIR), any other non-regular file SYSTEM(EINVAL).
            let size: Int
            do throws(RingError) { size = try fd.regularFileSize() } catch .system(let operation, let code) {
                throw RingError.system(operation: "\(operation) \(path)", errno: code)
            }
            // Read the header once into private memory; validate that copy.
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: RingLayout.minHeaderSize, alignment: 8)
            defer { copy.deallocate() }
            let got = try fd.read(into: copy, at: 0)
            if got < RingLayout.minHeaderSize {
                throw RingError.corrupt(.truncated(fileSize: size, expected: RingLayout.minHeaderSize))
            }
            let geometry = try Header.validate(UnsafeRawBufferPointer(copy), fileSize: size)
            self.geometry = geometry
            let wantDouble = mapping == .double || (mapping == .automatic && geometry.isTyped)
            if wantDouble, let twice = fd.mapDouble(headerSize: geometry.headerSize, capacity: geometry.capacity) {
                self.base = twice
                doubled = true
            } else {
                self.base = try fd.mapShared(length: geometry.fileSize)
            }
        } catch {
            fd.close()
            throw error
        }
        self.path = path
        self.fd = fd
        self.isDoubleMapped = doubled
        if let type = geometry.itemType {
            let text = Array(type.description.utf8CString)
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: text.count)
            copy.initialize(from: text, count: text.count)
            itemTypeCString = copy
        } else {
            itemTypeCString = nil
        }
        self.mappedLength = doubled ? geometry.fileSize + geometry.capacity : geometry.fileSize
        self.forkGeneration = ringsys_fork_generation()
        self.classicLocks = ringsys_classic_locks()
        self.data = base + geometry.headerSize
        let base = self.base
        truncationWord = .allocate(capacity: 1)
        truncationWord.initialize(to: Int32.AtomicRepresentation(0))
        truncationFlag = UnsafeAtomic(at: truncationWord)
        guardSlot = ringsys_guard_mapping(base, mappedLength,
                                          UnsafeMutableRawPointer(truncationWord).assumingMemoryBound(to: Int32.self))
        producerPosition = RingStorage.atomic64(base, RingLayout.Header.producerPosition)
        droppedCount = RingStorage.atomic64(base, RingLayout.Header.droppedCount)
        writerState = RingStorage.atomic32(base, RingLayout.Header.writerState)
        consumerPosition = RingStorage.atomic64(base, RingLayout.Header.consumerPosition)
        consumedCount = RingStorage.atomic64(base, RingLayout.Header.consumedCount)
        dataChannel = RingStorage.channel(base, RingLayout.Header.dataSignal, RingLayout.Header.readerWaiters)
        spaceChannel = RingStorage.channel(base, RingLayout.Header.spaceSignal, RingLayout.Header.writerWaiters)
        readerTaken = (0..<geometry.readerSlots).map { _ in ManagedAtomic(false) }
        nextIndexWord = RingStorage.atomic64(base, RingLayout.Header.nextIndex)
        reclaimSequence = RingStorage.atomic32(base, RingLayout.Header.reclaimSequence)
        claimPosition = RingStorage.atomic64(base, RingLayout.Header.claimPosition)
        heldClaims = RingStorage.atomic32(base, RingLayout.Header.heldClaims)
        reclaimOwner = RingStorage.atomic32(base, RingLayout.Header.reclaimOwner)
        producerSlotTaken = (0..<geometry.producerSlots).map { _ in ManagedAtomic(false) }
    }

    static func atomic64(_ base: UnsafeMutableRawPointer, _ f: FieldLayout) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: (base + f.offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    static func atomic32(_ base: UnsafeMutableRawPointer, _ f: FieldLayout) -> UnsafeAtomic<UInt32> {
        UnsafeAtomic(at: (base + f.offset).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    }

    static func channel(_ base: UnsafeMutableRawPointer, _ signal: FieldLayout, _ waiters: FieldLayout) -> WaitChannel {
        WaitChannel(signal: atomic32(base, signal), waiters: atomic32(base, waiters),
                    address: (base + signal.offset).assumingMemoryBound(to: UInt32.self))
    }

    deinit {
        ringsys_unguard_mapping(guardSlot)
        SystemCalls.unmap(base, length: mappedLength)
        itemTypeCString?.deallocate()
        truncationWord.deinitialize(count: 1)
        truncationWord.deallocate()
        fd.close()
    }

    /// Throws `system(EPERM)` unless the file belongs to this process's user and
    /// neither its group nor others may write it (SPEC.md §7.1).
    func checkPrivate() throws(RingError) {
        let (owner, mode) = try fd.ownerAndMode()
        if owner != SystemCalls.effectiveUserID {
            throw .system(operation: "open \(path): the ring belongs to user \(owner), not to this user (allow a shared ring to use it)", errno: EPERM)
        }
        if mode & 0o022 != 0 {
            throw .system(operation: "open \(path): the ring is writable by its group or by others (mode 0o\(String(mode, radix: 8)); allow a shared ring to use it)", errno: EPERM)
        }
    }

    /// Throws `forked` in a process that inherited this file across fork().
    @inline(__always)
    func checkProcess() throws(RingError) {
        if ringsys_fork_generation() != forkGeneration { throw .forked }
    }

    /// True in a process that inherited this file across fork().
    var isInherited: Bool { ringsys_fork_generation() != forkGeneration }

    /// Whether consumerPosition (a ring with readers: tailPosition) has moved past
    /// `start` since the record bytes read before this call were loaded: then the
    /// producer may have overwritten them (SPEC.md §9.2, §17.6).
    @inline(__always)
    func wasReclaimed(since start: UInt64) -> Bool {
        // acquire fence: keeps the plain loads of record bytes before it ahead of the
        // load below, as a seqlock reader must (SPEC.md §8.2, Peeks); an acquire load alone
        // would not on ARM64. Pairs with the producer's CAS in RingProducer.makeRoom
        // (1.0) or its seq_cst store and fence in RingProducer.reclaimForReaders (1.1).
        atomicMemoryFence(ordering: .acquiring)
        // consumerPosition never moves back: it passed start unless start is at or after it.
        return start &- consumerPosition.load(ordering: .relaxed) > UInt64(geometry.capacity)
    }

    /// Takes `role` for this process (SPEC.md §11): the in-process flag, the file
    /// lock, and the role's owner word. A read lock on the role byte (anyone who may
    /// read the file can take one) does not stop us: the owner word, which only
    /// writers can change, decides then (SPEC.md §11.4). Released by `releaseRole`,
    /// or by the kernel (the lock) and the next taker (a dead owner's word) at exit.
    func takeRole(_ role: RingRole) throws(RingError) {
        try checkProcess()
        let flag = role == .producer ? producerTaken : consumerTaken
        guard flag.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw .busy(role)
        }
        let offset = Int64(role == .producer ? RingLayout.producerLockOffset : RingLayout.consumerLockOffset)
        var locked = false
        do throws(RingError) {
            let rc = ringsys_lock_range(fd.rawValue, offset, 1, classicLocks)
            if rc == 0 {
                locked = true
            } else if rc == -EAGAIN {
                // Held by a writer's lock: busy. Only a read lock: someone who may read
                // the file is in the way; the owner word decides.
                let holder = ringsys_lock_holder(fd.rawValue, offset, 1, classicLocks)
                if holder != 1 { throw RingError.busy(role) }
            } else {
                throw RingError.system(operation: "fcntl(F_OFD_SETLK) on \(path)", errno: -rc)
            }
            try claimOwner(role)
        } catch {
            if locked { _ = ringsys_unlock_range(fd.rawValue, offset, 1, classicLocks) }
            flag.store(false, ordering: .releasing)
            throw error
        }
    }

    /// The owner word of `role` (SPEC.md §11.4).
    func ownerWord(_ role: RingRole) -> UnsafeAtomic<UInt64> {
        RingStorage.atomic64(base, role == .producer ? RingLayout.Header.producerOwner : RingLayout.Header.consumerOwner)
    }

    /// Sets the owner word of `role` to this process's token, unless a live process
    /// other than a dead or absent owner holds it.
    func claimOwner(_ role: RingRole) throws(RingError) {
        let word = ownerWord(role)
        let mine = ringsys_process_token()
        for _ in 0..<16 {
            // acquire: pairs with the release CAS below by a previous owner.
            let current = word.load(ordering: .acquiring)
            if current != 0 && ringsys_process_alive(current) != 0 { throw .busy(role) }
            // acq_rel: one of several takers of a dead owner's role wins.
            if word.compareExchange(expected: current, desired: mine, ordering: .acquiringAndReleasing).exchanged {
                return
            }
        }
        throw .busy(role)
    }

    /// Gives back a role taken with `takeRole`. In a process that inherited the
    /// file across fork() nothing is touched: the lock belongs to the open file
    /// description, and the owner word to the process, that took the role (SPEC.md §11.3).
    func releaseRole(_ role: RingRole) {
        if isInherited { return }
        // release: pairs with the acquire load of the next taker in claimOwner.
        // Our token again (not a copy kept from claimOwner: producer and consumer share this
        // object and may be released from two threads).
        _ = ownerWord(role).compareExchange(expected: ringsys_process_token(), desired: 0, ordering: .releasing)
        let offset = role == .producer ? RingLayout.producerLockOffset : RingLayout.consumerLockOffset
        _ = ringsys_unlock_range(fd.rawValue, Int64(offset), 1, classicLocks)
        (role == .producer ? producerTaken : consumerTaken).store(false, ordering: .releasing)
    }

    /// Throws `corrupt(.truncated)` if a peer truncated the file under the mapping.
    @inline(__always)
    func checkNotTruncated() throws(RingError) {
        if truncationFlag.load(ordering: .relaxed) != 0 { throw truncatedError() }
    }

    /// The error for a page of the mapping that faulted: the file shrank under it,
    /// or (still at its full size) a page of a sparse file found no room on disk.
    func truncatedError() -> RingError {
        let size = (try? fd.size()) ?? 0
        if size >= geometry.fileSize {
            return .system(operation: "a page of \(path) could not be stored: the file system is full (the ring file is sparse)", errno: ENOSPC)
        }
        return .corrupt(.truncated(fileSize: size, expected: geometry.fileSize))
    }

    /// Throws `corrupt(.truncated)` if the file is shorter than its mapping now (one
    /// fstat): for waits, which touch no page that would fault (SPEC.md §12).
    func checkFileSize() throws(RingError) {
        try checkNotTruncated()
        let size = try fd.size()
        if size < geometry.fileSize {
            // Remembered: every later operation fails so too (SPEC.md §12), even one that
            // touches no page that would fault.
            truncationFlag.store(1, ordering: .relaxed)
            throw .corrupt(.truncated(fileSize: size, expected: geometry.fileSize))
        }
    }

    /// `error` (a CORRUPT judged from values read from the mapping), unless the file was
    /// truncated under the mapping: then the values were zeros of lost pages, and the error
    /// is truncated (SPEC.md §12). For error paths only: it makes a system call.
    func judged(_ found: RingError) -> RingError {
        do throws(RingError) { try checkFileSize() } catch { return error }   // truncated
        return found
    }

    /// msync of the data region, then of the header (SPEC.md §12): positions
    /// never reach the disk ahead of the records they cover.
    func flush() throws(RingError) {
        try SystemCalls.syncMapping(data, length: geometry.capacity)
        try SystemCalls.syncMapping(base, length: geometry.headerSize)
    }

    /// A consistent snapshot of both positions, checked (SPEC.md §13).
    ///
    /// The two words are written by different sides, so reading one and then
    /// the other can straddle an update. consumerPosition is read before and
    /// after producerPosition; equal reads (positions only grow) mean the pair
    /// existed at one moment. Only a consistent pair is judged corrupt.
    func snapshotPositions() throws(RingError) -> (producer: UInt64, consumer: UInt64) {
        var attempt = 0
        while true {
            // acquire: pairs with the consumer's release store (or either side's CAS) of consumerPosition.
            let c1 = consumerPosition.load(ordering: .acquiring)
            // acquire: pairs with the producer's store in RingProducer.publish.
            let p = producerPosition.load(ordering: .acquiring)
            // acquire: as for c1.
            let c2 = consumerPosition.load(ordering: .acquiring)
            if c1 == c2 {
                do throws(RingError) {
                    try Header.checkPositions(producer: p, consumer: c2, geometry: geometry)
                } catch {
                    throw judged(error)
                }
                return (p, c2)
            }
            // Both sides are busy; let them run.
            attempt += 1
            if attempt == Self.snapshotAttempts { throw .corrupt(.positionsUnstable) }
            if attempt % 64 == 0 { SystemCalls.yield() }
        }
    }
}
