// Stats.swift - `ringctl stats [--watch]`: the ring's counters once, or every
// --interval-ms as rates: messages and bytes per second in (committed by the
// producer) and out (consumed, or dropped by overwrite-oldest), and the lag
// (unread messages and bytes).
//
// Bytes in and out are exact: they are the moves of producerPosition and
// consumerPosition (record headers and padding included). Messages in are
// counted by an observer that walks every new record (a ring's counts, SPEC.md
// §22.2, are not kept by every ring); records the consumer took before the
// observer reached them are estimated from the mean record size seen, and such
// rates are marked "~" (JSON: "estimated": true). Messages out = messages in -
// the change in lag. Each line ends with whether the producer and the consumer
// are alive (SPEC.md §22.1).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import RingFormat

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the ring's counters; --watch prints rates in and out and the lag.")

    @Argument(help: "The ring file.")
    var path: String

    @Flag(help: "Print a line every --interval-ms until interrupted (or --samples lines).")
    var watch = false

    @Option(name: .customLong("interval-ms"), parsing: .unconditional, help: "With --watch: the sampling interval.")
    var intervalMs: String = "1000"

    @Option(parsing: .unconditional, help: "With --watch: stop after this many lines (0: never).")
    var samples: String = "0"

    @Flag(help: "Print JSON lines.")
    var json = false

    func validate() throws {
        _ = try checked("--interval-ms", intervalMs, Limits.positiveMilliseconds)
        _ = try checked("--samples", samples, Limits.count)
    }

    func run() throws {
        let ring = try openRing(path)
        var last = try onRing(path) { () throws(RingError) in try ring.stats() }
        guard watch else {
            let alive = try onRing(path) { () throws(RingError) in (try ring.producerAlive, try ring.consumerAlive) }
            print(last, producerAlive: alive.0, consumerAlive: alive.1)
            return
        }
        let interval = Int(try checked("--interval-ms", intervalMs, Limits.positiveMilliseconds))
        let limit = Int(try checked("--samples", samples, Limits.count))
        let observer = try onRing(path) { () throws(RingError) in try ring.makeObserver() }
        try onRing(path) { () throws(RingError) in try observer.seekToEnd() }
        var lastTime = ContinuousClock.now
        var seenRecords: UInt64 = 0, seenRecordBytes: UInt64 = 0
        if !json { Output.line("in msg/s  in B/s  out msg/s  out B/s  dropped/s  lag msgs  lag bytes  producer consumer") }
        var lines = 0
        while limit == 0 || lines < limit {
            usleep(useconds_t(min(interval, 10_000) * 1000))
            // The new records since the last sample: counted, or estimated if consumed first.
            let skippedBefore = observer.skippedBytes
            var counted: UInt64 = 0
            while let m = try onRing(path, { () throws(RingError) in try observer.next() }) {
                counted += 1
                seenRecords += 1
                seenRecordBytes += UInt64(ring.geometry.recordSize(payloadLength: m.bytes.count))
            }
            let skipped = observer.skippedBytes - skippedBefore
            let mean = seenRecords == 0 ? 0 : Double(seenRecordBytes) / Double(seenRecords)
            let estimated = skipped > 0
            let inMessages = Double(counted) + (mean > 0 ? Double(skipped) / mean : 0)
            let now = ContinuousClock.now
            let s = try onRing(path) { () throws(RingError) in try ring.stats() }
            let alive = try onRing(path) { () throws(RingError) in (try ring.producerAlive, try ring.consumerAlive) }
            let elapsed = now - lastTime
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = { (x: Double) in seconds > 0 ? x / seconds : 0 }
            let inBytes = Double(s.producerPosition &- last.producerPosition)
            let outBytes = Double(s.consumerPosition &- last.consumerPosition)
            let outMessages = max(0, inMessages - Double(s.messageCount - last.messageCount))
            let dropped = Double(s.droppedCount &- last.droppedCount)
            let mark = estimated ? "~" : ""
            if json {
                Output.line(JSON.object([
                    ("inMessagesPerSecond", .double(rate(inMessages).rounded())), ("inBytesPerSecond", .double(rate(inBytes).rounded())),
                    ("outMessagesPerSecond", .double(rate(outMessages).rounded())), ("outBytesPerSecond", .double(rate(outBytes).rounded())),
                    ("droppedPerSecond", .double(rate(dropped).rounded())), ("estimated", .bool(estimated)),
                    ("lagMessages", .number(UInt64(s.messageCount))), ("lagBytes", .number(UInt64(s.usedBytes))),
                    ("writerClosed", .bool(s.isWriterClosed)),
                    ("producerAlive", .bool(alive.0)), ("consumerAlive", .bool(alive.1)),
                ]).text)
            } else {
                let f = { (x: Double) in String(Int(rate(x).rounded())) }
                let side = { (alive: Bool) in alive ? "alive" : "gone" }
                Output.line("\(mark)\(f(inMessages)) \(f(inBytes)) \(mark)\(f(outMessages)) \(f(outBytes)) \(f(dropped)) \(s.messageCount) \(s.usedBytes) \(side(alive.0)) \(side(alive.1))")
            }
            last = s
            lastTime = now
            lines += 1
        }
    }

    /// The counters of one snapshot, "name value" a line (or one JSON object), and whether
    /// a live producer and consumer hold the ring (SPEC.md §22.1).
    func print(_ s: RingStats, producerAlive: Bool, consumerAlive: Bool) {
        let pairs: [(String, UInt64)] = [
            ("producerPosition", s.producerPosition), ("consumerPosition", s.consumerPosition),
            ("messageCount", UInt64(s.messageCount)), ("payloadBytes", UInt64(s.payloadBytes)),
            ("usedBytes", UInt64(s.usedBytes)), ("freeBytes", UInt64(s.freeBytes)), ("droppedCount", s.droppedCount),
        ]
        if json {
            Output.line(JSON.object(pairs.map { ($0.0, .number($0.1)) } + [
                ("writerClosed", .bool(s.isWriterClosed)), ("producerAlive", .bool(producerAlive)),
                ("consumerAlive", .bool(consumerAlive)),
            ]).text)
        } else {
            for (name, value) in pairs { Output.line("\(name) \(value)") }
            Output.line("writerClosed \(s.isWriterClosed)")
            Output.line("producerAlive \(producerAlive)")
            Output.line("consumerAlive \(consumerAlive)")
        }
    }
}
