// ConsumerSpans.swift - the committed bytes of a ring of byte records as spans
// of the mapping (SPEC.md §20.1): one span when the data region is
// double-mapped, else up to two.

extension RingConsumer {
    /// The committed, unread bytes from this consumer's (or reader's) position to
    /// producerPosition, without consuming: records, and the padding record if the run
    /// passes the end of the region (SPEC.md §6). One span when double-mapped
    /// (`Ring.isDoubleMapped`), else the bytes up to the end and those from the start.
    /// For tools and tests; the memory is the mapping's, valid while this consumer lives,
    /// its contents only until the records are consumed (or reclaimed under overwrite-oldest).
    /// - Throws: `busy` while a view is out, `closed`, `corrupt`.
    public func committedSpans() throws(RingError) -> (first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        try checkUsable()
        let (head, oldest) = try storage.snapshotPositions()
        let start = reader != nil ? tail : oldest
        let used = head &- start
        guard used <= UInt64(geometry.capacity) else { throw .corrupt(.positionsOutOfOrder(producer: head, consumer: start)) }
        let offset = Int(start & geometry.mask)
        let length = Int(used)
        let before = storage.isDoubleMapped ? length : min(length, geometry.capacity - offset)
        return (UnsafeRawBufferPointer(start: data + offset, count: before),
                UnsafeRawBufferPointer(start: data, count: length - before))
    }
}
