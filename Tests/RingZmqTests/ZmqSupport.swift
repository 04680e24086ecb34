// ZmqSupport.swift - endpoints in temporary directories, self-checking messages, and
// threads that report back, for the ZeroMQ transport's tests.

import Foundation
import RingFormat
@testable import RingZmq

/// An ipc:// endpoint in a fresh private directory, removed at deinit.
final class TempEndpoint {
    let directory: String
    let ipc: String

    init() {
        var template = Array("/tmp/ringzmq-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        ipc = "ipc://\(directory)/s"
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

/// The transports a test runs over.
enum Transport: String, CaseIterable, CustomStringConvertible {
    case ipc, tcp
    var description: String { rawValue }

    /// The endpoint to bind: a socket file in `temp`, or a free loopback port.
    func bindEndpoint(_ temp: TempEndpoint) -> String {
        self == .ipc ? temp.ipc : "tcp://127.0.0.1:*"
    }
}

/// Messages that carry their producer, their index and a checksum of themselves:
/// producer u32, index u64, filler, FNV-1a u32 of everything before it.
enum Checked {
    /// The size of message `index` of a mixed-size workload: 16 to 315 bytes.
    static func size(_ index: UInt64) -> Int { 16 + Int((index &* 7919) % 300) }

    static func make(producer: UInt32, index: UInt64, size: Int) -> [UInt8] {
        precondition(size >= 16)
        var m = [UInt8](repeating: 0, count: size)
        withUnsafeBytes(of: producer.littleEndian) { m.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: index.littleEndian) { m.replaceSubrange(4..<12, with: $0) }
        for i in 12..<(size - 4) { m[i] = UInt8(truncatingIfNeeded: index &+ UInt64(i) &* 31) }
        let sum = fnv(m[0..<(size - 4)])
        withUnsafeBytes(of: sum.littleEndian) { m.replaceSubrange((size - 4)..<size, with: $0) }
        return m
    }

    /// The producer and index of an intact message; nil if it is not one.
    static func check(_ m: [UInt8]) -> (producer: UInt32, index: UInt64)? {
        guard m.count >= 16 else { return nil }
        let stored = m[(m.count - 4)...].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        guard UInt32(littleEndian: stored) == fnv(m[0..<(m.count - 4)]) else { return nil }
        let p = m[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let i = m[4..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        return (UInt32(littleEndian: p), UInt64(littleEndian: i))
    }

    static func fnv(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(b)) &* 16_777_619 }
        return h
    }
}

/// What threads report: failures, and whatever the test collects, under one lock.
final class Reports<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    private var errors: [String] = []

    func add(_ item: T) { lock.lock(); items.append(item); lock.unlock() }
    func fail(_ text: String) { lock.lock(); errors.append(text); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
    var failures: [String] { lock.lock(); defer { lock.unlock() }; return errors }
}

/// Starts each body on a thread of its own; the result waits up to `seconds` for all of
/// them (false on timeout).
func startThreads(_ bodies: [@Sendable () -> Void]) -> (_ seconds: Double) -> Bool {
    let group = DispatchGroup()
    for body in bodies {
        group.enter()
        Thread { body(); group.leave() }.start()
    }
    return { seconds in group.wait(timeout: .now() + seconds) == .success }
}

/// Receives until END_OF_STREAM (or `seconds` without a message), sorting what comes into
/// per-producer index lists; any other error or a corrupt message is a failure text.
func drain(_ consumer: ZmqConsumer, batch: Int? = nil, seconds: Int = 10) -> (byProducer: [UInt32: [UInt64]], failure: String?) {
    var got: [UInt32: [UInt64]] = [:]
    while true {
        do {
            let messages: [[UInt8]]
            if let batch { messages = try consumer.get(maxCount: batch, timeout: .seconds(seconds)) }
            else { messages = [try consumer.get(timeout: .seconds(seconds))] }
            for m in messages {
                guard let (p, i) = Checked.check(m) else { return (got, "corrupt message of \(m.count) bytes") }
                got[p, default: []].append(i)
            }
        } catch .endOfStream {
            return (got, nil)
        } catch {
            return (got, "get: \(error)")
        }
    }
}

/// The RingError `body` threw; nil if it returned.
func thrown(_ body: () throws(RingError) -> Void) -> RingError? {
    do { try body(); return nil } catch { return error }
}
