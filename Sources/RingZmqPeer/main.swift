// ring-zmq-peer - the Swift producer and consumer of the cross-language transport matrix
// (interop/run_zmq_matrix.py): the same command line and output as the C peer
// (interop/c/zmq_peer.c) and the Python peer (interop/python/zmq_peer.py).
//
//   ring-zmq-peer zmq-produce ENDPOINT --topology spsc|mpsc|spmc --count N --seed S
//                 [--min-size 8] [--max-size 256] [--packed K] [--end-frames E] [--timeout-ms T] [--hold-ms H]
//   ring-zmq-peer zmq-consume ENDPOINT --topology T --seeds S1[,S2...] [--min-size 8] [--max-size 256]
//                 [--packed K] [--producers P] [--idle-ms I] [--subsequence]
//
// The producer sends messages 0..N-1 of the interop workload (interop/README.md), one per
// frame or K per `put(batch:)`, then END, keeps the socket open H ms (frames still queued for
// a slow consumer can be lost at close even within linger, SPEC.md §23.8) and closes; it prints `produced N messages B bytes
// in T ms`. The consumer checks every message - message idx of one seed, idx its first 8
// bytes, in order per seed (a subsequence with --subsequence, for SPMC) - until END or I ms
// with nothing, and prints `consumed R messages B bytes checksum 0xHEX ended 0|1 per-seed
// N1,... indices X1,...`.

#if canImport(Glibc)
import Glibc
#endif
import RingFormat
import RingWorkload
import RingZmq

/// Writes `text` and a newline to standard error and exits with status 1.
func fail(_ text: String) -> Never {
    var line = "ring-zmq-peer: \(text)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

/// The command line: the command, the endpoint and `--name value` options (flags without a value).
struct Arguments {
    let command: String
    let endpoint: String
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private static let flagNames: Set<String> = ["--subsequence"]

    init(_ argv: [String]) {
        guard argv.count >= 3 else {
            fail("usage: ring-zmq-peer zmq-produce|zmq-consume ENDPOINT [options] (see the source's header)")
        }
        command = argv[1]
        endpoint = argv[2]
        var i = 3
        while i < argv.count {
            let name = argv[i]
            if Arguments.flagNames.contains(name) {
                flags.insert(name)
                i += 1
                continue
            }
            guard name.hasPrefix("--"), i + 1 < argv.count else { fail("option \(name) needs a value") }
            values[name] = argv[i + 1]
            i += 2
        }
    }

    /// Whether the flag `name` was given.
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The unsigned number of option `name`, or `value`.
    func number(_ name: String, default value: UInt64? = nil) -> UInt64 {
        guard let text = values[name] else {
            guard let value else { fail("\(name) is required") }
            return value
        }
        guard let n = UInt64(text) else { fail("\(name) \(text) is not a number") }
        return n
    }

    /// The text of option `name`, or `value`.
    func text(_ name: String, default value: String? = nil) -> String {
        guard let text = values[name] ?? value else { fail("\(name) is required") }
        return text
    }

    /// The topology of --topology.
    var topology: ZmqTopology {
        let name = text("--topology")
        guard let topology = ZmqTopology(rawValue: name) else { fail("--topology \(name): spsc, mpsc or spmc") }
        return topology
    }
}

/// Milliseconds since `start`.
func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
    let d = ContinuousClock.now - start
    return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}

/// zmq-produce: messages 0..count-1 of the workload, single or packed, then END.
func produce(_ a: Arguments) throws(RingError) {
    let count = a.number("--count")
    let workload = Workload(seed: a.number("--seed"), minSize: Int(a.number("--min-size", default: 8)),
                            maxSize: Int(a.number("--max-size", default: 256)))
    let packed = Int(a.number("--packed", default: 0))
    let timeout = Duration.milliseconds(Int64(a.number("--timeout-ms", default: 60000)))
    var options = ZmqOptions()
    options.linger = .seconds(5)
    let producer = try ZmqProducer(endpoint: a.endpoint, topology: a.topology, options: options)
    defer { producer.close() }
    let start = ContinuousClock.now
    var bytes = 0
    var index: UInt64 = 0
    while index < count {
        if packed > 0 {
            let end = min(count, index + UInt64(packed))
            let batch = (index..<end).map { workload.message($0) }
            let sent = try producer.put(batch: batch, timeout: timeout)
            guard sent == batch.count else { throw .full }
            bytes += batch.reduce(0) { $0 + $1.count }
            index = end
        } else {
            let message = workload.message(index)
            try producer.put(message, timeout: timeout)
            bytes += message.count
            index += 1
        }
    }
    try producer.closeWriter(endFrames: Int(a.number("--end-frames", default: 1)), timeout: timeout)
    print("produced \(count) messages \(bytes) bytes in \(milliseconds(since: start)) ms")
    usleep(UInt32(a.number("--hold-ms", default: 0) * 1000))
}

/// zmq-consume: every message checked against the seeds' workloads, until END or idle.
func consume(_ a: Arguments) throws(RingError) {
    let seeds = a.text("--seeds").split(separator: ",").map { text -> UInt64 in
        guard let seed = UInt64(text) else { fail("--seeds: \(text) is not a number") }
        return seed
    }
    let minSize = Int(a.number("--min-size", default: 8)), maxSize = Int(a.number("--max-size", default: 256))
    let workloads = seeds.map { Workload(seed: $0, minSize: minSize, maxSize: maxSize) }
    let packed = Int(a.number("--packed", default: 0))
    let idle = Duration.milliseconds(Int64(a.number("--idle-ms", default: 10000)))
    let subsequence = a.flag("--subsequence")
    var options = ZmqOptions()
    options.producers = Int(a.number("--producers", default: 1))
    let consumer = try ZmqConsumer(endpoint: a.endpoint, topology: a.topology, options: options)
    defer { consumer.close() }
    var last = [Int64](repeating: -1, count: seeds.count)
    var perSeed = [UInt64](repeating: 0, count: seeds.count)
    var indexSums = [UInt64](repeating: 0, count: seeds.count)
    var checksum = StreamChecksum()
    var received: UInt64 = 0, bytes = 0, ended = false

    func check(_ message: [UInt8]) {
        message.withUnsafeBytes { raw in
            guard let index = Workload.index(in: raw) else {
                fail("message \(received) has \(raw.count) bytes, fewer than the 8 of its index")
            }
            let owner = workloads.indices.first { k in
                let next = subsequence ? Int64(index) > last[k] : Int64(index) == last[k] + 1
                return next && workloads[k].matches(raw, index: index)
            }
            guard let k = owner else {
                fail("message \(received) (\(raw.count) bytes, index \(index)) is not the next message of any seed \(seeds) (last \(last))")
            }
            last[k] = Int64(index)
            perSeed[k] += 1
            indexSums[k] &+= index
            checksum.add(raw)
            received += 1
            bytes += raw.count
        }
    }

    do {
        while true {
            if packed > 0 {
                for message in try consumer.get(maxCount: packed, timeout: idle) { check(message) }
            } else {
                check(try consumer.get(timeout: idle))
            }
        }
    } catch .endOfStream {
        ended = true
    } catch .empty {
        ended = false
    }
    let seedCounts = perSeed.map(String.init).joined(separator: ",")
    let sums = indexSums.map(String.init).joined(separator: ",")
    print("consumed \(received) messages \(bytes) bytes checksum 0x\(String(checksum.value, radix: 16)) ended \(ended ? 1 : 0) per-seed \(seedCounts) indices \(sums)")
}

let arguments = Arguments(CommandLine.arguments)
do {
    switch arguments.command {
    case "zmq-produce": try produce(arguments)
    case "zmq-consume": try consume(arguments)
    default: fail("unknown command \(arguments.command): zmq-produce or zmq-consume")
    }
} catch {
    fail("\(arguments.command) \(arguments.endpoint): \(error)")
}
