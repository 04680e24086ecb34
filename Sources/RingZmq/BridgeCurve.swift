// BridgeCurve.swift - optional CURVE encryption of the bridge's connection (SPEC.md
// §24.11): libzmq's CURVE with the receiver as server, and an allow-list of client public
// keys checked by a ZAP handler on inproc://zeromq.zap.01.

import CZmq
import RingFormat

/// CURVE keys of one bridge side (off unless given: `BridgeOptions.curve`). Keys are
/// Z85 text, 40 characters (`zmq_z85_encode` of 32 bytes).
public struct BridgeCurve: Sendable, Equatable {
    /// This side's secret key (its public key is derived from it).
    public var secretKey: String
    /// The sender: the receiver's public key.
    public var serverKey: String?
    /// The receiver: the public keys of the senders it accepts; any other is refused by
    /// the ZAP handler (counted in `BridgeReceiverCounters.unknownKeys`).
    public var allowedClients: [String]

    /// Keys for a sender (`serverKey` given) or a receiver (`allowedClients`).
    public init(secretKey: String, serverKey: String? = nil, allowedClients: [String] = []) {
        self.secretKey = secretKey
        self.serverKey = serverKey
        self.allowedClients = allowedClients
    }

    /// Whether this libzmq has CURVE (`zmq_has("curve")`: built with libsodium).
    public static var isAvailable: Bool { zmq_has("curve") != 0 }

    /// A new key pair (`zmq_curve_keypair`), as Z85.
    /// - Throws: SYSTEM (ENOTSUP without CURVE).
    public static func keypair() throws(RingError) -> (publicKey: String, secretKey: String) {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw zmqFailure("zmq_curve_keypair", endpoint: nil) }
        return (text(pub), text(sec))
    }

    /// The public key of `secretKey` (`zmq_curve_public`).
    /// - Throws: INVALID_ARGUMENT for a key that is not 40 Z85 characters.
    public static func publicKey(of secretKey: String) throws(RingError) -> String {
        guard secretKey.utf8.count == 40 else { throw .invalidArgument("a CURVE key is 40 Z85 characters") }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { throw .invalidArgument("not a Z85 CURVE secret key") }
        return text(pub)
    }

    /// The 32 bytes of a Z85 key (`zmq_z85_decode`), or nil.
    static func decode(_ key: String) -> [UInt8]? {
        guard key.utf8.count == 40 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&bytes, key) == nil ? nil : bytes
    }

    private static func text(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The receiver's ZAP handler (ZeroMQ RFC 27): a REP socket on inproc://zeromq.zap.01 in
/// the receiver's context, answering libzmq's authentication requests with 200 for an
/// allowed client key and 400 for any other.
final class ZapHandler {
    static let endpoint = "inproc://zeromq.zap.01"
    private(set) var socket: UnsafeMutableRawPointer?
    private let allowed: [[UInt8]]
    private let message: UnsafeMutablePointer<zmq_msg_t>

    /// Binds the handler in `context` (before the server socket binds).
    init(context: UnsafeMutableRawPointer, allowed: [String]) throws(RingError) {
        var keys: [[UInt8]] = []
        for k in allowed {
            guard let bytes = BridgeCurve.decode(k) else { throw .invalidArgument("allowed client key \(k) is not 40 Z85 characters") }
            keys.append(bytes)
        }
        self.allowed = keys
        guard let made = zmq_socket(context, ZMQ_REP) else { throw zmqFailure("zmq_socket(ZMQ_REP)", endpoint: Self.endpoint) }
        var linger: Int32 = 0
        zmq_setsockopt(made, ZMQ_LINGER, &linger, 4)
        guard zmq_bind(made, Self.endpoint) == 0 else {
            zmq_close(made)
            throw zmqFailure("zmq_bind", endpoint: Self.endpoint)
        }
        socket = made
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        close()
        zmq_msg_close(message)
        message.deallocate()
    }

    func close() {
        if let socket { zmq_close(socket) }
        socket = nil
    }

    /// Answers every request waiting; returns the client keys it refused (Z85 where it
    /// can encode them).
    func serve() throws(RingError) -> [String] {
        guard let socket else { return [] }
        var refused: [String] = []
        while true {
            var parts: [[UInt8]] = []
            while true {
                if zmq_msg_recv(message, socket, ZMQ_DONTWAIT) < 0 {
                    let code = zmq_errno()
                    if code == EINTR { continue }
                    if code == EAGAIN && parts.isEmpty { return refused }
                    throw zmqFailure("zmq_msg_recv", endpoint: Self.endpoint, code: code)
                }
                // At most 16 parts of at most 256 bytes are kept: a request is 7.
                if parts.count < 16 {
                    let n = min(zmq_msg_size(message), 256)
                    parts.append([UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(message), count: n)))
                }
                if zmq_msg_more(message) == 0 { break }
            }
            // version, request id, domain, address, routing id, mechanism, credentials...
            let requestId = parts.count > 1 ? parts[1] : []
            let isCurve = parts.count == 7 && parts[0] == Array("1.0".utf8) && parts[5] == Array("CURVE".utf8)
            let ok = isCurve && parts[6].count == 32 && allowed.contains(parts[6])
            if !ok {
                var z85 = [CChar](repeating: 0, count: 41)
                let key = parts.count == 7 && parts[6].count == 32 && zmq_z85_encode(&z85, parts[6], 32) != nil
                    ? String(decoding: z85.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "(none)"
                refused.append(key)
            }
            let reply: [[UInt8]] = [Array("1.0".utf8), requestId, Array((ok ? "200" : "400").utf8),
                                    Array((ok ? "OK" : "unknown client key").utf8), [], []]
            for (i, part) in reply.enumerated() {
                let flags = i < reply.count - 1 ? ZMQ_SNDMORE : 0
                _ = part.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            }
        }
    }
}
