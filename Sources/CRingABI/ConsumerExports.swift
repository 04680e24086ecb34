// ConsumerExports.swift - the consumer functions of ringformat.h.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRingFormatHeader
import RingFormat

/// Runs `body` on the open consumer behind `pointer`, holding its lock. The
/// consumer itself refuses what an open view does not allow (SPEC.md §8.2.1).
@inline(__always)
func withConsumer(_ pointer: OpaquePointer?, _ body: (RingConsumer) throws(RingError) -> Void) -> Int32 {
    ConsumerHandle.run(pointer, nullMessage: "consumer handle is NULL", body)
}

/// Tries `attempt` until it returns true, sleeping on the ring between tries,
/// until `timeout` (nanoseconds; negative: no limit) passes: then `.empty`.
/// A zero timeout tries once and never reads the clock.
@inline(__always)
func untilReady(_ consumer: RingConsumer, _ timeout: Int64, _ attempt: () throws(RingError) -> Bool) throws(RingError) {
    if try attempt() { return }
    if timeout == 0 { throw .empty }
    let deadline = timeout < 0 ? nil : SystemCalls.monotonicNanoseconds() &+ UInt64(timeout)
    while true {
        var left: Duration? = nil
        if let deadline {
            let now = SystemCalls.monotonicNanoseconds()
            if now >= deadline { throw .empty }
            left = .nanoseconds(Int64(deadline - now))
        }
        _ = try consumer.waitForMessage(timeout: left)
        if try attempt() { return }
    }
}

/// Packs messages one after another into a caller's buffer, recording their
/// lengths; a pass that starts again (a batch retried under overwrite-oldest)
/// starts the buffer again.
struct Packer: RecordVisitor {
    let buf: UnsafeMutableRawPointer?
    let capacity: Int
    let lengths: UnsafeMutablePointer<Int>
    var offset = 0
    /// The size of a first message that did not fit, or -1.
    var needed = -1

    init(buf: UnsafeMutableRawPointer?, capacity: Int, lengths: UnsafeMutablePointer<Int>) {
        self.buf = buf
        self.capacity = capacity
        self.lengths = lengths
    }

    mutating func restart() {
        offset = 0
        needed = -1
    }

    /// Copies message `index`; false (and nothing copied) if it does not fit.
    mutating func visit(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= capacity - offset else {
            if index == 0 { needed = bytes.count }
            return false
        }
        if bytes.count > 0 { (buf! + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        lengths[index] = bytes.count
        offset += bytes.count
        return true
    }
}

/// Checks the arguments of ring_read_batch and ring_peek_batch, runs `visitBatch`
/// (which shows messages to a Packer and returns how many it took) on the consumer, and
/// reports BUFFER_TOO_SMALL, with the size needed in lengths[0], when the first
/// message alone does not fit in `buf`.
@inline(__always)
func packBatch(_ pointer: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ capacity: Int,
               _ lengths: UnsafeMutablePointer<Int>?, _ maxCount: Int, _ count: UnsafeMutablePointer<Int>?,
               _ visitBatch: (RingConsumer, inout Packer) throws(RingError) -> Int) -> Int32 {
    guard let lengths, let count else { return fail(Code.invalidArgument, static: "lengths and count must not be NULL") }
    count.pointee = 0
    guard maxCount > 0 else { return fail(Code.invalidArgument, static: "max_count must be at least 1") }
    guard capacity >= 0, capacity == 0 || buf != nil else { return fail(Code.invalidArgument, static: "buf is NULL") }
    var needed = -1
    let rc = withConsumer(pointer) { (c) throws(RingError) in
        var packer = Packer(buf: buf, capacity: capacity, lengths: lengths)
        count.pointee = try visitBatch(c, &packer)
        needed = packer.needed
    }
    if rc == Code.ok && needed >= 0 && count.pointee == 0 {
        lengths[0] = needed
        return fail(Code.bufferTooSmall, static: "the caller's buffer is smaller than the next message (its size is in len or lengths[0])")
    }
    return rc
}

/// ring_consumer_open
@_cdecl("ring_consumer_open")
public func abiConsumerOpen(_ ring: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, "out is NULL") }
    out.pointee = nil
    return withRing(ring) { (ring) throws(RingError) in
        out.pointee = ConsumerHandle(try ring.makeConsumer()).retainedPointer()
    }
}

/// ring_read
@_cdecl("ring_read")
public func abiRead(_ pointer: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ capacity: Int,
                    _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    abiReadTimeout(pointer, buf, capacity, len, 0)
}

/// ring_read_timeout
@_cdecl("ring_read_timeout")
public func abiReadTimeout(_ pointer: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ capacity: Int,
                           _ len: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    // Checked before anything is read: a message consumed into a call that then fails is lost.
    guard let len else { return fail(Code.invalidArgument, static: "len is NULL") }
    var count = 0
    return abiReadBatch(pointer, buf, capacity, len, 1, &count, timeout)
}

/// ring_read_batch
@_cdecl("ring_read_batch")
public func abiReadBatch(_ pointer: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ capacity: Int,
                         _ lengths: UnsafeMutablePointer<Int>?, _ maxCount: Int,
                         _ count: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    packBatch(pointer, buf, capacity, lengths, maxCount, count) { (c, packer) throws(RingError) -> Int in
        var n = 0
        try untilReady(c, timeout) { () throws(RingError) -> Bool in
            n = try c.consumeBatch(maxCount: maxCount, &packer)
            return n > 0 || packer.needed >= 0
        }
        return n
    }
}

/// ring_peek_batch
@_cdecl("ring_peek_batch")
public func abiPeekBatch(_ pointer: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ capacity: Int,
                         _ lengths: UnsafeMutablePointer<Int>?, _ maxCount: Int,
                         _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    packBatch(pointer, buf, capacity, lengths, maxCount, count) { (c, packer) throws(RingError) -> Int in
        try c.visitUnread(maxCount: maxCount, &packer)
    }
}

/// ring_consume
@_cdecl("ring_consume")
public func abiConsume(_ pointer: OpaquePointer?, _ visit: ring_visit_fn?, _ context: UnsafeMutableRawPointer?,
                       _ maxCount: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let visit, let count else { return fail(Code.invalidArgument, static: "visit and count must not be NULL") }
    count.pointee = 0
    guard maxCount > 0 else { return fail(Code.invalidArgument, static: "max_count must be at least 1") }
    return withConsumer(pointer) { (c) throws(RingError) in
        var visitor = CVisitor(visit: visit, context: context)
        let n = try c.consumeBatch(maxCount: maxCount, &visitor)
        // Zero messages is EMPTY unless the visitor itself declined the first one.
        guard n > 0 || visitor.stopped else { throw .empty }
        count.pointee = n
    }
}

/// ring_consume's C visitor. A new pass shows index 0 again (ringformat.h says
/// so); only the first *count messages of the last pass are consumed.
struct CVisitor: RecordVisitor {
    let visit: ring_visit_fn
    let context: UnsafeMutableRawPointer?
    /// The visitor declined a message of this pass.
    var stopped = false

    mutating func restart() { stopped = false }

    mutating func visit(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        stopped = visit(context, index, bytes.baseAddress, bytes.count) != 0
        return !stopped
    }
}

/// ring_peek
@_cdecl("ring_peek")
public func abiPeek(_ pointer: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafeRawPointer?>?,
                    _ len: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    guard let data, let len else { return fail(Code.invalidArgument, "data and len must not be NULL") }
    data.pointee = nil
    len.pointee = 0
    return withConsumer(pointer) { (c) throws(RingError) in
        try untilReady(c, timeout) { () throws(RingError) -> Bool in
            guard let view = try c.peek() else { return false }
            data.pointee = view.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(bitPattern: 8)
            len.pointee = view.count
            return true
        }
    }
}

/// ring_release
@_cdecl("ring_release")
public func abiRelease(_ pointer: OpaquePointer?) -> Int32 {
    var result = Code.ok
    let rc = withConsumer(pointer) { (c) throws(RingError) in
        guard c.hasOpenView else { result = Code.invalidArgument; return }
        if !(try c.release()) { result = Code.overwritten }
    }
    if rc != Code.ok { return rc }
    if result == Code.invalidArgument { return fail(result, "no peek is open") }
    if result == Code.overwritten { return fail(result, "the record was overwritten while held") }
    return Code.ok
}

/// ring_release_cancel
@_cdecl("ring_release_cancel")
public func abiReleaseCancel(_ pointer: OpaquePointer?) -> Int32 {
    withConsumer(pointer) { (c) throws(RingError) in c.cancelPeek() }
}

/// ring_wait
@_cdecl("ring_wait")
public func abiWait(_ pointer: OpaquePointer?, _ timeout: Int64) -> Int32 {
    withConsumer(pointer) { (c) throws(RingError) in
        guard try c.waitForMessage(timeout: duration(timeout)) else { throw .empty }
    }
}

/// ring_consumer_flush
@_cdecl("ring_consumer_flush")
public func abiConsumerFlush(_ pointer: OpaquePointer?) -> Int32 {
    withConsumer(pointer) { (c) throws(RingError) in try c.flush() }
}

/// ring_consumer_close
@_cdecl("ring_consumer_close")
public func abiConsumerClose(_ pointer: OpaquePointer?) -> Int32 {
    ConsumerHandle.close(pointer, nullMessage: "consumer handle is NULL")
}

/// ring_consumer_free
@_cdecl("ring_consumer_free")
public func abiConsumerFree(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    _ = abiConsumerClose(pointer)
    ConsumerHandle.release(pointer)
}
