// async - Swift concurrency over rings: RINGS small ring files in the folder DIR, each with a
// producer task that sends COUNT messages with `send` (suspending while its ring is full) and
// a consumer task that reads them with `for try await` (suspending while it is empty). All
// the waits are doorbells watched by one reactor thread (SPEC.md §21): no thread per task.
// Checks every message and prints the total.
//
//   async DIR [RINGS] [COUNT]        (RINGS: 50, COUNT: 2000 by default)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

let arguments = CommandLine.arguments
guard arguments.count >= 2, arguments.count <= 4 else {
    print("usage: async DIR [RINGS] [COUNT]")
    exit(2)
}
let directory = arguments[1]
let rings = arguments.count > 2 ? Int(arguments[2]) ?? 50 : 50
let count = arguments.count > 3 ? Int(arguments[3]) ?? 2000 : 2000

// example-begin async
/// Sends "message 0" ... "message COUNT-1", then ends the stream.
func produce(_ producer: RingProducer, count: Int) async throws {
    for i in 0..<count {
        try await producer.send(Array("message \(i)".utf8))   // suspends while the ring is full
    }
    producer.closeWriter()
}

/// Reads until the end of the stream, checking the order; returns how many came.
func consume(_ consumer: RingConsumer) async throws -> Int {
    var received = 0
    for try await message in consumer.messages {               // suspends while the ring is empty
        guard message == Array("message \(received)".utf8) else { throw RingError.invalidArgument("out of order") }
        received += 1
    }
    return received                                            // the producer called closeWriter()
}

let total = try await withThrowingTaskGroup(of: Int.self) { group in
    for n in 0..<rings {
        let ring = try Ring.create(at: "\(directory)/ring-\(n).ring", capacity: 4096, replaceExisting: true)
        let producer = try ring.makeProducer()
        let consumer = try ring.makeConsumer()
        group.addTask { try await produce(producer, count: count); return 0 }
        group.addTask { try await consume(consumer) }
    }
    var sum = 0
    while let received = try await group.next() { sum += received }
    return sum
}
print("async: \(total) messages through \(rings) rings, each checked")
// example-end async
guard total == rings * count else { exit(1) }
