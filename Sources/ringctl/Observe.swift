// Observe.swift - `ringctl peek` and `ringctl tail [-f]`: print unread messages
// without consuming them and without a role (RingObserver), so they are safe
// on a ring a producer and a consumer are using.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import RingFormat

struct Peek: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the oldest unread messages without consuming them.")

    @Argument(help: "The ring file.")
    var path: String

    @Option(name: [.customShort("n"), .customLong("count")], parsing: .unconditional, help: "How many messages (0: all unread).")
    var count: String = "10"

    @OptionGroup var output: FormatOptions

    func validate() throws { _ = try checked("--count", count, Limits.count) }

    func run() throws {
        let limit = Int(try checked("--count", count, Limits.count))
        let ring = try openRing(path)
        let observer = try onRing(path) { () throws(RingError) in try ring.makeObserver() }
        var shown = 0
        while limit == 0 || shown < limit {
            guard let m = try onRing(path, { () throws(RingError) in try observer.next() }) else { break }
            Output.line(Output.message(m.bytes, position: m.position, format: output.format))
            shown += 1
        }
    }
}

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the newest unread messages without consuming them; -f follows new ones.",
        discussion: """
            tail shows messages while they are unread: a message the consumer takes before tail \
            copied it is not shown (a note on stderr counts the bytes passed over). With -f it \
            looks for new messages every --interval-ms and stops at the end of the stream.
            """)

    @Argument(help: "The ring file.")
    var path: String

    @Option(name: [.customShort("n"), .customLong("count")], parsing: .unconditional, help: "How many of the newest unread messages to print first.")
    var count: String = "10"

    @Flag(name: [.customShort("f"), .customLong("follow")], help: "Keep printing messages as they are committed.")
    var follow = false

    @Option(name: .customLong("interval-ms"), parsing: .unconditional, help: "With -f: how often to look for new messages.")
    var intervalMs: String = "50"

    @OptionGroup var output: FormatOptions

    func validate() throws {
        _ = try checked("--count", count, Limits.count)
        _ = try checked("--interval-ms", intervalMs, Limits.positiveMilliseconds)
    }

    func run() throws {
        let limit = Int(try checked("--count", count, Limits.count))
        let interval = try checked("--interval-ms", intervalMs, Limits.positiveMilliseconds)
        let ring = try openRing(path)
        let observer = try onRing(path) { () throws(RingError) in try ring.makeObserver() }
        // The newest `limit` of the messages unread now.
        var newest: [ObservedMessage] = []
        var first = 0
        while let m = try onRing(path, { () throws(RingError) in try observer.next() }) {
            guard limit > 0 else { continue }
            if newest.count < limit { newest.append(m) } else { newest[first] = m; first = (first + 1) % limit }
        }
        for i in 0..<newest.count {
            let m = newest[(first + i) % newest.count]
            Output.line(Output.message(m.bytes, position: m.position, format: output.format))
        }
        guard follow else { return }
        var reported = observer.skippedBytes
        while true {
            var any = false
            while let m = try onRing(path, { () throws(RingError) in try observer.next() }) {
                Output.line(Output.message(m.bytes, position: m.position, format: output.format))
                any = true
            }
            if observer.skippedBytes != reported {
                Output.error("ringctl: \(path): \(observer.skippedBytes - reported) bytes of messages were consumed before tail saw them")
                reported = observer.skippedBytes
            }
            if !any {
                if try onRing(path, { () throws(RingError) in try observer.isAtEndOfStream() }) { return }
                usleep(useconds_t(min(interval, 10_000) * 1000))
            }
        }
    }
}
