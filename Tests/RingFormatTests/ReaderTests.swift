// ReaderTests.swift - several readers of one ring (format 1.1, SPEC.md §17):
// broadcast with exact accounting against a racing producer (received + missed
// = produced, for each reader), gating and lapping readers, dead and durable
// readers, end of stream, views and batches, and a hostile reader table.

import Foundation
import Testing
import RingFormat
import RingWorkload
#if canImport(Glibc)
import Glibc
#endif

/// What one reader saw: indexes in order, each message whole.
struct ReaderTally: Sendable {
    var received: UInt64 = 0
    var next: UInt64 = 0
    var bad = 0
    var outOfOrder = 0
    var checksum = StreamChecksum()

    mutating func take(_ bytes: [UInt8], workload: Workload) {
        bytes.withUnsafeBytes { raw in
            guard let i = Workload.index(in: raw), workload.matches(raw, index: i) else { bad += 1; return }
            if i < next { outOfOrder += 1 }
            next = i + 1
            received += 1
            checksum.add(raw)
        }
    }
}

@Suite("Several readers (format 1.1)")
struct ReaderTests {
    static let workload = Workload(seed: 21, minSize: 8, maxSize: 300)

    /// Reads with `reader` until the end of the stream.
    static func drain(_ reader: RingReader, batch: Bool = false) throws -> ReaderTally {
        var tally = ReaderTally()
        while let messages = try next(reader, batch: batch) {
            for m in messages { tally.take(m, workload: workload) }
        }
        return tally
    }

    /// The next message (or batch), nil at the end of the stream.
    static func next(_ reader: RingReader, batch: Bool) throws -> [[UInt8]]? {
        let result: Result<[[UInt8]], RingError>
        if batch {
            result = Result { () throws(RingError) in try reader.read(maxCount: 32, timeout: .seconds(30)) }
        } else {
            result = Result { () throws(RingError) in [try reader.read(timeout: .seconds(30))] }
        }
        if case .failure(.endOfStream) = result { return nil }
        return try result.get()
    }

    static func produce(_ path: String, count: UInt64) -> Worker<Void> {
        Worker {
            let producer = try Ring.open(at: path).makeProducer()
            for i in 0..<count { try producer.write(workload.message(i), timeout: .seconds(30)) }
            producer.closeWriter()
        }
    }

    @Test func aRingWithReadersIsFormat11AndHasNoConsumer() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 4)
        #expect(ring.geometry.versionMinor == 1 && ring.geometry.readerSlots == 4)
        #expect(RawFile.get(t.path, RingLayout.Header.incompatFlags, as: UInt32.self) == RingLayout.incompatReaders)
        #expect(ring.maxMessageSize == 2048 - 16)
        #expect(throws: RingError.self) { try ring.makeConsumer() }
        // A ring without readers is still the 1.0 file.
        let plain = try Ring.create(at: t.path + ".10", capacity: 4096)
        #expect(plain.geometry.versionMinor == 0 && plain.geometry.readerSlots == 0)
        #expect(throws: RingError.self) { try plain.makeReader() }
        // More slots than the default header holds take a larger header.
        let big = try Ring.create(at: t.path + ".big", capacity: 4096, readerSlots: 17)
        #expect(big.geometry.headerSize == 8192)
        #expect(throws: RingError.self) { try Ring.create(at: t.path + ".huge", capacity: 4096, readerSlots: 497) }
    }

    @Test(arguments: [false, true])
    func threeGatingReadersEachGetEveryMessageInOrder(batch: Bool) throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 16384, readerSlots: 4)
        let count: UInt64 = 40_000
        let path = t.path
        let readers = try (0..<3).map { _ in try Ring.open(at: path).makeReader() }
        let boxes = readers.map { r in UncheckedBox(r) }
        let workers = boxes.map { box in Worker { try ReaderTests.drain(box.value, batch: batch) } }
        let producer = Self.produce(path, count: count)
        try producer.join()
        var expected = StreamChecksum()
        for i in 0..<count { Self.workload.message(i).withUnsafeBytes { expected.add($0) } }
        for (n, w) in workers.enumerated() {
            let tally = try w.join()
            #expect(tally.bad == 0 && tally.outOfOrder == 0, "reader \(n)")
            #expect(tally.received == count, "reader \(n) received \(tally.received)")
            #expect(tally.checksum == expected, "reader \(n)")
            #expect(readers[n].missedCount == 0)
        }
    }

    /// How a lapping reader reads in `lappingReadersCountExactlyWhatTheyMissed`.
    enum LapRead: String, CaseIterable, Sendable { case single, batch, peekThenBatch }

    @Test(arguments: [RingPolicy.overwriteOldest, .rejectWhenFull], LapRead.allCases)
    func lappingReadersCountExactlyWhatTheyMissed(policy: RingPolicy, api: LapRead) throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096, policy: policy, readerSlots: 4)
        let count: UInt64 = 60_000
        let path = t.path
        let readers = try (0..<2).map { _ in try Ring.open(at: path).makeReader(ReaderOptions(gating: false)) }
        let boxes = readers.map { UncheckedBox($0) }
        let workers = boxes.enumerated().map { n, box in Worker { () throws -> ReaderTally in
            var tally = ReaderTally()
            while true {
                let result = Result { () throws(RingError) -> [[UInt8]] in
                    switch api {
                    case .single: return [try box.value.read(timeout: .seconds(30))]
                    case .batch: return try box.value.read(maxCount: 16, timeout: .seconds(30))
                    case .peekThenBatch:
                        // A look at what is there (consumes nothing), then a batch.
                        _ = try box.value.peekAll().count
                        return try box.value.read(maxCount: 16, timeout: .seconds(30))
                    }
                }
                if case .failure(.endOfStream) = result { return tally }
                for m in try result.get() { tally.take(m, workload: ReaderTests.workload) }
                if n == 1 && tally.received % 64 < 16 { usleep(200) } // a slow reader
            }
        } }
        // No gating reader: the producer never waits, not even under reject-when-full.
        let producer = Self.produce(path, count: count)
        try producer.join()
        for (n, w) in workers.enumerated() {
            let tally = try w.join()
            #expect(tally.bad == 0 && tally.outOfOrder == 0, "reader \(n): \(tally.bad) bad, \(tally.outOfOrder) out of order")
            // received + missed = produced, for each reader.
            #expect(tally.received + readers[n].missedCount == count,
                    "reader \(n): received \(tally.received) + missed \(readers[n].missedCount) != \(count)")
        }
        #expect(readers[1].missedCount > 0, "the slow reader was never lapped: the test proves nothing")
        let infos = try Ring.open(at: path).readers()
        #expect(infos.map(\.missedCount).sorted() == readers.map(\.missedCount).sorted())
    }

    @Test func aGatingReaderHoldsTheWriterBackAndReleasesIt() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let reader = try ring.makeReader()
        let producer = try ring.makeProducer()
        var written = 0
        while try producer.tryWrite([UInt8](repeating: 1, count: 100)) { written += 1 }
        #expect(written == 4096 / 120)
        #expect(throws: RingError.full) { try producer.write([UInt8](repeating: 1, count: 100)) }
        _ = try reader.read()
        try producer.write([UInt8](repeating: 2, count: 100))
        // A writer waiting for room is woken when the gating reader moves.
        let path = t.path
        let box = UncheckedBox(reader)
        let later = Worker { () throws -> Void in usleep(50_000); _ = try box.value.read() }
        let start = ContinuousClock.now
        try producer.write([UInt8](repeating: 3, count: 100), timeout: .seconds(10))
        #expect(seconds(since: start) < 5)
        try later.join()
        _ = path
    }

    @Test func aDeadGatingReaderStopsGatingAndADurableOneAfterItsTimeout() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let producer = try ring.makeProducer()
        // A gating reader that died: ACTIVE and GATING in slot 0, its lock gone.
        let slot = RingLayout.readerTableOffset
        RawFile.put(t.path, RingLayout.ReaderSlot.cursor, UInt64(0), base: slot)
        RawFile.put(t.path, RingLayout.ReaderSlot.flags, RingLayout.readerFlagGating, base: slot)
        RawFile.put(t.path, RingLayout.ReaderSlot.state, RingLayout.readerSlotActive, base: slot)
        for _ in 0..<200 { try producer.write([UInt8](repeating: 1, count: 100), timeout: .seconds(5)) }
        // The same, durable, with a 300 ms gate timeout: the writer waits about that long once.
        RawFile.put(t.path, RingLayout.ReaderSlot.cursor, try ring.stats().producerPosition, base: slot)
        RawFile.put(t.path, RingLayout.ReaderSlot.flags, RingLayout.readerFlagGating | RingLayout.readerFlagDurable, base: slot)
        RawFile.put(t.path, RingLayout.ReaderSlot.gateTimeoutMs, UInt32(300), base: slot)
        // A new owner (a process that does not exist) so that the producer probes it afresh.
        RawFile.put(t.path, RingLayout.ReaderSlot.owner, UInt64(0x7FFF_FFF0) << 32 | 5, base: slot)
        let producer2 = producer
        let start = ContinuousClock.now
        for _ in 0..<200 { try producer2.write([UInt8](repeating: 1, count: 100), timeout: .seconds(5)) }
        let waited = seconds(since: start)
        #expect(waited >= 0.25 && waited < 3, "waited \(waited) s")
    }

    @Test func aDurableReaderResumesAndCountsWhatItMissedWhileAway() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let producer = try ring.makeProducer()
        let options = ReaderOptions(name: "audit", gating: false)
        do {
            let reader = try ring.makeReader(options)
            #expect(throws: RingError.busy(.reader)) { try ring.makeReader(options) }
            for i in 0..<3 { try producer.write(Self.workload.message(UInt64(i))) }
            for i in 0..<2 { #expect(try reader.read() == Self.workload.message(UInt64(i))) }
            reader.close()
        }
        #expect(try ring.readers().map(\.name) == ["audit"])
        #expect(try ring.readers().first?.isLive == false)
        // Back again: resumes at message 2.
        do {
            let reader = try ring.makeReader(options)
            #expect(try reader.read() == Self.workload.message(2))
            reader.close()
        }
        // Away while the producer laps it: 200 messages, most reclaimed.
        for i in 3..<203 { try producer.write(Self.workload.message(UInt64(i))) }
        let reader = try ring.makeReader(options)
        var received: UInt64 = 0
        var last: UInt64 = 0
        while let m = try reader.tryRead() {
            received += 1
            last = m.withUnsafeBytes { Workload.index(in: $0)! }
        }
        #expect(last == 202)
        #expect(received + reader.missedCount == 200, "received \(received), missed \(reader.missedCount)")
        #expect(reader.missedCount > 0)
        // Leaving gives the name up: the table is empty and the next "audit" starts afresh.
        reader.leave()
        #expect(try ring.readers().isEmpty)
        let fresh = try ring.makeReader(ReaderOptions(name: "audit", gating: false, start: .newest))
        #expect(fresh.missedCount == 0)
        #expect(try fresh.tryRead() == nil)
    }

    @Test func everyReaderDrainsThenSeesTheEndOfTheStream() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 3)
        let a = try ring.makeReader()
        let producer = try ring.makeProducer()
        try producer.write(bytes("one"))
        let b = try ring.makeReader(ReaderOptions(start: .newest))
        try producer.write(bytes("two"))
        producer.closeWriter()
        #expect(try a.read(maxCount: 10) == [bytes("one"), bytes("two")])
        #expect(try b.read() == bytes("two"))
        #expect(throws: RingError.endOfStream) { try a.read() }
        #expect(throws: RingError.endOfStream) { try b.read(timeout: .seconds(1)) }
    }

    @Test func viewsOfAReaderAreReleasedOrReportedOverwritten() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, policy: .overwriteOldest, readerSlots: 2)
        let reader = try ring.makeReader(ReaderOptions(gating: false))
        let producer = try ring.makeProducer()
        try producer.write(bytes("first"))
        let n = try reader.withNextMessage { $0.count }
        #expect(n == 5)
        try producer.write(bytes("second"))
        var runs = 0
        // The body runs again if the producer laps the view while it is out.
        let seen = try reader.withNextMessage { (view: UnsafeRawBufferPointer) -> [UInt8] in
            runs += 1
            if runs == 1 { for i in 0..<100 { try producer.write([UInt8](repeating: UInt8(i), count: 100)) } }
            return Array(view)
        }
        #expect(runs == 2 && seen.count == 100, "runs \(runs), \(seen.count) bytes")
        #expect(reader.missedCount > 0)
    }

    @Test func aHostileReaderTableIsCorruptionNeverACrash() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        // readerSlots claiming more than fits (checksum fixed so that only the table is wrong).
        RawFile.put(t.path, RingLayout.Header.readerSlots, UInt32(99))
        RawFile.fixChecksum(t.path)
        #expect(throws: RingError.corrupt(.badReaderTable(99))) { try Ring.open(at: t.path) }
        RawFile.put(t.path, RingLayout.Header.readerSlots, UInt32(0))
        RawFile.fixChecksum(t.path)
        #expect(throws: RingError.corrupt(.badReaderTable(0))) { try Ring.open(at: t.path) }
        RawFile.put(t.path, RingLayout.Header.readerSlots, UInt32(2))
        RawFile.fixChecksum(t.path)

        let ring = try Ring.open(at: t.path)
        let producer = try ring.makeProducer()
        let slot0 = RingLayout.readerTableOffset
        let slot1 = RingLayout.readerTableOffset + RingLayout.readerSlotSize
        // A slot state no reader writes: the producer's limit and a joiner report it.
        RawFile.put(t.path, RingLayout.ReaderSlot.state, UInt32(7), base: slot0)
        #expect(throws: RingError.corrupt(.badReaderSlot(slot: 0, state: 7))) {
            for _ in 0..<100 { try producer.write([UInt8](repeating: 0, count: 200)) }
        }
        #expect(throws: RingError.corrupt(.badReaderSlot(slot: 0, state: 7))) { try ring.makeReader() }
        #expect(throws: RingError.corrupt(.badReaderSlot(slot: 0, state: 7))) { try ring.readers() }
        RawFile.put(t.path, RingLayout.ReaderSlot.state, RingLayout.readerSlotFree, base: slot0)
        // A gating cursor ahead of the producer, and a misaligned one.
        RawFile.put(t.path, RingLayout.ReaderSlot.state, RingLayout.readerSlotActive, base: slot1)
        RawFile.put(t.path, RingLayout.ReaderSlot.flags, RingLayout.readerFlagGating, base: slot1)
        let head = try ring.stats().producerPosition
        for bad in [head + 4096, head + 3] {
            RawFile.put(t.path, RingLayout.ReaderSlot.cursor, bad, base: slot1)
            #expect(throws: RingError.corrupt(.badReaderCursor(slot: 1, cursor: bad))) {
                for _ in 0..<100 { try producer.write([UInt8](repeating: 0, count: 200)) }
            }
        }
        RawFile.put(t.path, RingLayout.ReaderSlot.state, RingLayout.readerSlotFree, base: slot1)
        // A record whose index was rewritten: the reader that expects the next one says so.
        let reader = try ring.makeReader(ReaderOptions(start: .newest))
        try producer.write(bytes("a"))
        try producer.write(bytes("b"))
        #expect(try reader.read() == bytes("a"))
        let record = Int(try ring.stats().producerPosition - 24) & 4095
        RawFile.put(t.path, RingLayout.Record.index, UInt64(12345), base: 4096 + record)
        #expect(throws: RingError.self) { try reader.read() }
    }
}

/// Hands a non-Sendable handle to one worker thread (the handle is then used only there).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
