// Liveness.swift - whether the other side is alive (SPEC.md §22.1): a role is
// held by a live process when a write lock stands on its role byte, or only a
// read lock stands there and its owner word names a running process (§11.4); a
// ring with producers has a live producer when a producer slot is live (§18.2),
// a ring with readers a live consumer when a reader slot is (§17.4). A consumer
// that stops when the producer is gone judges death first and emptiness after:
// a dead producer commits nothing more, so a ring drained after its death stays so.

import Atomics
import CRingSys

/// How often a waiting consumer probes the producer's liveness, at most, while the
/// producer was alive at the last probe (SPEC.md §22.1): one wait slice.
let livenessProbeIntervalNanoseconds: UInt64 = 100_000_000

/// The last liveness probe of a consumer that stops when the producer is gone: a live
/// verdict is trusted for one probe interval, a dead one is probed again at each ask.
struct LivenessWatch {
    var probedAt: UInt64 = 0
    var alive = false

    /// Whether the producer is gone, probing at most once per interval while it lives.
    mutating func producerGone(_ storage: RingStorage) throws(RingError) -> Bool {
        let now = SystemCalls.monotonicNanoseconds()
        if alive && now &- probedAt < livenessProbeIntervalNanoseconds { return false }
        probedAt = now
        alive = try storage.producerAlive()
        return !alive
    }
}

extension RingStorage {
    /// Whether a live process holds `role` (SPEC.md §11.4): this open, a write lock on the
    /// role byte, or an owner word naming a running process.
    /// - Throws: `system` if the lock cannot be probed.
    func roleIsAlive(_ role: RingRole) throws(RingError) -> Bool {
        let status = try roleStatus(role)
        return status.isLocked || status.ownerRunning
    }

    /// Whether a live producer may still write (SPEC.md §22.1): the producer role held by a
    /// live process, or in a ring with producers a live producer slot.
    func producerAlive() throws(RingError) -> Bool {
        guard geometry.hasProducers else { return try roleIsAlive(.producer) }
        for n in 0..<geometry.producerSlots where isLive(producerSlot(n)) { return true }
        return false
    }

    /// Whether a live consumer reads (SPEC.md §22.1): the consumer role held by a live
    /// process, or in a ring with readers a live reader slot.
    func consumerAlive() throws(RingError) -> Bool {
        guard geometry.hasReaders else { return try roleIsAlive(.consumer) }
        for n in 0..<geometry.readerSlots where isLive(readerSlot(n)) { return true }
        return false
    }
}

extension Ring {
    /// Whether a live process can still write to the ring (SPEC.md §22.1): the producer
    /// role (a byte or a typed ring's) is held by a live process — a write lock on its role
    /// byte, or only a read lock while the owner word names a running process (§11.4) —
    /// or, in a ring with producers, at least one producer slot is live. A producer of this
    /// ring handle's own open counts. A killed producer is not alive: the kernel dropped
    /// its lock. One probe: `fcntl(F_OFD_GETLK)` per role byte or slot, and a look at
    /// `/proc` for an owner word.
    /// - Throws: `closed`, `forked`, `system` if a lock cannot be probed.
    public var producerAlive: Bool {
        get throws(RingError) {
            guard !isClosed else { throw .closed }
            try storage.checkProcess()
            return try storage.producerAlive()
        }
    }

    /// Whether a live process reads the ring (SPEC.md §22.1): the consumer role (a byte or
    /// a typed ring's) held by a live process, or, in a ring with readers, at least one
    /// live reader slot (a durable reader that closed or died is not live). As `producerAlive`.
    /// - Throws: `closed`, `forked`, `system` if a lock cannot be probed.
    public var consumerAlive: Bool {
        get throws(RingError) {
            guard !isClosed else { throw .closed }
            try storage.checkProcess()
            return try storage.consumerAlive()
        }
    }
}

extension RingConsumer {
    /// With `stopsWhenProducerGone`, after a read found nothing: whether the producer is gone
    /// and nothing is left to read (SPEC.md §22.1). Death is judged first, then the ring is
    /// looked at again (with producers: after settling the claims at the front, which may
    /// publish a dead producer's committed messages), so no committed message is lost.
    func producerIsGone() throws(RingError) -> Bool {
        guard try producerWatch.producerGone(storage) else { return false }
        if geometry.hasProducers {
            for _ in 0..<(geometry.producerSlots + 1) {
                // relaxed: only whether the front moved.
                let before = storage.producerPosition.load(ordering: .relaxed)
                try storage.settleFront(&frontWatch)
                if storage.producerPosition.load(ordering: .relaxed) == before { break }
            }
        }
        guard try next().record == nil else { return false }
        // acquire: pairs with closeWriter's release store; a stream closed before the death
        // ends with endOfStream, not producerGone.
        guard storage.writerState.load(ordering: .acquiring) == RingLayout.writerStateOpen else { return false }
        // The ring is drained and no producer is alive: the count is 0 (SPEC.md §22.3).
        if countsConsumed { consumed = storage.storeConsumed(unread: 0, current: consumed) }
        return true
    }
}

extension ItemConsumer {
    /// As `RingConsumer.producerIsGone`, for a typed ring.
    func producerIsGone() throws(RingError) -> Bool {
        guard try producerWatch.producerGone(storage) else { return false }
        guard try available().count == 0 else { return false }
        // acquire: pairs with ItemProducer.closeWriter's release store.
        return storage.writerState.load(ordering: .acquiring) == RingLayout.writerStateOpen
    }
}
