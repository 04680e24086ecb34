// ProducerExports.swift - ring_zmq_producer_* and ring_zmq_put* of ringformat_zmq.h over
// RingZmq's ZmqProducer.

import CRingZmqHeader
import RingFormat
import RingZmq

/// The handle behind a C producer pointer, or nil (then the caller returns INVALID_ARGUMENT).
private func producer(_ pointer: OpaquePointer?) -> ProducerHandle? {
    pointer.map { ProducerHandle.borrow($0) }
}

private let nullProducer: StaticString = "producer is NULL"

/// ring_zmq_producer_open
@_cdecl("ring_zmq_producer_open")
public func zmqProducerOpen(_ endpoint: UnsafePointer<CChar>?, _ topology: ring_zmq_topology_t,
                            _ options: UnsafePointer<ring_zmq_options_t>?,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    openHandle(endpoint, topology, options, out) { (e, t, o) throws(RingError) in
        try ZmqProducer(endpoint: e, topology: t, options: o)
    }
}

/// ring_zmq_put
@_cdecl("ring_zmq_put")
public func zmqPut(_ pointer: OpaquePointer?, _ data: UnsafeRawPointer?, _ size: Int, _ timeout: Int64) -> Int32 {
    guard let handle = producer(pointer) else { return fail(invalidArgument, static: nullProducer) }
    guard data != nil || size == 0 else { return fail(invalidArgument, static: "data is NULL") }
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    return handle.runSliced(timeout: timeout, expired: .full) { (p, slice) throws(RingError) in
        try p.put(bytes, timeout: slice)
    }
}

/// ring_zmq_put_packed
@_cdecl("ring_zmq_put_packed")
public func zmqPutPacked(_ pointer: OpaquePointer?, _ messages: UnsafePointer<UnsafeRawPointer?>?,
                         _ sizes: UnsafePointer<Int>?, _ count: Int, _ timeout: Int64,
                         _ sentOut: UnsafeMutablePointer<Int>?) -> Int32 {
    sentOut?.pointee = 0
    guard let handle = producer(pointer) else { return fail(invalidArgument, static: nullProducer) }
    guard count == 0 || (messages != nil && sizes != nil) else { return fail(invalidArgument, static: "messages or sizes is NULL") }
    var buffers: [UnsafeRawBufferPointer] = []
    buffers.reserveCapacity(count)
    for k in 0..<count {
        let m = messages![k], n = sizes![k]
        guard m != nil || n == 0 else { return fail(invalidArgument, static: "a message pointer is NULL") }
        buffers.append(UnsafeRawBufferPointer(start: m, count: n))
    }
    var sent = 0
    let rc = handle.runSliced(timeout: timeout, expired: .full) { (p, slice) throws(RingError) in
        guard sent < buffers.count else { return }
        sent += try p.put(batch: buffers[sent...], timeout: slice)
        if sent < buffers.count { throw .full }
    }
    sentOut?.pointee = sent
    return rc
}

/// ring_zmq_producer_close_writer
@_cdecl("ring_zmq_producer_close_writer")
public func zmqProducerCloseWriter(_ pointer: OpaquePointer?, _ endFrames: UInt32, _ timeout: Int64) -> Int32 {
    guard let handle = producer(pointer) else { return fail(invalidArgument, static: nullProducer) }
    return handle.run { (p) throws(RingError) in
        try p.closeWriter(endFrames: Int(endFrames), timeout: timeout < 0 ? nil : .nanoseconds(timeout))
    }
}

/// ring_zmq_producer_counters
@_cdecl("ring_zmq_producer_counters")
public func zmqProducerCounters(_ pointer: OpaquePointer?, _ out: UnsafeMutablePointer<ring_zmq_counters_t>?) -> Int32 {
    guard let handle = producer(pointer) else { return fail(invalidArgument, static: nullProducer) }
    guard let out else { return fail(invalidArgument, static: "out is NULL") }
    out.pointee = cCounters(handle.counters())
    return ok
}

/// ring_zmq_producer_endpoint
@_cdecl("ring_zmq_producer_endpoint")
public func zmqProducerEndpoint(_ pointer: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let handle = producer(pointer) else { return fail(invalidArgument, static: nullProducer) }
    return endpointOut(handle, buffer, capacity, length)
}

/// ring_zmq_producer_close
@_cdecl("ring_zmq_producer_close")
public func zmqProducerClose(_ pointer: OpaquePointer?) -> Int32 {
    guard let handle = producer(pointer) else { return fail(invalidArgument, static: nullProducer) }
    handle.close()
    return ok
}

/// ring_zmq_producer_free
@_cdecl("ring_zmq_producer_free")
public func zmqProducerFree(_ pointer: OpaquePointer?) {
    ProducerHandle.free(pointer)
}

/// Counters in the C struct.
func cCounters(_ c: ZmqCounters) -> ring_zmq_counters_t {
    ring_zmq_counters_t(frames_sent: c.framesSent, messages_sent: c.messagesSent, bytes_sent: c.bytesSent,
                        frames_received: c.framesReceived, messages_received: c.messagesReceived,
                        bytes_received: c.bytesReceived, frames_dropped: c.framesDropped,
                        frames_ignored: c.framesIgnored, end_frames_received: c.endFramesReceived,
                        sequence_breaks: c.sequenceBreaks)
}

/// *_endpoint of either side: the endpoint into the caller's buffer.
func endpointOut<Object>(_ handle: ZmqHandle<Object>, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                         _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let buffer else { return fail(invalidArgument, static: "buffer is NULL") }
    if handle.isInherited { return fail(.forked) }
    guard let endpoint = handle.endpoint() else { return fail(.closed) }
    return copyOut(endpoint, buffer, capacity, length)
}
