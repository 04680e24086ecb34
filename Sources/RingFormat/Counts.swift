// Counts.swift - how many messages are unread, in O(1) (SPEC.md §22.2): a ring
// with COMPAT_COUNTS keeps nextIndex (messages committed since creation) and
// consumedCount (messages consumed) beside droppedCount, so the count is
// nextIndex - droppedCount - consumedCount, clamped to what the unread bytes can
// hold. The words are untrusted: they are clamped, never used as an index. A
// ring without the flag (an older file, a golden vector) is walked record by record.

import Atomics

/// What one walk over the unread records found (`RingStorage.walkUnread`).
struct UnreadWalk {
    /// producerPosition and consumerPosition of the snapshot walked.
    let producer: UInt64
    let consumer: UInt64
    /// Message records between them, and the sum of their lengths.
    let count: Int
    let payloadBytes: Int
}

extension RingStorage {
    /// Walks the committed records from consumerPosition (tailPosition) to producerPosition,
    /// checking each (SPEC.md §13), and counts the messages. A walk that the producer
    /// overtook (it reclaimed records under it) starts again from a new snapshot.
    /// - Throws: `corrupt` for a record that does not parse and was not reclaimed.
    func walkUnread() throws(RingError) -> UnreadWalk {
        let g = geometry
        // Who may move consumerPosition past records we walk: the overwrite-oldest producer,
        // or, in a ring with readers, the producer under either policy (SPEC.md §17.3).
        let reclaimable = g.policy == .overwriteOldest || g.hasReaders
        var attempts = 0
        while true {
            attempts += 1
            if attempts > RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
            let (p, c) = try snapshotPositions()
            var count = 0
            var position = c
            var payloadBytes = 0
            var reclaimed = false
            while position != p {
                let record: LocatedRecord
                do throws(RingError) {
                    record = try RecordIO.parse(data, at: position, committed: p, geometry: g)
                } catch {
                    try checkNotTruncated()
                    // Under overwrite-oldest the producer may be rewriting these bytes.
                    if reclaimable && wasReclaimed(since: c) {
                        reclaimed = true
                        break
                    }
                    throw error
                }
                position = record.end
                // Only cancelled claims up to the front (rings with producers): no message.
                if record.isSkipOnly { continue }
                count += 1
                payloadBytes += record.length
            }
            // A walk that passed records the producer reclaimed meanwhile counted torn headers.
            if reclaimed || (reclaimable && wasReclaimed(since: c)) { continue }
            return UnreadWalk(producer: p, consumer: c, count: count, payloadBytes: payloadBytes)
        }
    }

    /// The unread messages in O(1) (SPEC.md §22.2), or nil when the ring keeps no counts
    /// (then only a walk tells). Typed rings: the positions count items.
    func countedMessages() throws(RingError) -> Int? {
        if geometry.isTyped {
            let (p, c) = try snapshotPositions()
            return Int(p &- c)
        }
        guard geometry.keepsCounts else { return nil }
        let (p, c) = try snapshotPositions()
        return clampedCount(producer: p, tail: c)
    }

    /// nextIndex - droppedCount - consumedCount (a ring with readers has no consumer:
    /// nextIndex - droppedCount), as a signed difference clamped to [0, the most messages
    /// `producer - tail` bytes can hold]. The words are loaded once each, after the positions.
    func clampedCount(producer p: UInt64, tail c: UInt64) -> Int {
        // relaxed: statistics; a value off by the batch in flight is clamped below.
        let committed = nextIndexWord.load(ordering: .relaxed)
        let dropped = droppedCount.load(ordering: .relaxed)
        let consumed = geometry.hasReaders ? 0 : consumedCount.load(ordering: .relaxed)
        return RingStorage.clamp(committed &- dropped &- consumed, bytes: p &- c, recordSize: geometry.messageHeaderSize)
    }

    /// `raw`, read as a signed count, clamped to [0, bytes / recordSize]: an untrusted
    /// difference of counters never leaves what the unread bytes can hold.
    static func clamp(_ raw: UInt64, bytes: UInt64, recordSize: Int) -> Int {
        let most = bytes / UInt64(recordSize)
        let signed = Int64(bitPattern: raw)
        if signed <= 0 { return 0 }
        return Int(Swift.min(UInt64(signed), most))
    }

    /// On taking the producer role of a ring that keeps counts (SPEC.md §22.3): when no
    /// consumer holds its role, the counts are made exact by one walk, writing only the
    /// producer's word: nextIndex = droppedCount + consumedCount + the unread messages.
    /// Returns nextIndex as the producer goes on from it.
    func repairCountsAsProducer() -> UInt64 {
        // relaxed: only the producer writes nextIndex in a ring without readers, and we hold the role.
        let current = nextIndexWord.load(ordering: .relaxed)
        guard geometry.keepsCounts, !geometry.hasReaders, !geometry.hasProducers,
              (try? roleIsAlive(.consumer)) == false, let walk = try? walkUnread() else { return current }
        // relaxed: statistics words; nobody else writes them while neither role is held but ours.
        let repaired = droppedCount.load(ordering: .relaxed) &+ consumedCount.load(ordering: .relaxed) &+ UInt64(walk.count)
        if repaired != current { nextIndexWord.store(repaired, ordering: .relaxed) }
        return repaired
    }

    /// On taking the consumer role of a ring that keeps counts (SPEC.md §22.3): when no
    /// producer is alive, consumedCount = nextIndex - droppedCount - the unread messages.
    /// Returns consumedCount as the consumer goes on from it.
    func repairCountsAsConsumer() -> UInt64 {
        // relaxed: only the consumer writes consumedCount, and we hold the role.
        let current = consumedCount.load(ordering: .relaxed)
        guard geometry.keepsCounts, (try? producerAlive()) == false, let walk = try? walkUnread() else { return current }
        return storeConsumed(unread: walk.count, current: current)
    }

    /// consumedCount = nextIndex - droppedCount - `unread` (a consumer that found `unread`
    /// messages left while no producer lives); returns the value now in the word.
    func storeConsumed(unread: Int, current: UInt64) -> UInt64 {
        // relaxed: statistics; no producer is alive to move nextIndex or droppedCount.
        let repaired = nextIndexWord.load(ordering: .relaxed) &- droppedCount.load(ordering: .relaxed) &- UInt64(unread)
        if repaired != current { consumedCount.store(repaired, ordering: .relaxed) }
        return repaired
    }
}

extension RingConsumer {
    /// Messages this consumer or reader has not read yet, in O(1) where the ring keeps
    /// counts (SPEC.md §22.2): a reader's from the indexes (nextIndex - the index of its
    /// next message, any ring with readers), the consumer's from the ring's counts (else a
    /// walk of the unread records). Exact while nobody writes; with a producer running, a
    /// value between 0 and the unread bytes / 8 that may be off by the batch in flight.
    /// A lapped reader first moves to the oldest message, as a read would.
    /// - Throws: `closed`, `forked`, `busy` while a view is out, `corrupt`.
    public var pendingCount: Int {
        get throws(RingError) {
            try checkUsable()
            guard reader != nil else {
                if let counted = try storage.countedMessages() { return counted }
                return try storage.walkUnread().count
            }
            let (start, found) = try next()
            guard let record = found else { return 0 }
            let first = claimIndex(record)
            // relaxed: a later value only makes the count larger; clamped to the unread bytes.
            let committed = storage.nextIndexWord.load(ordering: .relaxed)
            return Swift.max(1, RingStorage.clamp(committed &- first, bytes: cachedHead &- start,
                                            recordSize: geometry.messageHeaderSize))
        }
    }
}

extension ItemConsumer {
    /// Items this consumer has not read yet: producerPosition - its position (SPEC.md §19.3),
    /// O(1) in every typed ring.
    /// - Throws: `closed`, `forked`, `busy` while spans are lent, `corrupt`.
    public var pendingCount: Int {
        get throws(RingError) {
            try checkUsable()
            return try available().count
        }
    }
}
