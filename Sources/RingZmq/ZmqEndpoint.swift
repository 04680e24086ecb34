// ZmqEndpoint.swift - making a handle's socket: its options, then bind or connect as the
// topology says (SPEC.md §23.6).

import CZmq
import RingFormat

/// Opens the socket of one side of an endpoint.
enum ZmqEndpoint {
    /// A PUSH (producer) or PULL (consumer) socket with `options` applied, bound or
    /// connected to `endpoint`, and the endpoint as bound (a tcp port `*` resolved).
    /// On a throw nothing is left open (the socket and an owned context close in deinit).
    static func open(_ endpoint: String, side: ZmqSide, topology: ZmqTopology,
                     options: ZmqOptions) throws(RingError) -> (ZmqSocket, String) {
        try options.validate()
        let context: ZmqContext
        if let shared = options.context { context = shared } else { context = try ZmqContext() }
        let socket = try ZmqSocket(context: context, kind: side == .producer ? .push : .pull)
        switch side {
        case .producer:
            try socket.setOption(ZMQ_SNDHWM, options.sendHighWaterMark)
            try socket.setOption(ZMQ_LINGER, options.lingerMilliseconds)
            if let k = options.kernelBufferBytes { try socket.setOption(ZMQ_SNDBUF, k) }
        case .consumer:
            try socket.setOption(ZMQ_RCVHWM, options.receiveHighWaterMark)
            try socket.setOption(ZMQ_LINGER, Int32(0))
            if let k = options.kernelBufferBytes { try socket.setOption(ZMQ_RCVBUF, k) }
            if let m = options.maxReceiveFrameBytes { try socket.setOption(ZMQ_MAXMSGSIZE, Int64(m)) }
        }
        if options.bind ?? topology.binds(side) {
            try socket.bind(endpoint)
            return (socket, try socket.lastEndpoint())
        }
        try socket.connect(endpoint)
        return (socket, endpoint)
    }
}

/// Runs `body` over the bytes of `message`, contiguous or copied into an array.
@inline(__always)
func withMessageBytes<C: Collection<UInt8>, R>(_ message: C, _ body: (UnsafeRawBufferPointer) throws(RingError) -> R) throws(RingError) -> R {
    var result: Result<R, RingError>?
    _ = message.withContiguousStorageIfAvailable { buffer in
        do throws(RingError) { result = .success(try body(UnsafeRawBufferPointer(buffer))) } catch { result = .failure(error) }
    }
    if let result { return try result.get() }
    let copy = Array(message)
    return try copy.withUnsafeBytes { (raw) -> Result<R, RingError> in
        do throws(RingError) { return .success(try body(raw)) } catch { return .failure(error) }
    }.get()
}
