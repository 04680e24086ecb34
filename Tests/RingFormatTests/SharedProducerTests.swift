// SharedProducerTests.swift - several producers into one ring (format 1.1, SPEC.md
// §18): racing producers with exact accounting (every message once, whole, each
// producer's in its own order), batches and reservations, readers on the same
// ring, a dead claim and a stalled one settled, end of stream by the last producer.

import Foundation
import Testing
import Atomics
import RingFormat
import RingWorkload
#if canImport(Glibc)
import Glibc
#endif

/// What a consumer saw of several producers: for each, the next index it expects.
struct ProducerTally: Sendable {
    var next: [UInt64]
    var received: UInt64 = 0
    var bad = 0
    var outOfOrder = 0

    init(producers: Int) { next = Array(repeating: 0, count: producers) }

    /// Producer p's i-th message has index p << 32 | i.
    mutating func take(_ bytes: [UInt8], workload: Workload) {
        bytes.withUnsafeBytes { raw in
            guard let index = Workload.index(in: raw), workload.matches(raw, index: index) else { bad += 1; return }
            let p = Int(index >> 32), i = index & 0xFFFF_FFFF
            guard p < next.count else { bad += 1; return }
            if i != next[p] { outOfOrder += 1 }
            next[p] = i + 1
            received += 1
        }
    }
}

@Suite("Several producers (format 1.1)")
struct SharedProducerTests {
    static let workload = Workload(seed: 33, minSize: 8, maxSize: 200)

    /// Before: a consumer finding the stream closed and nothing published ended it, though a
    /// dead producer's claim at the front hid a message another producer committed and then
    /// closed the stream with (kill_producers.py: "generation 304: 50 commits reported, 0
    /// delivered"). The claim is settled before end of stream is judged.
    @Test func theEndOfStreamWaitsForADeadClaimAtTheFrontToBeSettled() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096, producerSlots: 2)
        let consumer = try ring.makeConsumer()
        let dead = try ring.makeProducer()
        let last = try ring.makeProducer()
        _ = try dead.reserve(size: 32)          // a claim at the front ...
        dead.crashForTests()                    // ... of a producer that dies holding it
        try last.write(Array("after".utf8))     // committed behind it
        last.closeWriter()                      // the last live producer ends the stream
        #expect(try consumer.read(timeout: .seconds(5)) == Array("after".utf8))
        #expect(throws: RingError.endOfStream) { _ = try consumer.read(timeout: .seconds(5)) }
    }

    static func produce(_ path: String, id: Int, count: UInt64, batch: Int = 1, reserve: Bool = false) -> Worker<Void> {
        Worker {
            let producer = try Ring.open(at: path).makeProducer()
            var i: UInt64 = 0
            while i < count {
                if reserve {
                    let m = workload.message(UInt64(id) << 32 | i)
                    do {
                        try producer.write(reserving: m.count + 16) { buffer in
                            m.withUnsafeBytes { buffer.copyMemory(from: $0) }
                            return m.count
                        }
                        i += 1
                    } catch RingError.full {
                        usleep(50)
                    }
                } else if batch > 1 {
                    let n = min(UInt64(batch), count - i)
                    let messages = (0..<n).map { workload.message(UInt64(id) << 32 | (i + $0)) }
                    let written = try producer.write(batch: messages)
                    i += UInt64(written)
                    if written == 0 { usleep(50) }
                } else {
                    try producer.write(workload.message(UInt64(id) << 32 | i), timeout: .seconds(30))
                    i += 1
                }
            }
            producer.closeWriter()
        }
    }

    static func drain(_ consumer: RingConsumer, producers: Int, batch: Bool) throws -> ProducerTally {
        var tally = ProducerTally(producers: producers)
        while let messages = try ReaderTests.next(consumer, batch: batch) {
            for m in messages { tally.take(m, workload: workload) }
        }
        return tally
    }

    @Test func aRingWithProducersIsFormat11() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, producerSlots: 4)
        #expect(ring.geometry.versionMinor == 1 && ring.geometry.producerSlots == 4)
        #expect(RawFile.get(t.path, RingLayout.Header.incompatFlags, as: UInt32.self) == RingLayout.incompatProducers)
        #expect(RawFile.get(t.path, RingLayout.Header.producerSlots, as: UInt32.self) == 4)
        #expect(ring.maxMessageSize == 2048 - 16)
        #expect(throws: RingError.self) { try Ring.create(at: t.path + ".o", capacity: 4096, policy: .overwriteOldest, producerSlots: 2) }
        #expect(throws: RingError.self) { try Ring.create(at: t.path + ".17", capacity: 4096, producerSlots: 17) }
        // Four producers in one process each take a slot; a fifth is BUSY.
        let p = try (0..<4).map { _ in try ring.makeProducer() }
        #expect(throws: RingError.busy(.producer)) { try ring.makeProducer() }
        #expect(try ring.producers().filter(\.isLive).count == 4)
        p[0].close()
        _ = try ring.makeProducer()
    }

    @Test(arguments: [(1, false, false), (16, true, false), (1, false, true)])
    func fourRacingProducersLoseNothing(batch: Int, batchRead: Bool, reserve: Bool) throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 16384, producerSlots: 4)
        let consumer = try ring.makeConsumer()
        let count: UInt64 = 20_000
        // Producers take their slots before the consumer reads, so the stream is not ended early.
        let workers = (0..<4).map { Self.produce(t.path, id: $0, count: count, batch: batch, reserve: reserve) }
        let tally = try Self.drain(consumer, producers: 4, batch: batchRead)
        for w in workers { try w.join() }
        #expect(tally.bad == 0 && tally.outOfOrder == 0)
        #expect(tally.received == 4 * count, "received \(tally.received) of \(4 * count)")
        #expect(tally.next == Array(repeating: count, count: 4))
        let committed = try ring.producers().map(\.committedCount).reduce(0, +)
        #expect(committed == 0 || committed == 4 * count) // slots are freed at close
    }

    @Test func producersAndReadersOnOneRing() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 16384, readerSlots: 2, producerSlots: 3)
        let gating = try ring.makeReader(ReaderOptions(gating: true))
        let count: UInt64 = 10_000
        let joined = DispatchSemaphore(value: 0)
        let path = t.path
        let lapWorker = Worker { () -> (ProducerTally, UInt64) in
            let lapping = try Ring.open(at: path).makeReader(ReaderOptions(gating: false))
            joined.signal()
            let tally = try Self.drain(lapping, producers: 3, batch: false)
            return (tally, lapping.missedCount)
        }
        joined.wait()
        let workers = (0..<3).map { Self.produce(t.path, id: $0, count: count, batch: $0 == 1 ? 8 : 1) }
        let tally = try Self.drain(gating, producers: 3, batch: false)
        for w in workers { try w.join() }
        let (lapTally, missed) = try lapWorker.join()
        #expect(tally.bad == 0 && tally.outOfOrder == 0 && tally.received == 3 * count)
        #expect(lapTally.bad == 0)
        #expect(lapTally.received + missed == 3 * count, "lapping: \(lapTally.received) + \(missed) missed")
    }

    /// An abandoned reservation is a cancelled claim: readers skip it, and it is counted
    /// in the slot's cancelledCount (SPEC.md §18.4).
    @Test func anAbandonedReservationIsACancelledClaim() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, producerSlots: 2)
        let consumer = try ring.makeConsumer()
        let producer = try ring.makeProducer()
        let buffer = try #require(try producer.reserve(size: 10))
        buffer.initializeMemory(as: UInt8.self, repeating: 0x41)
        producer.abortReservation()
        try producer.write(bytes("after"))
        #expect(try consumer.read() == bytes("after"))
        #expect(try ring.producers().first?.cancelledCount == 1)
    }

    /// A gating reader is never passed by a reclaim, also when it is inside a run of
    /// cancelled claims that reaches the front (SPEC.md §18.9): tailPosition 1016 at the
    /// start of the run, the reader at 3032 inside it, the front at 3152 after it.
    @Test func aReclaimNeverPassesAGatingReaderInsideCancelledClaims() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 1, producerSlots: 2)
        let reader = try ring.makeReader(ReaderOptions(gating: true))
        let a = try ring.makeProducer(), b = try ring.makeProducer()
        try a.write([UInt8](repeating: 1, count: 1000))                  // [0, 1016)
        #expect(try reader.read() == [UInt8](repeating: 1, count: 1000))  // reader at 1016
        _ = try #require(try a.reserve(size: 2000))                       // [1016, 3032), cancelled
        a.abortReservation()
        // Needs 3112 bytes: the reclaim takes [0, 1016), up to the reader; still FULL.
        #expect(try b.tryWrite([UInt8](repeating: 2, count: 2032)) == false)
        #expect(RawFile.get(t.path, RingLayout.Header.consumerPosition, as: UInt64.self) == 1016)
        #expect(try reader.tryRead() == nil)                              // passes the cancelled claim: at 3032
        _ = try #require(try b.reserve(size: 100))                        // [3032, 3152), cancelled
        b.abortReservation()
        // Needs 2992 bytes: only the run of cancelled claims could be reclaimed, and the reader is inside it.
        #expect(try a.tryWrite([UInt8](repeating: 3, count: 2032)) == false)
        let tail = RawFile.get(t.path, RingLayout.Header.consumerPosition, as: UInt64.self)
        let cursor = try #require(try ring.readers().first).cursor
        #expect(cursor == 3032)
        #expect(cursor &- tail < 1 << 62, "tailPosition \(tail) passed the gating reader at \(cursor)")
    }

    @Test func theLastProducerToCloseEndsTheStream() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, producerSlots: 2)
        let consumer = try ring.makeConsumer()
        let a = try ring.makeProducer(), b = try ring.makeProducer()
        try a.write(bytes("a"))
        a.closeWriter()
        try b.write(bytes("b"))
        #expect(try consumer.read() == bytes("a"))
        #expect(try consumer.read() == bytes("b"))
        #expect(throws: RingError.empty) { try consumer.read() }
        b.closeWriter()
        #expect(throws: RingError.endOfStream) { try consumer.read() }
    }

    /// A claim whose producer is gone (no lock on its slot) is cancelled by the consumer
    /// waiting behind it, and what was committed after it is delivered (SPEC.md §18.7).
    @Test func aDeadProducersClaimIsSkipped() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, producerSlots: 2)
        let consumer = try ring.makeConsumer()
        // The dead producer: an intent in slot 1 and a claim of 64 bytes, nobody holding slot 1.
        let slot = RingLayout.producerTableOffset(headerSize: 4096) + RingLayout.producerSlotSize
        RawFile.put(t.path, RingLayout.ProducerSlot.claimStart, UInt64(0), base: slot)
        RawFile.put(t.path, RingLayout.ProducerSlot.claimEnd, UInt64(64), base: slot)
        RawFile.put(t.path, RingLayout.ProducerSlot.claimState, RingLayout.claimIntent, base: slot)
        RawFile.put(t.path, RingLayout.ProducerSlot.state, RingLayout.producerSlotActive, base: slot)
        RawFile.put(t.path, RingLayout.Header.claimPosition, UInt64(64))
        let producer = try ring.makeProducer()
        try producer.write(bytes("after the dead claim"))
        // Published only once the dead claim is settled: the read that finds the front held does it.
        #expect(RawFile.get(t.path, RingLayout.Header.producerPosition, as: UInt64.self) == 0)
        let start = ContinuousClock.now
        #expect(try consumer.read(timeout: .seconds(5)) == bytes("after the dead claim"))
        #expect(seconds(since: start) < 1.0)
        #expect(RawFile.get(t.path, RingLayout.Header.producerPosition, as: UInt64.self) == 64 + 16 + 24)
    }
}
