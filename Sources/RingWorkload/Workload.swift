// Workload.swift - the seeded test workload shared by ring-workload and the tests
// (and described in interop/README.md so C and Python can produce the same
// messages): message i of seed s has a size drawn by SplitMix64 and bytes
// that depend on (s, i, offset), so a reader can check every byte, the order
// and the count without any side channel.

/// SplitMix64: a tiny, well-known 64-bit mixing function.
@inlinable public func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The messages of one seeded workload.
public struct Workload: Sendable {
    /// The seed.
    public let seed: UInt64
    /// Smallest message size.
    public let minSize: Int
    /// Largest message size.
    public let maxSize: Int

    /// A workload whose sizes are uniform in minSize...maxSize.
    public init(seed: UInt64, minSize: Int = 0, maxSize: Int) {
        precondition(minSize >= 0 && minSize <= maxSize)
        self.seed = seed
        self.minSize = minSize
        self.maxSize = maxSize
    }

    /// Size of message `index`.
    @inlinable public func size(of index: UInt64) -> Int {
        let span = UInt64(maxSize - minSize + 1)
        return minSize + Int(splitMix64(seed ^ (index &* 0x2545_F491_4F6C_DD1D)) % span)
    }

    /// Byte `offset` of message `index`. Bytes 0..<8 hold the index (little-endian) when the message is at least 8 bytes.
    @inlinable public func byte(of index: UInt64, at offset: Int, size: Int) -> UInt8 {
        if size >= 8 && offset < 8 { return UInt8(truncatingIfNeeded: index >> (8 * UInt64(offset))) }
        return UInt8(truncatingIfNeeded: (index &* 131) &+ UInt64(offset) &* 7 &+ seed)
    }

    /// Fills `buffer` (which must have `size(of: index)` bytes) with message `index`.
    @inlinable public func fill(_ buffer: UnsafeMutableRawBufferPointer, index: UInt64) {
        let n = buffer.count
        for j in 0..<n { buffer[j] = byte(of: index, at: j, size: n) }
    }

    /// Message `index` as an array.
    public func message(_ index: UInt64) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: size(of: index))
        m.withUnsafeMutableBytes { fill($0, index: index) }
        return m
    }

    /// Whether `bytes` are exactly message `index`.
    @inlinable public func matches(_ bytes: UnsafeRawBufferPointer, index: UInt64) -> Bool {
        guard bytes.count == size(of: index) else { return false }
        for j in 0..<bytes.count where bytes[j] != byte(of: index, at: j, size: bytes.count) { return false }
        return true
    }

    /// The index a message of at least 8 bytes carries in its first 8 bytes.
    @inlinable public static func index(in bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        return bytes.loadUnaligned(as: UInt64.self).littleEndian
    }
}

/// FNV-1a (64-bit), folded over every message in order: the checksum the
/// interop programs print.
public struct StreamChecksum: Sendable, Equatable {
    /// The running value.
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    /// A checksum of nothing.
    public init() {}

    /// Folds in one message: its length (4 bytes, little-endian) then its bytes.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var v = value
        var len = UInt32(bytes.count).littleEndian
        withUnsafeBytes(of: &len) { for b in $0 { v = (v ^ UInt64(b)) &* 0x100_0000_01B3 } }
        for b in bytes { v = (v ^ UInt64(b)) &* 0x100_0000_01B3 }
        value = v
    }
}
