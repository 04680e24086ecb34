// readers - several readers of one ring (format 1.1): a ring with reader slots, a gating
// reader that holds the writer back until it has read, a lapping one that never does and
// counts what it missed, and a producer; each reader reads every message from where it
// joined. One process here; the readers could as well be other processes, in any language.
//
//   readers PATH COUNT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]) else {
    print("usage: readers PATH COUNT")
    exit(2)
}

do {
    // example-begin readers
    let ring = try Ring.create(at: arguments[1], capacity: 1 << 16, replaceExisting: true, readerSlots: 4)
    let audit = try ring.makeReader(ReaderOptions(name: "audit"))       // gating and durable: resumes by name
    let live = try ring.makeReader(ReaderOptions(gating: false))        // lapping: never holds the writer back
    let producer = try ring.makeProducer()
    var audited = 0
    for i in 0..<count {
        let message = Array("event \(i)".utf8)
        if !(try producer.tryWrite(message)) {          // full: the gating reader has not read the oldest yet
            audited += try audit.read(maxCount: 1000).count
            try producer.write(message)
        }
    }
    producer.closeWriter()
    while let batch = try? audit.read(maxCount: 1000), !batch.isEmpty { audited += batch.count }
    var seen = 0
    while (try? live.tryRead()) != nil { seen += 1 }
    print("readers: audit read \(audited) of \(count), live read \(seen) and missed \(live.missedCount)")
    // example-end readers
    guard audited == count, seen + Int(live.missedCount) == count else { exit(1) }
} catch {
    print("readers: \(error)")
    exit(1)
}
