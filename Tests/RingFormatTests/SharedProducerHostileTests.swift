// SharedProducerHostileTests.swift - a ring with several producers whose shared words
// lie (SPEC.md §18.10): a garbage claimPosition, a stamp on a claim nobody made, a slot
// whose intent runs past claimPosition, a cancelled claim larger than what was published,
// committed records that do not parse, a slot state no producer writes. Every case ends in
// a typed CORRUPT error, within the bound of §18.7, never a crash or an endless wait.

import Foundation
import Testing
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

@Suite("Several producers: hostile values")
struct SharedProducerHostileTests {
    static let table = RingLayout.producerTableOffset(headerSize: 4096)
    static let data = 4096

    /// A ring with two producer slots; `poison` writes into it behind the library's back.
    static func ring(_ t: TempRing, _ poison: (String) -> Void) throws -> Ring {
        let ring = try Ring.create(at: t.path, capacity: 4096, producerSlots: 2)
        poison(t.path)
        return ring
    }

    /// The reason of the CORRUPT error `body` throws (nil if it throws another error or none),
    /// and how long it took.
    static func corruption(_ body: () throws -> Void) -> (CorruptionReason?, Double) {
        let start = ContinuousClock.now
        do { try body() } catch {
            if case .corrupt(let reason)? = error as? RingError { return (reason, seconds(since: start)) }
            return (nil, seconds(since: start))
        }
        return (nil, seconds(since: start))
    }

    /// A reclaim whose reclaimer has not named itself yet (reclaimSequence odd, reclaimOwner 0)
    /// is live: another producer must wait, not end it and reclaim beside it. Before, it took
    /// owner 0 for dead (CI: a second reclaimer walked records the first was overwriting and
    /// reported CORRUPT(badRecordKind)). A value that stays ownerless ends after CLAIM_TIMEOUT_MS.
    @Test func anOddReclaimSequenceWithNoOwnerYetIsLive() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096, readerSlots: 1, producerSlots: 2)
        let reader = try ring.makeReader()
        let producer = try ring.makeProducer()
        let message = [UInt8](repeating: 7, count: 100)
        while try producer.tryWrite(message) {}
        _ = try reader.read(maxCount: 1000)      // everything read: room, once reclaimed
        let odd: UInt32 = 41
        RawFile.put(temp.path, RingLayout.Header.reclaimSequence, odd)
        RawFile.put(temp.path, RingLayout.Header.reclaimOwner, UInt32(0))
        #expect(throws: RingError.full) { try producer.write(message, timeout: .milliseconds(100)) }
        #expect(RawFile.get(temp.path, RingLayout.Header.reclaimSequence, as: UInt32.self) == odd)
        // A reclaimer that died in that window: the value is ended after the claim timeout.
        try producer.write(message, timeout: .seconds(5))
        #expect(RawFile.get(temp.path, RingLayout.Header.reclaimSequence, as: UInt32.self) & 1 == 0)
        #expect(RawFile.get(temp.path, RingLayout.Header.reclaimOwner, as: UInt32.self) == 0)
    }

    @Test func aGarbageClaimPositionIsCorruptForProducersAndReaders() throws {
        let t = TempRing()
        let ring = try Self.ring(t) { RawFile.put($0, RingLayout.Header.claimPosition, UInt64(12_345)) }
        let producer = try ring.makeProducer()
        let (w, _) = Self.corruption { try producer.write(bytes("x")) }
        #expect(w == .badClaimPosition(12_345))
        let consumer = try ring.makeConsumer()
        let (r, elapsed) = Self.corruption { _ = try consumer.read(timeout: .seconds(5)) }
        #expect(r == .badClaimPosition(12_345))
        #expect(elapsed < 1)
        // Far past the tail, but aligned.
        RawFile.put(t.path, RingLayout.Header.claimPosition, UInt64(1 << 20))
        let (far, _) = Self.corruption { try producer.write(bytes("x")) }
        #expect(far == .badClaimPosition(1 << 20))
    }

    @Test func aStampOnAClaimNobodyMadeIsCorruptWithinTheBound() throws {
        let t = TempRing()
        // claimPosition says 64 bytes are claimed; the control word says slot 1 owns them,
        // but slot 1 never made an intent.
        let ring = try Self.ring(t) { path in
            RawFile.put(path, RingLayout.Header.claimPosition, UInt64(64))
            RawFile.write(path, at: Self.data + 8, withUnsafeBytes(of: (UInt64(1) << 62 | UInt64(1) << 52).littleEndian) { Array($0) })
        }
        let consumer = try ring.makeConsumer()
        let (reason, elapsed) = Self.corruption { _ = try consumer.read(timeout: .seconds(10)) }
        #expect(reason == .badClaim(position: 0))
        #expect(elapsed < 4, "took \(elapsed) s")
    }

    @Test func anIntentThatRunsPastClaimPositionIsCorrupt() throws {
        let t = TempRing()
        let ring = try Self.ring(t) { path in
            let slot = Self.table + RingLayout.producerSlotSize
            RawFile.put(path, RingLayout.Header.claimPosition, UInt64(64))
            RawFile.put(path, RingLayout.ProducerSlot.state, RingLayout.producerSlotActive, base: slot)
            RawFile.put(path, RingLayout.ProducerSlot.claimState, RingLayout.claimIntent, base: slot)
            RawFile.put(path, RingLayout.ProducerSlot.claimStart, UInt64(0), base: slot)
            RawFile.put(path, RingLayout.ProducerSlot.claimEnd, UInt64(1 << 30), base: slot)
        }
        let consumer = try ring.makeConsumer()
        let (reason, elapsed) = Self.corruption { _ = try consumer.read(timeout: .seconds(10)) }
        #expect(reason == .badClaim(position: 0))
        #expect(elapsed < 4, "took \(elapsed) s")
    }

    @Test func aCancelledClaimLargerThanWhatWasPublishedIsCorrupt() throws {
        let t = TempRing()
        let ring = try Self.ring(t) { _ in }
        let producer = try ring.makeProducer()
        try producer.write(bytes("published"))
        // The published claim is 32 bytes; its control word now says: cancelled, 2048 bytes.
        let cancelled = UInt64(2) << 62 | (UInt64(2048) >> 3)
        RawFile.write(t.path, at: Self.data + 8, withUnsafeBytes(of: cancelled.littleEndian) { Array($0) })
        let consumer = try ring.makeConsumer()
        let (reason, _) = Self.corruption { _ = try consumer.read() }
        #expect(reason == .badClaim(position: 0))
    }

    @Test func committedRecordsThatDoNotParseAreCorrupt() throws {
        let t = TempRing()
        let ring = try Self.ring(t) { path in
            RawFile.put(path, RingLayout.Header.claimPosition, UInt64(64))
            // COMMITTED by slot 0, lap 0; the record header is kind 9.
            RawFile.write(path, at: Self.data, [5, 0, 0, 0, 9, 0, 0, 0])
            RawFile.write(path, at: Self.data + 8, withUnsafeBytes(of: (UInt64(1) << 62 | UInt64(1) << 56).littleEndian) { Array($0) })
        }
        let consumer = try ring.makeConsumer()
        let (reason, elapsed) = Self.corruption { _ = try consumer.read(timeout: .seconds(5)) }
        #expect(reason == .badClaim(position: 0))
        #expect(elapsed < 1)
    }

    @Test func aSlotStateNoProducerWritesIsCorrupt() throws {
        let t = TempRing()
        let ring = try Self.ring(t) { path in
            RawFile.put(path, RingLayout.ProducerSlot.state, UInt32(7), base: Self.table)
            RawFile.put(path, RingLayout.ProducerSlot.claimState, UInt32(9), base: Self.table + RingLayout.producerSlotSize)
        }
        let (reason, _) = Self.corruption { _ = try ring.makeProducer() }
        #expect(reason == .badProducerSlot(slot: 0, state: 7))
        let (listed, _) = Self.corruption { _ = try ring.producers() }
        #expect(listed == .badProducerSlot(slot: 0, state: 7))
    }

    @Test func aFileWithProducersAndOverwriteIsCorruptAtOpen() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096, producerSlots: 2)
        RawFile.put(t.path, RingLayout.Header.policy, RingLayout.policyOverwriteOldest)
        RawFile.fixChecksum(t.path)
        let (reason, _) = Self.corruption { _ = try Ring.open(at: t.path) }
        #expect(reason == .badProducerTable(2))
        RawFile.put(t.path, RingLayout.Header.policy, RingLayout.policyRejectWhenFull)
        RawFile.put(t.path, RingLayout.Header.producerSlots, UInt32(17))
        RawFile.fixChecksum(t.path)
        let (slots, _) = Self.corruption { _ = try Ring.open(at: t.path) }
        #expect(slots == .badProducerTable(17))
    }
}
