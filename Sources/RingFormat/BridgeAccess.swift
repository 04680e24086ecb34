// BridgeAccess.swift - what the ZeroMQ bridge (RingZmq) needs of a consumer and a
// producer beyond the public API: a read-ahead that consumes nothing, a consume up to a
// record end found by it, and the producer's own position and room. Package access only.

extension RingConsumer {
    /// This side's position: consumerPosition of a 1.0 consumer, a reader's cursor.
    package var position: UInt64 { tail }

    /// producerPosition as this side last loaded it (acquire), for lag statistics.
    package var lastSeenProducerPosition: UInt64 { cachedHead }

    /// Whether the producer closed the stream (writerState CLOSED, loaded with acquire;
    /// pairs with the release store in RingProducer.closeWriter). Look at the records after
    /// this returns true: every commit before the close is visible then (SPEC.md §8.3).
    package var writerClosed: Bool {
        storage.writerState.load(ordering: .acquiring) == RingLayout.writerStateClosed
    }

    /// Shows the committed messages from `position` on, in order, without consuming any:
    /// `body(start, end, bytes)` gets the record's start (after any padding before it), the
    /// position after it and its payload in the mapping (valid during the call), and
    /// returns false to stop before it. Returns how many it showed and the position after
    /// the last. `position` must be this consumer's position or the end of a record shown
    /// before. Only for a reject-when-full 1.0 consumer or a gating reader, whose unread
    /// records the producer never reclaims (SPEC.md §9.1, §17.7).
    package func lookAhead(from position: UInt64, maxCount: Int,
                           _ body: (_ start: UInt64, _ end: UInt64, _ bytes: UnsafeRawBufferPointer) -> Bool)
        throws(RingError) -> (count: Int, end: UInt64) {
        try checkUsable()
        guard !overwrite, reader?.gating ?? true else {
            throw .invalidArgument("a read-ahead needs a reject-when-full consumer or a gating reader")
        }
        var at = position
        var count = 0
        while count < maxCount {
            guard case .record(let record) = try locate(at: at, batchStart: tail) else { break }
            let bytes = UnsafeRawBufferPointer(start: data + record.payloadOffset, count: record.length)
            guard body(record.start, record.end, bytes) else { break }
            at = record.end
            count += 1
        }
        return (count, at)
    }

    /// Consumes the `count` messages from this side's position up to `end`, a record end
    /// that `lookAhead` showed, with one position update (SPEC.md §8.2 step 7, §17.6 step 5).
    package func consume(to end: UInt64, count: Int) throws(RingError) {
        try checkUsable()
        guard count > 0 else { return }
        guard case .record(let first) = try locate(at: tail, batchStart: tail) else {
            throw .invalidArgument("nothing to consume at position \(tail)")
        }
        guard try advance(from: tail, to: end, count: count, firstIndex: claimIndex(first)) else {
            throw .corrupt(.positionsUnstable)
        }
    }
}

extension RingProducer {
    /// producerPosition as this producer committed it (SPEC.md's `head`).
    package var committedPosition: UInt64 { head }

    /// Bytes free now: capacity minus what lies between consumerPosition (tailPosition in
    /// a ring with readers; acquire: pairs with the consumer's position store) and our head.
    package var freeBytes: Int {
        let used = head &- storage.consumerPosition.load(ordering: .acquiring)
        return used > UInt64(geometry.capacity) ? 0 : geometry.capacity - Int(used)
    }

    /// droppedCount: messages reclaimed before they were read (relaxed: statistics).
    package var droppedCount: UInt64 { storage.droppedCount.load(ordering: .relaxed) }
}
