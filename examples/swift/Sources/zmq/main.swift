// zmq - rings' put/get over ZeroMQ (SPEC.md §23), two processes: a producer that sends COUNT
// messages, packed 100 to a frame, then ends the stream, and a consumer that takes them
// until the end of the stream and checks the order. SPSC: the producer binds, the consumer
// connects, whichever starts first.
//
//   zmq produce ENDPOINT COUNT
//   zmq consume ENDPOINT COUNT
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat
import RingZmq

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]), ["produce", "consume"].contains(arguments[1]) else {
    print("usage: zmq produce|consume ENDPOINT COUNT")
    exit(2)
}
let endpoint = arguments[2]

if arguments[1] == "produce" {
    // example-begin zmq-producer
    let producer = try ZmqProducer(endpoint: endpoint, topology: .spsc)   // SPSC: the producer binds
    var batch: [[UInt8]] = []
    for i in 0..<count {
        batch.append(Array("message \(i)".utf8))
        if batch.count == 100 || i == count - 1 {
            try producer.put(batch: batch, timeout: .seconds(30))          // 100 messages per frame
            batch.removeAll()
        }
    }
    try producer.closeWriter()                                             // END: the consumer's stream ends
    producer.close()                                                       // waits for queued frames (linger)
    // example-end zmq-producer
    print("zmq producer: sent \(count) messages")
} else {
    // example-begin zmq-consumer
    let consumer = try ZmqConsumer(endpoint: endpoint, topology: .spsc)   // connects
    var received = 0
    while true {
        do {
            let message = try consumer.get(timeout: .seconds(30))          // EMPTY if nothing came in 30 s
            guard message == Array("message \(received)".utf8) else { throw RingError.invalidArgument("out of order") }
            received += 1
        } catch RingError.endOfStream {                                    // the producer's END, all taken
            break
        }
    }
    consumer.close()
    // example-end zmq-consumer
    print("zmq consumer: received \(received) messages")
    if received != count { exit(1) }
}
