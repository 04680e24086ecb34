// ZmqErrors.swift - a RingError as the ring_error_t code of ringformat.h (SPEC.md §15),
// with the per-thread detail ring_zmq_last_error_message() reports.

import CRingSys
import RingFormat
import RingZmq

/// RING_OK.
let ok: Int32 = 0
/// RING_ERR_BUFFER_TOO_SMALL, the one code that is not a RingError (C only, SPEC.md §15).
let bufferTooSmall: Int32 = -10
/// RING_ERR_INVALID_ARGUMENT, for a NULL pointer or a value out of range.
let invalidArgument: Int32 = RingError.invalidArgument("").code

/// Records `error` as this thread's last error and returns its code; SYSTEM errors are
/// described with libzmq's words for its own error numbers.
func fail(_ error: RingError) -> Int32 {
    if case .system = error { return error.recordAsLastError(describedAs: error.zmqDescription) }
    return error.recordAsLastError()
}

/// Records a binding-level failure (`code`, static text) and returns the code.
func fail(_ code: Int32, static message: StaticString) -> Int32 {
    ringsys_set_last_error_static(0, message.cString)
    return code
}

/// Runs a call that may throw a RingError and returns RING_OK or its code.
func call(_ body: () throws(RingError) -> Void) -> Int32 {
    do throws(RingError) {
        try body()
        return ok
    } catch {
        return fail(error)
    }
}

/// Copies `text` NUL-terminated into `buffer` of `capacity` bytes, as much as fits;
/// `length` gets its full length. RING_OK, or BUFFER_TOO_SMALL if it was cut.
func copyOut(_ text: String, _ buffer: UnsafeMutablePointer<CChar>, _ capacity: Int,
             _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    var utf8 = Array(text.utf8)
    length?.pointee = utf8.count
    let fits = utf8.count < capacity
    if capacity == 0 { return fail(bufferTooSmall, static: "the buffer has no room for the text") }
    if !fits { utf8 = Array(utf8.prefix(capacity - 1)) }
    utf8.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    buffer[utf8.count] = 0
    return fits ? ok : fail(bufferTooSmall, static: "the buffer is too small for the text: it was cut to fit")
}
