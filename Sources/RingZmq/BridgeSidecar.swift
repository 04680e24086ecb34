// BridgeSidecar.swift - the receiver's state beside the destination ring (DEST.bridge),
// written ahead of every write to the destination and reconciled with the destination's
// producerPosition after a crash (SPEC.md §24.7).
//
//   slot (two of them, 16 KiB each, at offsets 0 and 16384)
//   0       4         8          16         24          32             40               48             52      56      60         64             72
//   +-------+---------+----------+----------+-----------+--------------+----------------+--------------+-------+-------+----------+--------------+---------------
//   | magic | version | sequence | streamId | baseIndex | basePosition | baseDestination| recordHeader | flags | count | checksum | planPosition | lengths[count]
//   +-------+---------+----------+----------+-----------+--------------+----------------+--------------+-------+-------+----------+--------------+---------------

import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// One slot of the sidecar: the receiver's state before a batch, and the batch it is
/// about to write (the payload lengths, enough to replay where it stopped).
struct SidecarSlot: Equatable {
    var sequence: UInt64
    var streamId: UInt64
    /// The next index to apply, and the source position after the last applied message,
    /// before the planned batch.
    var baseIndex: UInt64
    var basePosition: UInt64
    /// The destination's producerPosition before the planned batch.
    var baseDestination: UInt64
    /// The source's message record header size (8 or 16).
    var recordHeader: UInt32
    /// SIDECAR_ENDED (1): the stream ended; the destination's writer is closed.
    var ended: Bool
    /// The source position of the planned batch's first message (past any source padding).
    var planPosition: UInt64 = 0
    /// The planned batch: its messages' payload lengths, in order.
    var lengths: [UInt32] = []
}

/// The receiver's recovered state.
struct BridgeState: Equatable {
    var streamId: UInt64
    var recordHeader: UInt32
    var appliedIndex: UInt64
    var appliedPosition: UInt64
    var destination: UInt64
    var ended: Bool
}

/// The sidecar file: two checksummed slots, the newer valid one wins.
final class BridgeSidecar {
    static let magic: UInt32 = 0x4247_4E52  // "RNGB"
    static let version: UInt32 = 1
    static let slotSize = 16384
    static let slotHeaderSize = 72
    /// Most messages one slot can plan.
    static let maxPlanned = (slotSize - slotHeaderSize) / 4

    let path: String
    private var fd: Int32 = -1
    /// The newest slot written or read.
    private(set) var latest: SidecarSlot?

    /// Opens the sidecar at `path` if it exists, and removes a temporary file a crash left
    /// (`path`.tmp, made only before the first slot exists).
    init(path: String) throws(BridgeError) {
        self.path = path
        unlink(path + ".tmp")
        fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            guard errno == ENOENT else { throw .ring(.system(operation: "open \(path)", errno: errno)) }
            return
        }
        latest = try readLatest()
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Removes the sidecar (a reset: the receiver forgets its stream).
    func remove() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        unlink(path)
        latest = nil
    }

    /// Writes `slot` with the next sequence number into the slot the newest one is not in.
    /// The first slot goes into a temporary file renamed into place, so that a crash never
    /// leaves a sidecar without a valid slot.
    func write(_ slot: SidecarSlot) throws(BridgeError) {
        var next = slot
        next.sequence = (latest?.sequence ?? 0) &+ 1
        let bytes = Self.encode(next)
        if fd < 0 {
            let tmp = path + ".tmp"
            let made = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard made >= 0 else { throw .ring(.system(operation: "open \(tmp)", errno: errno)) }
            guard ftruncate(made, off_t(2 * Self.slotSize)) == 0,
                  try pwriteAll(made, bytes, at: Int(next.sequence % 2) * Self.slotSize),
                  rename(tmp, path) == 0 else {
                let code = errno
                Glibc.close(made)
                unlink(tmp)
                throw .ring(.system(operation: "write \(tmp)", errno: code))
            }
            fd = made
        } else {
            guard try pwriteAll(fd, bytes, at: Int(next.sequence % 2) * Self.slotSize) else {
                throw .ring(.system(operation: "write \(path)", errno: errno))
            }
        }
        latest = next
    }

    private func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int) throws(BridgeError) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }

    /// The newest slot that passes its checks; SIDECAR_CORRUPT if neither does.
    private func readLatest() throws(BridgeError) -> SidecarSlot {
        var best: SidecarSlot?
        for i in 0..<2 {
            var bytes = [UInt8](repeating: 0, count: Self.slotSize)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(i * Self.slotSize)) }
            guard n == Self.slotSize, let slot = Self.decode(bytes) else { continue }
            if best == nil || slot.sequence &- best!.sequence < 1 << 63 { best = slot }
        }
        guard let best else { throw .sidecarCorrupt(path: path) }
        return best
    }

    /// A slot's bytes: the header, the lengths, the checksum over both.
    static func encode(_ slot: SidecarSlot) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: slotHeaderSize + 4 * slot.lengths.count)
        bytes.withUnsafeMutableBytes { out in
            func put<T: FixedWidthInteger>(_ v: T, _ at: Int) { out.storeBytes(of: v.littleEndian, toByteOffset: at, as: T.self) }
            put(magic, 0); put(version, 4); put(slot.sequence, 8); put(slot.streamId, 16)
            put(slot.baseIndex, 24); put(slot.basePosition, 32); put(slot.baseDestination, 40)
            put(slot.recordHeader, 48); put(UInt32(slot.ended ? 1 : 0), 52); put(UInt32(slot.lengths.count), 56)
            put(slot.planPosition, 64)
            for (i, l) in slot.lengths.enumerated() { put(l, slotHeaderSize + 4 * i) }
            put(checksum(UnsafeRawBufferPointer(out)), 60)
        }
        return bytes
    }

    /// The slot in `bytes` (slotSize of them), or nil if any check fails.
    static func decode(_ bytes: [UInt8]) -> SidecarSlot? {
        bytes.withUnsafeBytes { raw -> SidecarSlot? in
            func get<T: FixedWidthInteger>(_ at: Int) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self)) }
            let count: UInt32 = get(56)
            guard get(0) as UInt32 == magic, get(4) as UInt32 == version, count <= UInt32(maxPlanned) else { return nil }
            let used = UnsafeRawBufferPointer(rebasing: raw[0..<(slotHeaderSize + 4 * Int(count))])
            let header: UInt32 = get(48)
            let flags: UInt32 = get(52)
            guard get(60) as UInt32 == checksum(used), header == 8 || header == 16, flags <= 1 else { return nil }
            return SidecarSlot(sequence: get(8), streamId: get(16), baseIndex: get(24), basePosition: get(32),
                               baseDestination: get(40), recordHeader: header, ended: flags == 1, planPosition: get(64),
                               lengths: (0..<Int(count)).map { get(slotHeaderSize + 4 * $0) })
        }
    }

    /// CRC-32 of the slot's used bytes with the checksum word taken as zero.
    static func checksum(_ used: UnsafeRawBufferPointer) -> UInt32 {
        var copy = [UInt8](used)
        for i in 60..<64 { copy[i] = 0 }
        return copy.withUnsafeBytes { ringChecksum($0) }
    }

    /// The state after the newest slot, given the destination's producerPosition now:
    /// replays the planned lengths from baseDestination (with the destination's padding
    /// rule, SPEC.md §6.3) until it reaches `destination`; the messages passed are applied.
    /// DESTINATION_MOVED if no prefix of the plan ends there.
    static func recover(_ slot: SidecarSlot, destination: UInt64, capacity: Int, destinationRecordHeader: Int)
        throws(BridgeError) -> BridgeState {
        var state = BridgeState(streamId: slot.streamId, recordHeader: slot.recordHeader, appliedIndex: slot.baseIndex,
                                appliedPosition: slot.basePosition, destination: slot.baseDestination, ended: slot.ended)
        var i = 0
        var source = slot.planPosition
        while state.destination != destination && i < slot.lengths.count {
            let length = Int(slot.lengths[i])
            state.destination = destinationEnd(after: state.destination, payload: length, capacity: capacity,
                                               recordHeader: destinationRecordHeader)
            source &+= UInt64(align8(Int(slot.recordHeader) + length))
            state.appliedPosition = source
            state.appliedIndex &+= 1
            i += 1
        }
        guard state.destination == destination else {
            throw .destinationMoved(expected: slot.baseDestination, found: destination)
        }
        return state
    }

    /// The producerPosition after a message of `payload` bytes committed at `head`.
    static func destinationEnd(after head: UInt64, payload: Int, capacity: Int, recordHeader: Int) -> UInt64 {
        let size = UInt64(align8(recordHeader + payload))
        let toEnd = UInt64(capacity) - (head & UInt64(capacity - 1))
        return head &+ (size > toEnd ? toEnd : 0) &+ size
    }
}

/// `n` rounded up to a multiple of 8.
@inline(__always) func align8(_ n: Int) -> Int { (n + 7) & ~7 }
