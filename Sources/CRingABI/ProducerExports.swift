// ProducerExports.swift - the producer functions of ringformat.h.

import CRingFormatHeader
import RingFormat

/// Runs `body` on the open producer behind `pointer`, holding its lock. The
/// producer itself refuses what an open reservation does not allow.
@inline(__always)
func withProducer(_ pointer: OpaquePointer?, _ body: (RingProducer) throws(RingError) -> Void) -> Int32 {
    ProducerHandle.run(pointer, nullMessage: "producer handle is NULL", body)
}

/// Records and returns the error that makes `len` bytes at `data` no message, or
/// returns nil if they are one: a size_t length over SIZE_MAX / 2 (a negative length
/// cast to size_t, say) is INVALID_SIZE, NULL data with a non-zero length INVALID_ARGUMENT.
func messageProblem(_ data: UnsafeRawPointer?, _ len: Int) -> Int32? {
    if len < 0 { return fail(Code.invalidSize, static: "len is over SIZE_MAX / 2: larger than any message") }
    if len > 0 && data == nil { return fail(Code.invalidArgument, static: "data is NULL") }
    return nil
}

/// `len` bytes at `data` as a buffer, once messageProblem found none.
@inline(__always)
func message(_ data: UnsafeRawPointer?, _ len: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: len == 0 ? nil : data, count: len)
}

/// ring_producer_open
@_cdecl("ring_producer_open")
public func abiProducerOpen(_ ring: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, "out is NULL") }
    out.pointee = nil
    return withRing(ring) { (ring) throws(RingError) in
        out.pointee = ProducerHandle(try ring.makeProducer()).retainedPointer()
    }
}

/// ring_write
@_cdecl("ring_write")
public func abiWrite(_ pointer: OpaquePointer?, _ data: UnsafeRawPointer?, _ len: Int) -> Int32 {
    if let problem = messageProblem(data, len) { return problem }
    let bytes = message(data, len)
    return withProducer(pointer) { (p) throws(RingError) in try p.write(bytes) }
}

/// ring_write_timeout
@_cdecl("ring_write_timeout")
public func abiWriteTimeout(_ pointer: OpaquePointer?, _ data: UnsafeRawPointer?, _ len: Int, _ timeout: Int64) -> Int32 {
    if let problem = messageProblem(data, len) { return problem }
    let bytes = message(data, len)
    return withProducer(pointer) { (p) throws(RingError) in try p.write(bytes, timeout: duration(timeout)) }
}

/// ring_write_batch
@_cdecl("ring_write_batch")
public func abiWriteBatch(_ pointer: OpaquePointer?, _ messages: UnsafePointer<ring_message_t>?, _ count: Int,
                          _ written: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let written else { return fail(Code.invalidArgument, "written is NULL") }
    written.pointee = 0
    guard count >= 0, count == 0 || messages != nil else { return fail(Code.invalidArgument, "messages is NULL") }
    guard count > 0, let messages else { return withProducer(pointer) { (_) throws(RingError) in } }
    for i in 0..<count {
        if let problem = messageProblem(messages[i].data, messages[i].len) {
            let what = problem == Code.invalidSize ? "is over SIZE_MAX / 2" : "has NULL data"
            return fail(problem, "messages[\(i)] \(what)")
        }
    }
    return withProducer(pointer) { (p) throws(RingError) in
        written.pointee = try p.write(batchCount: count) { i in message(messages[i].data, messages[i].len) }
    }
}

/// ring_reserve
@_cdecl("ring_reserve")
public func abiReserve(_ pointer: OpaquePointer?, _ size: Int, _ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let buffer else { return fail(Code.invalidArgument, "buffer is NULL") }
    buffer.pointee = nil
    return withProducer(pointer) { (p) throws(RingError) in
        guard let reserved = try p.reserve(size: size) else { throw .full }
        // A zero-byte reservation has no address of its own: point at the record's place.
        buffer.pointee = reserved.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 8)
    }
}

/// ring_commit
@_cdecl("ring_commit")
public func abiCommit(_ pointer: OpaquePointer?, _ len: Int) -> Int32 {
    var open = true
    let rc = withProducer(pointer) { (p) throws(RingError) in
        open = p.hasOpenReservation
        guard open else { return }
        try p.commitReservation(length: len)
    }
    if rc == Code.ok && !open { return fail(Code.invalidArgument, "no reservation is open") }
    return rc
}

/// ring_abort
@_cdecl("ring_abort")
public func abiAbort(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer) { (p) throws(RingError) in p.abortReservation() }
}

/// ring_producer_close_writer
@_cdecl("ring_producer_close_writer")
public func abiProducerCloseWriter(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer) { (p) throws(RingError) in p.closeWriter() }
}

/// ring_producer_flush
@_cdecl("ring_producer_flush")
public func abiProducerFlush(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer) { (p) throws(RingError) in try p.flush() }
}

/// ring_producer_close
@_cdecl("ring_producer_close")
public func abiProducerClose(_ pointer: OpaquePointer?) -> Int32 {
    ProducerHandle.close(pointer, nullMessage: "producer handle is NULL")
}

/// ring_producer_free
@_cdecl("ring_producer_free")
public func abiProducerFree(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    _ = abiProducerClose(pointer)
    ProducerHandle.release(pointer)
}
