// ReadWrite.swift - `ringctl write` (take the producer role, write messages)
// and `ringctl read` (take the consumer role, consume and print messages).

import ArgumentParser
import RingFormat

struct Write: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write each TEXT as one message (takes the producer role).")

    @Argument(help: "The ring file.")
    var path: String

    @Argument(help: "The messages, as UTF-8 text.")
    var texts: [String] = []

    @OptionGroup var timeout: TimeoutOption

    @Flag(name: .customLong("close"), help: "Close the stream after the last message (end of stream).")
    var closeWriter = false

    @Flag(name: .customLong("stdin"), help: "Then write each line of standard input as one message, until it ends.")
    var fromStdin = false

    func run() throws {
        let ring = try openRing(path)
        let producer = try onRing(path) { () throws(RingError) in try ring.makeProducer() }
        for text in texts {
            try onRing(path) { () throws(RingError) in try producer.write(Array(text.utf8), timeout: timeout.duration) }
        }
        while fromStdin, let line = readLine(strippingNewline: true) {
            try onRing(path) { () throws(RingError) in try producer.write(Array(line.utf8), timeout: timeout.duration) }
        }
        if closeWriter { producer.closeWriter() } else { producer.close() }
    }
}

struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Consume and print the oldest message (takes the consumer role).",
        discussion: "Without --all: exits 1 with 'ring is empty' when there is no message (after --timeout-ms). With --all: reads until the ring is empty or the stream ends, and exits 0.")

    @Argument(help: "The ring file.")
    var path: String

    @Flag(help: "Read every message until the ring is empty (or the stream ends).")
    var all = false

    @OptionGroup var timeout: TimeoutOption
    @OptionGroup var output: FormatOptions

    func run() throws {
        let ring = try openRing(path)
        let consumer = try onRing(path) { () throws(RingError) in try ring.makeConsumer() }
        defer { consumer.close() }
        var count = 0
        while true {
            let message: [UInt8]
            do {
                message = try consumer.read(timeout: timeout.duration)
            } catch .empty where all {
                return
            } catch .endOfStream where all {
                return
            } catch {
                throw Failure.ring(path, error)
            }
            Output.line(Output.message(message, position: nil, format: output.format))
            count += 1
            if !all { return }
        }
    }
}
