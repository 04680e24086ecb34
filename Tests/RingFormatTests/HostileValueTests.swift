// HostileValueTests.swift - values a peer writes into the shared mapping while
// an honest producer and consumer use it (SPEC.md §13, §10, §12): the honest
// side gets a typed error or valid data, never a crash or an endless wait.

import Foundation
import Testing
import RingFormat
import CRingSys
#if canImport(Glibc)
import Glibc
#endif

@Suite("Hostile values in the shared mapping (SPEC.md §13)")
struct HostileValueTests {
    /// consumerPosition at data offset capacity - 4 (and odd values): reading the
    /// 8-byte header there would run past the mapping.
    @Test(arguments: [65532, 262140, 1, 7, 4095] as [UInt64])
    func misalignedConsumerPositionUnderOverwriteIsCorrupt(hostile: UInt64) throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 65536, policy: .overwriteOldest)
        let p = try ring.makeProducer()
        for _ in 0..<100 { try p.write([UInt8](repeating: 7, count: 1000)) }
        let c = try ring.makeConsumer()
        let peer = SharedMapping(temp.path)
        peer.store(RingLayout.Header.consumerPosition, hostile)
        #expect(throws: RingError.corrupt(.misalignedPosition(hostile))) { _ = try c.tryRead() }
        #expect(throws: RingError.corrupt(.misalignedPosition(hostile))) { _ = try c.read(maxCount: 4) }
        #expect(throws: RingError.corrupt(.misalignedPosition(hostile))) { _ = try c.peekAll() }
        #expect(throws: RingError.corrupt(.misalignedPosition(hostile))) { try p.write([UInt8](repeating: 1, count: 30000)) }
    }

    /// A zero written into readerWaiters while the consumer sleeps without a
    /// timeout: the producer then sees nobody waiting and never wakes it; the
    /// sleep's 100 ms slices (SPEC.md §10) still find the message.
    @Test func aZeroedWaiterCountDoesNotLeaveAReaderAsleep() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096)
        let p = try ring.makeProducer()
        let path = temp.path
        let reader = Worker<[UInt8]> { try Ring.open(at: path).makeConsumer().read(timeout: nil) }
        let peer = SharedMapping(temp.path)
        // Wait until the reader is asleep on the futex (its count is in the file).
        let deadline = ContinuousClock.now + .seconds(5)
        while peer.load(RingLayout.Header.readerWaiters, as: UInt32.self) == 0 && ContinuousClock.now < deadline {
            usleep(1000)
        }
        peer.store(RingLayout.Header.readerWaiters, UInt32(0))
        let start = ContinuousClock.now
        try p.write(bytes("wake up"))
        #expect(try reader.join() == bytes("wake up"))
        #expect(seconds(since: start) < 1.0)
    }

    /// A write whose pages vanished (the file was truncated under the mapping)
    /// went to a private zero page: it must fail, and nothing is committed (SPEC.md §12).
    @Test func aWriteIntoTruncatedPagesIsNotCommitted() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 65536)
        let p = try ring.makeProducer()
        let before = RawFile.get(temp.path, RingLayout.Header.producerPosition, as: UInt64.self)
        RawFile.truncate(temp.path, to: RingLayout.defaultHeaderSize)
        #expect {
            try p.write([UInt8](repeating: 9, count: 20000))
        } throws: { error in
            guard case RingError.corrupt(.truncated) = error else { return false }
            return true
        }
        let peer = SharedMapping(temp.path)
        #expect(peer.load(RingLayout.Header.producerPosition, as: UInt64.self) == before)
    }

    /// Padding followed by padding at offset 0 is misplaced padding (SPEC.md §13).
    @Test func paddingAfterPaddingIsMisplacedPadding() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096, initialPosition: 4096 - 16)
        let p = try ring.makeProducer()
        try p.write([UInt8](repeating: 3, count: 100)) // padding at 4080, message at 0
        let peer = SharedMapping(temp.path)
        let data = RingLayout.defaultHeaderSize
        // Turn the message at offset 0 into a padding record of the whole region.
        peer.base.storeBytes(of: UInt32(4096 - 8).littleEndian, toByteOffset: data, as: UInt32.self)
        peer.base.storeBytes(of: UInt32(RingLayout.recordKindPadding).littleEndian, toByteOffset: data + 4, as: UInt32.self)
        let c = try ring.makeConsumer()
        #expect(throws: RingError.corrupt(.misplacedPadding(position: 4096))) { _ = try c.tryRead() }
    }

    /// A directory is SYSTEM(EISDIR), a FIFO SYSTEM(EINVAL) (SPEC.md §13).
    @Test func nonRegularFilesAreSystemErrors() throws {
        let temp = TempRing()
        mkdir(temp.path, 0o700)
        expectSystemError(EISDIR, mentioning: temp.path) { _ = try Ring.open(at: temp.path) }
        let fifo = temp.directory + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect {
            _ = try Ring.open(at: fifo)
        } throws: { error in
            guard case RingError.system(_, EINVAL) = error else { return false }
            return true
        }
    }
}

@Suite("Role locks without OFD locks (SPEC.md §11.2)")
struct ClassicLockTests {
    /// With classic POSIX locks two opens in one process must not both take a
    /// role, and closing one of them must not drop the other's lock.
    @Test func twoOpensInOneProcessShareOneRoleAndClosingOneKeepsIt() throws {
        let temp = TempRing()
        _ = try Ring.create(at: temp.path, capacity: 4096)
        // Files opened while the switch is on use classic locks (other tests running meanwhile too: harmless).
        ringsys_use_classic_locks(1)
        let ring = try Ring.open(at: temp.path)
        let second = try Ring.open(at: temp.path)
        ringsys_use_classic_locks(0)
        let producer = try ring.makeProducer()
        let early = try RingCtl.run(["write", temp.path, "intruder"])
        #expect(early.status != 0, "held before the second open")
        #expect(throws: RingError.busy(.producer)) { _ = try second.makeProducer() }
        withExtendedLifetime(second) {} // the second Ring and its descriptor go away here
        // Another process must still find the role held.
        let other = try RingCtl.run(["write", temp.path, "intruder"])
        #expect(other.status != 0)
        #expect(other.output.contains("producer"))
        try producer.write(bytes("mine"))
        producer.close()
        // Once released, the role is free for others.
        #expect(try RingCtl.run(["write", temp.path, "next"]).status == 0)
    }
}

@Suite("Truncation while waiting (SPEC.md §12)")
struct TruncationWhileWaitingTests {
    /// A writer blocked without a timeout touches no page, so no fault tells it the file
    /// shrank: its wait checks the file size every slice.
    @Test func aWriterBlockedWithoutTimeoutNoticesTheTruncation() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096)
        let filler = try ring.makeProducer()
        while try filler.tryWrite([UInt8](repeating: 1, count: 500)) {}
        filler.close()
        let path = temp.path
        let writer = Worker<RingError?> {
            let p = try Ring.open(at: path).makeProducer()
            do { try p.write([UInt8](repeating: 2, count: 500), timeout: nil); return nil } catch let e as RingError { return e }
        }
        usleep(200_000)
        RawFile.truncate(path, to: RingLayout.defaultHeaderSize)
        let start = ContinuousClock.now
        let error = try writer.join()
        #expect(seconds(since: start) < 1.0)
        guard case .corrupt(.truncated)? = error else {
            Issue.record("expected corrupt(truncated), got \(String(describing: error))")
            return
        }
    }

    @Test func aReaderBlockedWithoutTimeoutNoticesTheTruncation() throws {
        let temp = TempRing()
        _ = try Ring.create(at: temp.path, capacity: 4096)
        let path = temp.path
        let reader = Worker<RingError?> {
            let c = try Ring.open(at: path).makeConsumer()
            do { _ = try c.read(timeout: nil); return nil } catch let e as RingError { return e }
        }
        usleep(200_000)
        RawFile.truncate(path, to: 100)
        guard case .corrupt(.truncated)? = try reader.join() else {
            Issue.record("expected corrupt(truncated)")
            return
        }
    }
}
