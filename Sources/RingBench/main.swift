// ring-bench - throughput and latency of RingFormat between two processes, from Swift,
// beside a pipe and memcpy (make bench). Prints one JSON object per measurement.
//
//   ring-bench throughput --size N --count N [--batch N]     ring, producer and consumer processes
//   ring-bench pipe --size N --count N                       the same workload over a pipe
//   ring-bench memcpy --size N                               copy bandwidth, blocks out of cache
//   ring-bench latency [--blocking] [--count N]              64 B ping-pong, one-way p50/p99/p99.9
//   ring-bench wake [--count N] [--gap-us N] [--async]       a reader asleep on the futex: write-to-read delay;
//                                                            --async: a Swift async consumer (a task suspended
//                                                            on its doorbell, resumed by the reactor thread)
//   ring-bench pingpong [--count N]                          the floor: one cache line bounced between processes
//   ring-bench calls --size N --count N [--phase write|both] one process: N writes, then N reads, one call each
//                                                            (for instruction counts under callgrind)
//   ring-bench fanout --readers N --size N --count N [--gap-ns N]  one producer, N reader processes of one
//                                                            ring (format 1.1; --readers 0: the 1.0 consumer);
//                                                            per-reader messages/s and one-way latency
//   ring-bench mpsc --producers N --size N --count N [--batch N]  N producer processes into one ring with
//                                                            N producer slots (format 1.1), one consumer;
//                                                            aggregate messages/s (count is per producer)

#if canImport(Glibc)
import Glibc
#endif
import Atomics
import CRingSys
import RingFormat
import RingWorkload

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func arg(_ name: String, _ fallback: Int) -> Int {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count, let v = Int(a[i + 1]) { return v }
    return fallback
}

func flag(_ name: String) -> Bool { CommandLine.arguments.contains(name) }

/// Starts this program again with `args`; returns its pid and the read end of its stdout.
func spawnSelf(_ args: [String]) -> (pid_t, Int32) {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    let argv = ([CommandLine.arguments[0]] + args).map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let exe = "/proc/self/exe"
    _ = posix_spawn(&pid, exe, &actions, nil, argv, environ)
    close(fds[1])
    return (pid, fds[0])
}

/// Everything the child writes to `fd`, as text; closes `fd`.
func readAll(_ fd: Int32) -> String {
    defer { close(fd) }
    return String(decoding: readAllBytes(fd), as: UTF8.self)
}

func emit(_ fields: [(String, String)]) {
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

func tempPath(_ name: String) -> String { "/dev/shm/ring-bench-\(getpid())-\(name)" }

let command = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ""
let size = arg("--size", 64)
let count = arg("--count", 1_000_000)

func cmd_throughput() throws {
    let batch = arg("--batch", 1)
    let path = tempPath("t")
    let capacity = max(1 << 22, size * 64)
    _ = try Ring.create(at: path, capacity: capacity, replaceExisting: true)
    let (pid, out) = spawnSelf(["consume", path, "--size", "\(size)", "--count", "\(count)", "--batch", "\(batch)"])
    let producer = try Ring.open(at: path).makeProducer()
    var payload = [UInt8](repeating: 7, count: size)
    let start = now()
    try payload.withUnsafeMutableBytes { raw in
        if batch == 1 {
            for i in 0..<count {
                raw.storeBytes(of: UInt64(i), as: UInt64.self)
                if !(try producer.tryWrite(UnsafeRawBufferPointer(raw))) { try producer.write(UnsafeRawBufferPointer(raw), timeout: nil) }
            }
        } else {
            var i = 0
            while i < count {
                let n = min(batch, count - i)
                var done = 0
                while done < n {
                    let w = try producer.write(batchCount: n - done) { _ in UnsafeRawBufferPointer(raw) }
                    if w == 0 { try producer.write(UnsafeRawBufferPointer(raw), timeout: nil); done += 1 } else { done += w }
                }
                i += n
            }
        }
    }
    producer.closeWriter()
    let text = readAll(out)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    unlink(path)
    let end = UInt64(text.split(separator: " ").last.flatMap { UInt64($0.trimmingCharacters()) } ?? 0)
    let seconds = Double(end - start) / 1e9
    emit([("impl", "\"swift\""), ("mode", batch == 1 ? "\"single\"" : "\"batch\""), ("size", "\(size)"),
          ("count", "\(count)"), ("msgs_per_s", "\(Double(count) / seconds)"),
          ("mb_per_s", "\(Double(count * size) / seconds / 1e6)")])
}

func cmd_consume() throws {
    let path = CommandLine.arguments[2]
    let batch = arg("--batch", 1)
    let consumer = try Ring.open(at: path).makeConsumer()
    var got = 0
    var bytes = 0
    // Every message is copied out of the mapping, as the C and Python consumers do.
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
    defer { copy.deallocate() }
    if batch == 1 {
        while true {
            do {
                let n = try consumer.withNextMessage(timeout: nil) { m in
                    if m.count > 0 { copy.copyMemory(from: m.baseAddress!, byteCount: m.count) }
                    return m.count
                }
                bytes += n
                got += 1
            } catch { if (error as? RingError) == .endOfStream { break }; throw error }
        }
    } else {
        while true {
            do {
                var visitor = Visit { m in
                    if m.count > 0 { copy.copyMemory(from: m.baseAddress!, byteCount: m.count) }
                    bytes += m.count
                    return true
                }
                got += try consumer.consumeBatch(maxCount: batch, &visitor)
                if got < count { _ = try consumer.waitForMessage(timeout: nil) }
            } catch { if error == .endOfStream { break }; throw error }
            if got >= count { break }
        }
    }
    let end = now()
    if got != count || bytes != count * size { print("consumer got \(got) messages"); exit(1) }
    print("done \(end)")
}

func cmd_pipe() throws {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, 1 << 20)
    let pid = fork()
    if pid == 0 {
        close(fds[1])
        var buf = [UInt8](repeating: 0, count: size + 4)
        var got = 0
        func readExactly(_ n: Int) -> Bool {
            var done = 0
            while done < n {
                let r = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress! + done, n - done) }
                if r <= 0 { return false }
                done += r
            }
            return true
        }
        while readExactly(4 + size) { got += 1 }
        _exit(got == count ? 0 : 1)
    }
    close(fds[0])
    let frame = [UInt8](repeating: 7, count: size + 4)
    let start = now()
    for _ in 0..<count {
        var done = 0
        while done < frame.count {
            let w = frame.withUnsafeBytes { write(fds[1], $0.baseAddress! + done, $0.count - done) }
            done += max(0, w)
        }
    }
    close(fds[1])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    let seconds = Double(now() - start) / 1e9
    emit([("impl", "\"swift-pipe\""), ("mode", "\"single\""), ("size", "\(size)"), ("count", "\(count)"),
          ("msgs_per_s", "\(Double(count) / seconds)"), ("mb_per_s", "\(Double(count * size) / seconds / 1e6)")])
}

func cmd_memcpy() throws {
    // 256 MiB each way, far beyond any cache; pages touched first. The best of 5
    // passes: the bandwidth this machine can give one copying core.
    let total = 256 << 20
    let source = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 4096)
    let target = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 4096)
    memset(source, 1, total)
    memset(target, 2, total)
    let blocks = total / size
    var best = Double.infinity
    for _ in 0..<5 {
        let start = now()
        for b in 0..<blocks { memcpy(target + b * size, source + b * size, size) }
        best = min(best, Double(now() - start) / 1e9)
    }
    emit([("impl", "\"memcpy\""), ("mode", "\"single\""), ("size", "\(size)"), ("count", "\(blocks)"),
          ("msgs_per_s", "\(Double(blocks) / best)"), ("mb_per_s", "\(Double(total) / best / 1e6)")])
}

func cmd_latency() throws {
    let blocking = flag("--blocking")
    let rounds = arg("--count", 100_000)
    let ping = tempPath("ping"), pong = tempPath("pong")
    _ = try Ring.create(at: ping, capacity: 1 << 16, replaceExisting: true)
    _ = try Ring.create(at: pong, capacity: 1 << 16, replaceExisting: true)
    let (pid, out) = spawnSelf(["echo", ping, pong, blocking ? "--blocking" : "--spin"])
    let p = try Ring.open(at: ping).makeProducer()
    let c = try Ring.open(at: pong).makeConsumer()
    var samples: [UInt64] = []
    samples.reserveCapacity(rounds)
    let message = [UInt8](repeating: 1, count: 64)
    for i in 0..<(rounds + 1000) {
        let t0 = now()
        try p.write(message)
        if blocking {
            _ = try c.withNextMessage(timeout: nil) { $0.count }
        } else {
            // Zero-copy and no error thrown on empty: consumeBatch returns 0.
            var visitor = Visit { _ in true }
            while try c.consumeBatch(maxCount: 1, &visitor) == 0 {}
        }
        if i >= 1000 { samples.append(now() - t0) }
    }
    p.closeWriter()
    _ = readAll(out)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    unlink(ping); unlink(pong)
    emit([("impl", blocking ? "\"swift-blocking\"" : "\"swift-spin\""), ("size", "64"), ("rounds", "\(rounds)")]
         + percentiles(samples, divisor: 2))
}

/// Percentiles of sorted nanosecond samples, in microseconds, divided by `divisor`.
func percentiles(_ samples: [UInt64], divisor: Double) -> [(String, String)] {
    let sorted = samples.sorted()
    func pct(_ q: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / divisor / 1000 }
    return [("p50_us", "\(pct(0.5))"), ("p99_us", "\(pct(0.99))"), ("p999_us", "\(pct(0.999))")]
}

/// A reader blocked on the futex: the writer stamps each message with the time and
/// waits --gap-us (longer than the reader's spin) before the next, so every message
/// finds the reader asleep; the reader reports write-to-read delays.
func cmd_wake() throws {
    let rounds = arg("--count", 2000)
    let gap = arg("--gap-us", 1000)
    let path = tempPath("wake")
    _ = try Ring.create(at: path, capacity: 1 << 16, replaceExisting: true)
    let (pid, out) = spawnSelf(["wake-reader", path] + (flag("--async") ? ["--async"] : []))
    let p = try Ring.open(at: path).makeProducer()
    var ts = timespec(tv_sec: 0, tv_nsec: gap * 1000)
    nanosleep(&ts, nil)
    var stamp = [UInt8](repeating: 0, count: 64)
    for _ in 0..<rounds {
        nanosleep(&ts, nil)
        stamp.withUnsafeMutableBytes { $0.storeBytes(of: now(), as: UInt64.self) }
        try p.write(stamp)
    }
    p.closeWriter()
    let text = readAll(out)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    unlink(path)
    print(text.trimmingCharacters(in: "\n"))
}

func cmd_wake_reader() throws {
    if flag("--async") { return try wakeAsyncReader() }
    let c = try Ring.open(at: CommandLine.arguments[2]).makeConsumer()
    var samples: [UInt64] = []
    while true {
        do {
            let delay = try c.withNextMessage(timeout: nil) { bytes in now() &- bytes.load(as: UInt64.self) }
            samples.append(delay)
        } catch { if (error as? RingError) == .endOfStream { break }; throw error }
    }
    emit([("impl", "\"swift-futex-wake\""), ("size", "64"), ("rounds", "\(samples.count)")] + percentiles(samples, divisor: 1))
}

/// The delays a task's `for try await` over a consumer's messages sees, collected by the task.
final class AsyncSamples: @unchecked Sendable {
    var samples: [UInt64] = []
    var failure: (any Error)?
    /// Set (release) by the task when it is done; the main thread's acquire load pairs with it.
    let done = ManagedAtomic<Bool>(false)
}

/// wake-reader --async: the consumer is a task iterating `consumer.messages`; the main
/// thread only waits for it (the task runs on the cooperative pool, woken by the reactor).
func wakeAsyncReader() throws {
    let c = try Ring.open(at: CommandLine.arguments[2]).makeConsumer()
    let box = AsyncSamples()
    Task { [c] in
        do {
            for try await message in c.messages {
                let delay = now() &- message.withUnsafeBytes { $0.load(as: UInt64.self) }
                box.samples.append(delay)
            }
        } catch { box.failure = error }
        box.done.store(true, ordering: .releasing) // pairs with the acquiring load below
    }
    var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
    while !box.done.load(ordering: .acquiring) { nanosleep(&pause, nil) } // pairs with the releasing store above
    if let failure = box.failure { throw failure }
    emit([("impl", "\"swift-async-wake\""), ("size", "64"), ("rounds", "\(box.samples.count)")]
         + percentiles(box.samples, divisor: 1))
}

/// The floor under any ring's latency on this machine: two processes bounce one
/// counter in one shared cache line (each waits for the other's value, then writes the
/// next). One-way = round trip / 2.
func cmd_pingpong() throws {
    let rounds = arg("--count", 200_000)
    let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)!
    let word = UnsafeAtomic<UInt64>(at: page.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 1))
    word.store(0, ordering: .relaxed)
    let total = UInt64(rounds + 1000)
    let pid = fork()
    if pid == 0 {
        var expect: UInt64 = 1
        while expect < 2 * total {
            // acquire/release: pairs with the parent's store of the odd value.
            while word.load(ordering: .acquiring) != expect { ringsys_cpu_relax() }
            word.store(expect + 1, ordering: .releasing)
            expect += 2
        }
        _exit(0)
    }
    var samples: [UInt64] = []
    samples.reserveCapacity(rounds)
    for i in 0..<total {
        let t0 = now()
        // release: pairs with the child's acquire load above.
        word.store(2 * i + 1, ordering: .releasing)
        while word.load(ordering: .acquiring) != 2 * i + 2 { ringsys_cpu_relax() }
        if i >= 1000 { samples.append(now() - t0) }
    }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    emit([("impl", "\"cache-line-pingpong\""), ("size", "8"), ("rounds", "\(rounds)")] + percentiles(samples, divisor: 2))
}

func cmd_echo() throws {
    let c = try Ring.open(at: CommandLine.arguments[2]).makeConsumer()
    let p = try Ring.open(at: CommandLine.arguments[3]).makeProducer()
    let blocking = flag("--blocking")
    while true {
        do {
            if blocking {
                try c.withNextMessage(timeout: .seconds(10)) { try p.write($0) }
            } else {
                // Echo straight from the mapping of one ring into the other.
                var spins = 0
                var echoed: Result<Void, RingError> = .success(())
                var visitor = Visit { bytes in
                    echoed = Result { () throws(RingError) in try p.write(bytes) }
                    return true
                }
                while try c.consumeBatch(maxCount: 1, &visitor) == 0 {
                    spins += 1
                    if spins & 0xFFFFF == 0 && getppid() == 1 { exit(1) } // the parent died: do not spin forever
                }
                try echoed.get()
            }
        } catch { if (error as? RingError) == .endOfStream { break }; throw error }
    }
}

/// One producer and --readers N reader processes on one ring (N = 0: a 1.0 ring and its
/// consumer, the baseline). Each message carries its send time; each reader blocks (spins up
/// to 50 µs, then sleeps on the futex) and reports how many it got, when it finished, and its
/// write-to-read delays. --gap-ns paces the producer (0: as fast as the readers allow).
func cmd_fanout() throws {
    let readers = arg("--readers", 1)
    let gap = UInt64(arg("--gap-ns", 0))
    let path = tempPath("fanout")
    let capacity = max(1 << 22, size * 64)
    _ = try Ring.create(at: path, capacity: capacity, replaceExisting: true, readerSlots: readers)
    let children = (0..<max(readers, 1)).map { _ in spawnSelf(["fanout-reader", path, "--size", "\(size)", "--count", "\(count)"]) }
    let ring = try Ring.open(at: path)
    // Start only once every reader has joined (a 1.0 consumer: once it holds the role).
    while readers > 0 ? (try ring.readers().count) < readers : !(try ring.roleStatus(.consumer).isHeld) { usleep(1000) }
    let producer = try ring.makeProducer()
    var payload = [UInt8](repeating: 7, count: max(size, 16))
    let start = now()
    var next = start
    try payload.withUnsafeMutableBytes { raw in
        let message = UnsafeRawBufferPointer(rebasing: raw[0..<max(size, 16)])
        for i in 0..<count {
            if gap > 0 { while now() < next {} ; next &+= gap }
            raw.storeBytes(of: UInt64(i), toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: now(), toByteOffset: 8, as: UInt64.self)
            if !(try producer.tryWrite(message)) { try producer.write(message, timeout: nil) }
        }
    }
    producer.closeWriter()
    var rates: [Double] = []
    var p50: [Double] = [], p99: [Double] = []
    for (pid, out) in children {
        let text = readAll(out)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let f = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        guard f.count == 4, let got = Int(f[0]), got == count, let end = UInt64(f[1]),
              let a = Double(f[2]), let b = Double(f[3]) else { print("reader: \(text)"); exit(1) }
        rates.append(Double(count) / (Double(end - start) / 1e9))
        p50.append(a); p99.append(b)
    }
    unlink(path)
    func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
    emit([("impl", "\"swift\""), ("mode", gap > 0 ? "\"paced\"" : "\"saturated\""), ("readers", "\(readers)"),
          ("size", "\(size)"), ("count", "\(count)"), ("processes", "\(max(readers, 1) + 1)"),
          ("per_reader_msgs_per_s_min", "\(rates.min()!)"), ("per_reader_msgs_per_s_median", "\(median(rates))"),
          ("p50_us", "\(median(p50))"), ("p99_us", "\(median(p99))"), ("readers_block", "true")])
}

/// N producer processes into one shared-producer ring, the consumer here: aggregate
/// messages/s from the first message received to the last.
func cmd_mpsc() throws {
    let producers = arg("--producers", 2)
    let batch = arg("--batch", 1)
    let path = tempPath("mpsc")
    _ = try Ring.create(at: path, capacity: max(1 << 23, size * 64), replaceExisting: true, producerSlots: producers)
    let consumer = try Ring.open(at: path).makeConsumer()
    let children = (0..<producers).map { _ in
        spawnSelf(["mpsc-produce", path, "--size", "\(size)", "--count", "\(count)", "--batch", "\(batch)"])
    }
    let total = producers * count
    var got = 0
    var first: UInt64 = 0
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
    defer { copy.deallocate() }
    while got < total {
        var visitor = Visit { m in
            if m.count > 0 { copy.copyMemory(from: m.baseAddress!, byteCount: m.count) }
            return true
        }
        let n = try consumer.consumeBatch(maxCount: 256, &visitor)
        if n == 0 { _ = try consumer.waitForMessage(timeout: .seconds(30)); continue }
        if first == 0 { first = now() }
        got += n
    }
    let end = now()
    for (pid, out) in children {
        _ = readAll(out)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
    unlink(path)
    emit([("impl", "\"swift\""), ("mode", batch == 1 ? "\"single\"" : "\"batch\""), ("producers", "\(producers)"),
          ("size", "\(size)"), ("count", "\(count)"),
          ("messages_per_s", "\(Double(total) / (Double(end - first) / 1e9))")])
}

/// One producer of `mpsc`: `count` messages of `size` bytes, one write (or batch) each.
func cmd_mpsc_produce() throws {
    let path = CommandLine.arguments[2]
    let batch = arg("--batch", 1)
    let producer = try Ring.open(at: path).makeProducer()
    var payload = [UInt8](repeating: 7, count: size)
    try payload.withUnsafeMutableBytes { raw in
        var i = 0
        while i < count {
            raw.storeBytes(of: UInt64(i), as: UInt64.self)
            let n = batch == 1 ? 1 : min(batch, count - i)
            let w = n == 1 ? (try producer.tryWrite(UnsafeRawBufferPointer(raw)) ? 1 : 0)
                : try producer.write(batchCount: n) { _ in UnsafeRawBufferPointer(raw) }
            if w == 0 { try producer.write(UnsafeRawBufferPointer(raw), timeout: nil); i += 1 } else { i += w }
        }
    }
    producer.close()
}

/// One reader of `fanout` (a 1.0 consumer when the ring has no reader table): prints
/// "COUNT END_NS P50_US P99_US".
func cmd_fanout_reader() throws {
    let ring = try Ring.open(at: CommandLine.arguments[2])
    let reader = ring.geometry.hasReaders ? try ring.makeReader() : try ring.makeConsumer()
    var got = 0
    var delays: [UInt64] = []
    delays.reserveCapacity(count)
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(size, 16), alignment: 64)
    defer { copy.deallocate() }
    while true {
        do {
            let delay = try reader.withNextMessage(timeout: nil) { m in
                copy.copyMemory(from: m.baseAddress!, byteCount: m.count)
                return now() &- copy.load(fromByteOffset: 8, as: UInt64.self)
            }
            delays.append(delay)
            got += 1
        } catch { if (error as? RingError) == .endOfStream { break }; throw error }
    }
    let end = now()
    let sorted = delays.sorted()
    func pct(_ q: Double) -> Double { sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1000 }
    print("\(got) \(end) \(pct(0.5)) \(pct(0.99))")
}

do {
    switch command {
    case "mpsc": try cmd_mpsc()
    case "mpsc-produce": try cmd_mpsc_produce()
    case "fanout": try cmd_fanout()
    case "fanout-reader": try cmd_fanout_reader()
    case "throughput": try cmd_throughput()
    case "calls": try cmd_calls()
    case "consume": try cmd_consume()
    case "pipe": try cmd_pipe()
    case "memcpy": try cmd_memcpy()
    case "latency": try cmd_latency()
    case "echo": try cmd_echo()
    case "wake": try cmd_wake()
    case "wake-reader": try cmd_wake_reader()
    case "pingpong": try cmd_pingpong()
    default:
    print("usage: ring-bench throughput|pipe|memcpy|latency|wake|pingpong [--size N] [--count N] [--batch N] [--blocking]")
    exit(2)

    }
} catch {
    print("ring-bench: \(error)")
    exit(1)
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let l = s.last, l == "\n" || l == " " { s = s.dropLast() }
        return s
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

/// One process, no waiting: `count` single writes into a ring large enough for
/// all of them, then (phase both) `count` single reads, each copied out. Run
/// under callgrind with count 0 and N to get instructions per call.
func cmd_calls() throws {
    let size = arg("--size", 64), count = arg("--count", 100_000)
    let both = !CommandLine.arguments.contains("write")
    let path = "/dev/shm/ring-bench-calls-\(getpid())"
    defer { unlink(path) }
    let capacity = max(4096, (count + 1) * RingLayout.recordSize(payloadLength: size))
    let ring = try Ring.create(at: path, capacity: capacity, replaceExisting: true)
    let p = try ring.makeProducer()
    let c = try ring.makeConsumer()
    let message = [UInt8](repeating: 1, count: size)
    var copy = [UInt8](repeating: 0, count: size)
    let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
    defer { raw.deallocate() }
    raw.copyMemory(from: UnsafeRawBufferPointer(start: message, count: size))
    for _ in 0..<count { try p.write(UnsafeRawBufferPointer(raw)) }
    var bytes = 0
    if both {
        for _ in 0..<count {
            bytes += try c.withNextMessage { m in
                copy.withUnsafeMutableBytes { $0.copyMemory(from: m) }
                return m.count
            }
        }
    }
    print("{\"impl\": \"swift\", \"mode\": \"calls\", \"size\": \(size), \"count\": \(count), \"bytes\": \(bytes)}")
}

/// A batch visitor from a closure, for the benchmarks' reject-when-full rings
/// (where no pass is ever discarded, so `restart` has nothing to forget).
struct Visit: RecordVisitor {
    let body: (UnsafeRawBufferPointer) -> Bool
    init(_ body: @escaping (UnsafeRawBufferPointer) -> Bool) { self.body = body }
    mutating func restart() {}
    mutating func visit(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool { body(bytes) }
}
