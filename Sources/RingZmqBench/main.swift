// ring-zmq-bench - the Swift ends of the ZeroMQ benchmark (bench/zmq_table.py, make bench):
// a producer and a consumer of a ring file (the two ends of `ringctl bridge send|recv`),
// and the transport's ZmqProducer / ZmqConsumer with packed frames. A receiving end prints
// one JSON object: messages, bytes, the times of its first and last message
// (CLOCK_MONOTONIC, ns), messages/s and MB/s between them, and with --latency the
// percentiles of (read time - the write time stamped in the message's first 8 bytes).
//
//   ring-zmq-bench ring-produce RING --size N --count N [--rate MSGS_PER_S]
//   ring-zmq-bench ring-consume RING [--latency]
//   ring-zmq-bench zmq-push ENDPOINT --size N --count N [--batch K]     connects
//   ring-zmq-bench zmq-pull ENDPOINT [--batch K]                        binds

#if canImport(Glibc)
import Glibc
#endif
import RingFormat
import RingZmq

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the host, whatever its
/// network namespace (the latency runs stamp messages with it in one process and read it in another).
func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// This process's command line.
let commandLine = CommandLine.arguments

/// The integer after `name` on the command line, or `fallback` (also for one that is not a number).
func arg(_ name: String, _ fallback: Int) -> Int {
    guard let i = commandLine.firstIndex(of: name), i + 1 < commandLine.count else { return fallback }
    return Int(commandLine[i + 1]) ?? fallback
}

/// Whether `name` is on the command line.
func flag(_ name: String) -> Bool { commandLine.contains(name) }

/// Sleeps until CLOCK_MONOTONIC reads `deadline` (ns).
func sleep(until deadline: UInt64) {
    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// What a receiving end saw.
struct Receipt {
    var messages = 0
    var bytes = 0
    var first: UInt64 = 0
    var last: UInt64 = 0
    var delays: [UInt64] = []

    /// Counts one message of `size` bytes read at `at`; with `stamp`, its delay.
    mutating func add(_ size: Int, at: UInt64, stamp: UInt64?) {
        if messages == 0 { first = at }
        last = at
        messages += 1
        bytes += size
        if let stamp { delays.append(at &- stamp) }
    }

    /// Counts `count` messages of `size` bytes in all, read by `at`.
    mutating func add(batch count: Int, bytes size: Int, at: UInt64) {
        guard count > 0 else { return }
        if messages == 0 { first = at }
        last = at
        messages += count
        bytes += size
    }

    /// One JSON line: the rate between the first and the last message, and the delays' percentiles.
    func emit(impl: String) {
        let seconds = Double(last &- first) / 1e9
        let rate = messages > 1 && seconds > 0 ? Double(messages - 1) / seconds : 0
        let perMessage = messages > 0 ? Double(bytes) / Double(messages) : 0
        var fields = ["\"impl\": \"\(impl)\"", "\"messages\": \(messages)", "\"bytes\": \(bytes)",
                      "\"first_ns\": \(first)", "\"last_ns\": \(last)", "\"msgs_per_s\": \(rate)",
                      "\"mb_per_s\": \(rate * perMessage / 1e6)"]
        if !delays.isEmpty {
            let sorted = delays.sorted()
            func at(_ q: Double) -> UInt64 { sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
            fields += ["\"p50_ns\": \(at(0.5))", "\"p99_ns\": \(at(0.99))", "\"max_ns\": \(sorted.last!)"]
        }
        print("{" + fields.joined(separator: ", ") + "}")
    }
}

/// Writes --count messages of --size bytes into the ring (its producer), then closes the
/// stream. Unpaced: batches of up to 256 messages and 256 KiB. With --rate: one message at
/// a time on a fixed schedule, each stamped with its write time.
func ringProduce(_ path: String) throws {
    let size = max(8, arg("--size", 64)), count = arg("--count", 1_000_000), rate = arg("--rate", 0)
    let producer = try Ring.open(at: path).makeProducer()
    defer { producer.closeWriter() }
    var payload = [UInt8](repeating: 0x5a, count: size)
    try payload.withUnsafeMutableBytes { raw in
        let message = UnsafeRawBufferPointer(raw)
        if rate > 0 {
            let gap = UInt64(1_000_000_000 / rate)
            var next = now() + gap
            for _ in 0..<count {
                sleep(until: next)
                next += gap
                raw.storeBytes(of: now(), as: UInt64.self)
                try producer.write(message, timeout: nil)
            }
            return
        }
        let batch = max(1, min(256, (256 << 10) / size))
        var left = count
        while left > 0 {
            let n = min(batch, left)
            let written = try producer.write(batchCount: n) { _ in message }
            if written == 0 { try producer.write(message, timeout: nil); left -= 1 } else { left -= written }
        }
    }
}

/// Copies each message it is shown out of the mapping and counts it.
struct CopyingVisitor: RecordVisitor {
    let copy: UnsafeMutableRawPointer
    var messages = 0
    var bytes = 0
    mutating func restart() { messages = 0; bytes = 0 }
    mutating func visit(_ index: Int, _ m: UnsafeRawBufferPointer) -> Bool {
        copy.copyMemory(from: m.baseAddress!, byteCount: min(m.count, 1 << 20))
        messages += 1
        bytes += m.count
        return true
    }
}

/// Reads the ring (its consumer) until the stream ends, copying each message out: in
/// batches of up to 256 (blocked on the futex when there is none), or with --latency one
/// message at a time, its delay taken from the stamp.
func ringConsume(_ path: String) throws {
    let consumer = try Ring.open(at: path).makeConsumer()
    let copy = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { copy.deallocate() }
    var receipt = Receipt()
    if flag("--latency") {
        var ended = false
        while !ended {
            do {
                try consumer.withNextMessage(timeout: nil) { m in
                    let at = now()
                    copy.copyMemory(from: m.baseAddress!, byteCount: min(m.count, 1 << 20))
                    receipt.add(m.count, at: at, stamp: m.loadUnaligned(as: UInt64.self))
                }
            } catch {
                guard (error as? RingError) == .endOfStream else { throw error }
                ended = true
            }
        }
    } else {
        while try consumeSome(consumer, into: &receipt, copy: copy) {}
    }
    receipt.emit(impl: "ring")
}

/// One batch of up to 256 messages into `receipt`, or a wait for one; false at the end of stream.
func consumeSome(_ consumer: RingConsumer, into receipt: inout Receipt, copy: UnsafeMutableRawPointer) throws -> Bool {
    var visitor = CopyingVisitor(copy: copy)
    let n: Int
    do { n = try consumer.consumeBatch(maxCount: 256, &visitor) } catch .endOfStream { return false }
    if n > 0 {
        receipt.add(batch: visitor.messages, bytes: visitor.bytes, at: now())
        return true
    }
    do { _ = try consumer.waitForMessage(timeout: nil) } catch .endOfStream { return false }
    return true
}

/// --count messages of --size bytes through a ZmqProducer, --batch (default 1024) per
/// `put(batch:)`, packed into frames by the transport; then END.
func zmqPush(_ endpoint: String) throws {
    let size = arg("--size", 64), count = arg("--count", 1_000_000), batch = max(1, arg("--batch", 1024))
    var options = ZmqOptions()
    options.bind = false
    options.linger = .seconds(10)
    let producer = try ZmqProducer(endpoint: endpoint, topology: .spsc, options: options)
    defer { producer.close() }
    let messages = [[UInt8]](repeating: [UInt8](repeating: 0x5a, count: size), count: batch)
    var left = count
    while left > 0 {
        let n = min(batch, left)
        left -= try producer.put(batch: messages[0..<n], timeout: nil)
    }
    try producer.closeWriter(endFrames: 1, timeout: .seconds(10))
}

/// Up to `batch` messages, waiting for the first; nil at the end of the stream.
func pullSome(_ consumer: ZmqConsumer, batch: Int) throws -> [[UInt8]]? {
    do { return try consumer.get(maxCount: batch, timeout: nil) } catch .endOfStream { return nil }
}

/// Receives from a ZmqConsumer, up to --batch messages per `get(maxCount:)`, until END.
func zmqPull(_ endpoint: String) throws {
    let batch = max(1, arg("--batch", 4096))
    var options = ZmqOptions()
    options.bind = true
    let consumer = try ZmqConsumer(endpoint: endpoint, topology: .spsc, options: options)
    defer { consumer.close() }
    var receipt = Receipt()
    while let got = try pullSome(consumer, batch: batch) {
        var bytes = 0
        for m in got { bytes += m.count }
        receipt.add(batch: got.count, bytes: bytes, at: now())
    }
    receipt.emit(impl: "swift-transport")
}

/// Writes a line to standard error.
func complain(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    complain("usage: ring-zmq-bench ring-produce|ring-consume|zmq-push|zmq-pull TARGET [options]")
    exit(2)
}
do {
    switch args[1] {
    case "ring-produce": try ringProduce(args[2])
    case "ring-consume": try ringConsume(args[2])
    case "zmq-push": try zmqPush(args[2])
    case "zmq-pull": try zmqPull(args[2])
    default:
        complain("ring-zmq-bench: unknown command \(args[1])")
        exit(2)
    }
} catch {
    complain("ring-zmq-bench \(args[1]): \(error)")
    exit(1)
}
