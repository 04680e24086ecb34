// HeaderFields.swift - the header of a file as raw bytes, field by field
// (SPEC.md §3), read with pread so that a file that does not open as a ring
// (bad magic, bad checksum, truncated) can still be shown.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

/// The first bytes of a file, up to one default header, read once.
struct RawHeader {
    let bytes: [UInt8]

    /// Reads up to 4096 bytes of `path`; nil with the system's words if it cannot.
    static func read(_ path: String) -> Result<RawHeader, Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            return .failure(Failure.ring(path, .system(operation: "open", errno: e)))
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: RingLayout.minHeaderSize)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else {
            let e = errno
            return .failure(Failure.ring(path, .system(operation: "pread", errno: e)))
        }
        return .success(RawHeader(bytes: Array(bytes[0..<n])))
    }

    /// Whether the file starts with the magic bytes.
    var hasMagic: Bool { bytes.starts(with: RingLayout.magicBytes) }

    /// The little-endian field at `f`, or nil past the bytes read.
    func value(_ f: FieldLayout) -> UInt64? {
        guard f.offset + f.size <= bytes.count else { return nil }
        var v: UInt64 = 0
        for i in (0..<f.size).reversed() { v = v << 8 | UInt64(bytes[f.offset + i]) }
        return v
    }

    /// Every header field of SPEC.md §3 that the bytes cover, with its name.
    var fields: [(name: String, value: UInt64)] {
        RingLayout.Header.allFields.compactMap { f in value(f.layout).map { (f.name, $0) } }
    }

    /// A word about a field's value, when there is one to say ("open", "pid 12 running").
    func note(_ name: String, _ value: UInt64) -> String? {
        switch name {
        case "magic": return hasMagic ? "RINGFMT" : "not RINGFMT: not a ring file"
        case "policy":
            return value == 0 ? "rejectWhenFull" : value == 1 ? "overwriteOldest" : "unknown policy"
        case "writerState": return value == 0 ? "open" : value == 1 ? "closed" : "invalid"
        case "producerOwner", "consumerOwner":
            return value == 0 ? "none" : "pid \(value >> 32)"
        default: return nil
        }
    }
}
