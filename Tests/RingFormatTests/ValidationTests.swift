// ValidationTests.swift - every header field and record check of SPEC.md §13,
// each with a deliberately corrupted file, gives its documented error.

import Foundation
import Testing
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// When a corruption is noticed: at open, when taking a role, or on reading.
enum Stage: Sendable { case open, consumer, read, stats }

struct CorruptionCase: Sendable, CustomStringConvertible {
    let description: String
    let policy: RingPolicy
    let stage: Stage
    let mutate: @Sendable (String) -> Void
    let check: @Sendable (RingError?) -> Bool

    init(_ name: String, policy: RingPolicy = .rejectWhenFull, stage: Stage = .open,
         mutate: @escaping @Sendable (String) -> Void, check: @escaping @Sendable (RingError?) -> Bool) {
        self.description = name
        self.policy = policy
        self.stage = stage
        self.mutate = mutate
        self.check = check
    }
}

let H = RingLayout.Header.self
let dataBase = RingLayout.defaultHeaderSize

let corruptionCases: [CorruptionCase] = [
    .init("wrong magic", mutate: { RawFile.write($0, at: 0, bytes("XINGFMT\0")) },
          check: { $0 == .corrupt(.badMagic) }),
    .init("unknown major version", mutate: { RawFile.put($0, H.versionMajor, UInt16(2)) },
          check: { $0 == .unsupportedVersion(.majorVersion(major: 2, minor: 0)) }),
    .init("newer minor version is accepted", mutate: {
        RawFile.put($0, H.versionMinor, UInt16(3)); RawFile.fixChecksum($0)
    }, check: { $0 == nil }),
    .init("checksum mismatch", mutate: {
        let c = RawFile.get($0, H.headerChecksum, as: UInt32.self)
        RawFile.put($0, H.headerChecksum, c ^ 1)
    }, check: { if case .corrupt(.badChecksum) = $0 { return true } else { return false } }),
    .init("identity byte changed without checksum", mutate: { RawFile.write($0, at: 64, [1]) },
          check: { if case .corrupt(.badChecksum) = $0 { return true } else { return false } }),
    .init("reserved identity byte with checksum is accepted", mutate: {
        RawFile.write($0, at: 64, [1]); RawFile.fixChecksum($0)
    }, check: { $0 == nil }),
    .init("header size not a power of two", mutate: {
        RawFile.put($0, H.headerSize, UInt32(3000)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.badHeaderSize(3000)) }),
    .init("header size too large", mutate: {
        RawFile.put($0, H.headerSize, UInt32(1 << 20)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.badHeaderSize(1 << 20)) }),
    .init("header size larger than the file allows", mutate: {
        RawFile.put($0, H.headerSize, UInt32(8192)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.truncated(fileSize: 8192, expected: 8192 + 4096)) }),
    .init("capacity not a power of two", mutate: {
        RawFile.put($0, H.capacity, UInt64(5000)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.badCapacity(5000)) }),
    .init("capacity zero", mutate: {
        RawFile.put($0, H.capacity, UInt64(0)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.badCapacity(0)) }),
    .init("capacity too small", mutate: {
        RawFile.put($0, H.capacity, UInt64(2048)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.badCapacity(2048)) }),
    .init("capacity too large", mutate: {
        RawFile.put($0, H.capacity, UInt64(1) << 41); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.badCapacity(1 << 41)) }),
    .init("capacity larger than the file", mutate: {
        RawFile.put($0, H.capacity, UInt64(8192)); RawFile.fixChecksum($0)
    }, check: { $0 == .corrupt(.truncated(fileSize: 8192, expected: 4096 + 8192)) }),
    .init("unknown policy", mutate: {
        RawFile.put($0, H.policy, UInt32(7)); RawFile.fixChecksum($0)
    }, check: { $0 == .unsupportedVersion(.policy(7)) }),
    .init("unknown incompatible flag", mutate: {
        RawFile.put($0, H.incompatFlags, UInt32(1 << 5)); RawFile.fixChecksum($0)
    }, check: { $0 == .unsupportedVersion(.incompatibleFlags(1 << 5)) }),
    .init("unknown compatible flag is ignored", mutate: {
        RawFile.put($0, H.compatFlags, UInt32(0x80)); RawFile.fixChecksum($0)
    }, check: { $0 == nil }),
    .init("empty file", mutate: { RawFile.truncate($0, to: 0) },
          check: { $0 == .corrupt(.truncated(fileSize: 0, expected: 4096)) }),
    .init("truncated header", mutate: { RawFile.truncate($0, to: 100) },
          check: { $0 == .corrupt(.truncated(fileSize: 100, expected: 4096)) }),
    .init("truncated data region", mutate: { RawFile.truncate($0, to: 4096 + 2048) },
          check: { $0 == .corrupt(.truncated(fileSize: 6144, expected: 8192)) }),
    .init("file longer than header + capacity", mutate: { RawFile.truncate($0, to: 8192 + 1) },
          check: { $0 == .corrupt(.fileSizeMismatch(fileSize: 8193, expected: 8192)) }),
    .init("misaligned producer position", stage: .consumer,
          mutate: { RawFile.put($0, H.producerPosition, UInt64(5)) },
          check: { $0 == .corrupt(.misalignedPosition(5)) }),
    .init("misaligned consumer position", stage: .consumer,
          mutate: { RawFile.put($0, H.consumerPosition, UInt64(12)); RawFile.put($0, H.producerPosition, UInt64(16)) },
          check: { $0 == .corrupt(.misalignedPosition(12)) }),
    .init("consumer ahead of producer", stage: .consumer, mutate: {
        RawFile.put($0, H.producerPosition, UInt64(8)); RawFile.put($0, H.consumerPosition, UInt64(16))
    }, check: { $0 == .corrupt(.positionsOutOfOrder(producer: 8, consumer: 16)) }),
    .init("producer more than capacity ahead", stage: .consumer,
          mutate: { RawFile.put($0, H.producerPosition, UInt64(8192)) },
          check: { $0 == .corrupt(.positionsOutOfOrder(producer: 8192, consumer: 0)) }),
    .init("bad writer state", stage: .stats, mutate: { RawFile.put($0, H.writerState, UInt32(9)) },
          check: { $0 == .corrupt(.badWriterState(9)) }),
    .init("bad writer state seen by an empty read", stage: .read, mutate: {
        RawFile.put($0, H.writerState, UInt32(9))
        RawFile.put($0, H.producerPosition, UInt64(0))
    }, check: { $0 == .corrupt(.badWriterState(9)) }),
    .init("length prefix past the capacity", stage: .read,
          mutate: { RawFile.put($0, RingLayout.Record.length, UInt32(0xFFFF_FFF0), base: dataBase) },
          check: { $0 == .corrupt(.badRecordLength(position: 0, length: 0xFFFF_FFF0)) }),
    .init("length prefix past what was committed", stage: .read,
          mutate: { RawFile.put($0, RingLayout.Record.length, UInt32(100), base: dataBase) },
          check: { $0 == .corrupt(.badRecordLength(position: 0, length: 100)) }),
    .init("length prefix past the capacity, overwrite-oldest", policy: .overwriteOldest, stage: .read,
          mutate: { RawFile.put($0, RingLayout.Record.length, UInt32(0x7FFF_0000), base: dataBase) },
          check: { $0 == .corrupt(.badRecordLength(position: 0, length: 0x7FFF_0000)) }),
    .init("unknown record kind", stage: .read,
          mutate: { RawFile.put($0, RingLayout.Record.kind, UInt32(7), base: dataBase) },
          check: { $0 == .corrupt(.badRecordKind(position: 0, kind: 7)) }),
    .init("padding record that does not reach the end", stage: .read,
          mutate: { RawFile.put($0, RingLayout.Record.kind, RingLayout.recordKindPadding, base: dataBase) },
          check: { $0 == .corrupt(.misplacedPadding(position: 0)) }),
    .init("padding record as the last committed record", stage: .read, mutate: {
        RawFile.put($0, RingLayout.Record.length, UInt32(4096 - 8), base: dataBase)
        RawFile.put($0, RingLayout.Record.kind, RingLayout.recordKindPadding, base: dataBase)
        RawFile.put($0, H.producerPosition, UInt64(4096))
    }, check: { $0 == .corrupt(.misplacedPadding(position: 0)) }),
]

@Suite("Validation (SPEC.md §13)")
struct ValidationTests {
    @Test(arguments: corruptionCases)
    func corruptedFileGivesItsError(_ c: CorruptionCase) throws {
        let t = TempRing()
        do {
            let ring = try Ring.create(at: t.path, capacity: 4096, policy: c.policy)
            let p = try ring.makeProducer()
            try p.write(bytes("abcdefghijk")) // one committed 11-byte record: positions 0 -> 24
            p.close()
        }
        c.mutate(t.path)
        var error: RingError?
        do {
            let ring = try Ring.open(at: t.path)
            switch c.stage {
            case .open: _ = try ring.stats()
            case .consumer: _ = try ring.makeConsumer()
            case .stats: _ = try ring.stats()
            case .read: _ = try ring.makeConsumer().read()
            }
        } catch let e {
            error = e
        }
        #expect(c.check(error), "\(c): got \(String(describing: error))")
    }

    @Test func missingFile() {
        let t = TempRing()
        expectSystemError(ENOENT, mentioning: t.path) { _ = try Ring.open(at: t.path) }
    }

    @Test func directory() {
        let t = TempRing()
        expectSystemError(EISDIR, mentioning: t.directory) { _ = try Ring.open(at: t.directory) }
    }

    @Test(.enabled(if: geteuid() != 0, "root ignores file permissions"))
    func noPermission() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096, mode: 0o000)
        expectSystemError(EACCES, mentioning: t.path) { _ = try Ring.open(at: t.path) }
    }

    @Test func corruptionNoticedWhileTheRingIsOpen() throws {
        // A hostile peer rewrites a length prefix after the consumer opened the ring.
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let consumer = try ring.makeConsumer()
        let producer = try ring.makeProducer()
        try producer.write(bytes("first"))
        try producer.write(bytes("second"))
        #expect(try consumer.read() == bytes("first"))
        RawFile.put(t.path, RingLayout.Record.length, UInt32(4000), base: dataBase + 16)
        #expect(throws: RingError.corrupt(.badRecordLength(position: 16, length: 4000))) { try consumer.read() }
        // Still an error, not a crash, on every later call.
        #expect(throws: RingError.corrupt(.badRecordLength(position: 16, length: 4000))) { try consumer.read(maxCount: 4) }
        #expect(throws: RingError.corrupt(.badRecordLength(position: 16, length: 4000))) { try ring.stats() }
    }

    @Test func hostileRecordSeenByOverwritingProducer() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, policy: .overwriteOldest)
        let producer = try ring.makeProducer()
        let message = [UInt8](repeating: 7, count: 1000)
        for _ in 0..<4 { try producer.write(message) } // 4 x 1008 bytes: 4032 used
        RawFile.put(t.path, RingLayout.Record.kind, UInt32(99), base: dataBase)
        // The next write must reclaim the first record, whose header is now garbage.
        #expect(throws: RingError.corrupt(.badRecordKind(position: 0, kind: 99))) { try producer.write(message) }
    }
}

@Suite("A file truncated under a running reader or writer")
struct TruncationTests {
    @Test func readerReportsTruncationInsteadOfCrashing() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 16384)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        for i in 0..<100 { try producer.write([UInt8](repeating: UInt8(i), count: 100)) }
        #expect(try consumer.read().count == 100)
        // A buggy peer cuts the data region away while both sides have it mapped.
        RawFile.truncate(t.path, to: RingLayout.defaultHeaderSize)
        let expected = RingError.corrupt(.truncated(fileSize: 4096, expected: 4096 + 16384))
        #expect(throws: expected) { try consumer.read() }
        #expect(throws: expected) { try consumer.read(maxCount: 10) }
        #expect(throws: expected) { try producer.write(bytes("more")) }
        #expect(throws: expected) { try ring.stats() }
        // Opening it again is refused by validation.
        #expect(throws: expected) { try Ring.open(at: t.path) }
    }

    @Test func headerTruncatedAway() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        try producer.write(bytes("x"))
        RawFile.truncate(t.path, to: 0)
        #expect(throws: RingError.corrupt(.truncated(fileSize: 0, expected: 8192))) { try ring.stats() }
        #expect(throws: RingError.corrupt(.truncated(fileSize: 0, expected: 8192))) { try producer.write(bytes("y")) }
    }
}
