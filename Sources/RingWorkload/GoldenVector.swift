// GoldenVector.swift - the golden vectors of interop/vectors: a tiny language of
// ring operations (.ops), run to make a ring file (.ring), and the expected
// state and unread messages (or items, in a typed ring) of a ring (.expect).
// C and Python have their own interpreters of the same language (SPEC.md
// §16.5); all must agree byte for byte.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

/// A malformed .ops line.
public struct GoldenVectorError: Error, CustomStringConvertible {
    /// What is wrong, with the file and line.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Runs .ops files and describes ring files in the .expect format.
public enum GoldenVector {
    /// The lines of a text file.
    static func readLines(_ path: String) throws -> [String] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RingError.system(operation: "open", errno: errno) }
        defer { close(fd) }
        return String(decoding: readAllBytes(fd), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Bytes from a hex string.
    static func unhex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(text.utf8)[...]
        while chars.count >= 2 {
            out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
            chars = chars.dropFirst(2)
        }
        return out
    }

    /// Bytes from hex digits with spaces between them anywhere (write-items); nil if another
    /// character or an odd digit is there.
    static func strictUnhex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8.filter { $0 != UInt8(ascii: " ") })
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for k in stride(from: 0, to: digits.count, by: 2) {
            guard let b = UInt8(String(decoding: digits[k...k + 1], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// The bytes of `write-items-fill COUNT BYTE` (SPEC.md §16.5): byte j of the batch's item
    /// k is (BYTE + k + j) mod 256, so each item's place in the batch and each byte's in the
    /// item are visible (an item of 256 bytes too).
    static func itemFill(count: Int, itemSize: Int, byte: UInt8) -> [UInt8] {
        (0..<count * itemSize).map { UInt8(truncatingIfNeeded: Int(byte) + $0 / itemSize + $0 % itemSize) }
    }

    public static func hexString(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { b -> String in let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
    }

    /// Runs a vector's operations (SPEC.md §16.5) to make `output`.
    public static func run(opsPath: String, output: String) throws {
        var ring: Ring?
        var producer: RingProducer?
        var consumer: RingConsumer?
        var readers: [String: RingReader] = [:]
        var producers: [String: RingProducer] = [:]
        var reserved: [String: [UInt8]] = [:]
        // A typed ring (SPEC.md §19): its one producer and one consumer.
        var itemProducer: ItemProducer?
        var itemConsumer: ItemConsumer?
        for (number, raw) in try readLines(opsPath).enumerated() {
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            let rest = words.count > 1 ? words[1] : ""
            let args = rest.split(separator: " ").map(String.init)
            func p() throws -> RingProducer {
                if producer == nil { producer = try ring!.makeProducer() }
                return producer!
            }
            func c() throws -> RingConsumer {
                if consumer == nil { consumer = try ring!.makeConsumer() }
                return consumer!
            }
            func ip() throws -> ItemProducer {
                guard let ring, ring.geometry.isTyped else { throw GoldenVectorError("\(opsPath):\(number + 1): \(words[0]) needs a ring made by create-items") }
                if itemProducer == nil { itemProducer = try ring.makeItemProducer() }
                return itemProducer!
            }
            func ic() throws -> ItemConsumer {
                guard let ring, ring.geometry.isTyped else { throw GoldenVectorError("\(opsPath):\(number + 1): \(words[0]) needs a ring made by create-items") }
                if itemConsumer == nil { itemConsumer = try ring.makeItemConsumer() }
                return itemConsumer!
            }
            func named() throws -> RingProducer {
                guard let id = args.first, let p = producers[id] else {
                    throw GoldenVectorError("\(opsPath):\(number + 1): \(words[0]) ID of an opened producer")
                }
                return p
            }
            switch words[0] {
            case "create":
                // create CAPACITY POLICY [POSITION] [readers N] [producers N] [counts]
                guard args.count >= 2, let capacity = Int(args[0]) else { throw GoldenVectorError("\(opsPath):\(number + 1): create CAPACITY POLICY [POSITION] [readers N] [producers N] [counts]") }
                var rest = Array(args.dropFirst(2))
                var slots = 0
                var producerSlots = 0
                // A vector's ring keeps message counts only when it says so (SPEC.md §16.5, §22.2):
                // the vectors made before counts existed stay byte for byte what they were.
                let counts = rest.last == "counts"
                if counts { rest.removeLast() }
                if rest.count >= 2, rest[rest.count - 2] == "producers", let n = Int(rest[rest.count - 1]) {
                    producerSlots = n
                    rest.removeLast(2)
                }
                if rest.count >= 2, rest[rest.count - 2] == "readers", let n = Int(rest[rest.count - 1]) {
                    slots = n
                    rest.removeLast(2)
                }
                ring = try Ring.create(at: output, capacity: capacity,
                                       policy: args[1] == "overwrite" ? .overwriteOldest : .rejectWhenFull,
                                       replaceExisting: true,
                                       initialPosition: rest.first.flatMap { UInt64($0) } ?? 0, readerSlots: slots,
                                       producerSlots: producerSlots, keepsCounts: counts)
            case "create-items":
                // create-items CAPACITY POLICY TYPE [POSITION] [align N]: a typed ring (SPEC.md §19).
                var rest = args
                var alignment = 0
                if rest.count >= 2, rest[rest.count - 2] == "align", let n = Int(rest[rest.count - 1]) {
                    alignment = n
                    rest.removeLast(2)
                }
                guard (3...4).contains(rest.count), let capacity = Int(rest[0]), ["reject", "overwrite"].contains(rest[1]) else {
                    throw GoldenVectorError("\(opsPath):\(number + 1): create-items CAPACITY POLICY TYPE [POSITION] [align N]")
                }
                let position = rest.count == 4 ? UInt64(rest[3]) : 0
                guard let position else { throw GoldenVectorError("\(opsPath):\(number + 1): create-items: POSITION \(rest[3])") }
                ring = try Ring.createItems(at: output, type: try ItemType(rest[2]), itemCapacity: capacity,
                                            itemAlignment: alignment,
                                            policy: rest[1] == "overwrite" ? .overwriteOldest : .rejectWhenFull,
                                            replaceExisting: true, initialPosition: position)
            case "write-items":
                // write-items HEX: one commit of whole items (spaces between the digits are ignored).
                guard let bytes = strictUnhex(rest), !bytes.isEmpty else { throw GoldenVectorError("\(opsPath):\(number + 1): write-items HEX") }
                let producer = try ip()
                try bytes.withUnsafeBytes { raw in try producer.write(raw) }
            case "write-items-fill":
                // write-items-fill COUNT BYTE: one commit of COUNT items, byte j of item k (BYTE + k + j) mod 256.
                guard args.count == 2, let n = Int(args[0]), n > 0, let b = UInt8(args[1]) else { throw GoldenVectorError("\(opsPath):\(number + 1): write-items-fill COUNT BYTE") }
                let producer = try ip()
                try itemFill(count: n, itemSize: producer.itemSize, byte: b).withUnsafeBytes { raw in try producer.write(raw) }
            case "read-items":
                // read-items [COUNT]: one read of COUNT items (default 1), which must all be there.
                guard let n = Int(args.first ?? "1"), n > 0 else { throw GoldenVectorError("\(opsPath):\(number + 1): read-items [COUNT]") }
                let consumer = try ic()
                var buffer = [UInt8](repeating: 0, count: n * consumer.itemSize)
                let got = try buffer.withUnsafeMutableBytes { raw in try consumer.read(into: raw, maxItems: n) }
                guard got == n else { throw GoldenVectorError("\(opsPath):\(number + 1): read-items \(n) found \(got)") }
            case "producer":
                // producer ID: opens a producer of a ring with producers (the lowest free slot).
                guard let id = args.first, producers[id] == nil else { throw GoldenVectorError("\(opsPath):\(number + 1): producer ID") }
                producers[id] = try ring!.makeProducer()
            case "write-as":
                // write-as ID [TEXT]
                let text = rest.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
                try named().write(Array(text.utf8))
            case "write-batch-as":
                // write-batch-as ID WORD...: one batch (one claim) of one message per word.
                let n = try named().write(batch: args.dropFirst().map { Array($0.utf8) })
                guard n == args.count - 1 else { throw GoldenVectorError("\(opsPath):\(number + 1): the batch did not fit") }
            case "reserve":
                // reserve ID TEXT: a claim with TEXT's payload written, not committed.
                let text = Array((rest.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? "").utf8)
                guard let buffer = try named().reserve(size: text.count) else { throw GoldenVectorError("\(opsPath):\(number + 1): no room") }
                text.withUnsafeBytes { buffer.copyMemory(from: $0) }
                reserved[args[0]] = text
            case "commit":
                // commit ID: commits ID's reservation and publishes what is done.
                guard let text = reserved.removeValue(forKey: args.first ?? "") else { throw GoldenVectorError("\(opsPath):\(number + 1): commit ID of a reservation") }
                try named().commitReservation(length: text.count)
            case "abandon":
                // abandon ID: ID gives its reservation up; the claim is cancelled and published.
                _ = reserved.removeValue(forKey: args.first ?? "")
                try named().abortReservation()
            case "crash":
                // crash ID: ID stops as if killed: its slot is given up, its claim left as it is.
                try named().crashForTests()
                producers[args[0]] = nil
                _ = reserved.removeValue(forKey: args[0])
            case "join":
                // join ID [lapping] [newest] [durable]
                guard let id = args.first, readers[id] == nil else { throw GoldenVectorError("\(opsPath):\(number + 1): join ID [lapping] [newest] [durable]") }
                let words = Set(args.dropFirst())
                readers[id] = try ring!.makeReader(ReaderOptions(
                    name: words.contains("durable") ? id : nil, gating: !words.contains("lapping"),
                    start: words.contains("newest") ? .newest : .oldest))
            case "reader-read":
                // reader-read ID [N]
                guard let id = args.first, let r = readers[id] else { throw GoldenVectorError("\(opsPath):\(number + 1): reader-read ID [N] of a joined reader") }
                for _ in 0..<(Int(args.dropFirst().first ?? "1") ?? 1) { _ = try r.read() }
            case "leave":
                guard let id = args.first, let r = readers.removeValue(forKey: id) else { throw GoldenVectorError("\(opsPath):\(number + 1): leave ID of a joined reader") }
                r.close()
            case "write": try p().write(Array(rest.utf8))
            case "write-hex": try p().write(unhex(rest))
            case "write-fill":
                guard args.count == 2, let n = Int(args[0]), let b = UInt8(args[1]) else { throw GoldenVectorError("\(opsPath):\(number + 1): write-fill N BYTE") }
                try p().write([UInt8](repeating: b, count: n))
            case "read":
                for _ in 0..<(Int(args.first ?? "1") ?? 1) { _ = try c().read() }
            case "close-writer":
                if ring?.geometry.isTyped == true {
                    try ip().closeWriter()
                    itemProducer = nil
                } else {
                    try p().closeWriter()
                    producer = nil
                }
            default:
                throw GoldenVectorError("\(opsPath):\(number + 1): unknown operation \(words[0])")
            }
        }
        for r in readers.values { r.close() }
        for p in producers.values { p.close() }
        itemProducer?.close()
        itemConsumer?.close()
        try ring?.flush()
    }

    /// The .expect text of a ring file: its state, then its unread messages in hex, oldest first.
    public static func expectation(of path: String) throws -> String {
        let ring = try Ring.open(at: path)
        if ring.geometry.isTyped { return try itemExpectation(of: ring) }
        // Claims of producers that are gone are settled first, as a reader would (SPEC.md §18.7).
        try ring.settleClaims()
        var out = stateLines(try ring.stats())
        // A ring with producers: the claims a reader would settle first (SPEC.md §16.5, §18).
        if ring.geometry.hasProducers {
            out += "producerSlots \(ring.geometry.producerSlots)\n"
        }
        // A ring with readers: the table, then each active reader (SPEC.md §16.5).
        if ring.geometry.hasReaders {
            out += "readerSlots \(ring.geometry.readerSlots)\n"
            for r in try ring.readers() {
                out += "reader \(r.slot) \(r.isGating ? "gating" : "lapping") \(r.isDurable ? "durable" : "anonymous") "
                    + "cursor \(r.cursor) missed \(r.missedCount) name \(hexString(Array((r.name ?? "").utf8)))\n"
            }
        }
        let observer = try ring.makeObserver()
        while let m = try observer.next() { out += "message \(hexString(m.bytes))\n" }
        return out
    }

    /// The state lines every .expect begins with (SPEC.md §16.5).
    static func stateLines(_ s: RingStats) -> String {
        """
        capacity \(s.capacity)
        policy \(s.policy == .overwriteOldest ? "overwrite" : "reject")
        producerPosition \(s.producerPosition)
        consumerPosition \(s.consumerPosition)
        droppedCount \(s.droppedCount)
        writerClosed \(s.isWriterClosed ? 1 : 0)
        messageCount \(s.messageCount)

        """
    }

    /// The .expect text of a typed ring (SPEC.md §16.5, §19): the state, the item type, then
    /// each unread item in hex, oldest first, peeked through the consumer without consuming.
    static func itemExpectation(of ring: Ring) throws -> String {
        let g = ring.geometry
        var out = stateLines(try ring.stats()) + """
        itemType \(g.itemType?.description ?? "")
        itemSize \(g.itemSize)
        itemAlignment \(g.itemAlignment)
        itemCapacity \(g.itemCapacity)

        """
        let consumer = try ring.makeItemConsumer()
        defer { consumer.close() }
        let (bytes, dropped) = try consumer.withUnread { spans -> [UInt8] in Array(spans.first) + Array(spans.second) }
        guard dropped == 0 else { throw GoldenVectorError("\(ring.path): the items changed while they were read") }
        for k in stride(from: 0, to: bytes.count, by: g.itemSize) { out += "item \(hexString(bytes[k..<k + g.itemSize]))\n" }
        return out
    }

}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

