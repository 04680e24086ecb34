// consumer - reads the messages of the ring file at PATH until the producer ends the stream,
// checks that they are "message 0", "message 1", ... in order, and prints how many it got.
// Creates the ring if the producer has not yet. Exits 1 if a message is wrong, if none comes
// for 10 seconds, or if EXPECTED is given and a different number arrived.
//
//   consumer PATH [EXPECTED]
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

let arguments = CommandLine.arguments
guard arguments.count == 2 || arguments.count == 3 else {
    print("usage: consumer PATH [EXPECTED]")
    exit(2)
}
let path = arguments[1]
let expected = arguments.count == 3 ? Int(arguments[2]) : nil

do {
    // example-begin consume
    let consumer = try Ring.openOrCreate(at: path, capacity: 1 << 16).makeConsumer()
    var received = 0
    while true {
        let message: [UInt8]
        do {
            message = try consumer.read(timeout: .seconds(10))  // sleeps until one comes; RingError.empty after 10 s
        } catch .endOfStream {
            break                                                // the producer called closeWriter(), all is read
        }
        guard message == Array("message \(received)".utf8) else {
            print("consumer: message \(received) is \(String(decoding: message, as: UTF8.self))")
            exit(1)
        }
        received += 1
    }
    print("consumer: received \(received) messages")
    // example-end consume
    if let expected, received != expected {
        print("consumer: expected \(expected) messages")
        exit(1)
    }
} catch {
    print("consumer: \(error)")
    exit(1)
}
