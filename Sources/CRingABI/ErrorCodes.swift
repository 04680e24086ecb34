// ErrorCodes.swift - RingError to the ring_error_t codes of ringformat.h
// (SPEC.md §15), with the per-thread detail ring_last_error_message() reports.

import CRingSys
import CRingFormatHeader
import RingFormat

/// The C codes, from the public header.
enum Code {
    static let ok = Int32(RING_OK.rawValue)
    static let full = Int32(RING_ERR_FULL.rawValue)
    static let empty = Int32(RING_ERR_EMPTY.rawValue)
    static let invalidSize = Int32(RING_ERR_INVALID_SIZE.rawValue)
    static let closed = Int32(RING_ERR_CLOSED.rawValue)
    static let endOfStream = Int32(RING_ERR_END_OF_STREAM.rawValue)
    static let corrupt = Int32(RING_ERR_CORRUPT.rawValue)
    static let unsupportedVersion = Int32(RING_ERR_UNSUPPORTED_VERSION.rawValue)
    static let busy = Int32(RING_ERR_BUSY.rawValue)
    static let system = Int32(RING_ERR_SYSTEM.rawValue)
    static let bufferTooSmall = Int32(RING_ERR_BUFFER_TOO_SMALL.rawValue)
    static let invalidArgument = Int32(RING_ERR_INVALID_ARGUMENT.rawValue)
    static let overwritten = Int32(RING_ERR_OVERWRITTEN.rawValue)
    static let forked = Int32(RING_ERR_FORKED.rawValue)
    static let producerGone = Int32(RING_ERR_PRODUCER_GONE.rawValue)
}

/// Records `error` as this thread's last error and returns its code.
func fail(_ error: RingError) -> Int32 {
    error.recordAsLastError()
}

/// Records a binding-level failure with a message of static text and returns the code.
func fail(_ code: Int32, static message: StaticString) -> Int32 {
    ringsys_set_last_error_static(0, message.cString)
    return code
}

/// Records a binding-level failure (`code` with a message) and returns the code.
func fail(_ code: Int32, _ message: String) -> Int32 {
    message.withCString { ringsys_set_last_error(0, $0) }
    return code
}

/// Runs a call that may throw a RingError and returns RING_OK or its code.
@inline(__always)
func call(_ body: () throws(RingError) -> Void) -> Int32 {
    do {
        try body()
        return Code.ok
    } catch {
        return fail(error)
    }
}

/// The static text of each code.
func errorText(_ code: Int32) -> StaticString {
    switch code {
    case Code.ok: return "success"
    case Code.full: return "ring is full"
    case Code.empty: return "ring is empty"
    case Code.invalidSize: return "invalid size"
    case Code.closed: return "handle is closed"
    case Code.endOfStream: return "end of stream"
    case Code.corrupt: return "corrupt ring file"
    case Code.unsupportedVersion: return "unsupported ring format version or feature"
    case Code.busy: return "role or operation busy"
    case Code.system: return "system call failed"
    case Code.bufferTooSmall: return "buffer too small"
    case Code.invalidArgument: return "invalid argument"
    case Code.overwritten: return "record was overwritten while held"
    case Code.forked: return "handle belongs to another process (inherited across fork)"
    case Code.producerGone: return "producer gone: the ring is drained and no live producer will write more"
    default: return "unknown error code"
    }
}
