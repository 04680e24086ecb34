// TypedRingTests.swift - typed rings of fixed-size items (format 1.1, SPEC.md §19),
// double mapping and rings without a file (§20): the type description, both
// policies across the wrap with items that straddle the end, spans against
// copies, a racing producer with exact accounting, and hostile headers.

import Foundation
import Testing
import Atomics
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// A 24-byte item whose fields say which item it is.
struct Quote: RingItem, Equatable {
    var index: UInt64
    var price: Double
    var check: UInt32
    var pad: UInt32 = 0

    init(_ i: UInt64) {
        index = i
        price = Double(i) * 0.25
        check = UInt32(truncatingIfNeeded: i &* 0x9E37_79B9_7F4A_7C15 >> 17)
    }

    var isIntact: Bool { self == Quote(index) }

    static let type = try! ItemType("{index:<u8@0,price:<f8@8,check:<u4@16}24")
    static var ringItemType: ItemType { type }
}

/// A flag one thread sets and another polls.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let flag = ManagedAtomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

@Suite("Typed rings (format 1.1)")
struct TypedRingTests {
    @Test("type descriptions: the SPEC.md §19.2 examples parse with their sizes, bad ones are refused")
    func typeDescriptions() throws {
        let good: [(String, Int)] = [
            ("<f8", 8), ("|u1", 1), ("<c8", 8), ("|b1", 1), ("|V16", 16), ("(3)<f4", 12), ("(2,3)<i4", 24),
            ("{ts:<i8@0,px:<f8@8,qty:<i4@16}24", 24), ("{ts:<i8@0,px:<f8@8,qty:<i4@16}20", 20),
            (">i4", 4), ("{a:{b:|u1@0}1@0,c:(2)>u2@2}6", 6), ("<f2", 2), ("<c16", 16), ("|S5", 5),
        ]
        for (text, size) in good {
            #expect(try ItemType(text).size == size, "\(text)")
        }
        let bad = ["", "<u1", "|i4", "f8", "<f3", "<c4", "<f08", "(0)<f8", "(3<f8", "{a:<f8@0}4",
                   "{a:<f8@0,b:<f8@4}16", "{a:<f8@8,b:<f8@0}16", "{a:<f8@0,a:<f8@8}16", "{1a:<f8@0}8",
                   "<f8 ", "<x4", "|V0", "{a:<f8@0}08", "((((((((((1)|u1", "<u8,<u8"]
        for text in bad {
            #expect(throws: RingError.self, "\(text)") { try ItemType(text) }
        }
    }

    @Test("a typed ring holds floor(capacity / itemSize) items, every slot usable, and reports its type")
    func geometry() throws {
        let temp = TempRing()
        let ring = try Ring.createItems(at: temp.path, type: Quote.type, itemCapacity: 1000, itemAlignment: 8)
        #expect(ring.capacity == 32768)
        #expect(ring.geometry.itemCapacity == 32768 / 24)
        #expect(ring.itemType == Quote.type)
        #expect(ring.geometry.versionMinor == 1)
        let again = try Ring.open(at: temp.path)
        #expect(again.itemType?.description == "{index:<u8@0,price:<f8@8,check:<u4@16}24")
        #expect(again.geometry.itemAlignment == 8)
        // A full ring: every one of the slots, then FULL.
        let writer = try ring.makeTypedProducer(of: Quote.self)
        let n = ring.geometry.itemCapacity
        try writer.write((0..<UInt64(n)).map(Quote.init))
        #expect(throws: RingError.full) { try writer.write(Quote(99)) }
        #expect(try ring.stats().messageCount == n)
        // Byte-record handles refuse a typed ring, and item handles a byte ring.
        #expect(throws: RingError.self) { _ = try again.makeConsumer() }
        let bytes = try Ring.create(at: temp.path + ".bytes", capacity: 4096)
        #expect(throws: RingError.self) { _ = try bytes.makeItemProducer() }
        #expect(throws: RingError.self) { _ = try ring.makeTypedConsumer(of: Double.self) }
    }

    @Test("items straddle the end of the region and come back whole, mapped once or twice, both policies",
          arguments: [RingPolicy.rejectWhenFull, .overwriteOldest], [RingMapping.single, .double])
    func straddlingItems(policy: RingPolicy, mapping: RingMapping) throws {
        let temp = TempRing()
        let ring = try Ring.createItems(at: temp.path, type: Quote.type, itemCapacity: 170, itemAlignment: 8,
                                        policy: policy, initialPosition: (1 << 32) - 300, mapping: mapping)
        #expect(ring.isDoubleMapped == (mapping == .double))
        let writer = try ring.makeTypedProducer(of: Quote.self)
        let reader = try ring.makeTypedConsumer(of: Quote.self)
        var next: UInt64 = 0
        var expected: UInt64 = 0
        for round in 0..<200 {
            let n = 1 + (round * 7) % 40
            try writer.write((next..<next + UInt64(n)).map(Quote.init))
            next += UInt64(n)
            let got = try reader.read(maxCount: 1 + (round * 5) % 50)
            for q in got {
                #expect(q.isIntact && q.index == expected)
                expected = q.index + 1
            }
        }
        let rest = try reader.read(maxCount: 10_000)
        for q in rest { #expect(q.isIntact && q.index == expected); expected = q.index + 1 }
        #expect(expected == next)
        #expect(reader.missedCount == 0)
    }

    @Test("overwrite-oldest keeps the newest items, like deque(maxlen), and counts the rest as missed and dropped")
    func overwriteKeepsTheNewest() throws {
        let ring = try Ring.anonymous(capacity: 100, policy: .overwriteOldest, itemType: .float64)
        let cap = ring.geometry.itemCapacity
        #expect(cap == 512)
        let writer = try ring.makeTypedProducer(of: Double.self)
        let reader = try ring.makeTypedConsumer(of: Double.self)
        try writer.write((0..<1300).map(Double.init))   // larger than the ring: the last 512 remain
        #expect(try reader.unread() == (788..<1300).map(Double.init))
        try writer.write([1300, 1301])
        let got = try reader.read(maxCount: 10_000)
        #expect(got == (790..<1302).map(Double.init))
        #expect(reader.missedCount == 790)
        #expect(writer.items.droppedCount == 790)
    }

    @Test("a double-mapped run across the wrap is one span equal to the two spans of a single mapping")
    func doubleMappedSpans() throws {
        let temp = TempRing()
        let ring = try Ring.createItems(at: temp.path, type: Quote.type, itemCapacity: 170, itemAlignment: 8,
                                        initialPosition: 100, mapping: .double)
        let once = try Ring.open(at: temp.path, mapping: .single)
        #expect(ring.isDoubleMapped && !once.isDoubleMapped)
        let writer = try ring.makeTypedProducer(of: Quote.self)
        try writer.write((0..<UInt64(ring.geometry.itemCapacity)).map(Quote.init))
        let consumer = try once.makeItemConsumer()
        let single = try consumer.withUnread { spans in (Array(spans.first), Array(spans.second)) }.result
        #expect(!single.1.isEmpty, "the run should wrap")
        consumer.close()
        let doubled = try ring.makeItemConsumer()
        let whole = try doubled.withUnread { spans -> [UInt8] in
            #expect(spans.second.isEmpty)
            return Array(spans.first)
        }.result
        #expect(whole == single.0 + single.1)
        // And in place, typed: every item whole through the one span.
        let typed = try TypedConsumer<Quote>(doubled)
        let seen = try typed.withReadableSpan { span -> Int in
            #expect(span.count == ring.geometry.itemCapacity)
            let intact = span.allSatisfy { $0.isIntact }
            #expect(intact)
            return span.count
        }
        #expect(seen.consumed == ring.geometry.itemCapacity && seen.dropped == 0)
    }

    @Test("a byte ring's committed records across the wrap are one span when double-mapped")
    func byteRingSpans() throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 4096, initialPosition: 4096 - 96, mapping: .double)
        #expect(ring.isDoubleMapped)
        let producer = try ring.makeProducer()
        for i in 0..<20 { try producer.write([UInt8](repeating: UInt8(i), count: 40)) }
        let doubled = try ring.makeConsumer()
        let (whole, none) = try doubled.committedSpans()
        #expect(none.isEmpty)
        let bytes = Array(whole)
        doubled.close()
        let once = try Ring.open(at: temp.path).makeConsumer()
        let (a, b) = try once.committedSpans()
        #expect(!b.isEmpty)
        #expect(Array(a) + Array(b) == bytes)
        for i in 0..<20 { #expect(try once.read() == [UInt8](repeating: UInt8(i), count: 40)) }
    }

    @Test("a racing producer on another thread, both policies: every item whole, received + missed = produced, missed = dropped",
          arguments: [RingPolicy.rejectWhenFull, .overwriteOldest])
    func racingProducer(policy: RingPolicy) throws {
        let ring = try Ring.anonymous(capacity: 100, policy: policy, itemType: Quote.type, itemAlignment: 8)
        let total: UInt64 = 300_000
        let writer = try ring.makeTypedProducer(of: Quote.self)
        // The consumer first: it counts what it missed from where it started.
        let reader = try ring.makeTypedConsumer(of: Quote.self)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let w = writer
        Thread.detachNewThread {
            var i: UInt64 = 0
            while i < total {
                let n = min(UInt64(1 + Int(i % 37)), total - i)
                try! w.write((i..<i + n).map(Quote.init), timeout: nil)
                i += n
            }
            w.closeWriter()
            done.signal()
        }
        var received: UInt64 = 0
        var expected: UInt64 = 0
        var torn = 0
        var gaps: UInt64 = 0
        while true {
            let got: [Quote]
            do { got = try reader.read(maxCount: 64, timeout: .seconds(10)) } catch {
                if error == .endOfStream { break }
                throw error
            }
            for q in got {
                if !q.isIntact || q.index < expected { torn += 1; continue }
                gaps += q.index - expected
                expected = q.index + 1
                received += 1
            }
        }
        done.wait()
        gaps += total - expected
        #expect(torn == 0)
        #expect(received + reader.missedCount == total)
        #expect(gaps == reader.missedCount)
        #expect(reader.missedCount == (try ring.stats()).droppedCount)
        if policy == .rejectWhenFull { #expect(received == total) }
    }

    @Test("a forked child opens a ring without a file from its descriptor (a new open file description); its inherited handle is FORKED")
    func anonymousRingAcrossFork() throws {
        let ring = try Ring.anonymous(name: "fork-test", capacity: 64, itemType: .float64)
        #expect(ring.path == "memfd:fork-test")
        let consumer = try ring.makeTypedConsumer(of: Double.self)
        let fd = ring.descriptor
        let pid = fork()
        if pid == 0 {
            var code: Int32 = 0
            do { _ = try consumer.read(maxCount: 1); code = 3 } catch {
                if error != .forked { code = 4 }
            }
            if code == 0 {
                do {
                    let mine = try Ring.open(descriptor: fd)
                    let writer = try mine.makeTypedProducer(of: Double.self)
                    try writer.write([1.5, 2.5, 3.5])
                    writer.closeWriter()
                } catch { code = 5 }
            }
            _exit(code)
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(status == 0)
        #expect(try consumer.read(maxCount: 10, timeout: .seconds(5)) == [1.5, 2.5, 3.5])
        #expect(throws: RingError.endOfStream) { try consumer.read(maxCount: 1) }
    }

    @Test("mapping and unmapping thousands of double-mapped rings leaks neither descriptors nor mappings")
    func noLeaks() throws {
        // Exact, whatever other tests do meanwhile: the mappings and descriptors of these rings' memfds.
        let name = "leak-test-\(getpid())"
        func mappings() -> Int {
            // /proc files report size 0: read them to the end, not by their size.
            let maps = String(decoding: (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/maps")).readToEnd()) ?? Data(),
                              as: UTF8.self)
            return maps.split(separator: "\n").filter { $0.contains("memfd:\(name)") }.count
        }
        func descriptors() -> Int {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return fds.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "").contains("memfd:\(name)") }.count
        }
        for round in 0..<3000 {
            let ring = try Ring.anonymous(name: name, capacity: 1 << 16, itemType: .float64)
            #expect(ring.isDoubleMapped)
            if round == 0 {
                #expect(mappings() == 2, "the file once and its data region again")
                #expect(descriptors() == 1)
            }
        }
        #expect(mappings() == 0)
        #expect(descriptors() == 0)
    }

    @Test("a slow consumer of a full overwrite-oldest ring keeps the intact part of each copy instead of starving")
    func slowConsumerDoesNotStarve() throws {
        // Before: every producer write during a copy failed the consumer's CAS, the whole ring
        // was copied again, and after 10,000 failures the read threw CORRUPT(positionsUnstable).
        let ring = try Ring.anonymous(capacity: 1 << 16, policy: .overwriteOldest, itemType: .uint64)
        let writer = try ring.makeTypedProducer(of: UInt64.self)
        let stop = ManagedAtomicFlag()
        nonisolated(unsafe) let w = writer
        let reader = try ring.makeTypedConsumer(of: UInt64.self)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var i: UInt64 = 0
            while !stop.isSet {
                try! w.write(Array(i..<i + 64))
                i += 64
            }
            w.closeWriter()
            done.signal()
        }
        var received: UInt64 = 0
        var last: UInt64? = nil
        for _ in 0..<8 {
            let got = try reader.read(maxCount: 1 << 16, timeout: .seconds(10))
            #expect(!got.isEmpty)
            for v in got {
                #expect(last.map { v > $0 } ?? true)
                last = v
            }
            received += UInt64(got.count)
            Thread.sleep(forTimeInterval: 0.03)
        }
        stop.set()
        done.wait()
        while true {
            let got: [UInt64]
            do { got = try reader.read(maxCount: 1 << 16) } catch {
                if error == .endOfStream { break }
                throw error
            }
            for v in got { #expect(last.map { v > $0 } ?? true); last = v }
            received += UInt64(got.count)
        }
        let produced = (try ring.stats()).producerPosition
        #expect(received + reader.missedCount == produced)
        #expect(reader.missedCount == (try ring.stats()).droppedCount)
    }

    @Test("giving back lent items some of which the producer dropped meanwhile consumes the intact rest and counts the dropped")
    func partialGiveBack() throws {
        // Before: a give-back whose CAS failed kept nothing, so a consumer of a full ring that
        // the producer kept writing copied it again and again (and gave up with CORRUPT).
        let ring = try Ring.anonymous(capacity: 512, policy: .overwriteOldest, itemType: .uint64)
        let writer = try ring.makeTypedProducer(of: UInt64.self)
        let reader = try ring.makeItemConsumer()
        try writer.write(Array(0..<512))
        let lent = try reader.readableSpans()
        #expect(lent.count == 512)
        try writer.write(Array(512..<517))          // drops items 0..<5 while they are lent
        #expect(try reader.consume(100) == 5)       // 5 dropped, 95 (5..<100) consumed intact
        #expect(reader.missedCount == 5)
        let typed = try TypedConsumer<UInt64>(reader)
        #expect(try typed.read(maxCount: 1) == [100])
        // A lend the producer passed entirely: nothing is consumed but what it dropped.
        _ = try reader.readableSpans()
        try writer.write(Array(517..<1100))
        #expect(try reader.consume(10) == 10)
        #expect(try typed.read(maxCount: 1) == [1100 - 512])
        #expect(reader.missedCount == UInt64(5 + (1100 - 512) - 101))   // 0..<5, then 101..<588
        #expect(reader.missedCount == (try ring.stats()).droppedCount)
    }

    @Test("a consumerPosition a hostile peer moved backwards or past producerPosition gives CORRUPT and poisons nothing")
    func hostileConsumerPosition() throws {
        let temp = TempRing()
        let ring = try Ring.createItems(at: temp.path, type: .float64, itemCapacity: 512, policy: .overwriteOldest)
        let writer = try ring.makeTypedProducer(of: Double.self)
        let reader = try ring.makeTypedConsumer(of: Double.self)
        try writer.write([1, 2, 3])
        RawFile.put(temp.path, RingLayout.Header.consumerPosition, UInt64(1 << 62))
        #expect(throws: RingError.self) { _ = try reader.read(maxCount: 8) }
        RawFile.put(temp.path, RingLayout.Header.consumerPosition, UInt64(0))
        #expect(try reader.read(maxCount: 8) == [1, 2, 3])
        #expect(reader.missedCount == 0)
    }

    @Test("reads of a typed ring truncated under its mapping report CORRUPT(truncated), not zeros")
    func truncatedTypedRing() throws {
        let temp = TempRing()
        let ring = try Ring.createItems(at: temp.path, type: .uint64, itemCapacity: 4096, policy: .overwriteOldest)
        try ring.makeTypedProducer(of: UInt64.self).write(Array(1...1000))
        let reader = try ring.makeTypedConsumer(of: UInt64.self)
        RawFile.truncate(temp.path, to: 4096)
        #expect {
            _ = try reader.unread()
        } throws: { error in
            guard case RingError.corrupt(.truncated) = error else { return false }
            return true
        }
    }

    @Test("a typed handle's element must have the ring's type description; observers refuse typed rings")
    func elementTypeIsChecked() throws {
        let ring = try Ring.anonymous(capacity: 64, itemType: try ItemType(">f8"))
        #expect(throws: RingError.self) { _ = try ring.makeTypedConsumer(of: Double.self) }
        let ints = try Ring.anonymous(capacity: 64, itemType: .int64)
        #expect(throws: RingError.self) { _ = try ints.makeTypedProducer(of: Double.self) }
        #expect(throws: RingError.self) { _ = try ints.makeObserver() }
        _ = try ints.makeTypedProducer(of: Int64.self)
        // An item alignment of 1 (NumPy's, for a struct made without align=True) still serves
        // an 8-aligned Swift type: items start at multiples of their 24-byte size.
        let packed = try Ring.anonymous(capacity: 64, itemType: Quote.type, itemAlignment: 1)
        let writer = try packed.makeTypedProducer(of: Quote.self)
        try writer.write([Quote(1), Quote(2)])
        #expect(try packed.makeTypedConsumer(of: Quote.self).read(maxCount: 2) == [Quote(1), Quote(2)])
    }

    @Test("hostile headers: a type description that lies about the item size, a bad checksum, a bad alignment")
    func hostileHeaders() throws {
        let temp = TempRing()
        _ = try Ring.createItems(at: temp.path, type: .float64, itemCapacity: 512)
        func expectBadItemType(_ change: () -> Void) {
            _ = try? FileManager.default.removeItem(atPath: temp.path)
            _ = try? Ring.createItems(at: temp.path, type: .float64, itemCapacity: 512)
            change()
            RawFile.fixChecksum(temp.path)
            #expect {
                _ = try Ring.open(at: temp.path)
            } throws: { error in
                guard case RingError.corrupt(.badItemType) = error else { return false }
                return true
            }
        }
        expectBadItemType { RawFile.put(temp.path, RingLayout.Header.itemSize, UInt32(4)) }       // "<f8" is 8 bytes
        expectBadItemType { RawFile.put(temp.path, RingLayout.Header.itemAlignment, UInt32(3)) }
        expectBadItemType { RawFile.write(temp.path, at: RingLayout.itemTypeOffset, Array("<f4".utf8)) }  // CRC no longer matches
        expectBadItemType { RawFile.put(temp.path, RingLayout.Header.typeLength, UInt32(600)) }
        expectBadItemType { RawFile.put(temp.path, RingLayout.Header.itemSize, UInt32(0)) }
        // A description with a valid CRC but broken grammar.
        expectBadItemType {
            let text = Array("<u1".utf8)
            RawFile.write(temp.path, at: RingLayout.itemTypeOffset, text)
            RawFile.put(temp.path, RingLayout.Header.typeChecksum, text.withUnsafeBytes { ringChecksum($0) })
            RawFile.put(temp.path, RingLayout.Header.itemSize, UInt32(1))
            RawFile.put(temp.path, RingLayout.Header.itemAlignment, UInt32(1))
        }
        // Typed together with readers is not defined in 1.1: UNSUPPORTED_VERSION.
        _ = try? FileManager.default.removeItem(atPath: temp.path)
        _ = try Ring.createItems(at: temp.path, type: .float64, itemCapacity: 512)
        RawFile.put(temp.path, RingLayout.Header.incompatFlags, RingLayout.incompatItems | RingLayout.incompatReaders)
        RawFile.put(temp.path, RingLayout.Header.readerSlots, UInt32(1))
        RawFile.fixChecksum(temp.path)
        #expect(throws: RingError.unsupportedVersion(.featureCombination(RingLayout.incompatItems | RingLayout.incompatReaders))) {
            _ = try Ring.open(at: temp.path)
        }
        // Positions further apart than itemCapacity: CORRUPT at open.
        _ = try? FileManager.default.removeItem(atPath: temp.path)
        _ = try Ring.createItems(at: temp.path, type: .float64, itemCapacity: 512)
        RawFile.put(temp.path, RingLayout.Header.producerPosition, UInt64(513))
        #expect(throws: RingError.corrupt(.positionsOutOfOrder(producer: 513, consumer: 0))) { _ = try Ring.open(at: temp.path) }
    }

    @Test("a consumer facing a producerPosition rewritten by a hostile peer gets CORRUPT, not a wild read")
    func hostileProducerPosition() throws {
        let temp = TempRing()
        let ring = try Ring.createItems(at: temp.path, type: .float64, itemCapacity: 512)
        let reader = try ring.makeTypedConsumer(of: Double.self)
        RawFile.put(temp.path, RingLayout.Header.producerPosition, UInt64(1 << 40))
        #expect(throws: RingError.corrupt(.positionsOutOfOrder(producer: 1 << 40, consumer: 0))) {
            _ = try reader.read(maxCount: 4)
        }
    }
}

