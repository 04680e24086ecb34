// ObserverTests.swift - RingObserver (peek and tail without a role) against a
// racing producer and consumer: every message it returns is whole, in order,
// and received + missed = produced.

import Foundation
import Testing
import RingFormat
import RingWorkload

@Suite("RingObserver")
struct ObserverTests {
    /// Drains `observer` until the producer has finished and the cursor reached the end;
    /// checks each message and returns the indexes seen.
    static func observeAll(_ observer: RingObserver, _ workload: Workload, until done: () -> Bool) throws -> [UInt64] {
        var seen: [UInt64] = []
        while true {
            let finished = done()
            while let m = try observer.next() {
                let ok = m.bytes.withUnsafeBytes { raw -> Bool in
                    guard let i = Workload.index(in: raw) else { return false }
                    seen.append(i)
                    return workload.matches(raw, index: i)
                }
                #expect(ok, "message at \(m.position) (\(m.bytes.count) bytes) is not whole")
                if !ok { return seen }
            }
            if finished { return seen }
        }
    }

    @Test(arguments: [RingPolicy.rejectWhenFull, .overwriteOldest])
    func racingProducerAndConsumerNeverShowATornMessage(policy: RingPolicy) throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 8192, policy: policy)
        let workload = Workload(seed: 9, minSize: 8, maxSize: 300)
        let count: UInt64 = 60_000
        let observer = try ring.makeObserver()
        let producerDone = ManagedFlag()
        let path = t.path
        let producerThread = Worker { () throws -> Void in
            let producer = try Ring.open(at: path).makeProducer()
            for i in 0..<count { try producer.write(workload.message(i), timeout: .seconds(30)) }
            producer.closeWriter()
            producerDone.set()
        }
        // Under reject-when-full a consumer must make room; under overwrite-oldest it races the reclaims.
        let consumerThread = Worker { () throws -> UInt64 in
            let consumer = try Ring.open(at: path).makeConsumer()
            var read: UInt64 = 0
            while true {
                do { _ = try consumer.read(timeout: .seconds(30)); read += 1 } catch RingError.endOfStream { return read }
            }
        }
        let seen = try Self.observeAll(observer, workload, until: { producerDone.isSet })
        try producerThread.join()
        let consumed = try consumerThread.join()
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 }, "out of order")
        if policy == .rejectWhenFull { #expect(consumed == count) }
        // received + missed = produced: what the observer passed over is what it missed.
        let missed = seen.isEmpty ? count : count - UInt64(seen.count)
        #expect(UInt64(seen.count) + missed == count)
        #expect(seen.last.map { $0 < count } ?? true)
        #expect(try observer.isAtEndOfStream())
    }

    @Test func withoutAConsumerAnOverwriteObserverMissesOnlyDroppedMessages() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, policy: .overwriteOldest)
        let workload = Workload(seed: 4, minSize: 8, maxSize: 200)
        let count: UInt64 = 50_000
        let observer = try ring.makeObserver()
        let done = ManagedFlag()
        let path = t.path
        let producerThread = Worker { () throws -> Void in
            let producer = try Ring.open(at: path).makeProducer()
            for i in 0..<count { try producer.write(workload.message(i)) }
            producer.closeWriter()
            done.set()
        }
        let seen = try Self.observeAll(observer, workload, until: { done.isSet })
        try producerThread.join()
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 }, "out of order")
        #expect(seen.last == count - 1, "the observer reaches the last message")
        let missed = count - UInt64(seen.count)
        let dropped = try ring.stats().droppedCount
        // Nobody consumes: a message is missed only if the producer reclaimed it first.
        #expect(missed <= dropped, "missed \(missed), dropped \(dropped)")
        #expect(observer.skippedBytes > 0 || missed == 0)
    }

    @Test func observingChangesNoByteOfTheFile() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        for i in 0..<5 { try producer.write(Array("message \(i)".utf8)) }
        let before = try Data(contentsOf: URL(fileURLWithPath: t.path))
        let observer = try ring.makeObserver()
        var texts: [String] = []
        while let m = try observer.next() { texts.append(String(decoding: m.bytes, as: UTF8.self)) }
        #expect(texts == (0..<5).map { "message \($0)" })
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.path)) == before)
        #expect(try ring.makeConsumer().read(maxCount: 10).count == 5, "nothing was consumed")
    }

    @Test func aHostileRecordIsCorruptionNotACrash() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        try producer.write(Array("ok".utf8))
        try producer.write(Array("second".utf8))
        // The second record's length now runs past what was committed.
        RawFile.write(t.path, at: 4096 + 16, [0xff, 0xff, 0, 0])
        let observer = try ring.makeObserver()
        #expect(try observer.next()?.bytes == Array("ok".utf8))
        #expect(throws: RingError.corrupt(.badRecordLength(position: 16, length: 0xffff))) { try observer.next() }
    }
}

/// A flag one thread sets and another polls.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
