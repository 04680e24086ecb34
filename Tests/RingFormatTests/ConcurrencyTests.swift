// ConcurrencyTests.swift - a producer and a consumer running at once: in two
// threads, in two processes, blocking and waking, under both policies.

import Foundation
import Testing
import RingFormat
import RingWorkload
#if canImport(Glibc)
import Glibc
#endif

/// Cheap per-message check for long runs: the index in the first 8 bytes,
/// the size, and a running FNV-1a checksum compared at the end.
struct StreamCheck {
    let workload: Workload
    var checksum = StreamChecksum()
    var next: UInt64 = 0

    mutating func accept(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard raw.count == workload.size(of: next) else { return false }
        if raw.count >= 8, Workload.index(in: raw) != next { return false }
        checksum.add(raw)
        next += 1
        return true
    }
}

@Suite("Concurrency", .serialized)
struct ConcurrencyTests {
    static let threadMessages: UInt64 = ProcessInfo.processInfo.environment["RING_TEST_MESSAGES"].flatMap(UInt64.init) ?? 10_000_000

    @Test func tenMillionMessagesBetweenTwoThreads() throws {
        let t = TempRing()
        let path = t.path
        _ = try Ring.create(at: path, capacity: 1 << 16)
        let count = Self.threadMessages
        let workload = Workload(seed: 42, minSize: 0, maxSize: 48)

        let producer = Worker { () throws -> UInt64 in
            let p = try Ring.open(at: path).makeProducer()
            var sum = StreamChecksum()
            var buffer = [UInt8](repeating: 0, count: workload.maxSize)
            try buffer.withUnsafeMutableBytes { raw in
                for index in 0..<count {
                    let m = UnsafeMutableRawBufferPointer(rebasing: raw[0..<workload.size(of: index)])
                    if m.count >= 8 { m.storeBytes(of: index.littleEndian, as: UInt64.self) }
                    for j in min(8, m.count)..<m.count { m[j] = UInt8(truncatingIfNeeded: index &+ UInt64(j)) }
                    sum.add(UnsafeRawBufferPointer(m))
                    if !(try p.tryWrite(UnsafeRawBufferPointer(m))) {
                        try p.write(UnsafeRawBufferPointer(m), timeout: .seconds(30))
                    }
                }
            }
            p.closeWriter()
            return sum.value
        }
        let consumer = Worker { () throws -> (UInt64, UInt64) in
            let c = try Ring.open(at: path).makeConsumer()
            var check = StreamCheck(workload: workload)
            while true {
                let ok: Bool
                do {
                    ok = try c.withNextMessage(timeout: .seconds(30)) { check.accept($0) }
                } catch RingError.endOfStream {
                    break
                }
                if !ok { throw RingError.corrupt(.badRecordLength(position: check.next, length: 0)) }
            }
            return (check.next, check.checksum.value)
        }
        let sent = try producer.join()
        let (received, sum) = try consumer.join()
        #expect(received == count)
        #expect(sum == sent)
    }

    @Test func overwriteOldestBetweenTwoThreadsNeverTearsARecord() throws {
        let t = TempRing()
        let path = t.path
        _ = try Ring.create(at: path, capacity: 1 << 13, policy: .overwriteOldest)
        let count: UInt64 = 300_000
        let workload = Workload(seed: 9, minSize: 8, maxSize: 300)
        let producer = Worker { () throws -> UInt64 in
            let p = try Ring.open(at: path).makeProducer()
            for index in 0..<count { try p.write(workload.message(index)) }
            p.closeWriter()
            return try Ring.open(at: path).stats().droppedCount
        }
        let consumer = Worker { () throws -> (Int, UInt64) in
            let c = try Ring.open(at: path).makeConsumer()
            var received = 0
            var next: UInt64 = 0
            while true {
                let message: [UInt8]
                do { message = try c.read(timeout: .seconds(30)) } catch RingError.endOfStream { break }
                let index = try message.withUnsafeBytes { raw throws -> UInt64 in
                    guard let i = Workload.index(in: raw), i >= next, workload.matches(raw, index: i) else {
                        throw RingError.corrupt(.badRecordLength(position: next, length: UInt32(raw.count)))
                    }
                    return i
                }
                next = index + 1
                received += 1
            }
            return (received, next)
        }
        let dropped = try producer.join()
        let (received, last) = try consumer.join()
        #expect(last == count) // the newest message always survives
        #expect(UInt64(received) + dropped == count) // each message read once or dropped once
    }

    @Test func blockedReaderWakesWhenAMessageArrives() throws {
        let t = TempRing()
        let path = t.path
        let ring = try Ring.create(at: path, capacity: 4096)
        let producer = try ring.makeProducer()
        let reader = Worker { () throws -> (Double, [UInt8]) in
            let c = try Ring.open(at: path).makeConsumer()
            let start = ContinuousClock.now
            let m = try c.read(timeout: .seconds(20))
            return (seconds(since: start), m)
        }
        usleep(300_000)
        try producer.write(bytes("wake"))
        let (waited, message) = try reader.join()
        #expect(message == bytes("wake"))
        #expect(waited >= 0.25 && waited < 10)
        // It slept rather than spun: a sleeper is counted on the wait line until woken.
        #expect(RawFile.get(path, RingLayout.Header.readerWaiters, as: UInt32.self) == 0)
        #expect(RawFile.get(path, RingLayout.Header.dataSignal, as: UInt32.self) >= 1)
    }

    @Test func blockedReaderTimesOut() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let consumer = try ring.makeConsumer()
        let start = ContinuousClock.now
        #expect(throws: RingError.empty) { try consumer.read(timeout: .milliseconds(200)) }
        let waited = seconds(since: start)
        #expect(waited >= 0.19 && waited < 5)
        #expect(try consumer.waitForMessage(timeout: .milliseconds(50)) == false)
    }

    @Test func blockedReaderWakesAtEndOfStream() throws {
        let t = TempRing()
        let path = t.path
        let ring = try Ring.create(at: path, capacity: 4096)
        let producer = try ring.makeProducer()
        let reader = Worker { () throws -> Bool in
            let c = try Ring.open(at: path).makeConsumer()
            do { _ = try c.read(timeout: .seconds(20)) } catch RingError.endOfStream { return true }
            return false
        }
        usleep(200_000)
        producer.closeWriter()
        #expect(try reader.join())
    }

    @Test func blockedWriterWakesWhenRoomIsMade() throws {
        let t = TempRing()
        let path = t.path
        let ring = try Ring.create(at: path, capacity: 4096)
        let consumer = try ring.makeConsumer()
        let big = [UInt8](repeating: 1, count: 2040)
        let writer = Worker { () throws -> Double in
            let p = try Ring.open(at: path).makeProducer()
            try p.write(big)
            try p.write(big) // ring now exactly full
            #expect(throws: RingError.full) { try p.write(big, timeout: .milliseconds(100)) }
            let start = ContinuousClock.now
            try p.write(big, timeout: .seconds(20))
            return seconds(since: start)
        }
        while try ring.stats().messageCount < 2 { usleep(1000) }
        usleep(300_000)
        _ = try consumer.read()
        let waited = try writer.join()
        #expect(waited >= 0.1 && waited < 10)
        #expect(try ring.messageCount == 2)
    }

    @Test(arguments: ["reject", "overwrite"])
    func producerProcessAndConsumerProcess(policy: String) throws {
        let t = TempRing()
        let create = try RingCtl.run(["create", t.path, "--capacity", "65536", "--policy", policy])
        #expect(create.status == 0, "\(create.output)")
        let common = ["--count", "100000", "--seed", "5", "--min-size", "8", "--max-size", "1000"]
        let consumer = try RingWorkloadTool.start(["consume", t.path, "--until-end", "--timeout-ms", "60000"] + common)
        let producer = try RingWorkloadTool.run(["produce", t.path, "--close", "--timeout-ms", "60000"] + common)
        #expect(producer.status == 0, "\(producer.output)")
        let result = RingWorkloadTool.finish(consumer)
        #expect(result.status == 0, "\(result.output)")
        if policy == "reject" {
            // Every message, in order, byte for byte: the checksum is over all 100000.
            var sum = StreamChecksum()
            let workload = Workload(seed: 5, minSize: 8, maxSize: 1000)
            for i in UInt64(0)..<100_000 { workload.message(i).withUnsafeBytes { sum.add($0) } }
            #expect(result.output.contains("consumed 100000 messages"), "\(result.output)")
            #expect(result.output.contains("checksum 0x" + String(sum.value, radix: 16)), "\(result.output)")
        } else {
            #expect(result.output.contains("consumed "), "\(result.output)")
        }
    }

    @Test func producerRoleIsBusyAcrossProcessesAndFreedByKill() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        do {
            let producer = try ring.makeProducer()
            let other = try RingCtl.run(["write", t.path, "x"])
            #expect(other.status == 1 && other.output.contains("producer role"), "\(other.output)")
            producer.close()
        }
        // A producer process killed with SIGKILL while blocked on a full ring
        // leaves no stale lock behind.
        let blocked = try RingWorkloadTool.start(["produce", t.path, "--count", "1000000", "--max-size", "64"])
        while try ring.stats().freeBytes > 100 { usleep(1000) }
        #expect(throws: RingError.busy(.producer)) { try ring.makeProducer() }
        kill(blocked.0.processIdentifier, SIGKILL)
        _ = RingWorkloadTool.finish(blocked)
        let next = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        let before = try ring.messageCount
        _ = try consumer.read(maxCount: 1_000_000)
        try next.write(bytes("after"))
        #expect(try consumer.read() == bytes("after"))
        #expect(before > 0)
    }
}
