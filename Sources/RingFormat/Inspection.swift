// Inspection.swift - what an operator sees of a ring beyond its positions:
// who holds the roles and whether they are alive (SPEC.md §11), who sleeps
// (SPEC.md §10), and observers that read without consuming (Observer.swift).
// Nothing here writes to the file.

import Atomics
import CRingSys

/// Who holds one role of a ring, as the lock on its role byte and its owner
/// word show it (SPEC.md §11.1, §11.4).
public struct RoleStatus: Sendable, Equatable {
    /// The role.
    public let role: RingRole
    /// A write lock stands on the role byte (or this process holds the role
    /// through the same ring handle): a live process holds the role. The kernel
    /// drops the lock when its holder dies, so a killed holder is not counted.
    public let isLocked: Bool
    /// The process id in the owner word, or nil when the word is 0 (nobody
    /// claimed the role, or its last holder gave it up).
    public let ownerPID: Int32?
    /// The owner word names a process that still runs (same pid, same start time).
    public let ownerRunning: Bool

    /// Whether a live process holds the role.
    public var isHeld: Bool { isLocked }
    /// The owner word names a process that is gone: the holder died without
    /// giving the role up (the next taker clears it).
    public var isStale: Bool { ownerPID != nil && !ownerRunning && !isLocked }
}

/// The waiter counts of the wait line (SPEC.md §3.4), as read once.
public struct RingWaiters: Sendable, Equatable {
    /// Consumer threads sleeping, or about to sleep, on dataSignal.
    public let readers: UInt32
    /// Producer threads sleeping, or about to sleep, on spaceSignal.
    public let writers: UInt32
}

extension Ring {
    /// Who holds `role`, and whether that process is alive.
    /// - Throws: `closed`, `forked`, `system` if the lock cannot be probed.
    public func roleStatus(_ role: RingRole) throws(RingError) -> RoleStatus {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        return try storage.roleStatus(role)
    }

    /// The waiter counts of the wait line. Untrusted values, shown as read.
    public func waiters() throws(RingError) -> RingWaiters {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        // relaxed: statistics; nothing is derived from them.
        return RingWaiters(readers: storage.dataChannel.waiters.load(ordering: .relaxed),
                           writers: storage.spaceChannel.waiters.load(ordering: .relaxed))
    }

    /// An observer that reads the unread messages without consuming them and
    /// without a role (`RingObserver`), starting at the oldest.
    public func makeObserver() throws(RingError) -> RingObserver {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        return try RingObserver(storage: storage)
    }
}

extension RingStorage {
    /// Probes `role`'s lock byte (F_OFD_GETLK, or F_GETLK with classic locks) and reads its owner word.
    func roleStatus(_ role: RingRole) throws(RingError) -> RoleStatus {
        let ours = (role == .producer ? producerTaken : consumerTaken).load(ordering: .relaxed)
        let offset = Int64(role == .producer ? RingLayout.producerLockOffset : RingLayout.consumerLockOffset)
        let holder = ringsys_lock_holder(fd.rawValue, offset, 1, classicLocks)
        guard holder >= 0 else {
            throw .system(operation: "fcntl(F_OFD_GETLK) on \(path)", errno: -holder)
        }
        // acquire: pairs with the release CAS with which a holder gives the word up (claimOwner/releaseRole).
        let token = ownerWord(role).load(ordering: .acquiring)
        let pid = token == 0 ? nil : Int32(truncatingIfNeeded: token >> 32)
        return RoleStatus(role: role, isLocked: ours || holder == 2, ownerPID: pid,
                          ownerRunning: token != 0 && ringsys_process_alive(token) != 0)
    }
}

extension Ring {
    /// The version of this build of the package, from the file VERSION ("1.0.0").
    public static var libraryVersion: String { String(cString: ringsys_version()) }
}
