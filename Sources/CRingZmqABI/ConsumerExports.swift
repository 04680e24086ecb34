// ConsumerExports.swift - ring_zmq_consumer_*, ring_zmq_get*, ring_zmq_pending and
// ring_zmq_last_drop of ringformat_zmq.h over RingZmq's ZmqConsumer.

import CRingZmqHeader
import RingFormat
import RingZmq

/// The handle behind a C consumer pointer, or nil.
private func consumer(_ pointer: OpaquePointer?) -> ConsumerHandle? {
    pointer.map { ConsumerHandle.borrow($0) }
}

private let nullConsumer: StaticString = "consumer is NULL"

/// ring_zmq_consumer_open
@_cdecl("ring_zmq_consumer_open")
public func zmqConsumerOpen(_ endpoint: UnsafePointer<CChar>?, _ topology: ring_zmq_topology_t,
                            _ options: UnsafePointer<ring_zmq_options_t>?,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    openHandle(endpoint, topology, options, out) { (e, t, o) throws(RingError) in
        try ZmqConsumer(endpoint: e, topology: t, options: o)
    }
}

/// ring_zmq_get: the next message, or BUFFER_TOO_SMALL with its size (it stays).
@_cdecl("ring_zmq_get")
public func zmqGet(_ pointer: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
                   _ size: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    guard let buffer, let size else { return fail(invalidArgument, static: "buffer or size is NULL") }
    var tooSmall = false
    let rc = handle.runSliced(timeout: timeout, expired: .empty) { (c, slice) throws(RingError) in
        let next = try c.nextSize(timeout: slice)
        size.pointee = next
        tooSmall = c.take(into: buffer, capacity: capacity) == nil
    }
    if rc == ok && tooSmall { return fail(bufferTooSmall, static: "the buffer is smaller than the next message: *size is its length, and it stays") }
    return rc
}

/// ring_zmq_get_many: up to max_count messages back to back in the buffer.
@_cdecl("ring_zmq_get_many")
public func zmqGetMany(_ pointer: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
                       _ sizes: UnsafeMutablePointer<Int>?, _ maxCount: Int, _ countOut: UnsafeMutablePointer<Int>?,
                       _ timeout: Int64) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    guard let buffer, let sizes, let countOut else { return fail(invalidArgument, static: "buffer, sizes or count is NULL") }
    countOut.pointee = 0
    if maxCount == 0 { return ok }
    var tooSmall = false
    let rc = handle.runSliced(timeout: timeout, expired: .empty) { (c, slice) throws(RingError) in
        let first = try c.nextSize(timeout: slice)
        guard first <= capacity else { sizes[0] = first; tooSmall = true; return }
        var n = 0, offset = 0
        while n < maxCount {
            // Only what has arrived: a frame already received, or one that is there now.
            do throws(RingError) { _ = try c.nextSize(timeout: .zero) } catch {
                if case .empty = error { break }
                if case .endOfStream = error { break }
                throw error
            }
            guard let taken = c.take(into: buffer + offset, capacity: capacity - offset) else { break }
            sizes[n] = taken
            offset += taken
            n += 1
        }
        countOut.pointee = n
    }
    if rc == ok && tooSmall { return fail(bufferTooSmall, static: "the buffer is smaller than the next message: sizes[0] is its length, and it stays") }
    return rc
}

/// ring_zmq_pending
@_cdecl("ring_zmq_pending")
public func zmqPending(_ pointer: OpaquePointer?, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    guard let count else { return fail(invalidArgument, static: "count is NULL") }
    return handle.run { c in count.pointee = c.pendingCount }
}

/// ring_zmq_consumer_counters
@_cdecl("ring_zmq_consumer_counters")
public func zmqConsumerCounters(_ pointer: OpaquePointer?, _ out: UnsafeMutablePointer<ring_zmq_counters_t>?) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    guard let out else { return fail(invalidArgument, static: "out is NULL") }
    out.pointee = cCounters(handle.counters())
    return ok
}

/// ring_zmq_last_drop
@_cdecl("ring_zmq_last_drop")
public func zmqLastDrop(_ pointer: OpaquePointer?, _ text: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    guard let text else { return fail(invalidArgument, static: "text is NULL") }
    var reason = ""
    let rc = handle.run { c in reason = c.lastDrop.map { "\($0)" } ?? "" }
    guard rc == ok else { return rc }
    return copyOut(reason, text, capacity, nil)
}

/// ring_zmq_consumer_endpoint
@_cdecl("ring_zmq_consumer_endpoint")
public func zmqConsumerEndpoint(_ pointer: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    return endpointOut(handle, buffer, capacity, length)
}

/// ring_zmq_consumer_close
@_cdecl("ring_zmq_consumer_close")
public func zmqConsumerClose(_ pointer: OpaquePointer?) -> Int32 {
    guard let handle = consumer(pointer) else { return fail(invalidArgument, static: nullConsumer) }
    handle.close()
    return ok
}

/// ring_zmq_consumer_free
@_cdecl("ring_zmq_consumer_free")
public func zmqConsumerFree(_ pointer: OpaquePointer?) {
    ConsumerHandle.free(pointer)
}
