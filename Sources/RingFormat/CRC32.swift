// CRC32.swift - the header checksum of SPEC.md §3.1: CRC-32/ISO-HDLC, the
// checksum of zlib, PNG and Python's zlib.crc32 (reflected polynomial
// 0xEDB88320, initial value and final xor 0xFFFFFFFF).

/// CRC-32 (ISO-HDLC, as zlib computes it) of `bytes`.
public func ringChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1)))
        }
    }
    return ~crc
}
