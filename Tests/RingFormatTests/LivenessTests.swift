// LivenessTests.swift - SPEC.md §22.1: whether the producer and the consumer are alive,
// through role take and close, readers, producer slots, typed rings and a killed child
// process; a consumer that stops when the producer is gone reads every committed message
// of a producer killed mid-stream, then gets producerGone within a bound.

import Foundation
import Testing
import RingFormat
import RingWorkload

@Suite("Liveness (SPEC.md §22.1)")
struct LivenessTests {
    @Test func theRolesAreAliveWhileHeldAndNotAfterClose() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        #expect(try !ring.producerAlive && !ring.consumerAlive)
        let producer = try ring.makeProducer()
        #expect(try ring.producerAlive && !ring.consumerAlive)
        let consumer = try Ring.open(at: t.path).makeConsumer()
        #expect(try ring.producerAlive && ring.consumerAlive)
        producer.close()
        #expect(try !ring.producerAlive && ring.consumerAlive)
        consumer.close()
        #expect(try !ring.producerAlive && !ring.consumerAlive)
        ring.close()
        #expect(throws: RingError.closed) { try ring.producerAlive }
    }

    @Test func typedRingsReadersAndProducerSlotsCountToo() throws {
        let t = TempRing()
        let items = try Ring.createItems(at: t.path, type: try ItemType("<u8"), itemCapacity: 512)
        let ip = try items.makeItemProducer()
        let ic = try items.makeItemConsumer()
        #expect(try items.producerAlive && items.consumerAlive)
        ip.close(); ic.close()
        #expect(try !items.producerAlive && !items.consumerAlive)

        let r = TempRing()
        let readers = try Ring.create(at: r.path, capacity: 4096, readerSlots: 2, producerSlots: 2)
        #expect(try !readers.producerAlive && !readers.consumerAlive)
        let reader = try readers.makeReader()
        let p = try readers.makeProducer()
        #expect(try readers.producerAlive && readers.consumerAlive)
        reader.leave(); p.close()
        #expect(try !readers.producerAlive && !readers.consumerAlive)
    }

    @Test func aKilledProducerProcessIsNotAlive() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        // It fills the ring and blocks for room.
        let child = try RingWorkloadTool.start(["produce", t.path, "--count", "1000000", "--max-size", "64"])
        let start = ContinuousClock.now
        // The lock comes first, then the owner word (SPEC.md §11.4): wait for both.
        while try !ring.producerAlive || ring.roleStatus(.producer).ownerPID == nil {
            #expect(seconds(since: start) < 10, "the child never took the role")
            if seconds(since: start) > 10 { break }
            usleep(2000)
        }
        let held = try ring.roleStatus(.producer)
        #expect(held.isLocked && held.ownerPID == child.0.processIdentifier, "\(held)")
        kill(child.0.processIdentifier, SIGKILL)
        _ = RingWorkloadTool.finish(child)
        #expect(try !ring.producerAlive)
        #expect(try ring.roleStatus(.producer).isStale)
    }

    /// A producer process writes self-checking messages (index in the first 8 bytes, the rest
    /// a function of index and seed) and is SIGKILLed mid-stream; the consumer gets every
    /// message committed before the kill, in order and whole, and then producerGone.
    @Test func aConsumerThatStopsReadsEverythingThenGetsProducerGone() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 16)
        let workload = Workload(seed: 7, minSize: 8, maxSize: 200)
        let consumer = try ring.makeConsumer()
        consumer.stopsWhenProducerGone = true
        let child = try RingWorkloadTool.start(["produce", t.path, "--count", "100000000", "--seed", "7",
                                                "--min-size", "8", "--max-size", "200", "--timeout-ms", "60000"])
        // Wait for the producer, so that "no producer yet" does not count as gone.
        let start = ContinuousClock.now
        while try !ring.producerAlive && seconds(since: start) < 10 { usleep(1000) }
        var received: UInt64 = 0
        var killedAt: ContinuousClock.Instant? = nil
        var gone = false
        var intact = true
        while !gone && intact {
            switch Self.readOrGone(consumer) {
            case .success(let m?):
                intact = m == workload.message(received)
                received += 1
                if received == 20_000 {
                    kill(child.0.processIdentifier, SIGKILL)
                    killedAt = .now
                }
            case .success(nil): gone = true
            case .failure(let error): Issue.record("read: \(error)"); intact = false
            }
        }
        #expect(intact, "message \(received - 1) is not the workload's")
        _ = RingWorkloadTool.finish(child)
        let delay = killedAt.map { seconds(since: $0) } ?? -1
        print("LivenessTests: \(received) messages, then producerGone \(Int(delay * 1000)) ms after the kill")
        #expect(gone && received >= 20_000)
        #expect(delay >= 0 && delay < 1.0, "producerGone \(delay) s after the kill")
        // Every committed message was read: the consumer stands at producerPosition.
        let s = try ring.stats()
        #expect(s.isEmpty && s.messageCount == 0)
        #expect(try ring.messageCount == 0)
        // Without the option a timed read waits and reports empty.
        consumer.stopsWhenProducerGone = false
        #expect(throws: RingError.empty) { try consumer.read(timeout: .milliseconds(300)) }
        // A non-blocking read with it: producerGone, not nil.
        consumer.stopsWhenProducerGone = true
        #expect(throws: RingError.producerGone) { try consumer.tryRead() }
    }

    /// One blocking read: the message, nil for producerGone, or another error.
    static func readOrGone(_ consumer: RingConsumer) -> Result<[UInt8]?, RingError> {
        do throws(RingError) {
            return .success(try consumer.read(timeout: .seconds(5)))
        } catch {
            return error == .producerGone ? .success(nil) : .failure(error)
        }
    }

    @Test func nonBlockingReadsWaitsAndTheDoorbellStopToo() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let consumer = try ring.makeConsumer()
        consumer.stopsWhenProducerGone = true
        // No producer at all: gone.
        #expect(throws: RingError.producerGone) { try consumer.tryRead() }
        #expect(throws: RingError.producerGone) { try consumer.waitForMessage(timeout: .seconds(5)) }
        #expect(try consumer.armDoorbell() == false, "ready: the read that follows reports the producer gone")
        #expect(throws: RingError.producerGone) { try consumer.read(maxCount: 4) }
        // A live producer: nothing to read is nil, and committed messages come first.
        let producer = try ring.makeProducer()
        #expect(try consumer.tryRead() == nil)
        try producer.write(bytes("last"))
        producer.close()
        #expect(try consumer.read(timeout: .seconds(1)) == bytes("last"))
        #expect(throws: RingError.producerGone) { try consumer.read(timeout: .seconds(5)) }
        // A closed stream ends with endOfStream, not producerGone.
        try ring.makeProducer().closeWriter()
        #expect(throws: RingError.endOfStream) { try consumer.read(timeout: .seconds(1)) }
    }

    @Test func typedRingsAndReadersStopToo() throws {
        let t = TempRing()
        let ring = try Ring.createItems(at: t.path, type: try ItemType("<u8"), itemCapacity: 512)
        let consumer = try ring.makeItemConsumer()
        consumer.stopsWhenProducerGone = true
        let producer = try ring.makeItemProducer()
        var values: [UInt64] = [1, 2, 3]
        try values.withUnsafeBytes { try producer.write($0) }
        producer.close()
        var out = [UInt64](repeating: 0, count: 8)
        let n = try out.withUnsafeMutableBytes { try consumer.read(into: $0, maxItems: 8, timeout: .seconds(1)) }
        #expect(n == 3 && Array(out[0..<3]) == values)
        #expect(throws: RingError.producerGone) {
            _ = try out.withUnsafeMutableBytes { try consumer.read(into: $0, maxItems: 8, timeout: .seconds(5)) }
        }
        values = []

        let r = TempRing()
        let readers = try Ring.create(at: r.path, capacity: 4096, readerSlots: 1)
        let reader = try readers.makeReader()
        reader.stopsWhenProducerGone = true
        let p = try readers.makeProducer()
        try p.write(bytes("one"))
        p.close()
        #expect(try reader.read(timeout: .seconds(1)) == bytes("one"))
        #expect(throws: RingError.producerGone) { try reader.read(timeout: .seconds(5)) }
    }
}
