// RingTests.swift - the single-threaded behaviour of rings: round trips,
// capacity, full and empty, wrap-around with padding, positions past 2^32,
// both policies, end of stream, reopening, roles, closed handles, zero-copy
// and batch calls.

import Foundation
import Testing
import RingFormat
import RingWorkload
#if canImport(Glibc)
import Glibc
#endif

@Suite("Ring behaviour")
struct RingTests {
    @Test func checksumIsZlibCRC32() {
        let check = Array("123456789".utf8).withUnsafeBytes { ringChecksum($0) }
        #expect(check == 0xCBF4_3926)
        #expect([UInt8]().withUnsafeBytes { ringChecksum($0) } == 0)
        #expect(Array("a".utf8).withUnsafeBytes { ringChecksum($0) } == 0xE8B7_BE43)
        // The table-driven CRC against the bit-by-bit definition, every length to 4 KiB.
        func bitwise(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
            }
            return ~crc
        }
        var generator = SystemRandomNumberGenerator()
        for length in stride(from: 0, through: 4096, by: 61) {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(bytes.withUnsafeBytes { ringChecksum($0) } == bitwise(bytes), "length \(length)")
        }
    }

    @Test func roundTripIncludingEmptyMessage() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        try producer.write(bytes("hello"))
        try producer.write([UInt8]())
        try producer.write(bytes("world"))
        #expect(try ring.messageCount == 3)
        #expect(try consumer.read() == bytes("hello"))
        #expect(try consumer.read() == [])
        #expect(try consumer.read() == bytes("world"))
        #expect(throws: RingError.empty) { try consumer.read() }
        #expect(try consumer.tryRead() == nil)
    }

    /// Messages from 32 KiB on are copied with non-temporal stores in three parts
    /// (an unaligned head, 64-byte blocks, a tail): every split must come back whole,
    /// from every source alignment.
    @Test(arguments: [32 << 10, (32 << 10) + 1, (32 << 10) + 63, 65536 - 8, 65536 + 13, 100_003])
    func largeMessagesComeBackWhole(length: Int) throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 20)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let source = (0..<(length + 16)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for shift in [0, 1, 3, 8, 15] {
            let message = Array(source[shift..<(shift + length)])
            try source.withUnsafeBytes { raw in
                try producer.write(UnsafeRawBufferPointer(rebasing: raw[shift..<(shift + length)]))
            }
            #expect(try consumer.read() == message)
        }
    }

    @Test func headerBytesOfANewRing() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096, policy: .overwriteOldest)
        #expect(RawFile.read(t.path, at: 0, count: 8) == RingLayout.magicBytes)
        #expect(RawFile.get(t.path, RingLayout.Header.versionMajor, as: UInt16.self) == 1)
        #expect(RawFile.get(t.path, RingLayout.Header.versionMinor, as: UInt16.self) == 0)
        #expect(RawFile.get(t.path, RingLayout.Header.headerSize, as: UInt32.self) == 4096)
        #expect(RawFile.get(t.path, RingLayout.Header.capacity, as: UInt64.self) == 4096)
        #expect(RawFile.get(t.path, RingLayout.Header.policy, as: UInt32.self) == RingLayout.policyOverwriteOldest)
        #expect(RawFile.size(t.path) == 8192)
        let identity = RawFile.read(t.path, at: 0, count: RingLayout.checksumCoveredBytes)
        #expect(RawFile.get(t.path, RingLayout.Header.headerChecksum, as: UInt32.self) == identity.withUnsafeBytes { ringChecksum($0) })
    }

    @Test(arguments: [(1, 4096), (4096, 4096), (4097, 8192), (5000, 8192), (1 << 20, 1 << 20)])
    func capacityRoundsUpToAPowerOfTwo(requested: Int, expected: Int) throws {
        let t = TempRing()
        #expect(try Ring.create(at: t.path, capacity: requested).capacity == expected)
    }

    @Test(arguments: [0, -1, Int.min, (1 << 40) + 1, Int.max])
    func invalidCapacityIsRefused(capacity: Int) {
        let t = TempRing()
        #expect(throws: RingError.invalidSize(size: capacity, maximum: RingLayout.maxCapacity)) {
            try Ring.create(at: t.path, capacity: capacity)
        }
        #expect(!FileManager.default.fileExists(atPath: t.path))
    }

    @Test func misalignedInitialPositionIsRefused() {
        let t = TempRing()
        #expect(throws: RingError.invalidSize(size: 12, maximum: Int.max)) {
            try Ring.create(at: t.path, capacity: 4096, initialPosition: 12)
        }
    }

    @Test func maximumMessageSize() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        #expect(ring.maxMessageSize == 2040)
        let producer = try ring.makeProducer()
        try producer.write([UInt8](repeating: 1, count: 2040))
        #expect(throws: RingError.invalidSize(size: 2041, maximum: 2040)) {
            try producer.write([UInt8](repeating: 1, count: 2041))
        }
        #expect(throws: RingError.invalidSize(size: 2041, maximum: 2040)) {
            try producer.write(batch: [[UInt8](), [UInt8](repeating: 1, count: 2041)])
        }
        #expect(try ring.messageCount == 1) // the refused batch wrote nothing
    }

    @Test func fullRingRejectsThenAcceptsAfterARead() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let message = [UInt8](repeating: 9, count: 100) // 112-byte records
        var written = 0
        while try producer.tryWrite(message) { written += 1 }
        #expect(written == 4096 / 112)
        #expect(throws: RingError.full) { try producer.write(message) }
        let stats = try ring.stats()
        #expect(stats.usedBytes == written * 112 && stats.messageCount == written)
        _ = try consumer.read()
        try producer.write(message)
    }

    @Test func exactlyFullRingUsesEveryByte() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        for _ in 0..<4 { try producer.write([UInt8](repeating: 3, count: 1016)) } // 4 x 1024
        let stats = try ring.stats()
        #expect(stats.usedBytes == 4096 && stats.freeBytes == 0)
        #expect(throws: RingError.full) { try producer.write([UInt8]()) }
        let consumer = try ring.makeConsumer()
        for _ in 0..<4 { #expect(try consumer.read().count == 1016) }
        #expect(try ring.stats().isEmpty)
    }

    @Test func wrapAroundWritesAPaddingRecord() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let message = [UInt8](repeating: 0xAB, count: 100)
        for _ in 0..<36 { try producer.write(message) } // positions 0 -> 4032
        for _ in 0..<36 { _ = try consumer.read() }
        let wrapped = (0..<100).map { UInt8($0) }
        try producer.write(wrapped) // 64 bytes left at the end: padding, then the record at offset 0
        let base = RingLayout.defaultHeaderSize
        #expect(RawFile.get(t.path, RingLayout.Record.length, as: UInt32.self, base: base + 4032) == 56)
        #expect(RawFile.get(t.path, RingLayout.Record.kind, as: UInt32.self, base: base + 4032) == RingLayout.recordKindPadding)
        #expect(RawFile.get(t.path, RingLayout.Record.length, as: UInt32.self, base: base) == 100)
        #expect(RawFile.get(t.path, RingLayout.Record.kind, as: UInt32.self, base: base) == RingLayout.recordKindMessage)
        #expect(RawFile.read(t.path, at: base + 108, count: 4) == [0, 0, 0, 0]) // alignment bytes are zero
        let stats = try ring.stats()
        #expect(stats.producerPosition == 4096 + 112 && stats.messageCount == 1)
        #expect(try consumer.read() == wrapped)
        #expect(try ring.stats().consumerPosition == 4096 + 112)
    }

    @Test(arguments: [UInt64(1) << 32 - 4096, UInt64(1) << 40, UInt64.max - 8191])
    func positionsPastLargeValues(start: UInt64) throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, initialPosition: start)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let workload = Workload(seed: start, maxSize: 300)
        var next: UInt64 = 0
        for index in UInt64(0)..<2000 {
            let message = workload.message(index)
            if !(try producer.tryWrite(message)) {
                while let got = try consumer.tryRead() {
                    #expect(got == workload.message(next))
                    next += 1
                }
                try producer.write(message)
            }
        }
        while let got = try consumer.tryRead() {
            #expect(got == workload.message(next))
            next += 1
        }
        #expect(next == 2000)
        let end = try ring.stats().consumerPosition
        #expect(end &- start > 100_000) // went round the ring many times, across 2^32 / 2^64
    }

    @Test func overwriteOldestKeepsTheNewestLikeDequeMaxlen() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, policy: .overwriteOldest)
        let producer = try ring.makeProducer()
        let workload = Workload(seed: 7, minSize: 100, maxSize: 100)
        for index in UInt64(0)..<100 { try producer.write(workload.message(index)) }
        let stats = try ring.stats()
        #expect(stats.droppedCount + UInt64(stats.messageCount) == 100)
        let consumer = try ring.makeConsumer()
        let kept = try consumer.read(maxCount: 1000)
        #expect(kept.count == stats.messageCount && kept.count >= 30)
        for (i, message) in kept.enumerated() {
            #expect(message == workload.message(UInt64(100 - kept.count + i)))
        }
    }

    @Test func overwriteBatchLargerThanTheRingKeepsItsNewest() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, policy: .overwriteOldest)
        let producer = try ring.makeProducer()
        let workload = Workload(seed: 3, minSize: 200, maxSize: 200)
        let batch = (UInt64(0)..<50).map { workload.message($0) }
        #expect(try producer.write(batch: batch) == 50)
        let kept = try ring.makeConsumer().read(maxCount: 100)
        #expect(kept.last == batch.last)
        #expect(Array(batch.suffix(kept.count)) == kept)
    }

    @Test func endOfStream() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        try producer.write(bytes("a"))
        try producer.write(bytes("b"))
        producer.closeWriter()
        #expect(try ring.stats().isWriterClosed)
        #expect(try consumer.read() == bytes("a"))
        #expect(try consumer.read(timeout: .seconds(5)) == bytes("b"))
        #expect(throws: RingError.endOfStream) { try consumer.read() }
        #expect(throws: RingError.endOfStream) { try consumer.read(timeout: nil) }
        #expect(throws: RingError.endOfStream) { try consumer.read(maxCount: 3) }
        #expect(throws: RingError.closed) { try producer.write(bytes("c")) }
        // A new producer opens a new stream.
        let next = try ring.makeProducer()
        try next.write(bytes("c"))
        #expect(try consumer.read() == bytes("c"))
        #expect(throws: RingError.empty) { try consumer.read() }
    }

    @Test func reopenKeepsUnreadMessagesAndTheConsumerPosition() throws {
        let t = TempRing()
        do {
            let ring = try Ring.create(at: t.path, capacity: 4096)
            let producer = try ring.makeProducer()
            for i in 0..<5 { try producer.write(bytes("m\(i)")) }
            try producer.flush()
            let consumer = try ring.makeConsumer()
            #expect(try consumer.read() == bytes("m0"))
            consumer.close()
            producer.close()
        }
        do {
            let consumer = try Ring.open(at: t.path).makeConsumer()
            #expect(try consumer.read() == bytes("m1"))
        }
        let ring = try Ring.open(at: t.path)
        #expect(try ring.makeConsumer().peekAll() == (2..<5).map { bytes("m\($0)") })
        #expect(try ring.messageCount == 3)
    }

    @Test func secondProducerAndConsumerAreBusy() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        #expect(throws: RingError.busy(.producer)) { try ring.makeProducer() }
        #expect(throws: RingError.busy(.producer)) { try Ring.open(at: t.path).makeProducer() }
        let consumer = try ring.makeConsumer()
        #expect(throws: RingError.busy(.consumer)) { try ring.makeConsumer() }
        #expect(throws: RingError.busy(.consumer)) { try Ring.open(at: t.path).makeConsumer() }
        producer.close()
        consumer.close()
        _ = try Ring.open(at: t.path).makeProducer()
        _ = try Ring.open(at: t.path).makeConsumer()
    }

    @Test func roleIsReleasedWhenTheHandleGoesAway() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        do { _ = try ring.makeProducer() }
        _ = try Ring.open(at: t.path).makeProducer()
    }

    @Test func closedHandlesSayClosed() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        producer.close()
        consumer.close()
        producer.close() // twice is fine
        #expect(throws: RingError.closed) { try producer.write(bytes("x")) }
        #expect(throws: RingError.closed) { try producer.tryWrite(bytes("x")) }
        #expect(throws: RingError.closed) { try producer.write(batch: [bytes("x")]) }
        #expect(throws: RingError.closed) { try producer.reserve(size: 1) }
        #expect(throws: RingError.closed) { try producer.flush() }
        #expect(throws: RingError.closed) { try consumer.read() }
        #expect(throws: RingError.closed) { try consumer.tryRead() }
        #expect(throws: RingError.closed) { try consumer.read(maxCount: 2) }
        #expect(throws: RingError.closed) { try consumer.peekAll() }
        #expect(throws: RingError.closed) { try consumer.withNextMessage { _ in () } }
        ring.close()
        #expect(throws: RingError.closed) { try ring.makeProducer() }
        #expect(throws: RingError.closed) { try ring.stats() }
        #expect(throws: RingError.closed) { try ring.flush() }
    }

    @Test func zeroCopyWrite() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let buffer = try #require(try producer.reserve(size: 64))
        #expect(buffer.count == 64)
        #expect(throws: RingError.busy(.producer)) { try producer.write(bytes("no")) }
        for i in 0..<5 { buffer[i] = UInt8(ascii: "a") + UInt8(i) }
        #expect(try ring.messageCount == 0) // nothing visible before the commit
        try producer.commitReservation(length: 5)
        #expect(try consumer.read() == bytes("abcde"))

        _ = try producer.reserve(size: 10)
        producer.abortReservation()
        #expect(try ring.stats().isEmpty)

        struct Boom: Error {}
        #expect(throws: Boom.self) { try producer.write(reserving: 8) { _ in throw Boom() } }
        #expect(try ring.stats().isEmpty)
        try producer.write(reserving: 8) { buf in buf.copyBytes(from: bytes("xyz")); return 3 }
        #expect(try consumer.read() == bytes("xyz"))
        #expect(throws: RingError.invalidSize(size: 9, maximum: 8)) {
            _ = try producer.reserve(size: 8)
            try producer.commitReservation(length: 9)
        }
    }

    @Test func zeroCopyRead() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        try producer.write(bytes("one"))
        try producer.write(bytes("two"))
        struct Boom: Error {}
        #expect(throws: Boom.self) { try consumer.withNextMessage { _ in throw Boom() } }
        let first = try consumer.withNextMessage { Array($0) } // not consumed by the failed call
        #expect(first == bytes("one"))
        let count = try consumer.withNextMessage { $0.count }
        #expect(count == 3)
        #expect(throws: RingError.empty) { try consumer.withNextMessage { _ in () } }
    }

    @Test func batches() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let messages = (0..<100).map { [UInt8](repeating: UInt8($0), count: 56) } // 64-byte records
        let written = try producer.write(batch: messages)
        #expect(written == 64) // exactly fills 4096
        #expect(try consumer.read(maxCount: 10) == Array(messages[0..<10]))
        #expect(try consumer.read(maxCount: 100) == Array(messages[10..<64]))
        #expect(try consumer.read(maxCount: 5) == [])
        #expect(throws: RingError.empty) { try consumer.read(maxCount: 5, timeout: .milliseconds(20)) }
        #expect(try producer.write(batch: messages[64...]) == 36)
        #expect(try consumer.peekAll() == Array(messages[64...]))
        #expect(try consumer.read(maxCount: 100, timeout: .seconds(1)) == Array(messages[64...]))
    }

    @Test func createRefusesAnExistingPathUnlessReplacing() throws {
        let t = TempRing()
        let first = try Ring.create(at: t.path, capacity: 4096)
        try first.makeProducer().write(bytes("old"))
        expectSystemError(EEXIST, mentioning: t.path) { _ = try Ring.create(at: t.path, capacity: 8192) }
        #expect(try Ring.open(at: t.path).messageCount == 1)
        let replaced = try Ring.create(at: t.path, capacity: 8192, replaceExisting: true)
        #expect(replaced.capacity == 8192)
        #expect(try replaced.messageCount == 0)
        #expect(try first.messageCount == 1) // the old file lives on for those who have it open
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: t.directory)
        #expect(leftovers == ["ring"])
    }

    @Test func concurrentOpenOrCreateEndsWithOneRing() throws {
        for round in 0..<5 {
            let t = TempRing("race\(round)")
            let path = t.path
            let workers = (0..<8).map { i in
                Worker { () throws -> Int in
                    let ring = try Ring.openOrCreate(at: path, capacity: 4096 << (i % 3), acceptAnyGeometry: true)
                    return ring.capacity
                }
            }
            let capacities = try workers.map { try $0.join() }
            #expect(Set(capacities).count == 1)
            let ring = try Ring.open(at: path)
            #expect(ring.capacity == capacities[0])
            #expect(try FileManager.default.contentsOfDirectory(atPath: t.directory) == ["race\(round)"])
        }
    }
}
