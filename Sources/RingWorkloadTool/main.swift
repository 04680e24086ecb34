// ring-workload - the test tool: fills and drains rings with the seeded,
// self-checking workload (RingWorkload), runs the kill tests' crash producer and
// consumer, and makes and describes golden vectors. The process tests, the
// interop runner and the demo drive rings through it; operators use ringctl.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat
import RingWorkload

let usage = """
usage: ring-workload COMMAND PATH [options]   (a test tool; operators use ringctl)
  produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--batch N] [--timeout-ms N] [--close] [--producer-id P]
  consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end] [--drain] [--producers N]
          (--until-end: read until the producer closes the stream; --drain: stop when the ring is empty)
  reader  PATH (the options of consume) [--lapping] [--newest] [--name NAME] [--gate-timeout-ms N]
          as consume, joined as a reader of a ring with reader slots; the line adds "missed M" (the library's count)
  crash-produce PATH --generation G [--count N] [--timestamps]   (kill tests) write generation G's messages, printing "c INDEX [NS]" after each commit
  crash-consume PATH          (kill tests) read until the end of the stream, printing "r GEN INDEX" before each commit
  produce-items PATH --count N [--batch N] [--timeout-ms N] [--close]
          write items 0..N-1 of the item workload (ItemWorkload below) into a typed ring of its type, in batches
  consume-items PATH --count N [--max-items N] [--timeout-ms N] [--until-end]
          read and check them (in order; under overwrite-oldest with gaps, counted as missed; with --until-end
          the items after the last received up to N-1 count too); prints "consumed R items missed M
          library-missed L dropped D checksum 0xCRC in T ms" (L: the consumer's count, D: the ring's)
  script  OPS PATH            make PATH by running the operations in OPS (interop/vectors/*.ops)
  expect  PATH                print the state and unread messages of PATH in the .expect format
"""

/// Writes `text` to standard error (fd 2).
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func fail(_ text: String) -> Never {
    printError("ring-workload: \(text)")
    exit(2)
}

/// What a numeric option accepts; exits 2 naming the option and the value otherwise.
struct Limit {
    let limit: NumberLimit

    init(_ range: ClosedRange<UInt64>) { limit = NumberLimit(range) }
    init(_ range: ClosedRange<Int>) { limit = NumberLimit(range) }

    /// `text` as a number if it is one this limit accepts; otherwise exit 2 naming `name` and `text`.
    func check(_ name: String, _ text: String, note: String = "") -> UInt64 {
        switch limit.parse(name, text, note: note) {
        case .success(let v): return v
        case .failure(let e): fail(e.description)
        }
    }
}

struct Options {
    var positional: [String] = []
    var values: [String: String] = [:]
    var flags: Set<String> = []

    /// Every option that takes a number, with the numbers it accepts. Each value given is checked
    /// here as the arguments are read; limits that depend on the ring are in `workload(for:)`.
    static let numbers: [String: Limit] = [
        "--count": Limit(0...Int.max),
        "--generation": Limit(0...UInt64.max),
        "--seed": Limit(0...UInt64.max),
        "--min-size": Limit(0...RingLayout.maxMessageSizeLimit),
        "--max-size": Limit(0...RingLayout.maxMessageSizeLimit),
        "--batch": Limit(1...Int.max),
        "--timeout-ms": Limit(0...Int.max),
        "--gate-timeout-ms": Limit(0...Int(UInt32.max)),
        "--producer-id": Limit(0...0xFFFF),
        "--producers": Limit(0...RingLayout.maxProducerSlots),
        "--max-items": Limit(1...1 << 20),
    ]

    /// The options that take no value.
    static let flagNames: Set<String> = ["--close", "--until-end", "--drain", "--lapping", "--newest", "--timestamps"]
    /// The options that take a text value.
    static let textNames: Set<String> = ["--name"]

    init(_ args: ArraySlice<String>) {
        var i = args.startIndex
        while i < args.endIndex {
            let a = args[i]
            if Options.numbers[a] != nil || Options.textNames.contains(a) {
                guard i + 1 < args.endIndex else { fail("\(a) needs a value") }
                values[a] = args[i + 1]
                i += 2
            } else if a.hasPrefix("-") {
                guard Options.flagNames.contains(a) else { fail("unknown option \(a) (see ring-workload without arguments)") }
                flags.insert(a)
                i += 1
            } else {
                positional.append(a)
                i += 1
            }
        }
        for (name, text) in values where Options.numbers[name] != nil {
            if let limit = Options.numbers[name] { _ = limit.check(name, text) }
        }
    }

    /// The value of the numeric option `name` (checked when the arguments were read), or `value`.
    func number(_ name: String, default value: UInt64) -> UInt64 {
        guard let s = values[name], let limit = Options.numbers[name] else { return value }
        return limit.check(name, s)
    }

    /// As `number`, for options whose limit fits an Int.
    func int(_ name: String, default value: Int) -> Int { Int(number(name, default: UInt64(value))) }

    var timeout: Duration? { values["--timeout-ms"] == nil ? nil : .milliseconds(int("--timeout-ms", default: 0)) }

    /// The workload of --seed, --min-size and --max-size, whose sizes must fit `ring`.
    func workload(for ring: Ring) -> Workload {
        let sizes = Limit(0...ring.maxMessageSize)
        let note = " (the ring's largest message)"
        let minSize = values["--min-size"].map { Int(sizes.check("--min-size", $0, note: note)) } ?? 0
        let maxSize = values["--max-size"].map { Int(sizes.check("--max-size", $0, note: note)) }
            ?? min(256, ring.maxMessageSize)
        guard minSize <= maxSize else {
            fail("--min-size \(minSize) is larger than --max-size \(maxSize)\(values["--max-size"] == nil ? " (the default)" : "")")
        }
        return Workload(seed: number("--seed", default: 1), minSize: minSize, maxSize: maxSize)
    }

}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

func run() throws {
    let args = CommandLine.arguments
    guard args.count >= 3 else { printError(usage); exit(2) }
    let command = args[1]
    let path = args[2]
    let o = Options(args[3...])
    /// crash-produce / crash-consume: add CLOCK_MONOTONIC nanoseconds to each report line.
    let stamped = o.flags.contains("--timestamps")

    switch command {
    case "produce":
        let ring = try Ring.open(at: path)
        let count = o.int("--count", default: 1000)
        let workload = o.workload(for: ring)
        let producer = try ring.makeProducer()
        let batch = o.int("--batch", default: 1)
        var buffer = [UInt8](repeating: 0, count: workload.maxSize)
        let start = ContinuousClock.now
        // Several producers (SPEC.md §18): producer P's i-th message has index P << 32 | i.
        let base = o.number("--producer-id", default: 0) << 32
        var index: UInt64 = base
        while index < base + UInt64(count) {
            if batch == 1 {
                let size = workload.size(of: index)
                try buffer.withUnsafeMutableBytes { raw in
                    let m = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                    workload.fill(m, index: index)
                    try producer.write(UnsafeRawBufferPointer(m), timeout: o.timeout)
                }
                index += 1
            } else {
                let n = min(batch, count - Int(index - base))
                let messages = (0..<n).map { workload.message(index + UInt64($0)) }
                var done = 0
                while done < n {
                    let w = try producer.write(batch: messages[done...])
                    if w == 0 { try producer.write(messages[done], timeout: o.timeout); done += 1 } else { done += w }
                }
                index += UInt64(n)
            }
        }
        if o.flags.contains("--close") { producer.closeWriter() } else { producer.close() }
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - start).components.seconds)
        print("produced \(count) messages in \(String(Int(seconds * 1000))) ms")

    case "consume", "reader":
        let ring = try Ring.open(at: path)
        let count = o.int("--count", default: 1000)
        let untilEnd = o.flags.contains("--until-end")
        let drain = o.flags.contains("--drain")
        let workload = o.workload(for: ring)
        let isReader = command == "reader"
        let newest = o.flags.contains("--newest")
        let consumer = isReader
            ? try ring.makeReader(ReaderOptions(name: o.values["--name"], gating: !o.flags.contains("--lapping"),
                                                start: newest ? .newest : .oldest,
                                                gateTimeout: .milliseconds(o.int("--gate-timeout-ms", default: 10_000))))
            : try ring.makeConsumer()
        // Messages may be missing: an overwrite-oldest ring, or a reader (it starts at the oldest
        // message still in the ring, or the newest, and a lapping one may be lapped).
        let overwrite = ring.policy == .overwriteOldest || isReader
        var checksum = StreamChecksum()
        var received = 0
        var bytes = 0
        var expected: UInt64 = 0
        var skipped: UInt64 = 0
        // With --producers N: each producer's next index (its messages arrive in order).
        let producerCount = o.int("--producers", default: 0)
        var nextOf = [UInt64?](repeating: nil, count: producerCount)
        let start = ContinuousClock.now
        while untilEnd || received < count {
            let next = drain ? try consumer.tryRead() : try readOrEnd(consumer, timeout: o.timeout)
            guard let message = next else { break }
            let ok = message.withUnsafeBytes { (raw) -> Bool in
                var index = expected
                if producerCount > 0 {
                    guard let carried = Workload.index(in: raw), Int(carried >> 32) < producerCount else { return false }
                    let p = Int(carried >> 32)
                    let due = nextOf[p] ?? (carried & ~0xFFFF_FFFF)
                    guard carried >= due else { return false }
                    if !(newest && nextOf[p] == nil) { skipped += carried - due }
                    nextOf[p] = carried + 1
                    index = carried
                } else if overwrite {
                    // Overwrite-oldest: an in-order subsequence of whole messages.
                    guard let carried = Workload.index(in: raw), carried >= expected else { return false }
                    // A reader that joined at the newest starts counting at its first message.
                    if !(newest && received == 0) { skipped += carried - expected }
                    index = carried
                }
                guard workload.matches(raw, index: index) else { return false }
                checksum.add(raw)
                expected = index + 1
                return true
            }
            guard ok else {
                fail("message \(received) (expected index \(expected), \(message.count) bytes) is wrong")
            }
            received += 1
            bytes += message.count
        }
        consumer.close()
        let elapsed = ContinuousClock.now - start
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let missed = isReader ? " missed \(consumer.missedCount)" : ""
        print("consumed \(received) messages \(bytes) bytes checksum \(hex(checksum.value)) overwritten \(skipped)\(missed) in \(ms) ms")

    case "produce-items":
        let ring = try Ring.open(at: path)
        ItemWorkload.check(ring)
        let producer = try ring.makeItemProducer()
        let count = o.int("--count", default: 1000)
        let batch = o.int("--batch", default: 1)
        var buffer = [UInt8](repeating: 0, count: batch * ItemWorkload.size)
        let start = ContinuousClock.now
        var seq = 0
        while seq < count {
            let n = min(batch, count - seq)
            try buffer.withUnsafeMutableBytes { raw in
                for k in 0..<n { ItemWorkload.fill(raw, at: k, seq: UInt64(seq + k)) }
                try producer.write(UnsafeRawBufferPointer(rebasing: raw[0..<n * ItemWorkload.size]), timeout: o.timeout)
            }
            seq += n
        }
        if o.flags.contains("--close") { producer.closeWriter() } else { producer.close() }
        print("produced \(count) items in \(milliseconds(since: start)) ms")

    case "consume-items":
        let ring = try Ring.open(at: path)
        ItemWorkload.check(ring)
        let consumer = try ring.makeItemConsumer()
        let count = o.int("--count", default: 1000)
        let untilEnd = o.flags.contains("--until-end")
        let maxItems = o.int("--max-items", default: 64)
        // Under overwrite-oldest the items that arrive are an in-order subsequence.
        let overwrite = ring.policy == .overwriteOldest
        var buffer = [UInt8](repeating: 0, count: maxItems * ItemWorkload.size)
        var crc = StreamCRC32()
        var received = 0
        var expected: UInt64 = 0
        var missed: UInt64 = 0
        let start = ContinuousClock.now
        reading: while untilEnd || received < count {
            let wanted = untilEnd ? maxItems : min(maxItems, count - received)
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { try consumer.read(into: $0, maxItems: wanted, timeout: o.timeout) }
            } catch RingError.endOfStream {
                break reading
            }
            buffer.withUnsafeBytes { raw in
                for k in 0..<n {
                    let item = UnsafeRawBufferPointer(rebasing: raw[k * ItemWorkload.size..<(k + 1) * ItemWorkload.size])
                    guard let seq = ItemWorkload.seq(of: item), seq == expected || (overwrite && seq > expected) else {
                        fail("item \(received) (expected seq \(expected)\(overwrite ? " or later" : "")) is wrong: \(GoldenVector.hexString(item))")
                    }
                    missed += seq - expected
                    expected = seq + 1
                    received += 1
                }
                crc.add(UnsafeRawBufferPointer(rebasing: raw[0..<n * ItemWorkload.size]))
            }
        }
        // The items after the last one received that never came (none once the stream ended).
        if untilEnd && UInt64(count) > expected { missed += UInt64(count) - expected }
        let dropped = try ring.stats().droppedCount
        print("consumed \(received) items missed \(missed) library-missed \(consumer.missedCount) dropped \(dropped) "
              + "checksum \(hex(UInt64(crc.value))) in \(milliseconds(since: start)) ms")
        consumer.close()

    case "crash-produce":
        // Messages: generation (u64 LE), index (u64 LE), then (index*37+generation) % 200 bytes
        // of ((generation*7 + index*13 + j) & 0xff). Each commit is reported on stdout.
        let ring = try Ring.open(at: path)
        let generation = o.number("--generation", default: 0)
        let count = o.number("--count", default: UInt64.max)
        let producer = try makeProducer(ring)
        var buffer = [UInt8](repeating: 0, count: 216)
        var index: UInt64 = 0
        while index < count {
            let n = CrashMessage.fill(&buffer, generation: generation, index: index)
            try buffer.withUnsafeBytes { raw in
                try producer.write(UnsafeRawBufferPointer(rebasing: raw[0..<n]), timeout: nil)
            }
            report(stamped ? "c \(index) \(SystemCalls.monotonicNanoseconds())\n" : "c \(index)\n")
            index += 1
        }
        producer.closeWriter()

    case "crash-consume":
        let consumer = try Ring.open(at: path).makeConsumer()
        while true {
            do {
                try consumer.withNextMessage(timeout: nil) { bytes in
                    guard let (g, i) = CrashMessage.check(bytes) else {
                        report("torn \(bytes.count)\n")
                        exit(3)
                    }
                    // Reported before the position moves: a kill in between redelivers this one.
                    report(stamped ? "r \(g) \(i) \(SystemCalls.monotonicNanoseconds())\n" : "r \(g) \(i)\n")
                }
            } catch RingError.endOfStream {
                report("end\n")
                break
            }
        }

    case "script":
        // ring-workload script OPS PATH: args[2] is the ops file here.
        guard let output = o.positional.first else { fail("script needs OPS and PATH") }
        try GoldenVector.run(opsPath: path, output: output)

    case "expect":
        print(try GoldenVector.expectation(of: path), terminator: "")

    default:
        printError(usage)
        exit(2)
    }
}

/// Milliseconds from `start` to now.
func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
    let elapsed = ContinuousClock.now - start
    return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
}

/// The items of produce-items and consume-items (interop/run_typed_matrix.py; the same in
/// interop/c/workload.h and interop/python/ring_peer.py): the struct of `type`, whose item of
/// stream number seq (0, 1, ...) holds seq, seq * 0.5 + 0.25, (seq * 0x9E3779B1) mod 2^32
/// stored big-endian, and four zero bytes.
enum ItemWorkload {
    static let type = "{seq:<u8@0,value:<f8@8,tag:>u4@16,pad:|V4@20}24"
    static let size = 24

    static func value(_ seq: UInt64) -> Double { Double(seq) * 0.5 + 0.25 }
    static func tag(_ seq: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: seq &* 0x9E37_79B1) }

    /// Exits 2 unless `ring` is a typed ring of `type`.
    static func check(_ ring: Ring) {
        guard ring.itemType?.description == type else {
            fail("\(ring.path) holds \(ring.itemType.map { "items \"\($0)\"" } ?? "byte records"), not items \"\(type)\"")
        }
    }

    /// Writes item `seq` as the `index`-th item of `raw`.
    static func fill(_ raw: UnsafeMutableRawBufferPointer, at index: Int, seq: UInt64) {
        let base = index * size
        raw.storeBytes(of: seq.littleEndian, toByteOffset: base, as: UInt64.self)
        raw.storeBytes(of: value(seq).bitPattern.littleEndian, toByteOffset: base + 8, as: UInt64.self)
        raw.storeBytes(of: tag(seq).bigEndian, toByteOffset: base + 16, as: UInt32.self)
        raw.storeBytes(of: 0, toByteOffset: base + 20, as: UInt32.self)
    }

    /// The seq of `item` if every field is that of item seq, else nil.
    static func seq(of item: UnsafeRawBufferPointer) -> UInt64? {
        let seq = UInt64(littleEndian: item.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let value = Double(bitPattern: UInt64(littleEndian: item.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        let tag = UInt32(bigEndian: item.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let pad = item.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
        return value == self.value(seq) && tag == self.tag(seq) && pad == 0 ? seq : nil
    }
}

/// CRC-32 (zlib's, as Python's zlib.crc32) over a stream of bytes, fed in pieces.
struct StreamCRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    private var crc: UInt32 = 0xFFFF_FFFF
    var value: UInt32 { ~crc }

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var c = crc
        StreamCRC32.table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        crc = c
    }
}

/// The producer role, or on a ring with producers a slot: one a killed producer left may
/// be held for a moment by whoever settles its claim (SPEC.md §18.7), so BUSY is retried
/// for up to 5 s there.
func makeProducer(_ ring: Ring) throws(RingError) -> RingProducer {
    let deadline = SystemCalls.monotonicNanoseconds() &+ 5_000_000_000
    while true {
        do throws(RingError) {
            return try ring.makeProducer()
        } catch .busy(let role) where ring.geometry.producerSlots > 0 && SystemCalls.monotonicNanoseconds() < deadline {
            _ = role
            usleep(1000)
        }
    }
}

/// The next message, or nil at the end of the stream.
func readOrEnd(_ consumer: RingConsumer, timeout: Duration?) throws(RingError) -> [UInt8]? {
    do {
        return try consumer.read(timeout: timeout)
    } catch .endOfStream {
        return nil
    }
}

/// One write(2) of a short line to stdout: atomic on a pipe, never half-written.
func report(_ line: String) {
    var text = line
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

/// The self-checking messages of the kill tests.
enum CrashMessage {
    static func fill(_ buffer: inout [UInt8], generation: UInt64, index: UInt64) -> Int {
        let n = Int((index &* 37 &+ generation) % 200)
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: generation.littleEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: index.littleEndian, toByteOffset: 8, as: UInt64.self)
            for j in 0..<n { raw[16 + j] = UInt8(truncatingIfNeeded: generation &* 7 &+ index &* 13 &+ UInt64(j)) }
        }
        return 16 + n
    }

    static func check(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64)? {
        guard bytes.count >= 16 else { return nil }
        let g = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let i = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let n = Int((i &* 37 &+ g) % 200)
        guard bytes.count == 16 + n else { return nil }
        for j in 0..<n where bytes[16 + j] != UInt8(truncatingIfNeeded: g &* 7 &+ i &* 13 &+ UInt64(j)) { return nil }
        return (g, i)
    }
}

do {
    try run()
} catch {
    printError("ring-workload: \(error)")
    exit(1)
}
