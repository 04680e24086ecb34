// Support.swift - temporary ring paths, raw file surgery, and running ringctl and ring-workload.

import Foundation
import Testing
import Atomics
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// A fresh path in a private temporary directory, removed at deinit.
final class TempRing {
    let directory: String
    let path: String

    init(_ name: String = "ring") {
        var template = Array("\(NSTemporaryDirectory())/ringformat-test-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        directory = dir
        path = dir + "/" + name
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

/// Raw access to a ring file's bytes, bypassing the library.
enum RawFile {
    static func read(_ path: String, at offset: Int, count: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        precondition(n == count)
        return bytes
    }

    static func write(_ path: String, at offset: Int, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        precondition(n == bytes.count)
    }

    static func put<T: FixedWidthInteger>(_ path: String, _ field: FieldLayout, _ value: T, base: Int = 0) {
        precondition(MemoryLayout<T>.size == field.size)
        write(path, at: base + field.offset, withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    static func get<T: FixedWidthInteger>(_ path: String, _ field: FieldLayout, as: T.Type, base: Int = 0) -> T {
        let bytes = read(path, at: base + field.offset, count: field.size)
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }

    /// Rewrites the header checksum so that a deliberate change passes it.
    static func fixChecksum(_ path: String) {
        let identity = read(path, at: 0, count: RingLayout.checksumCoveredBytes)
        let crc = identity.withUnsafeBytes { ringChecksum($0) }
        put(path, RingLayout.Header.headerChecksum, crc)
    }

    static func truncate(_ path: String, to size: Int) {
        precondition(Glibc.truncate(path, off_t(size)) == 0)
    }

    static func size(_ path: String) -> Int {
        var st = stat()
        precondition(stat(path, &st) == 0)
        return Int(st.st_size)
    }
}

/// The operator's tool, built next to the test bundle.
let RingCtl = Tool(name: "ringctl")
/// The test tool (seeded producer and consumer, crash peers), built next to the test bundle.
let RingWorkloadTool = Tool(name: "ring-workload")

/// Runs one of the package's executables built next to the test bundle.
struct Tool: Sendable {
    /// The product name.
    let name: String

    var executable: String {
        // The tests run from .build/<triple>/<config>/RingFormatPackageTests.xctest; ringctl is beside it.
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Starts the tool with `arguments`; stdout and stderr are captured.
    func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, pipe)
    }

    /// Waits for a started tool; returns its exit status and output.
    func finish(_ started: (Process, Pipe)) -> (status: Int32, output: String) {
        let data = started.1.fileHandleForReading.readDataToEndOfFile()
        started.0.waitUntilExit()
        return (started.0.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs the tool to completion.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        finish(try start(arguments))
    }
}

/// Bytes of a string, for short test messages.
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A thread that can be joined, carrying its result or error out.
final class Worker<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            do { result = .success(try body()) } catch { result = .failure(error) }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits for the thread and returns its result, rethrowing its error.
    func join() throws -> T {
        done.wait()
        return try result!.get()
    }
}

/// Seconds since `start` on the monotonic clock.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// A MAP_SHARED mapping of a whole ring file, made without the library: a peer
/// that writes into the shared words and records behind the library's back.
final class SharedMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let length: Int

    init(_ path: String) {
        let fd = open(path, O_RDWR)
        precondition(fd >= 0)
        defer { close(fd) }
        length = RawFile.size(path)
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        precondition(p != MAP_FAILED && p != nil)
        base = p!
    }

    deinit { munmap(base, length) }

    /// Stores `value` (little-endian) into a header field, atomically for aligned 4/8-byte fields.
    func store<T: FixedWidthInteger>(_ field: FieldLayout, _ value: T) {
        precondition(MemoryLayout<T>.size == field.size)
        let p = (base + field.offset).assumingMemoryBound(to: T.self)
        atomicStore(p, value.littleEndian)
    }

    /// Loads a header field.
    func load<T: FixedWidthInteger>(_ field: FieldLayout, as: T.Type) -> T {
        T(littleEndian: (base + field.offset).assumingMemoryBound(to: T.self).pointee)
    }
}

/// A store no compiler splits or drops: through an atomic of the field's width.
@inline(__always)
func atomicStore<T: FixedWidthInteger>(_ p: UnsafeMutablePointer<T>, _ v: T) {
    switch MemoryLayout<T>.size {
    case 8:
        UInt64.AtomicRepresentation.atomicStore(UInt64(truncatingIfNeeded: v),
            at: UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt64.AtomicRepresentation.self), ordering: .sequentiallyConsistent)
    case 4:
        UInt32.AtomicRepresentation.atomicStore(UInt32(truncatingIfNeeded: v),
            at: UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.AtomicRepresentation.self), ordering: .sequentiallyConsistent)
    default:
        p.pointee = v
    }
}

/// Expects `body` to throw `RingError.system` with errno `code` and an operation text
/// that contains `mentioning` (the path, say).
func expectSystemError(_ code: Int32, mentioning: String? = nil, _ body: () throws -> Void,
                       sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected system(errno \(code)), nothing thrown", sourceLocation: sourceLocation)
    } catch let RingError.system(operation, errno) {
        #expect(errno == code, "errno \(errno) for \(operation)", sourceLocation: sourceLocation)
        if let mentioning {
            #expect(operation.contains(mentioning), "\(operation) names \(mentioning)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected system(errno \(code)), got \(error)", sourceLocation: sourceLocation)
    }
}
