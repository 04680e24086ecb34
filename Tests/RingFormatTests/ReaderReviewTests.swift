// ReaderReviewTests.swift - the defects an independent review of SPEC.md §17 found in
// the readers (each test failed before its fix): a durable name taken twice by racing
// joiners (R1), a gating join completing while a live producer's reclaim was in progress
// (R2), a same-process gating reader judged dead with classic locks (R3), a resumed durable
// reader not repairing readerWaiters (R4), joined gating readers lapped under a
// join/reclaim race (R5: a stale "dead" verdict and the order of the state store), a
// newest-joined durable reader counting false misses (R6), a leaving gating reader not
// waking the producer (R7).
import Foundation
import Testing
@testable import RingFormat
import CRingSys
import Atomics

@Suite("Readers, review: joins", .serialized)
struct ReaderJoinReviewTests {
    static func msg(_ n: Int, _ b: UInt8) -> [UInt8] { [UInt8](repeating: b, count: n) }

    /// R1, raced through the public API only.
    @Test func durableNameTakenTwiceRacing() throws {
        var doubles = 0, both = 0
        let rounds = 400
        for _ in 0..<rounds {
            let t = TempRing()
            _ = try Ring.create(at: t.path, capacity: 4096, readerSlots: 4)
            let rings = try (0..<2).map { _ in UncheckedBox(try Ring.open(at: t.path)) }
            let go = ManagedAtomic<Int>(0)
            let keep = UncheckedBox(NSMutableArray())
            let lock = UncheckedBox(NSLock())
            let workers = rings.map { box in Worker { () -> Bool in
                go.wrappingIncrement(ordering: .sequentiallyConsistent)
                while go.load(ordering: .sequentiallyConsistent) < 2 {}
                guard let r = try? box.value.makeReader(ReaderOptions(name: "dup", gating: false)) else { return false }
                lock.value.lock(); keep.value.add(r); lock.value.unlock()
                return true
            } }
            let got = try workers.map { try $0.join() }
            let infos = try Ring.open(at: t.path).readers().filter { $0.name == "dup" }
            if got.allSatisfy({ $0 }) { both += 1 }
            if infos.count > 1 { doubles += 1 }
        }
        print("R1 racing: \(rounds) rounds, both joins succeeded in \(both), name held twice in \(doubles)")
        #expect(doubles == 0)
    }

    /// R2: a gating join must not complete while a live producer is in the middle of a
    /// reclaim whose limit it computed before the join (reclaimSequence odd).
    @Test func aGatingJoinWaitsForAReclaimInProgress() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let producer = try ring.makeProducer()
        for i in 0..<3 { try producer.write(Self.msg(1000, UInt8(i))) } // records at 0, 1016, 2032
        let s = ring.storage
        // The producer begins a reclaim: odd; its limit (no reader yet) is producerPosition.
        s.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent)
        let path = t.path
        let joining = Worker { () throws -> UncheckedBox<RingReader> in
            UncheckedBox(try Ring.open(at: path).makeReader(ReaderOptions(gating: true)))
        }
        usleep(100_000)
        // The producer finishes that reclaim: the first record goes, the sequence is even.
        s.consumerPosition.store(1016, ordering: .sequentiallyConsistent)
        producer.cachedTail = 1016
        s.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let reader = try joining.join().value
        #expect(reader.tail == 1016, "the join completed before the reclaim it raced: cursor \(reader.tail)")
        // From there on it gates: these writes must not overwrite what it has not read.
        var written: [UInt8] = []
        while try producer.tryWrite(Self.msg(1000, UInt8(9 + written.count))) { written.append(UInt8(9 + written.count)) }
        #expect(written.count == 2)
        #expect(try reader.read(maxCount: 10).map { $0[0] } == [1, 2] + written)
        #expect(reader.missedCount == 1, "message 0 went before the join completed")
    }

    /// R2, the limit: a producer stopped in the middle of a reclaim makes a gating join
    /// fail with BUSY(producer) after its 2 s, instead of completing unsafely or waiting for ever.
    @Test func aGatingJoinGivesUpOnAProducerStoppedMidReclaim() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let producer = try ring.makeProducer()
        ring.storage.reclaimSequence.wrappingIncrement(ordering: .sequentiallyConsistent)
        let start = ContinuousClock.now
        #expect(throws: RingError.busy(.producer)) { try Ring.open(at: t.path).makeReader(ReaderOptions(gating: true)) }
        #expect(ContinuousClock.now - start >= .seconds(1.5))
        #expect(try ring.readers().isEmpty, "the failed join gave its slot back")
        // A lapping reader does not wait for it.
        _ = try Ring.open(at: t.path).makeReader(ReaderOptions(gating: false))
        _ = producer
    }

    /// R3: with classic POSIX locks (the only kind on macOS), the producer judges a
    /// gating reader of its own process (another open) dead: F_GETLK never reports
    /// the caller's own locks. It stops gating and the producer laps it.
    @Test func classicLocksSameProcessGatingReaderIsLapped() throws {
        ringsys_use_classic_locks(1)
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let readerRing = try Ring.open(at: t.path)
        ringsys_use_classic_locks(0)
        let reader = try readerRing.makeReader(ReaderOptions(gating: true))
        let producer = try ring.makeProducer()
        for i in 0..<4 { try producer.write(Self.msg(1000, UInt8(i))) }
        // The reader read nothing: a fifth write must not fit.
        let fitted = try producer.tryWrite(Self.msg(1000, 4))
        _ = try? reader.read()
        print("R3: fifth write fitted: \(fitted); gating reader missedCount \(reader.missedCount); readers(): \(try ring.readers().map { ($0.slot, $0.isLive) })")
        #expect(!fitted, "the producer reclaimed past a live gating reader")
        #expect(reader.missedCount == 0)
    }

    /// R4: a durable reader killed while asleep leaves readerWaiters one too high and
    /// `sleeping` 1; coming back with its name does not repair it (only step 1's
    /// "free or dead anonymous" path does), so the count stays wrong forever.
    @Test func durableResumeDoesNotRepairSleepingCount() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let r = try Ring.open(at: t.path).makeReader(ReaderOptions(name: "d", gating: false))
        let slot = r.reader!.slot
        // What SIGKILL during WaitWord.wait's sleep leaves: count + 1, mark 1, lock dropped.
        ring.storage.dataChannel.waiters.wrappingIncrement(ordering: .sequentiallyConsistent)
        slot.sleeping.store(1, ordering: .sequentiallyConsistent)
        r.close()
        let back = try Ring.open(at: t.path).makeReader(ReaderOptions(name: "d", gating: false))
        let waiters = ring.storage.dataChannel.waiters.load(ordering: .sequentiallyConsistent)
        print("R4: resumed in slot \(back.readerSlot!); readerWaiters \(waiters), sleeping \(slot.sleeping.load(ordering: .relaxed))")
        #expect(waiters == 0)
    }
}

@Suite("Readers, review: join against reclaim", .serialized)
struct ReaderJoinStressTests {
    @Test func joinedGatingReaderLappedUnderStress() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096, readerSlots: 4)
        let path = t.path
        let stop = ManagedAtomic<Bool>(false)
        let producer = Worker { () throws -> UInt64 in
            let p = try Ring.open(at: path).makeProducer()
            var payload = [UInt8](repeating: 0, count: 64)
            var n: UInt64 = 0
            while !stop.load(ordering: .relaxed) {
                withUnsafeBytes(of: n) { for i in 0..<8 { payload[i] = $0[i] } }
                if try p.tryWrite(payload) { n += 1 }
            }
            return n
        }
        let joinRing = try Ring.open(at: path)
        var joins = 0, lapped = 0, empty = 0
        let deadline = ContinuousClock.now + .seconds(Double(ProcessInfo.processInfo.environment["RING_JOIN_STRESS_SECONDS"] ?? "4")!)
        while ContinuousClock.now < deadline {
            let r = try joinRing.makeReader(ReaderOptions(gating: true))
            let c = r.tail
            joins += 1
            if let m = try r.tryRead() {
                let off = c & 4095
                let pad: UInt64 = off + 80 > 4096 ? 4096 - off : 0
                if r.tail != c &+ pad &+ 80 || m.count != 64 {
                    lapped += 1
                    if lapped <= 5 { print("R5: join \(joins): cursor after join \(c), read ended at \(r.tail), missed \(r.missedCount)") }
                }
            } else { empty += 1 }
            r.close()
        }
        stop.store(true, ordering: .relaxed)
        let written = try producer.join()
        print("R5: \(joins) gating joins, \(lapped) lapped after their join completed, \(empty) empty; \(written) messages written")
        #expect(lapped == 0)
    }
}

@Suite("Readers, review: resume and leave", .serialized)
struct ReaderResumeTests {
    /// R6: a durable reader that joins at the newest stores resumeIndex 0 (not the index
    /// at its cursor); if it comes back before reading, its first read adds that index
    /// to missedCount although nothing was missed.
    @Test func durableNewestResumeCountsFalseMisses() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 65536, readerSlots: 2)
        let p = try ring.makeProducer()
        for _ in 0..<100 { try p.write([UInt8](repeating: 1, count: 8)) }
        let r = try Ring.open(at: t.path).makeReader(ReaderOptions(name: "x", gating: false, start: .newest))
        r.close()
        try p.write([UInt8](repeating: 2, count: 8))   // index 100, not lapped: the ring has room
        let back = try Ring.open(at: t.path).makeReader(ReaderOptions(name: "x", gating: false))
        let m = try back.read()
        print("R6: resumed durable reader read \(m[0]) with missedCount \(back.missedCount)")
        #expect(back.missedCount == 0)
    }

    /// R7: a gating reader that leaves does not wake a producer asleep on spaceSignal
    /// because of it: the write completes only at the end of a 100 ms slice.
    @Test func leavingGatingReaderDoesNotWakeProducer() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096, readerSlots: 2)
        let r = try Ring.open(at: t.path).makeReader(ReaderOptions(gating: true))
        let p = try ring.makeProducer()
        for _ in 0..<4 { try p.write([UInt8](repeating: 1, count: 1000)) }
        let box = UncheckedBox(p)
        var worst = Duration.zero
        do {
            let started = ManagedAtomic<Bool>(false)
            let w = Worker { () throws -> ContinuousClock.Instant in
                started.store(true, ordering: .relaxed)
                try box.value.write([UInt8](repeating: 2, count: 1000), timeout: .seconds(5))
                return ContinuousClock.now
            }
            while !started.load(ordering: .relaxed) {}
            usleep(30_000) // the producer is asleep now
            let left = ContinuousClock.now
            r.close()
            let done = try w.join()
            worst = done - left
        }
        print("R7: write completed \(worst) after the only gating reader left")
        #expect(worst < .milliseconds(20))
    }
}
