// ProducerExports.swift - the producer functions of ringformat.h.

import CRingFormatHeader
import RingFormat

/// Runs `body` on the open producer behind `pointer`, holding its lock.
func withProducer(_ pointer: OpaquePointer?, allowReservation: Bool = false,
                  _ body: (RingProducer, ProducerHandle) throws(RingError) -> Void) -> Int32 {
    guard let pointer else { return fail(Code.invalidArgument, "producer handle is NULL") }
    let handle = ProducerHandle.from(pointer)
    return handle.locked {
        guard let producer = handle.object, !producer.isClosed else { return fail(.closed) }
        if handle.busy && !allowReservation { return fail(.busy(.producer)) }
        return call { () throws(RingError) in try body(producer, handle) }
    }
}

/// `len` bytes at `data` as a buffer; nil data is allowed only for len 0.
func message(_ data: UnsafeRawPointer?, _ len: Int) -> UnsafeRawBufferPointer? {
    if len == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let data, len > 0 else { return nil }
    return UnsafeRawBufferPointer(start: data, count: len)
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
    guard let bytes = message(data, len) else { return fail(Code.invalidArgument, "data is NULL") }
    return withProducer(pointer) { (p, _) throws(RingError) in try p.write(bytes) }
}

/// ring_write_timeout
@_cdecl("ring_write_timeout")
public func abiWriteTimeout(_ pointer: OpaquePointer?, _ data: UnsafeRawPointer?, _ len: Int, _ timeout: Int64) -> Int32 {
    guard let bytes = message(data, len) else { return fail(Code.invalidArgument, "data is NULL") }
    return withProducer(pointer) { (p, _) throws(RingError) in try p.write(bytes, timeout: duration(timeout)) }
}

/// ring_write_batch
@_cdecl("ring_write_batch")
public func abiWriteBatch(_ pointer: OpaquePointer?, _ messages: UnsafePointer<ring_message_t>?, _ count: Int,
                          _ written: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let written else { return fail(Code.invalidArgument, "written is NULL") }
    written.pointee = 0
    guard count >= 0, count == 0 || messages != nil else { return fail(Code.invalidArgument, "messages is NULL") }
    guard count > 0, let messages else { return withProducer(pointer) { (_, _) throws(RingError) in } }
    for i in 0..<count where message(messages[i].data, messages[i].len) == nil {
        return fail(Code.invalidArgument, "messages[\(i)].data is NULL")
    }
    return withProducer(pointer) { (p, _) throws(RingError) in
        written.pointee = try p.write(batchCount: count) { i in message(messages[i].data, messages[i].len)! }
    }
}

/// ring_reserve
@_cdecl("ring_reserve")
public func abiReserve(_ pointer: OpaquePointer?, _ size: Int, _ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let buffer else { return fail(Code.invalidArgument, "buffer is NULL") }
    buffer.pointee = nil
    return withProducer(pointer) { (p, handle) throws(RingError) in
        guard let reserved = try p.reserve(size: size) else { throw .full }
        // A zero-byte reservation has no address of its own: point at the record's place.
        buffer.pointee = reserved.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 8)
        handle.busy = true
    }
}

/// ring_commit
@_cdecl("ring_commit")
public func abiCommit(_ pointer: OpaquePointer?, _ len: Int) -> Int32 {
    var open = true
    let rc = withProducer(pointer, allowReservation: true) { (p, handle) throws(RingError) in
        open = handle.busy
        guard handle.busy else { return }
        try p.commitReservation(length: len)
        handle.busy = false
    }
    if rc == Code.ok && !open { return fail(Code.invalidArgument, "no reservation is open") }
    return rc
}

/// ring_abort
@_cdecl("ring_abort")
public func abiAbort(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer, allowReservation: true) { (p, handle) throws(RingError) in
        p.abortReservation()
        handle.busy = false
    }
}

/// ring_producer_close_writer
@_cdecl("ring_producer_close_writer")
public func abiProducerCloseWriter(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer, allowReservation: true) { (p, handle) throws(RingError) in
        p.closeWriter()
        handle.busy = false
    }
}

/// ring_producer_flush
@_cdecl("ring_producer_flush")
public func abiProducerFlush(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer, allowReservation: true) { (p, _) throws(RingError) in try p.flush() }
}

/// ring_producer_close
@_cdecl("ring_producer_close")
public func abiProducerClose(_ pointer: OpaquePointer?) -> Int32 {
    guard let pointer else { return fail(Code.invalidArgument, "producer handle is NULL") }
    let handle = ProducerHandle.from(pointer)
    handle.locked {
        handle.object?.close()
        handle.object = nil
        handle.busy = false
    }
    return Code.ok
}

/// ring_producer_free
@_cdecl("ring_producer_free")
public func abiProducerFree(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    _ = abiProducerClose(pointer)
    ProducerHandle.release(pointer)
}
