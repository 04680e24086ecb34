// Observer.swift - reading a ring without a role (SPEC.md §8.2, Observers).
// An observer takes no lock and writes nothing to the file: it copies records
// that are committed and not yet consumed, and keeps a copy only if the seqlock
// check after it shows that consumerPosition had not passed the record, so the
// producer could not have been writing over it. Operator tools (ringctl peek,
// tail, validate) read live rings this way while the producer and the consumer
// go on.

import Atomics

/// A message an observer copied, with where it stands in the ring.
public struct ObservedMessage: Sendable, Equatable {
    /// Position of the message's record (after any padding record before it).
    public let position: UInt64
    /// The message's bytes.
    public let bytes: [UInt8]
}

/// Reads a ring's unread messages without consuming them and without a role.
///
/// An observer has a private cursor. It starts at the oldest unread message
/// (`consumerPosition`) and moves forward with each `next()`. Messages the
/// consumer consumes (or, under overwrite-oldest, the producer reclaims) before
/// the observer copied them are skipped: the observer then resumes at the new
/// `consumerPosition` and adds the bytes it passed over to `skippedBytes`.
/// It never returns a torn or overwritten message.
public final class RingObserver {
    let storage: RingStorage
    let geometry: RingGeometry
    /// Position of the next record to copy.
    public private(set) var cursor: UInt64
    /// Bytes of records passed over because they were consumed or reclaimed first.
    public private(set) var skippedBytes: UInt64 = 0

    init(storage: RingStorage) throws(RingError) {
        guard !storage.geometry.isTyped else {
            // A typed ring has no records to parse (SPEC.md §19.3).
            throw .invalidArgument("\(storage.path) is a typed ring (SPEC.md §19): observers read byte records; read its items with an ItemConsumer")
        }
        self.storage = storage
        self.geometry = storage.geometry
        cursor = try storage.snapshotPositions().consumer
    }

    /// Moves the cursor to the newest end of the ring: `next()` then returns only
    /// messages committed from now on.
    public func seekToEnd() throws(RingError) {
        try storage.checkProcess()
        cursor = try storage.snapshotPositions().producer
    }

    /// Copies the next message past the cursor and moves the cursor past it.
    /// Returns nil when the cursor is at producerPosition (nothing new).
    /// - Throws: `corrupt` for a record no valid producer writes (judged only when
    ///   consumerPosition, re-loaded after the copy, had not passed it), `forked`.
    public func next() throws(RingError) -> ObservedMessage? {
        try storage.checkProcess()
        var attempts = 0
        while true {
            let (head, tail) = try storage.snapshotPositions()
            // The cursor is behind consumerPosition: those records are gone.
            if cursor &- tail > head &- tail {
                skippedBytes &+= tail &- cursor
                cursor = tail
            }
            if cursor == head { return nil }
            let record: LocatedRecord
            do throws(RingError) {
                record = try RecordIO.parse(storage.data, at: cursor, committed: head, geometry: geometry)
            } catch {
                try storage.checkNotTruncated()
                if storage.wasReclaimed(since: cursor) {
                    attempts += 1
                    if attempts >= RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
                    continue
                }
                throw error
            }
            // Only cancelled claims up to the front (rings with producers): nothing to show.
            if record.isSkipOnly { cursor = record.end; return nil }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: storage.data + record.payloadOffset, count: record.length))
            try storage.checkNotTruncated()
            if storage.wasReclaimed(since: record.start) {
                attempts += 1
                if attempts >= RingConsumer.retryLimit { throw .corrupt(.positionsUnstable) }
                continue
            }
            cursor = record.end
            return ObservedMessage(position: record.start, bytes: bytes)
        }
    }

    /// Whether the producer closed the stream and the cursor has reached its last
    /// commit: `next()` will return nothing more until a producer opens the stream again.
    /// - Throws: `corrupt(.badWriterState)` for a writerState no producer writes.
    public func isAtEndOfStream() throws(RingError) -> Bool {
        try storage.checkProcess()
        // acquire: pairs with the release store in RingProducer.closeWriter; the
        // producerPosition loaded after it includes every commit before the close.
        let state = storage.writerState.load(ordering: .acquiring)
        if state == RingLayout.writerStateOpen { return false }
        guard state == RingLayout.writerStateClosed else { throw .corrupt(.badWriterState(state)) }
        return try storage.snapshotPositions().producer == cursor
    }
}
