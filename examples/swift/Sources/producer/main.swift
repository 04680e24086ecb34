// producer - writes COUNT messages ("message 0", "message 1", ...) to the ring file at PATH,
// then ends the stream. Creates the ring if the consumer has not yet.
//
//   producer PATH [COUNT]        (COUNT: 1000 by default)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

let arguments = CommandLine.arguments
guard arguments.count == 2 || arguments.count == 3, let count = Int(arguments.count == 3 ? arguments[2] : "1000") else {
    print("usage: producer PATH [COUNT]")
    exit(2)
}
let path = arguments[1]

do {
    // example-begin produce
    // The same capacity and policy as the consumer: whichever starts first creates the ring.
    let ring = try Ring.openOrCreate(at: path, capacity: 1 << 16)
    let producer = try ring.makeProducer()          // one producer at a time: else RingError.busy(.producer)
    for i in 0..<count {
        try producer.write(Array("message \(i)".utf8), timeout: .seconds(10))  // waits while the ring is full
    }
    producer.closeWriter()                           // end of stream: the consumer stops after the last message
    // example-end produce
    print("producer: sent \(count) messages")
} catch {
    print("producer: \(error)")
    exit(1)
}
