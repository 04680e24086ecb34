// RacingReadTests.swift - every Swift read API against a racing producer
// (SPEC.md §8.2, §9.2): a fast producer thread, a deliberately slow consumer,
// self-checking messages and exact accounting.

import Foundation
import Testing
import RingFormat
import RingWorkload

/// The read APIs of RingConsumer.
enum ReadAPI: String, CaseIterable, Sendable {
    case tryRead, readTimeout, readMaxCount, readMaxCountTimeout, withNextMessage, peekAllThenRead
}

/// What a consumer saw: messages received in order, gaps between their indices.
struct Accounting {
    let workload: Workload
    var received = 0
    var gaps: UInt64 = 0
    var next: UInt64 = 0
    var bad: [String] = []

    /// Checks one delivered message: it must be whole, and later than the last one.
    mutating func take(_ bytes: UnsafeRawBufferPointer) {
        guard let index = Workload.index(in: bytes), workload.matches(bytes, index: index) else {
            bad.append("torn message of \(bytes.count) bytes after index \(next)")
            return
        }
        guard index >= next else {
            bad.append("index \(index) delivered after \(next - 1)")
            return
        }
        gaps += index - next
        next = index + 1
        received += 1
    }

    mutating func take(_ bytes: [UInt8]) { bytes.withUnsafeBytes { take($0) } }

    /// Counts what was never delivered after the last message.
    mutating func finish(produced: UInt64) { gaps += produced - next }
}

@Suite("Every read API under a racing producer (SPEC.md §8.2, §9.2)")
struct RacingReadTests {
    static let count: UInt64 = 6_000

    @Test(arguments: ReadAPI.allCases, RingPolicy.allCases)
    func slowConsumerSeesWholeMessagesAndExactAccounting(api: ReadAPI, policy: RingPolicy) throws {
        let temp = TempRing()
        let ring = try Ring.create(at: temp.path, capacity: 64 << 10, policy: policy)
        let workload = Workload(seed: 11, minSize: 8, maxSize: 24 << 10)
        let path = temp.path
        let count = Self.count
        let producer = Worker<Void> {
            let p = try Ring.open(at: path).makeProducer()
            for i in 0..<count { try p.write(workload.message(i), timeout: .seconds(20)) }
            p.closeWriter()
        }
        let consumer = try ring.makeConsumer()
        var seen = Accounting(workload: workload)
        var reads = 0
        reading: while true {
            reads += 1
            if reads % 4 == 0 { usleep(30) } // slow: the producer laps us under overwrite-oldest
            do {
                switch api {
                case .tryRead:
                    if let m = try consumer.tryRead() { seen.take(m) }
                case .readTimeout:
                    seen.take(try consumer.read(timeout: .seconds(20)))
                case .readMaxCount:
                    for m in try consumer.read(maxCount: 7) { seen.take(m) }
                case .readMaxCountTimeout:
                    for m in try consumer.read(maxCount: 7, timeout: .seconds(20)) { seen.take(m) }
                case .withNextMessage:
                    let copy = try consumer.withNextMessage(timeout: .seconds(20)) { [UInt8]($0) }
                    seen.take(copy)
                case .peekAllThenRead:
                    // Non-consuming copies must be whole and in order too.
                    var peeked = Accounting(workload: workload, next: seen.next)
                    for m in try consumer.peekAll() { peeked.take(m) }
                    seen.bad += peeked.bad.map { "peekAll: \($0)" }
                    if let m = try consumer.tryRead() { seen.take(m) }
                }
            } catch RingError.endOfStream {
                break reading
            }
            if !seen.bad.isEmpty { break }
        }
        try producer.join()
        seen.finish(produced: count)
        let dropped = try ring.stats().droppedCount
        #expect(seen.bad.isEmpty, "\(seen.bad.prefix(3))")
        #expect(UInt64(seen.received) + seen.gaps == count)
        if policy == .rejectWhenFull {
            #expect(seen.gaps == 0)
        } else {
            #expect(seen.gaps == dropped, "gaps the consumer saw equal the producer's droppedCount")
        }
    }
}
