// AsyncTests.swift - the async API (AsyncSequences.swift) over the reactor
// (AsyncWaits.swift) and the doorbells of SPEC.md §21: `for try await` over a ring fed
// by a C producer process, cancellation of a waiting consumer and of a waiting write,
// and a hundred readers awaited at once by a handful of threads.

import Foundation
import Testing
import RingFormat
import RingWorkload
#if canImport(Glibc)
import Glibc
#endif

/// A producer process: interop/c/ring_peer.c, compiled here against the C library that
/// `make lib` builds (.build-abi/release/libringformat.so), or, without that library,
/// ring-workload, which has the same command line.
enum ProducerPeer {
    /// The package's root directory.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The C peer and the library it loads, built once; nil without the library or a C compiler.
    static let cPeer: (executable: String, library: String)? = {
        let library = root + "/.build-abi/release/libringformat.so"
        guard FileManager.default.fileExists(atPath: library) else { return nil }
        let executable = NSTemporaryDirectory() + "/ringformat-async-ring_peer-\(getpid())"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=c11", "-O2", "-I\(root)/Sources/CRingABI/include", "-I\(root)/interop/c",
                        "-o", executable, "\(root)/interop/c/ring_peer.c", "-ldl"]
        guard (try? cc.run()) != nil else { return nil }
        cc.waitUntilExit()
        return cc.terminationStatus == 0 ? (executable, library) : nil
    }()

    /// Which producer `start` runs.
    static var name: String { cPeer == nil ? "ring-workload (no libringformat.so: run make lib)" : "C ring_peer" }

    /// Starts `produce PATH arguments...`; stdout and stderr are captured.
    static func start(_ path: String, _ arguments: [String]) throws -> (Process, Pipe) {
        guard let (executable, library) = cPeer else { return try RingWorkloadTool.start(["produce", path] + arguments) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["produce", path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["RINGFORMAT_LIB": library]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, pipe)
    }
}

/// The threads of this process now (/proc/self/task).
func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
}

@Suite("Async waits (SPEC.md §21)", .serialized)
struct AsyncTests {
    /// `for try await` over the messages a C producer process writes into a small ring (it
    /// waits for room often, the consumer for messages): every message, in order, byte-exact.
    @Test func forTryAwaitOverARingFedByACProducer() async throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 12)
        let consumer = try ring.makeConsumer()
        let count: UInt64 = 20_000
        let workload = Workload(seed: 17, minSize: 8, maxSize: 200)
        let producer = try ProducerPeer.start(t.path, ["--count", "\(count)", "--seed", "17", "--min-size", "8",
                                                       "--max-size", "200", "--close"])
        var received: UInt64 = 0
        var bad = 0
        var bytes = 0
        for try await message in consumer.messages {
            let good = message.withUnsafeBytes { workload.matches($0, index: received) }
            if !good { bad += 1 }
            bytes += message.count
            received += 1
        }
        let (status, output) = RingWorkloadTool.finish(producer)
        print("async consumer: \(received) messages, \(bytes) bytes from \(ProducerPeer.name): \(output)")
        #expect(status == 0, "\(output)")
        #expect(received == count)
        #expect(bad == 0)
        #expect(bytes == (0..<count).reduce(0) { $0 + workload.size(of: $1) })
    }

    /// A consuming task cancelled while it waits on an empty ring ends promptly with
    /// CancellationError, and consumes nothing: the next consumer gets the next message.
    /// The test and its task run on a thread of their own (ThreadExecutor), so that the
    /// time measured is the cancel path's, not the wait for a free thread of a pool that
    /// the other suites' blocking tests hold - which this test does on purpose meanwhile.
    @Test func cancellingTheConsumingTaskEndsItAndLosesNothing() async throws {
        let executor = ThreadExecutor()
        try await withTaskExecutorPreference(executor) {
            try await cancelConsumingTasks(on: executor)
        }
    }

    private func cancelConsumingTasks(on executor: ThreadExecutor) async throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 12)
        let producer = try ring.makeProducer()
        for round in 0..<20 {
            let consumer = try ring.makeConsumer()
            let reading = Task(executorPreference: executor) { [consumer] in
                var got: [[UInt8]] = []
                do {
                    for try await message in consumer.messages { got.append(message) }
                    consumer.close()
                    return (got, false)
                } catch is CancellationError {
                    consumer.close()
                    return (got, true)
                }
            }
            // Even rounds: cancel while it sleeps on the doorbell. Odd rounds: a message and
            // the cancel race each other.
            try await Task.sleep(for: .milliseconds(round % 2 == 0 ? 20 : 1))
            let message = bytes("message \(round)")
            if round % 2 == 1 { try producer.write(message) }
            // Every thread of the pool blocked meanwhile, as other suites' tests may do.
            let hold = PoolHold(count: 2 * ProcessInfo.processInfo.activeProcessorCount, limit: .seconds(1))
            let cancelled = ContinuousClock.now
            reading.cancel()
            let (got, wasCancelled) = try await reading.value
            let took = ContinuousClock.now - cancelled
            hold.release()
            #expect(took < .milliseconds(500), "round \(round): the cancelled task took \(took) to end")
            if round % 2 == 0 {
                #expect(wasCancelled && got.isEmpty, "round \(round)")
                try producer.write(message)
            }
            // The message was either consumed by the cancelled task or is still there.
            let next = try ring.makeConsumer()
            let left = try next.read(maxCount: 10)
            next.close()
            #expect(got + left == [message], "round \(round): the task got \(got.count), the ring had \(left.count)")
        }
    }

    /// A send that waits on a full ring and is cancelled writes nothing; one that is not
    /// cancelled completes once the consumer makes room.
    @Test func aCancelledSendOnAFullRingWritesNothing() async throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 12)
        let producer = try ring.makeProducer()
        var written = 0
        while try producer.tryWrite(bytes("filler \(written)")) { written += 1 }
        let writing = Task { [producer] in
            do {
                try await producer.send(bytes("cancelled"))
                return false
            } catch is CancellationError {
                producer.close()
                return true
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        writing.cancel()
        #expect(try await writing.value)
        // Not cancelled: it waits until a read makes room.
        let next = try ring.makeProducer()
        let waiting = Task { [next] in
            try await next.send(bytes("last"))
            next.closeWriter()
        }
        try await Task.sleep(for: .milliseconds(50))
        let consumer = try ring.makeConsumer()
        var messages: [[UInt8]] = []
        for try await message in consumer.messages { messages.append(message) }
        try await waiting.value
        #expect(messages.count == written + 1)
        #expect(messages.last == bytes("last"))
        #expect(!messages.contains(bytes("cancelled")))
    }

    /// 120 readers of one ring awaited at once in this process, a producer in another: the
    /// waits hold no thread each (the process keeps a handful), and every reader gets every
    /// message.
    @Test func aHundredReadersAwaitWithoutAThreadEach() async throws {
        let t = TempRing()
        let readerCount = 120
        let ring = try Ring.create(at: t.path, capacity: 1 << 14, readerSlots: readerCount)
        let count: UInt64 = 300
        let before = threadCount()
        var tasks: [Task<(UInt64, Int), any Error>] = []
        for _ in 0..<readerCount {
            let reader = try ring.makeReader(ReaderOptions(gating: true))
            tasks.append(Task { [reader] in
                var received: UInt64 = 0
                var bad = 0
                let workload = Workload(seed: 5, minSize: 8, maxSize: 64)
                for try await message in reader.messages {
                    if !message.withUnsafeBytes({ workload.matches($0, index: received) }) { bad += 1 }
                    received += 1
                }
                return (received, bad)
            })
        }
        // Every reader is suspended on its doorbell now.
        try await Task.sleep(for: .milliseconds(300))
        let waiting = threadCount()
        let producer = try ProducerPeer.start(t.path, ["--count", "\(count)", "--seed", "5", "--min-size", "8",
                                                       "--max-size", "64", "--close"])
        var peak = waiting
        var results: [(UInt64, Int)] = []
        for task in tasks {
            results.append(try await task.value)
            peak = max(peak, threadCount())
        }
        let (status, output) = RingWorkloadTool.finish(producer)
        print("\(readerCount) async readers: threads \(before) before, \(waiting) while all wait, peak \(peak); producer \(ProducerPeer.name): \(output)")
        #expect(status == 0, "\(output)")
        #expect(waiting < 40, "\(waiting) threads for \(readerCount) waiting readers")
        #expect(results.allSatisfy { $0 == (count, 0) }, "\(results.filter { $0 != (count, 0) }.prefix(5))")
    }

    /// An async read of a typed ring's items waits for them, an async write for room; the
    /// end of stream ends the reads.
    @Test func itemsAreSentAndReceivedAsync() async throws {
        let t = TempRing()
        let ring = try Ring.createItems(at: t.path, type: .uint64, itemCapacity: 64)
        let consumer = try ring.makeItemConsumer()
        let producer = try ring.makeItemProducer()
        let total: UInt64 = 5000
        let reading = Task { [consumer] in
            var values: [UInt64] = []
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 8, alignment: 8)
            defer { buffer.deallocate() }
            while true {
                do {
                    let n = try await consumer.receive(into: buffer, maxItems: 16)
                    values += (0..<n).map { buffer.load(fromByteOffset: $0 * 8, as: UInt64.self) }
                } catch RingError.endOfStream { return values }
            }
        }
        let writing = Task { [producer] in
            let item = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
            defer { item.deallocate() }
            for i in 0..<total {
                item.storeBytes(of: i, as: UInt64.self)
                try await producer.send(UnsafeRawBufferPointer(item))
            }
            producer.closeWriter()
        }
        try await writing.value
        #expect(try await reading.value == Array(0..<total))
    }
}
