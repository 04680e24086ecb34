// ZmqTransportTests.swift - SPEC.md §23.6-§23.9: producers and consumers over ipc:// and
// tcp:// in each topology, single and packed frames, exact accounting of self-checking
// messages, timeouts, high-water-mark backpressure, and malformed frames from a raw peer.

import Foundation
import Testing
import CZmq
import RingFormat
@testable import RingZmq

@Suite("Zmq transport (SPEC.md §23.6-§23.9)", .serialized)
struct ZmqTransportTests {
    static let combinations: [(Transport, Bool)] = [(.ipc, false), (.ipc, true), (.tcp, false), (.tcp, true)]

    @Test func theBindRuleOfEachTopology() {
        #expect(ZmqTopology.spsc.binds(.producer) && !ZmqTopology.spsc.binds(.consumer))
        #expect(ZmqTopology.mpsc.binds(.consumer) && !ZmqTopology.mpsc.binds(.producer))
        #expect(ZmqTopology.spmc.binds(.producer) && !ZmqTopology.spmc.binds(.consumer))
    }

    @Test(arguments: combinations)
    func spscDeliversEveryMessageOnceInOrder(transport: Transport, packed: Bool) throws {
        let temp = TempEndpoint()
        let producer = try ZmqProducer(endpoint: transport.bindEndpoint(temp), topology: .spsc)
        #expect(transport == .ipc ? producer.endpoint == temp.ipc : producer.endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!producer.endpoint.hasSuffix(":*"))
        let endpoint = producer.endpoint
        let n: UInt64 = 20_000
        // The consumer reads on a thread of its own while the producer sends (the queues
        // hold far fewer than n single frames).
        let received = Reports<([UInt64], ZmqCounters)>()
        let finished = startThreads([{
            do {
                let consumer = try ZmqConsumer(endpoint: endpoint, topology: .spsc)
                let (got, failure) = drain(consumer, batch: packed ? 256 : nil)
                if let failure { received.fail(failure) }
                let after = thrown { () throws(RingError) in _ = try consumer.get(timeout: .milliseconds(100)) }
                if after != .endOfStream { received.fail("after the end: \(String(describing: after))") }
                received.add((got[0] ?? [], consumer.counters))
            } catch { received.fail("consumer: \(error)") }
        }])
        let messages = (0..<n).map { Checked.make(producer: 0, index: $0, size: Checked.size($0)) }
        if packed {
            var sent = 0
            for chunk in stride(from: 0, to: messages.count, by: 500) {
                sent += try producer.put(batch: messages[chunk..<min(chunk + 500, messages.count)], timeout: .seconds(10))
            }
            #expect(sent == messages.count)
            #expect(producer.counters.framesSent < 200)
        } else {
            for m in messages { try producer.put(m, timeout: .seconds(10)) }
            #expect(producer.counters.framesSent == n)
        }
        try producer.closeWriter()
        #expect(finished(60))
        #expect(received.failures.isEmpty, "\(received.failures)")
        let (got, counters) = try #require(received.all.first)
        #expect(got == Array(0..<n))
        #expect(counters.messagesReceived == n && producer.counters.messagesSent == n)
        #expect(counters.framesReceived == producer.counters.framesSent)
        #expect(counters.bytesReceived == producer.counters.bytesSent)
        #expect(counters.framesDropped == 0 && counters.sequenceBreaks == 0)
        #expect(counters.endFramesReceived == 1)
        #expect(throws: RingError.closed) { try producer.put([1, 2, 3]) }
    }

    @Test(arguments: Transport.allCases)
    func mpscThreeProducerThreadsToOneConsumer(transport: Transport) throws {
        let temp = TempEndpoint()
        var options = ZmqOptions()
        options.producers = 3
        let consumer = try ZmqConsumer(endpoint: transport.bindEndpoint(temp), topology: .mpsc, options: options)
        let endpoint = consumer.endpoint
        let perProducer: UInt64 = 10_000
        let reports = Reports<ZmqCounters>()
        let producers: [@Sendable () -> Void] = (0..<3).map { p in {
            do {
                let producer = try ZmqProducer(endpoint: endpoint, topology: .mpsc)
                var i: UInt64 = 0
                while i < perProducer {
                    // Producer 0 sends one message per frame, the others packed runs of 1 to 64.
                    let run = p == 0 ? 1 : UInt64.random(in: 1...64)
                    let batch = (i..<min(i + run, perProducer)).map { Checked.make(producer: UInt32(p), index: $0, size: Checked.size($0)) }
                    guard try producer.put(batch: batch, timeout: .seconds(10)) == batch.count else { reports.fail("timeout"); return }
                    i += UInt64(batch.count)
                }
                try producer.closeWriter(timeout: .seconds(10))
                reports.add(producer.counters)
            } catch { reports.fail("producer \(p): \(error)") }
        } }
        let finished = startThreads(producers)
        let (got, failure) = drain(consumer, batch: 100)
        #expect(finished(60))
        #expect(reports.failures.isEmpty, "\(reports.failures)")
        #expect(failure == nil)
        for p in 0..<3 { #expect(got[UInt32(p)] == Array(0..<perProducer), "producer \(p)") }
        #expect(consumer.counters.messagesReceived == 3 * perProducer)
        #expect(consumer.counters.framesReceived == reports.all.reduce(0) { $0 + $1.framesSent })
        #expect(consumer.counters.endFramesReceived == 3 && consumer.counters.sequenceBreaks == 0)
    }

    @Test(arguments: Transport.allCases)
    func spmcDealsEachMessageToExactlyOneConsumer(transport: Transport) throws {
        let temp = TempEndpoint()
        let producer = try ZmqProducer(endpoint: transport.bindEndpoint(temp), topology: .spmc)
        let endpoint = producer.endpoint
        let received = Reports<(Int, [UInt64])>()
        let connected = DispatchSemaphore(value: 0)
        let consumers: [@Sendable () -> Void] = (0..<3).map { c in {
            do {
                let consumer = try ZmqConsumer(endpoint: endpoint, topology: .spmc)
                connected.signal()
                let (got, failure) = drain(consumer, batch: c == 0 ? nil : 64)
                if let failure { received.fail("consumer \(c): \(failure)") }
                received.add((c, got[0] ?? []))
                if consumer.counters.sequenceBreaks != 0 { received.fail("consumer \(c): indices went back") }
            } catch { received.fail("consumer \(c): \(error)") }
        } }
        let finished = startThreads(consumers)
        for _ in 0..<3 { connected.wait() }
        Thread.sleep(forTimeInterval: 0.3)  // the connections come up: PUSH deals only to connected peers
        let n: UInt64 = 30_000
        for chunk in stride(from: UInt64(0), to: n, by: 100) {
            let batch = (chunk..<min(chunk + 100, n)).map { Checked.make(producer: 0, index: $0, size: 64) }
            #expect(try producer.put(batch: batch.prefix(50), timeout: .seconds(10)) == 50)
            for m in batch.dropFirst(50) { try producer.put(m, timeout: .seconds(10)) }
        }
        try producer.closeWriter(endFrames: 3, timeout: .seconds(10))
        #expect(finished(60))
        #expect(received.failures.isEmpty, "\(received.failures)")
        let all = received.all.flatMap { $0.1 }
        #expect(all.count == Int(n))
        #expect(Set(all).count == Int(n) && all.min() == 0 && all.max() == n - 1)
        for (c, indices) in received.all {
            #expect(indices == indices.sorted(), "consumer \(c) got its share in order")
            #expect(!indices.isEmpty, "consumer \(c) got a share")
        }
    }

    @Test func timeoutsAreEmptyAndFull() throws {
        let temp = TempEndpoint()
        let consumer = try ZmqConsumer(endpoint: temp.ipc, topology: .spsc, options: { var o = ZmqOptions(); o.bind = true; return o }())
        #expect(throws: RingError.empty) { try consumer.get() }
        #expect(try consumer.tryGet() == nil)
        #expect(try consumer.get(maxCount: 10).isEmpty)
        let start = ZmqDeadline.now()
        #expect(throws: RingError.empty) { try consumer.get(timeout: .milliseconds(50)) }
        #expect(throws: RingError.empty) { try consumer.get(maxCount: 5, timeout: .milliseconds(50)) }
        let elapsed = Double(ZmqDeadline.now() - start) / 1e6
        #expect(elapsed >= 100 && elapsed < 2000, "\(elapsed) ms")

        // A bound PUSH socket with nobody connected has no room.
        let other = TempEndpoint()
        let producer = try ZmqProducer(endpoint: other.ipc, topology: .spsc)
        #expect(throws: RingError.full) { try producer.put([1]) }
        #expect(try !producer.tryPut([1]))
        #expect(try producer.put(batch: [[1], [2]]) == 0)
        let before = ZmqDeadline.now()
        #expect(throws: RingError.full) { try producer.put([1], timeout: .milliseconds(50)) }
        #expect(Double(ZmqDeadline.now() - before) / 1e6 >= 50)
        #expect(producer.counters.framesSent == 0)
    }

    @Test func aConsumerThatDoesNotReadFillsTheHighWaterMarks() throws {
        let temp = TempEndpoint()
        var options = ZmqOptions()
        options.sendHighWaterMark = 4
        options.receiveHighWaterMark = 4
        options.kernelBufferBytes = 4096
        let producer = try ZmqProducer(endpoint: temp.ipc, topology: .spsc, options: options)
        let consumer = try ZmqConsumer(endpoint: producer.endpoint, topology: .spsc, options: options)
        let size = 16 * 1024
        var sent: UInt64 = 0
        try producer.put(Checked.make(producer: 0, index: 0, size: size), timeout: .seconds(5))
        sent = 1
        // Without reading, room runs out after a bounded number of frames.
        var full = false
        while sent < 10_000 {
            if try producer.tryPut(Checked.make(producer: 0, index: sent, size: size)) { sent += 1; continue }
            // libzmq moves frames on in its I/O thread: full only if it stays full for a while.
            Thread.sleep(forTimeInterval: 0.1)
            if try producer.tryPut(Checked.make(producer: 0, index: sent, size: size)) { sent += 1; continue }
            full = true
            break
        }
        #expect(full, "the producer never found the queues full (\(sent) frames of 16 KiB)")
        #expect(sent < 200, "\(sent) frames were queued")
        #expect(throws: RingError.full) { try producer.put([0], timeout: .milliseconds(20)) }
        // Reading makes room; every message sent arrives once.
        var got: [UInt64] = []
        while got.count < Int(sent) {
            got.append(Checked.check(try consumer.get(timeout: .seconds(5)))!.index)
        }
        #expect(got == Array(0..<sent))
        try producer.put(Checked.make(producer: 0, index: sent, size: 16), timeout: .seconds(5))
        #expect(Checked.check(try consumer.get(timeout: .seconds(5)))?.index == sent)
    }

    @Test func malformedFramesFromARawPeerAreDroppedAndCounted() throws {
        let temp = TempEndpoint()
        let consumer = try ZmqConsumer(endpoint: temp.ipc, topology: .mpsc)
        let dropped = Reports<FrameError>()
        consumer.onDrop = { dropped.add($0) }
        let context = try ZmqContext()
        let raw = try ZmqSocket(context: context, kind: .push)
        try raw.connect(consumer.endpoint)
        let bad = ZmqFrameTests.malformed()
        for (_, bytes, _) in bad {
            #expect(try bytes.withUnsafeBytes { try raw.send($0, timeout: .seconds(5)) })
        }
        // A two-part message: dropped once, both parts.
        let part = ZmqFrameTests.example
        #expect(part.withUnsafeBytes { zmq_send(raw.handle, $0.baseAddress, $0.count, ZMQ_SNDMORE) } == Int32(part.count))
        #expect(try part.withUnsafeBytes { try raw.send($0, timeout: .seconds(5)) })
        // The bridge's kinds are well formed and ignored.
        for kind in [FrameKind.hello, .ack, .heartbeat] {
            let frame = Frame.encode(kind: kind, streamId: 7, firstIndex: 0, firstPosition: 0)
            #expect(try frame.withUnsafeBytes { try raw.send($0, timeout: .seconds(5)) })
        }
        let good = Frame.encode(kind: .data, streamId: 7, firstIndex: 0, firstPosition: 0, messages: [Array("after".utf8)])
        #expect(try good.withUnsafeBytes { try raw.send($0, timeout: .seconds(5)) })
        #expect(try consumer.get(timeout: .seconds(5)) == Array("after".utf8))
        #expect(consumer.counters.framesDropped == UInt64(bad.count + 1))
        #expect(dropped.all == bad.map { $0.2 } + [.multipart])
        #expect(consumer.lastDrop == .multipart)
        #expect(consumer.counters.framesIgnored == 3)
        #expect(consumer.counters.framesReceived == 1 && consumer.counters.messagesReceived == 1)
        // An END that counts more messages than arrived is a break in the sequence.
        let end = Frame.encode(kind: .end, streamId: 7, firstIndex: 5, firstPosition: 0)
        #expect(try end.withUnsafeBytes { try raw.send($0, timeout: .seconds(5)) })
        #expect(throws: RingError.endOfStream) { try consumer.get(timeout: .seconds(5)) }
        #expect(consumer.counters.sequenceBreaks == 1)
    }

    @Test func errorsNameTheCallAndTheEndpoint() throws {
        let producer = try ZmqProducer(endpoint: "tcp://127.0.0.1:*")
        let inUse = failure { () throws(RingError) in try ZmqProducer(endpoint: producer.endpoint) }
        #expect(inUse == .system(operation: "zmq_bind \(producer.endpoint)", errno: EADDRINUSE))
        let bogus = failure { () throws(RingError) in try ZmqConsumer(endpoint: "bogus://x", topology: .mpsc) }
        #expect(bogus == .system(operation: "zmq_bind bogus://x", errno: EPROTONOSUPPORT))
        #expect(bogus?.zmqDescription == "zmq_bind bogus://x failed: Protocol not supported (errno \(EPROTONOSUPPORT))")
        var options = ZmqOptions()
        options.maxMessagesPerFrame = 0
        #expect(throws: RingError.invalidArgument("maxMessagesPerFrame must be 1...2^32-1")) {
            try ZmqProducer(endpoint: "tcp://127.0.0.1:*", options: options)
        }
        options = ZmqOptions()
        options.maxMessageSize = 100
        let small = try ZmqProducer(endpoint: "tcp://127.0.0.1:*", options: options)
        #expect(throws: RingError.invalidSize(size: 101, maximum: 100)) { try small.put([UInt8](repeating: 0, count: 101)) }
        #expect(throws: RingError.invalidSize(size: 101, maximum: 100)) { try small.put(batch: [[1], [UInt8](repeating: 0, count: 101)]) }
        small.close()
        #expect(throws: RingError.closed) { try small.put([1]) }
        #expect(throws: RingError.closed) { try small.closeWriter() }
    }

    @Test func throughputOfSingleAndPackedFramesOverIPC() throws {
        var figures: [String] = []
        for packed in [false, true] {
            let temp = TempEndpoint()
            let producer = try ZmqProducer(endpoint: temp.ipc)
            let endpoint = producer.endpoint
            let n = packed ? 1_000_000 : 200_000
            let message = [UInt8](repeating: 0x5A, count: 64)
            let batch = [[UInt8]](repeating: message, count: 1000)
            let counted = Reports<Int>()
            let finished = startThreads([{
                do {
                    let consumer = try ZmqConsumer(endpoint: endpoint)
                    var got = 0
                    while got < n + 1 { got += try consumer.get(maxCount: 4096, timeout: .seconds(10)).count }
                    counted.add(got)
                } catch { counted.fail("\(error)") }
            }])
            // The first put waits for the consumer to connect; time from then on.
            try producer.put(message, timeout: .seconds(10))
            let start = ZmqDeadline.now()
            if packed {
                for _ in 0..<(n / batch.count) { _ = try producer.put(batch: batch, timeout: .seconds(10)) }
            } else {
                for _ in 0..<n { try producer.put(message, timeout: .seconds(10)) }
            }
            #expect(finished(60))
            let seconds = Double(ZmqDeadline.now() - start) / 1e9
            #expect(counted.failures.isEmpty && counted.all == [n + 1])
            figures.append("\(packed ? "packed (1000/frame)" : "single (1/frame)"): \(Int(Double(n) / seconds)) msg/s")
        }
        print("SPSC ipc:// 64 B:", figures.joined(separator: ", "))
    }

    /// The RingError `body` threw; nil if it returned.
    private func failure<T>(_ body: () throws(RingError) -> T) -> RingError? {
        do { _ = try body(); return nil } catch { return error }
    }
}
