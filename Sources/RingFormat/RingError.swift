// RingError.swift - the typed errors of SPEC.md §15, named the same in Swift,
// C (RING_ERR_*) and Python (ringpy.*Error).

import CRingSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a ring file was judged corrupt (SPEC.md §13).
public enum CorruptionReason: Sendable, Equatable {
    /// The file is shorter than a header, or than headerSize + capacity.
    case truncated(fileSize: Int, expected: Int)
    /// The file is longer than headerSize + capacity.
    case fileSizeMismatch(fileSize: Int, expected: Int)
    /// The first eight bytes are not "RINGFMT\0".
    case badMagic
    /// The stored CRC-32 does not match the identity line.
    case badChecksum(stored: UInt32, computed: UInt32)
    /// headerSize is not a power of two within MIN_HEADER_SIZE...MAX_HEADER_SIZE.
    case badHeaderSize(UInt32)
    /// capacity is not a power of two within MIN_CAPACITY...MAX_CAPACITY.
    case badCapacity(UInt64)
    /// writerState is neither open nor closed.
    case badWriterState(UInt32)
    /// A position is not a multiple of RECORD_ALIGNMENT.
    case misalignedPosition(UInt64)
    /// producerPosition - consumerPosition is more than the capacity (or "negative").
    case positionsOutOfOrder(producer: UInt64, consumer: UInt64)
    /// A record header's length does not fit in what was committed or in the region.
    case badRecordLength(position: UInt64, length: UInt32)
    /// A record header's kind is neither message nor padding.
    case badRecordKind(position: UInt64, kind: UInt32)
    /// A padding record that does not end exactly at the end of the data region,
    /// is not followed by a committed message, or follows another padding record.
    case misplacedPadding(position: UInt64)
    /// consumerPosition changed on every one of many reads in a row: a peer is
    /// rewriting it faster than any honest producer or consumer moves it.
    case positionsUnstable
    /// readerSlots is 0 or more than the header has room for (SPEC.md §17.1).
    case badReaderTable(UInt32)
    /// A reader slot's state is neither free nor active (SPEC.md §17.4).
    case badReaderSlot(slot: Int, state: UInt32)
    /// A gating reader's cursor is ahead of producerPosition or misaligned (SPEC.md §17.7).
    case badReaderCursor(slot: Int, cursor: UInt64)
    /// A message's index is not the next one, with no lap between (SPEC.md §17.6).
    case badRecordIndex(position: UInt64, index: UInt64, expected: UInt64)
    /// producerSlots is 0 or more than 16, or the ring has producers and overwrites (SPEC.md §18.1).
    case badProducerTable(UInt32)
    /// A producer slot's state or claimState is not a known value (SPEC.md §18.2).
    case badProducerSlot(slot: Int, state: UInt32)
    /// claimPosition is misaligned, behind producerPosition or too far past the tail (SPEC.md §18.10).
    case badClaimPosition(UInt64)
    /// A claim at or after the front that no producer made, or whose records or stamp do not parse (SPEC.md §18.10).
    case badClaim(position: UInt64)
    /// A typed ring's item fields or type description break SPEC.md §19.1-§19.2; the text says how.
    case badItemType(String)
}

/// Why a well-formed file cannot be used by this implementation (SPEC.md §14).
public enum UnsupportedReason: Sendable, Equatable {
    /// The major version is not 1.
    case majorVersion(major: UInt16, minor: UInt16)
    /// incompatFlags has bits this implementation does not know.
    case incompatibleFlags(UInt32)
    /// The policy value is not one this implementation knows.
    case policy(UInt32)
    /// incompatFlags combines features this version does not define together (SPEC.md §19.1).
    case featureCombination(UInt32)
}

/// Which exclusive role a handle asked for.
public enum RingRole: String, Sendable, Equatable {
    /// The single writer of a 1.0 ring.
    case producer
    /// The single reader of a 1.0 ring.
    case consumer
    /// A reader slot of a ring with readers: its durable name is in use, or every slot is taken.
    case reader
}

/// Every failure of a ring operation.
public enum RingError: Error, Sendable, Equatable {
    /// The ring has no room for the message (reject-when-full), or a timed write expired.
    case full
    /// The ring has no message to read, or a timed read expired.
    case empty
    /// The message is larger than the ring's maximum message size, or a size argument is invalid.
    case invalidSize(size: Int, maximum: Int)
    /// An argument is out of range (a mode with bits beyond 0o777, say); the text says which.
    case invalidArgument(String)
    /// The handle was closed.
    case closed
    /// The producer closed the stream and every message has been read.
    case endOfStream
    /// The shared file holds values no valid ring can hold.
    case corrupt(CorruptionReason)
    /// The file is a ring of a version or with features this implementation cannot use.
    case unsupportedVersion(UnsupportedReason)
    /// Another handle (in this or another process) holds the role.
    case busy(RingRole)
    /// A system call failed; `errno` is its error number.
    case system(operation: String, errno: Int32)
    /// The handle was made in another process and inherited across fork()
    /// (SPEC.md §11.3): open the ring again in this process.
    case forked
    /// A consumer, reader or item consumer that stops when the producer is gone
    /// (`stopsWhenProducerGone`) found the ring drained, the stream not closed and no live
    /// producer (SPEC.md §22.1): no message will come until a new producer starts.
    case producerGone
}

extension RingError: CustomStringConvertible {
    /// A one-line, human-readable description.
    public var description: String {
        switch self {
        case let .invalidSize(size, maximum):
            return "invalid size \(size) (maximum \(maximum))"
        case let .invalidArgument(text): return "invalid argument: \(text)"
        case let .corrupt(reason): return "corrupt ring file: \(reason)"
        case let .unsupportedVersion(reason):
            return "unsupported ring file: \(reason); this implementation reads format \(RingLayout.versionMajor).x"
        case let .busy(role):
            switch role {
            case .consumer: return "the consumer role is held by another handle, or a view of this consumer is open"
            case .producer: return "the producer role is held by another handle, or a reservation of this producer is open"
            case .reader: return "no reader slot: every slot of the reader table is taken, or a reader of this name is open"
            }
        case let .system(operation, code):
            return "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .full, .empty, .closed, .endOfStream, .forked, .producerGone: return staticDescription!.description
        }
    }

    /// The error's number in SPEC.md §15's table, which the C ABIs return as ring_error_t
    /// (FULL -1 ... PRODUCER_GONE -14).
    public var code: Int32 {
        switch self {
        case .full: return -1
        case .empty: return -2
        case .invalidSize: return -3
        case .closed: return -4
        case .endOfStream: return -5
        case .corrupt: return -6
        case .unsupportedVersion: return -7
        case .busy: return -8
        case .system: return -9
        case .invalidArgument: return -11
        case .forked: return -13
        case .producerGone: return -14
        }
    }

    /// Records this error as the calling thread's last error for a C ABI (what its
    /// `*_last_error_message` and `*_last_errno` report: each library has its own record)
    /// and returns its code. `text` replaces the description; the errors without values use
    /// their static text, which needs no allocation.
    public func recordAsLastError(describedAs text: String? = nil) -> Int32 {
        if text == nil, let fixed = staticDescription {
            ringsys_set_last_error_static(0, fixed.cString)
            return code
        }
        var err: Int32 = 0
        if case let .system(_, e) = self { err = e }
        (text ?? description).withCString { ringsys_set_last_error(err, $0) }
        return code
    }

    /// The description of the errors that carry no values, as text that needs no
    /// allocation (bindings report these often: EMPTY and FULL are ordinary outcomes).
    public var staticDescription: StaticString? {
        switch self {
        case .full: return "ring is full"
        case .empty: return "ring is empty"
        case .closed: return "handle is closed"
        case .endOfStream: return "end of stream: the writer closed the ring and it is drained"
        case .forked: return "this handle belongs to the process that opened it (it was inherited across fork): open the ring again"
        case .producerGone: return "producer gone: the ring is drained, the stream was not closed and no live process holds the producer role"
        default: return nil
        }
    }
}

extension StaticString {
    /// The literal's bytes as a C string, for the C ABIs' static error texts (a literal is
    /// NUL-terminated and lives as long as the process).
    @inlinable public var cString: UnsafePointer<CChar> {
        UnsafeRawPointer(utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

extension CorruptionReason: CustomStringConvertible {
    /// The reason in plain words, with the values found and expected.
    public var description: String {
        switch self {
        case let .truncated(fileSize, expected):
            return "the file is truncated: it has \(fileSize) bytes, the ring needs \(expected)"
        case let .fileSizeMismatch(fileSize, expected):
            return "the file has \(fileSize) bytes, more than the \(expected) its header describes"
        case .badMagic: return "not a ring file: bad magic (the first 8 bytes are not \"RINGFMT\\0\")"
        case let .badChecksum(stored, computed):
            return "the header checksum does not match: stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))"
        case let .badHeaderSize(size):
            return "bad headerSize \(size): not a power of two from \(RingLayout.minHeaderSize) to \(RingLayout.maxHeaderSize)"
        case let .badCapacity(capacity):
            return "bad capacity \(capacity): not a power of two from \(RingLayout.minCapacity) to \(RingLayout.maxCapacity)"
        case let .badWriterState(state): return "bad writerState \(state): neither 0 (open) nor 1 (closed)"
        case let .misalignedPosition(position): return "position \(position) is not a multiple of 8"
        case let .positionsOutOfOrder(producer, consumer):
            return "producerPosition \(producer) and consumerPosition \(consumer) are out of order (more than the capacity apart, or the consumer ahead)"
        case let .badRecordLength(position, length):
            return "the record at position \(position) has length \(length), more than was committed or fits in the region"
        case let .badRecordKind(position, kind):
            return "the record at position \(position) has kind \(kind): neither 1 (message) nor 2 (padding)"
        case let .misplacedPadding(position):
            return "the padding record at position \(position) is misplaced (it must reach the end of the region, be followed by a committed message, and not follow padding)"
        case .positionsUnstable:
            return "consumerPosition changed on every one of many reads: a peer is rewriting it"
        case let .badReaderTable(slots):
            return "the header claims \(slots) reader slots: none, or more than its reader table has room for"
        case let .badReaderSlot(slot, state):
            return "reader slot \(slot) has state \(state): neither 0 (free) nor 1 (active)"
        case let .badReaderCursor(slot, cursor):
            return "reader slot \(slot) has cursor \(cursor): not a multiple of 8, or ahead of producerPosition"
        case let .badRecordIndex(position, index, expected):
            return "the message at position \(position) has index \(index), the reader expected \(expected)"
        case let .badProducerTable(slots):
            return "the header claims \(slots) producer slots: none, more than 16, or producers with overwrite-oldest"
        case let .badProducerSlot(slot, state):
            return "producer slot \(slot) holds state \(state), which no producer writes"
        case let .badClaimPosition(position):
            return "claimPosition \(position) is misaligned, behind producerPosition or more than the capacity past the tail"
        case let .badClaim(position):
            return "the claim at position \(position) has no producer, or its records or control word do not parse"
        case let .badItemType(why):
            return "bad item type: \(why)"
        }
    }
}

extension UnsupportedReason: CustomStringConvertible {
    /// The reason in plain words.
    public var description: String {
        switch self {
        case let .majorVersion(major, minor): return "the file is format \(major).\(minor)"
        case let .incompatibleFlags(flags): return "the file uses incompatible features 0x\(String(flags, radix: 16)) unknown here"
        case let .policy(value): return "unknown policy \(value)"
        case let .featureCombination(flags):
            return "the file combines features 0x\(String(flags, radix: 16)) that format 1.1 does not define together (a typed ring with a reader or producer table, SPEC.md §19.1)"
        }
    }
}
