// ringctl - create, fill, drain, inspect and dump RingFormat ring files.
// The process tests, the interop runner and the demo drive rings through it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat
import RingWorkload

let usage = """
usage: ringctl COMMAND PATH [options]
  create  PATH --capacity N [--policy reject|overwrite] [--mode OCTAL(<=777)] [--initial-position N] [--replace]
          [--open-or-create [--allow-shared]]   (--allow-shared: use an existing ring another user owns or others may write)
  produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--batch N] [--timeout-ms N] [--close]
  consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end] [--drain]
          (--until-end: read until the producer closes the stream; --drain: stop when the ring is empty)
  crash-produce PATH --generation G [--count N]   (kill tests) write generation G's messages, printing "c INDEX" after each commit
  crash-consume PATH          (kill tests) read until the end of the stream, printing "r GEN INDEX" before each commit
  write   PATH TEXT...        write each TEXT as one message
  read    PATH [--all]        print the next message (or every message) as text
  inspect PATH                print the ring's state
  script  OPS PATH            make PATH by running the operations in OPS (interop/vectors/*.ops)
  expect  PATH                print the state and unread messages of PATH in the .expect format
  dump    PATH [--data-bytes N]  hex dump of the header's non-zero lines and the data region
"""

/// Writes `text` to standard error (fd 2).
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func fail(_ text: String) -> Never {
    printError("ringctl: \(text)")
    exit(2)
}

/// What a numeric option accepts: a whole number in `range`, written in `radix`, a multiple of `step`.
struct Limit {
    let range: ClosedRange<UInt64>
    let radix: Int
    let step: UInt64

    init(_ range: ClosedRange<UInt64>, radix: Int = 10, step: UInt64 = 1) {
        self.range = range
        self.radix = radix
        self.step = step
    }

    init(_ range: ClosedRange<Int>) { self.init(UInt64(range.lowerBound)...UInt64(range.upperBound)) }

    /// `text` as a number if it is one this limit accepts; otherwise exit 2 naming `name` and `text`.
    func check(_ name: String, _ text: String, note: String = "") -> UInt64 {
        let digits = radix == 8 && text.hasPrefix("0o") ? String(text.dropFirst(2)) : text
        guard let v = UInt64(digits, radix: radix), range.contains(v), v % step == 0 else {
            let kind = radix == 8 ? "an octal number" : "a whole number"
            let top = range.upperBound >= UInt64(Int.max) ? "" : " to \(String(range.upperBound, radix: radix))"
            let multiple = step == 1 ? "" : ", a multiple of \(step)"
            let from = top.isEmpty ? "of at least" : "from"
            fail("\(name) wants \(kind) \(from) \(String(range.lowerBound, radix: radix))\(top)\(note)\(multiple), got \(text)")
        }
        return v
    }
}

struct Options {
    var positional: [String] = []
    var values: [String: String] = [:]
    var flags: Set<String> = []

    /// Every option that takes a number, with the numbers it accepts. Each value given is checked
    /// here as the arguments are read; limits that depend on the ring are in `workload(for:)` and
    /// `dataBytes(for:)`.
    static let numbers: [String: Limit] = [
        "--capacity": Limit(1...RingLayout.maxCapacity),
        "--initial-position": Limit(0...UInt64.max, step: UInt64(RingLayout.recordAlignment)),
        "--mode": Limit(0...0o777, radix: 8),
        "--count": Limit(0...Int.max),
        "--generation": Limit(0...UInt64.max),
        "--seed": Limit(0...UInt64.max),
        "--min-size": Limit(0...RingLayout.maxMessageSizeLimit),
        "--max-size": Limit(0...RingLayout.maxMessageSizeLimit),
        "--batch": Limit(1...Int.max),
        "--timeout-ms": Limit(0...Int.max),
        "--data-bytes": Limit(0...RingLayout.maxCapacity),
    ]

    /// The values of `--policy`.
    static let policies: [String: RingPolicy] = ["reject": .rejectWhenFull, "overwrite": .overwriteOldest]

    init(_ args: ArraySlice<String>) {
        var i = args.startIndex
        while i < args.endIndex {
            let a = args[i]
            if Options.numbers[a] != nil || a == "--policy" {
                guard i + 1 < args.endIndex else { fail("\(a) needs a value") }
                values[a] = args[i + 1]
                i += 2
            } else if a.hasPrefix("--") {
                flags.insert(a)
                i += 1
            } else {
                positional.append(a)
                i += 1
            }
        }
        for (name, text) in values {
            if let limit = Options.numbers[name] { _ = limit.check(name, text) }
        }
        if let p = values["--policy"], Options.policies[p] == nil {
            fail("--policy wants \(Options.policies.keys.sorted().joined(separator: " or ")), got \(p)")
        }
    }

    /// The value of the numeric option `name` (checked when the arguments were read), or `value`.
    func number(_ name: String, default value: UInt64) -> UInt64 {
        guard let s = values[name], let limit = Options.numbers[name] else { return value }
        return limit.check(name, s)
    }

    /// As `number`, for options whose limit fits an Int.
    func int(_ name: String, default value: Int) -> Int { Int(number(name, default: UInt64(value))) }

    var policy: RingPolicy { Options.policies[values["--policy"] ?? "reject"]! }

    var mode: UInt32 { UInt32(number("--mode", default: 0o600)) }

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

    /// --data-bytes, at most the ring's capacity (the whole data region by default).
    func dataBytes(for ring: Ring) -> Int {
        values["--data-bytes"].map { Int(Limit(0...ring.capacity).check("--data-bytes", $0, note: " (the ring's capacity)")) }
            ?? ring.capacity
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

func run() throws {
    let args = CommandLine.arguments
    guard args.count >= 3 else { printError(usage); exit(2) }
    let command = args[1]
    let path = args[2]
    let o = Options(args[3...])

    switch command {
    case "create":
        let capacity = o.int("--capacity", default: 1 << 20)
        let ring = o.flags.contains("--open-or-create")
            ? try Ring.openOrCreate(at: path, capacity: capacity, policy: o.policy, mode: o.mode,
                                    allowShared: o.flags.contains("--allow-shared"))
            : try Ring.create(at: path, capacity: capacity, policy: o.policy, mode: o.mode,
                              replaceExisting: o.flags.contains("--replace"),
                              initialPosition: o.number("--initial-position", default: 0))
        print("ring \(path) capacity \(ring.capacity) policy \(ring.policy)")

    case "produce":
        let ring = try Ring.open(at: path)
        let count = o.int("--count", default: 1000)
        let workload = o.workload(for: ring)
        let producer = try ring.makeProducer()
        let batch = o.int("--batch", default: 1)
        var buffer = [UInt8](repeating: 0, count: workload.maxSize)
        let start = ContinuousClock.now
        var index: UInt64 = 0
        while index < UInt64(count) {
            if batch == 1 {
                let size = workload.size(of: index)
                try buffer.withUnsafeMutableBytes { raw in
                    let m = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                    workload.fill(m, index: index)
                    try producer.write(UnsafeRawBufferPointer(m), timeout: o.timeout)
                }
                index += 1
            } else {
                let n = min(batch, count - Int(index))
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

    case "consume":
        let ring = try Ring.open(at: path)
        let count = o.int("--count", default: 1000)
        let untilEnd = o.flags.contains("--until-end")
        let drain = o.flags.contains("--drain")
        let workload = o.workload(for: ring)
        let consumer = try ring.makeConsumer()
        let overwrite = ring.policy == .overwriteOldest
        var checksum = StreamChecksum()
        var received = 0
        var bytes = 0
        var expected: UInt64 = 0
        var skipped: UInt64 = 0
        let start = ContinuousClock.now
        while untilEnd || received < count {
            let next = drain ? try consumer.tryRead() : try readOrEnd(consumer, timeout: o.timeout)
            guard let message = next else { break }
            let ok = message.withUnsafeBytes { (raw) -> Bool in
                var index = expected
                if overwrite {
                    // Overwrite-oldest: an in-order subsequence of whole messages.
                    guard let carried = Workload.index(in: raw), carried >= expected else { return false }
                    skipped += carried - expected
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
        print("consumed \(received) messages \(bytes) bytes checksum \(hex(checksum.value)) overwritten \(skipped) in \(ms) ms")

    case "crash-produce":
        // Messages: generation (u64 LE), index (u64 LE), then (index*37+generation) % 200 bytes
        // of ((generation*7 + index*13 + j) & 0xff). Each commit is reported on stdout.
        let ring = try Ring.open(at: path)
        let generation = o.number("--generation", default: 0)
        let count = o.number("--count", default: UInt64.max)
        let producer = try ring.makeProducer()
        var buffer = [UInt8](repeating: 0, count: 216)
        var index: UInt64 = 0
        while index < count {
            let n = CrashMessage.fill(&buffer, generation: generation, index: index)
            try buffer.withUnsafeBytes { raw in
                try producer.write(UnsafeRawBufferPointer(rebasing: raw[0..<n]), timeout: nil)
            }
            report("c \(index)\n")
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
                    report("r \(g) \(i)\n")
                }
            } catch RingError.endOfStream {
                report("end\n")
                break
            }
        }

    case "write":
        let producer = try Ring.open(at: path).makeProducer()
        for text in o.positional { try producer.write(Array(text.utf8)) }
        producer.close()

    case "read":
        let consumer = try Ring.open(at: path).makeConsumer()
        repeat {
            guard let message = try consumer.tryRead() else { break }
            print(String(decoding: message, as: UTF8.self))
        } while o.flags.contains("--all")
        consumer.close()

    case "script":
        // ringctl script OPS PATH: args[2] is the ops file here.
        guard let output = o.positional.first else { fail("script needs OPS and PATH") }
        try GoldenVector.run(opsPath: path, output: output)

    case "expect":
        print(try GoldenVector.expectation(of: path), terminator: "")

    case "inspect":
        let s = try Ring.open(at: path).stats()
        print("""
        version \(s.versionMajor).\(s.versionMinor)
        capacity \(s.capacity)
        policy \(s.policy)
        producerPosition \(s.producerPosition)
        consumerPosition \(s.consumerPosition)
        usedBytes \(s.usedBytes)
        messageCount \(s.messageCount)
        droppedCount \(s.droppedCount)
        writerClosed \(s.isWriterClosed)
        """)

    case "dump":
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RingError.system(operation: "open", errno: errno) }
        defer { close(fd) }
        let ring = try Ring.open(at: path)
        var bytes = [UInt8](repeating: 0, count: ring.geometry.headerSize + o.dataBytes(for: ring))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        print(hexDump(Array(bytes[0..<max(0, n)]), headerSize: ring.geometry.headerSize))

    default:
        printError(usage)
        exit(2)
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

/// Sixteen bytes a line, skipping header lines that are all zero.
func hexDump(_ bytes: [UInt8], headerSize: Int) -> String {
    var out: [String] = []
    var skipping = false
    for lineStart in stride(from: 0, to: bytes.count, by: 16) {
        let line = bytes[lineStart..<min(lineStart + 16, bytes.count)]
        if lineStart < headerSize && line.allSatisfy({ $0 == 0 }) {
            if !skipping { out.append("*") }
            skipping = true
            continue
        }
        skipping = false
        let offset = String(lineStart, radix: 16)
        let hexBytes = line.map { b -> String in let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s }
        out.append(String(repeating: "0", count: max(0, 8 - offset.count)) + offset + "  " + hexBytes.joined(separator: " "))
    }
    return out.joined(separator: "\n")
}

do {
    try run()
} catch {
    printError("ringctl: \(error)")
    exit(1)
}
