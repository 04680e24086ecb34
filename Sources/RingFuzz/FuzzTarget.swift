// FuzzTarget.swift - arbitrary bytes as a ring file, then open + read everything
// (+ inspect, peek, write): nothing may crash, hang or read out of bounds.
//
// Built normally, ring-fuzz replays files (the corpus in interop/fuzz/corpus) through
// the same function: a regression test. Built with -DFUZZING and
// -sanitize=fuzzer,address (`make fuzz`), it is a libFuzzer target.
//
// Input: first byte even: the rest is the whole file. Odd: a valid 4096-byte ring
// (bit 1: overwrite-oldest) holding a few messages, patched by the rest taken as
// (u16 file offset, byte) triples, so the fuzzer reaches deep into record validation.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat
import RingWorkload

enum FuzzTarget {
    nonisolated(unsafe) static var baseImages: [[UInt8]] = []
    nonisolated(unsafe) static var path: String = {
        let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        return "\(dir)/ring-fuzz-\(getpid()).ring"
    }()

    /// A valid ring file's bytes, with some messages (one for each policy).
    static func baseImage(overwrite: Bool) -> [UInt8] {
        if baseImages.isEmpty {
            for policy in [RingPolicy.rejectWhenFull, .overwriteOldest] {
                unlink(path)
                let ring = try! Ring.create(at: path, capacity: 4096, policy: policy)
                let p = try! ring.makeProducer()
                for i in 0..<12 { _ = try? p.write([UInt8](repeating: UInt8(i), count: i * 97 % 700)) }
                let c = try! ring.makeConsumer()
                _ = try? c.read(maxCount: 5)
                for i in 0..<3 { _ = try? p.write([UInt8](repeating: UInt8(i), count: 300)) }
                baseImages.append(readFile(path))
            }
        }
        return baseImages[overwrite ? 1 : 0]
    }

    static func readFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return Array(bytes[0..<max(0, n)])
    }

    static func writeFile(_ bytes: [UInt8]) {
        let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
        guard fd >= 0 else { return }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// One input: make the file, then use it every way a reader and a writer can.
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        var file: [UInt8]
        if mode & 1 == 0 {
            file = Array(input.dropFirst())
        } else {
            file = baseImage(overwrite: mode & 2 != 0)
            var rest = input.dropFirst()
            while rest.count >= 3 {
                let offset = (Int(rest[rest.startIndex]) | Int(rest[rest.startIndex + 1]) << 8) % file.count
                file[offset] = rest[rest.startIndex + 2]
                rest = rest.dropFirst(3)
            }
        }
        writeFile(file)
        defer { unlink(path) }
        guard let ring = try? Ring.open(at: path) else { return }
        _ = try? ring.stats()
        if let consumer = try? ring.makeConsumer() {
            _ = try? consumer.peekAll()
            _ = try? consumer.withNextMessage { $0.reduce(0, &+) }
            for _ in 0..<64 { if (try? consumer.tryRead()) == nil { break } }
            if let producer = try? ring.makeProducer() {
                for i in 0..<6 { _ = try? producer.tryWrite([UInt8](repeating: UInt8(i), count: i * 333)) }
                _ = try? producer.write(batch: [[1], [2, 3], []])
                producer.closeWriter()
            }
            _ = try? consumer.read(maxCount: 100)
            _ = try? consumer.read()
        }
    }
}

#if FUZZING
/// libFuzzer's driver (LLVM 13 and later), called from our own main because SwiftPM
/// renames an executable's main.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// libFuzzer's entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Runs libFuzzer with the command line.
@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzOneInput(data, size) }))
    }
}
#else
/// Replays files and directories of inputs: ring-fuzz PATH...
@main
struct Replay {
    static func main() {
        var inputs: [String] = []
        for arg in CommandLine.arguments.dropFirst() {
            if let dir = opendir(arg) {
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if !name.hasPrefix(".") { inputs.append(arg + "/" + name) }
                }
                closedir(dir)
            } else {
                inputs.append(arg)
            }
        }
        for input in inputs.sorted() {
            let fd = open(input, O_RDONLY)
            guard fd >= 0 else { continue }
            let bytes = readAllBytes(fd)
            close(fd)
            bytes.withUnsafeBytes { FuzzTarget.run($0) }
        }
        print("fuzz replay: \(inputs.count) inputs, none crashed")
    }
}
#endif
