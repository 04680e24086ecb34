// RingPath.swift - a file path as the bytes the system takes. POSIX paths are
// bytes, not text: a path that is not UTF-8 must reach open(2) unchanged (two
// such names must never turn into the same U+FFFD string).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file path as bytes (no NUL inside). Shown as text with invalid UTF-8 replaced.
package struct RingPath: Sendable, Hashable, CustomStringConvertible {
    /// The path's bytes, without a terminating NUL.
    package let bytes: [UInt8]

    /// The UTF-8 bytes of `string`.
    package init(_ string: String) { bytes = Array(string.utf8) }

    /// The bytes of a C string, unchanged.
    package init(cString: UnsafePointer<CChar>) {
        bytes = Array(UnsafeRawBufferPointer(start: cString, count: strlen(cString)))
    }

    /// The given bytes.
    package init(bytes: [UInt8]) { self.bytes = bytes }

    /// The path as text, for messages (invalid UTF-8 shown as U+FFFD).
    package var description: String { String(decoding: bytes, as: UTF8.self) }

    /// Calls `body` with the path as a NUL-terminated C string.
    package func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    /// The directory part: everything before the last "/" ("." without one, "/" for the root).
    package var directory: RingPath {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return RingPath(".") }
        return slash == 0 ? RingPath("/") : RingPath(bytes: Array(bytes[..<slash]))
    }

    /// The last component: everything after the last "/".
    package var lastComponent: [UInt8] {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return bytes }
        return Array(bytes[(slash + 1)...])
    }
}
