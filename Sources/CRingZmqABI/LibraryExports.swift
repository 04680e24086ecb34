// LibraryExports.swift - ring_zmq_version, the last error, the options' defaults and the
// topology rule of ringformat_zmq.h, and the conversion of ring_zmq_options_t.

import CRingSys
import CRingZmqHeader
import RingFormat
import RingZmq

/// ring_zmq_version
@_cdecl("ring_zmq_version")
public func zmqVersion() -> UnsafePointer<CChar> { ringsys_version() }

/// ring_zmq_last_error_message
@_cdecl("ring_zmq_last_error_message")
public func zmqLastErrorMessage() -> UnsafePointer<CChar> { ringsys_last_error_message() }

/// ring_zmq_last_errno
@_cdecl("ring_zmq_last_errno")
public func zmqLastErrno() -> Int32 { ringsys_last_errno() }

/// ring_zmq_options_init: ZmqOptions' defaults in the C struct.
@_cdecl("ring_zmq_options_init")
public func zmqOptionsInit(_ options: UnsafeMutablePointer<ring_zmq_options_t>?) {
    guard let options else { return }
    // Each field from ZmqOptions' default, in the C form zmqOptions(_:) reads back.
    let d = ZmqOptions()
    let linger = d.linger.map { $0.components.seconds * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000 }
    options.pointee = ring_zmq_options_t(
        struct_size: MemoryLayout<ring_zmq_options_t>.size, send_hwm: d.sendHighWaterMark,
        receive_hwm: d.receiveHighWaterMark, kernel_buffer_bytes: d.kernelBufferBytes ?? 0,
        bind: d.bind.map { $0 ? 1 : 0 } ?? RING_ZMQ_BIND_AUTO, linger_ns: linger ?? -1,
        max_messages_per_frame: UInt32(d.maxMessagesPerFrame), max_frame_bytes: UInt32(d.maxFrameBytes),
        max_message_size: UInt64(d.maxMessageSize), producers: UInt32(d.producers), reserved: 0,
        max_receive_frame_bytes: d.maxReceiveFrameBytes.map(Int64.init) ?? -1, stream_id: d.streamId ?? 0)
}

/// ring_zmq_should_producer_bind
@_cdecl("ring_zmq_should_producer_bind")
public func zmqShouldProducerBind(_ topology: ring_zmq_topology_t) -> Int32 {
    guard let t = ZmqTopology(c: topology) else { return fail(invalidArgument, static: "topology must be RING_ZMQ_SPSC, RING_ZMQ_MPSC or RING_ZMQ_SPMC") }
    return t.producerBinds ? 1 : 0
}

extension ZmqTopology {
    /// The topology of a C value, nil for another number.
    init?(c: ring_zmq_topology_t) {
        switch c {
        case RING_ZMQ_SPSC: self = .spsc
        case RING_ZMQ_MPSC: self = .mpsc
        case RING_ZMQ_SPMC: self = .spmc
        default: return nil
        }
    }
}

/// The ZmqOptions of a C options struct (NULL: the defaults).
/// - Throws: INVALID_ARGUMENT naming the field out of range.
func zmqOptions(_ pointer: UnsafePointer<ring_zmq_options_t>?) throws(RingError) -> ZmqOptions {
    var o = ZmqOptions()
    guard let pointer else { return o }
    let c = pointer.pointee
    guard c.struct_size >= MemoryLayout<ring_zmq_options_t>.size else {
        throw .invalidArgument("options.struct_size is \(c.struct_size), below sizeof(ring_zmq_options_t) \(MemoryLayout<ring_zmq_options_t>.size): call ring_zmq_options_init")
    }
    guard c.send_hwm >= 0 else { throw .invalidArgument("options.send_hwm is negative") }
    guard c.receive_hwm >= 0 else { throw .invalidArgument("options.receive_hwm is negative") }
    guard c.kernel_buffer_bytes >= 0 else { throw .invalidArgument("options.kernel_buffer_bytes is negative") }
    guard (-1...1).contains(c.bind) else { throw .invalidArgument("options.bind must be 1, 0 or RING_ZMQ_BIND_AUTO (-1)") }
    guard c.max_message_size <= UInt64(WireLayout.maxMessageSize) else {
        throw .invalidArgument("options.max_message_size \(c.max_message_size) is above RING_MAX_MESSAGE_SIZE_LIMIT \(WireLayout.maxMessageSize)")
    }
    guard c.max_receive_frame_bytes >= -1 else { throw .invalidArgument("options.max_receive_frame_bytes must be -1 (no limit) or a size") }
    guard c.producers >= 1 else { throw .invalidArgument("options.producers must be at least 1") }
    o.sendHighWaterMark = c.send_hwm
    o.receiveHighWaterMark = c.receive_hwm
    o.kernelBufferBytes = c.kernel_buffer_bytes == 0 ? nil : c.kernel_buffer_bytes
    o.bind = c.bind < 0 ? nil : c.bind == 1
    o.linger = c.linger_ns < 0 ? nil : .nanoseconds(c.linger_ns)
    o.maxMessagesPerFrame = Int(c.max_messages_per_frame)
    o.maxFrameBytes = Int(c.max_frame_bytes)
    o.maxMessageSize = Int(c.max_message_size)
    o.producers = Int(c.producers)
    o.maxReceiveFrameBytes = c.max_receive_frame_bytes < 0 ? nil : Int(c.max_receive_frame_bytes)
    o.streamId = c.stream_id == 0 ? nil : c.stream_id
    return o
}

/// Opens a handle of either side for *_open: checks the pointers, the topology and the
/// options, then stores a retained handle in `out`.
func openHandle<Object: ZmqHandleObject>(_ endpoint: UnsafePointer<CChar>?, _ topology: ring_zmq_topology_t,
                                         _ options: UnsafePointer<ring_zmq_options_t>?,
                                         _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                         _ make: (String, ZmqTopology, ZmqOptions) throws(RingError) -> Object) -> Int32 {
    guard let out else { return fail(invalidArgument, static: "out is NULL") }
    out.pointee = nil
    guard let endpoint else { return fail(invalidArgument, static: "endpoint is NULL") }
    guard let t = ZmqTopology(c: topology) else {
        return fail(invalidArgument, static: "topology must be RING_ZMQ_SPSC, RING_ZMQ_MPSC or RING_ZMQ_SPMC")
    }
    return call { () throws(RingError) in
        let object = try make(String(cString: endpoint), t, try zmqOptions(options))
        out.pointee = ZmqHandle(object).retainedPointer()
    }
}
