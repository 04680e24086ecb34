// FileBytes.swift - reading a whole file or pipe, for the tools and tests that
// exchange text and inputs through files (golden vectors, fuzz inputs, child output).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything left to read from `fd`, until end of file (or a read error, which ends
/// the bytes early). Does not close `fd`.
public func readAllBytes(_ fd: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}
