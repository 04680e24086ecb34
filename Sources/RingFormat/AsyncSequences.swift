// AsyncSequences.swift - the handles under Swift concurrency: a consumer's (or a
// reader's) `messages` are an AsyncSequence, and each waiting operation has an async form
// that suspends the task instead of blocking its thread. Every one is the doorbell
// protocol of SPEC.md §21.1 run by the reactor of AsyncWaits.swift: try the
// non-blocking operation; if it would wait, arm, suspend until the doorbell rings,
// disarm, and try again.
//
// Sendable. The handles are deliberately not Sendable: each is meant for one task at a
// time, and its state (positions, views, the doorbell) is unsynchronized. Hand a handle
// to a task by region-based isolation - `Task { for try await m in consumer.messages { ... } }`
// compiles when the creating code does not use `consumer` afterwards (the Ring's
// `make...` methods return it `sending`, so the Ring itself stays usable) - and the
// Swift 6 compiler rejects a second task using the same handle (scripts/check_sendable.sh
// checks both). The async methods are `nonisolated(nonsending)`: they run on the
// caller's actor, so an actor or the main actor may hold a handle and await on it, and
// no handle crosses an isolation boundary by calling them.
//
// Cancellation. An async operation of a cancelled task throws `CancellationError`
// before it reads or writes anything, and a task cancelled while suspended is resumed
// at once with `CancellationError` (its doorbell disarmed): a cancelled read consumes
// nothing (the next read gets the message), a cancelled write writes nothing.

extension RingConsumer {
    /// The messages of this consumer or reader as they come, ending at the end of the
    /// stream: `for try await message in consumer.messages { ... }`. Each step consumes one
    /// message, as `receive()`; iterating again goes on where the last iteration stopped.
    public var messages: Messages { Messages(consumer: self) }

    /// A consumer's messages as an AsyncSequence (see `messages`). Like the consumer, not
    /// Sendable: iterate it in the task that holds the consumer.
    ///
    /// (The consumer is not an AsyncSequence itself: the conformance would give it
    /// AsyncSequence's `min()` and `max()`, which hide the global functions in every method
    /// of the class.)
    public struct Messages: AsyncSequence {
        /// A message: its bytes, copied out of the ring.
        public typealias Element = [UInt8]

        let consumer: RingConsumer

        /// An iterator over the consumer's messages.
        public func makeAsyncIterator() -> Iterator { Iterator(consumer: consumer) }

        /// Iterates a consumer's messages; not Sendable.
        public struct Iterator: AsyncIteratorProtocol {
            let consumer: RingConsumer
            var finished = false

            /// The next message, suspending the task until there is one; nil at the end of
            /// the stream (and after the iteration ended or threw).
            /// - Throws: `CancellationError` when the task is cancelled (no message is
            ///   consumed; the loop ends without reaching the end of the stream), a
            ///   `RingError` as `RingConsumer.receive()` (`closed`, `corrupt`, `busy`...).
            public mutating func next(isolation actor: isolated (any Actor)?) async throws -> [UInt8]? {
                guard !finished else { return nil }
                do {
                    return try await consumer.receive()
                } catch RingError.endOfStream {
                    finished = true
                    return nil
                } catch {
                    finished = true
                    throw error
                }
            }

            /// The next message; as `next(isolation:)` (which `for try await` calls).
            public mutating func next() async throws -> [UInt8]? {
                try await next(isolation: nil)
            }
        }
    }

    /// Reads and consumes the oldest message, suspending the task (not its thread) until
    /// one is there.
    /// - Throws: `RingError.endOfStream` once the producer closed the stream and it is
    ///   drained, `CancellationError` if the task is cancelled (nothing is consumed), the
    ///   other errors of `read(timeout:)`.
    nonisolated(nonsending) public func receive() async throws -> [UInt8] {
        while true {
            try Task.checkCancellation()
            if let message = try tryRead() { return message }
            try await awaitDoorbell(descriptor: doorbellDescriptor(), arm: armDoorbell, disarm: disarmDoorbell)
        }
    }

    /// Reads and consumes up to `maxCount` messages with one position update, suspending
    /// the task until there is at least one.
    /// - Throws: as `receive()`.
    nonisolated(nonsending) public func receive(maxCount: Int) async throws -> [[UInt8]] {
        while true {
            try Task.checkCancellation()
            let batch = try read(maxCount: maxCount)
            if !batch.isEmpty || maxCount <= 0 { return batch }
            try await awaitDoorbell(descriptor: doorbellDescriptor(), arm: armDoorbell, disarm: disarmDoorbell)
        }
    }
}

extension RingProducer {
    /// Writes one message, suspending the task (not its thread) until there is room for it
    /// (reject-when-full; under overwrite-oldest it never waits).
    /// - Throws: `CancellationError` if the task is cancelled before the message is written
    ///   (nothing is written), `invalidSize` over maxMessageSize, `closed`, `busy` with a
    ///   reservation open, `corrupt`.
    nonisolated(nonsending) public func send(_ message: some Collection<UInt8>) async throws {
        let size = message.count
        while true {
            try Task.checkCancellation()
            if try tryWrite(message) { return }
            try await awaitDoorbell(descriptor: doorbellDescriptor(), arm: { () throws(RingError) -> Bool in
                try self.armDoorbell(forPayload: size)
            }, disarm: disarmDoorbell)
        }
    }
}

extension ItemConsumer {
    /// Reads and consumes up to `maxItems` items into `buffer` (room for `maxItems *
    /// itemSize` bytes), suspending the task until there is at least one; returns how many.
    /// - Throws: `RingError.endOfStream` once the stream ended and is drained,
    ///   `CancellationError` if the task is cancelled (nothing is consumed), the other
    ///   errors of `read(into:maxItems:)`.
    nonisolated(nonsending) public func receive(into buffer: UnsafeMutableRawBufferPointer, maxItems: Int) async throws -> Int {
        while true {
            try Task.checkCancellation()
            let count = try read(into: buffer, maxItems: maxItems)
            if count > 0 || maxItems <= 0 { return count }
            try await awaitDoorbell(descriptor: doorbellDescriptor(), arm: armDoorbell, disarm: disarmDoorbell)
        }
    }
}

extension ItemProducer {
    /// Writes `items` (whole items' bytes) as one commit, suspending the task until they fit.
    /// - Throws: `CancellationError` if the task is cancelled before they are written
    ///   (nothing is written), the errors of `tryWrite(_:)`.
    nonisolated(nonsending) public func send(_ items: UnsafeRawBufferPointer) async throws {
        let count = try itemCount(items)
        while true {
            try Task.checkCancellation()
            if try tryWrite(items) { return }
            try await awaitDoorbell(descriptor: doorbellDescriptor(), arm: { () throws(RingError) -> Bool in
                try self.armDoorbell(forItems: count)
            }, disarm: disarmDoorbell)
        }
    }
}
