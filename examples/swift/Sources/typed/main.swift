// typed - a typed ring of fixed-size items (format 1.1, SPEC.md §19): a C-layout struct of
// 24 bytes, written by one thread in batches and read in place by another through one span
// (the data region is mapped twice back to back, so runs that cross its end are contiguous).
// A C or Python process could read the same file: the item type is written in its header.
//
//   typed PATH COUNT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import RingFormat

// example-begin type
/// A quote: 24 bytes, laid out as its type description says.
struct Quote: RingItem {
    var sequence: UInt64
    var price: Double
    var size: UInt32
    var padding: UInt32 = 0
    static let ringItemType = try! ItemType("{sequence:<u8@0,price:<f8@8,size:<u4@16}24")
}
// example-end type

/// A producer handed to the thread that uses it.
final class Handoff: @unchecked Sendable {
    let writer: TypedProducer<Quote>
    init(_ writer: TypedProducer<Quote>) { self.writer = writer }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = UInt64(arguments[2]) else {
    print("usage: typed PATH COUNT")
    exit(2)
}

do {
    // example-begin typed
    let ring = try Ring.createItems(at: arguments[1], of: Quote.self, itemCapacity: 4096, replaceExisting: true)
    let handoff = Handoff(try ring.makeTypedProducer(of: Quote.self))
    Thread {
        var next: UInt64 = 0
        while next < count {
            let batch = (next..<min(next + 100, count)).map { Quote(sequence: $0, price: Double($0) / 4, size: UInt32($0 % 1000)) }
            try! handoff.writer.write(batch, timeout: nil)   // one copy, one commit
            next += UInt64(batch.count)
        }
        handoff.writer.closeWriter()
    }.start()
    let reader = try ring.makeTypedConsumer(of: Quote.self)
    var expected: UInt64 = 0
    var intact = true
    while true {
        do {
            // In place: every unread quote in one span; the closure says how many it consumed.
            _ = try reader.withReadableSpan(timeout: .seconds(10)) { quotes in
                for q in quotes {
                    intact = intact && q.sequence == expected && q.price == Double(expected) / 4
                    expected += 1
                }
                return quotes.count
            }
        } catch RingError.endOfStream { break }
    }
    print("typed: \(expected) quotes of \(Quote.ringItemType.size) bytes read in place"
          + (ring.isDoubleMapped ? " through one span each time" : "") + (intact ? ", every one checked" : ", SOME WRONG"))
    // example-end typed
} catch {
    print("typed: \(error)")
    exit(1)
}
