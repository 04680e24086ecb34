// ConsumerViewTests.swift - the consumer's view state machine (SPEC.md §8.2.1):
// while a view is out nothing else may read or wait on that consumer, and the
// view is consumed from the position it was taken at.

import Testing
import RingFormat

@Suite("Consumer views (SPEC.md §8.2.1)")
struct ConsumerViewTests {
    @Test func aReadInsideWithNextMessageIsBusyAndConsumesNothing() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096)
        let p = try ring.makeProducer()
        for m in ["a", "b", "c"] { try p.write(bytes(m)) }
        let c = try ring.makeConsumer()
        var inner: [RingError] = []
        let first = try c.withNextMessage { view -> [UInt8] in
            for attempt in [{ _ = try c.tryRead() }, { _ = try c.read(maxCount: 2) }, { _ = try c.peekAll() },
                            { _ = try c.waitForMessage(timeout: .zero) }] {
                do { try attempt() } catch let e as RingError { inner.append(e) }
            }
            return [UInt8](view)
        }
        #expect(first == bytes("a"))
        #expect(inner == Array(repeating: RingError.busy(.consumer), count: 4))
        #expect(try c.read() == bytes("b"))
        #expect(try c.read() == bytes("c"))
    }

    @Test func aViewReclaimedUnderOverwriteIsReportedAndNeverMovesThePositionBack() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096, policy: .overwriteOldest)
        let p = try ring.makeProducer()
        let c = try ring.makeConsumer()
        try p.write([UInt8](repeating: 1, count: 1000))
        var attempts: [RingError] = []
        var calls = 0
        _ = try c.withNextMessage { _ in
            calls += 1
            guard calls == 1 else { return 0 }
            // The producer laps the view: every record of the ring is reclaimed.
            for i in 0..<12 { try p.write([UInt8](repeating: UInt8(i), count: 1000)) }
            do { _ = try c.waitForMessage(timeout: .zero) } catch let e as RingError { attempts.append(e) }
            return 0
        }
        // withNextMessage retried on the next record: the position only moved forward.
        let s = try ring.stats()
        #expect(attempts == [.busy(.consumer)])
        #expect(calls == 2, "the reclaimed view was discarded and the body ran on the next record")
        #expect(s.consumerPosition <= s.producerPosition)
        #expect(s.producerPosition &- s.consumerPosition <= UInt64(s.capacity))
        // Every later read still works on the file (no positionsOutOfOrder).
        while try c.tryRead() != nil {}
        #expect(try ring.stats().isEmpty)
    }
}
