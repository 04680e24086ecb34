// Dump.swift - `ringctl dump`: a hex dump of the header's non-zero lines and
// of the data region, read with pread (nothing is mapped or changed).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import RingFormat
import RingWorkload

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hex dump of the header's non-zero lines and the data region.")

    @Argument(help: "The ring file.")
    var path: String

    @Option(name: .customLong("data-bytes"), parsing: .unconditional, help: "How many bytes of the data region (default: all of it).")
    var dataBytes: String?

    func validate() throws {
        if let d = dataBytes { _ = try checked("--data-bytes", d, Limits.dataBytes) }
    }

    func run() throws {
        let ring = try openRing(path)
        let count = try dataBytes.map {
            Int(try checked("--data-bytes", $0, NumberLimit(0...ring.capacity), note: " (the ring's capacity)"))
        } ?? ring.capacity
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure.ring(path, .system(operation: "open", errno: errno)) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: ring.geometry.headerSize + count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw Failure.ring(path, .system(operation: "pread", errno: errno)) }
        Output.line(Dump.hexDump(Array(bytes[0..<n]), headerSize: ring.geometry.headerSize))
    }

    /// Sixteen bytes a line, skipping header lines that are all zero.
    static func hexDump(_ bytes: [UInt8], headerSize: Int) -> String {
        var out: [String] = []
        var skipping = false
        for lineStart in stride(from: 0, to: bytes.count, by: 16) {
            let line = Array(bytes[lineStart..<min(lineStart + 16, bytes.count)])
            if lineStart < headerSize && line.allSatisfy({ $0 == 0 }) {
                if !skipping { out.append("*") }
                skipping = true
                continue
            }
            skipping = false
            let offset = String(lineStart, radix: 16)
            let hexBytes = line.map { Output.hex([$0]) }
            out.append(String(repeating: "0", count: max(0, 8 - offset.count)) + offset + "  " + hexBytes.joined(separator: " "))
        }
        return out.joined(separator: "\n")
    }
}
