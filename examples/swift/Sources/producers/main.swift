// producers - several producers into one ring (format 1.1): four threads, each with a
// producer of its own, write into one ring with producer slots; one consumer reads every
// message once, each producer's in its own order, until the last producer ends the stream.
// The producers could as well be other processes, in any language.
//
//   producers PATH COUNT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import RingFormat

/// A producer handed to the thread that uses it (a producer is used by one thread at a time).
final class Handoff: @unchecked Sendable {
    let producer: RingProducer
    init(_ producer: RingProducer) { self.producer = producer }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]) else {
    print("usage: producers PATH COUNT")
    exit(2)
}

do {
    // example-begin producers
    let ring = try Ring.create(at: arguments[1], capacity: 1 << 16, replaceExisting: true, producerSlots: 4)
    let consumer = try ring.makeConsumer()
    // Each producer takes a slot now, so that none ends the stream before the others joined:
    // the stream ends when the last producer closes its writer.
    let handoffs = try (0..<4).map { _ in Handoff(try ring.makeProducer()) }
    for (k, handoff) in handoffs.enumerated() {
        Thread {
            for i in 0..<count { try! handoff.producer.write(Array("\(k) \(i)".utf8), timeout: nil) }
            handoff.producer.closeWriter()
        }.start()
    }
    var next = [Int](repeating: 0, count: 4)
    var inOrder = true
    while let message = try? consumer.read(timeout: .seconds(10)) {   // until endOfStream
        let parts = String(decoding: message, as: UTF8.self).split(separator: " ").map { Int($0)! }
        inOrder = inOrder && parts[1] == next[parts[0]]
        next[parts[0]] = parts[1] + 1
    }
    print("producers: 4 producers wrote \(count) messages each; the consumer read \(next.reduce(0, +)),"
          + " each producer's \(inOrder ? "in order" : "OUT OF ORDER")")
    // example-end producers
} catch {
    print("producers: \(error)")
    exit(1)
}
