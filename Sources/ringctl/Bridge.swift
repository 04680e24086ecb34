// Bridge.swift - `ringctl bridge send|recv`: a ring on one host carried to a ring on
// another over ZeroMQ tcp:// (SPEC.md §24), with counters on demand and at exit.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import RingFormat
import RingWorkload
import RingZmq

struct Bridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Carry a ring to another host over ZeroMQ (SPEC.md §24).",
        discussion: """
            Run `ringctl bridge recv DEST tcp://ADDR:PORT` on the receiving host and \
            `ringctl bridge send SOURCE tcp://HOST:PORT` on the sending one, in any order. \
            Every message reaches DEST once, in order, across restarts of either side and \
            cuts of the link. Both exit once the source's stream ended and END was carried. \
            CURVE (off by default): `ringctl bridge keygen` makes key pairs; give each side \
            its secret key file, the sender the receiver's public key, the receiver the \
            senders' public keys it accepts.
            """,
        subcommands: [BridgeSend.self, BridgeRecv.self, BridgeKeygen.self])
}

/// The options both sides share.
struct BridgeCommonOptions: ParsableArguments {
    @Option(help: "The bridge's name (the stream id is made of it and the source's path).")
    var name = "bridge"

    @Option(name: .customLong("stats"), parsing: .unconditional,
            help: "Print the counters every this many milliseconds (0: only at exit).")
    var statsInterval: String = "0"

    @Option(name: .customLong("frame-bytes"), parsing: .unconditional, help: "Most body bytes in one DATA frame.")
    var frameBytes: String = "262144"

    @Option(name: .customLong("flush-us"), parsing: .unconditional,
            help: "Microseconds a frame that is not full waits for more while others are in flight.")
    var flushMicroseconds: String = "200"

    @Option(name: .customLong("window"), parsing: .unconditional, help: "The receiver's largest credit, in bytes.")
    var window: String = "33554432"

    @Flag(help: "Do not log events (handshakes, drops) to standard error.")
    var quiet = false

    @Option(name: .customLong("curve-secret-file"),
            help: "Encrypt with CURVE: a file holding this side's secret key (40 Z85 characters, from keygen).")
    var curveSecretFile: String?

    /// This side's CURVE secret key, read from --curve-secret-file.
    func curveSecret() throws -> String? {
        guard let path = curveSecretFile else { return nil }
        guard let fd = Optional(open(path, O_RDONLY)), fd >= 0 else {
            throw Failure(message: "\(path): cannot open the CURVE secret key file", status: 1)
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
        let key = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).last.map(String.init) ?? ""
        guard key.utf8.count == 40 else { throw Failure(message: "\(path): not a 40-character Z85 secret key", status: 1) }
        return key
    }

    func options() throws -> BridgeOptions {
        var o = BridgeOptions()
        o.name = name
        o.maxFrameBytes = Int(try checked("--frame-bytes", frameBytes, NumberLimit(64...(1 << 30))))
        o.flushInterval = .microseconds(Int64(try checked("--flush-us", flushMicroseconds, NumberLimit(0...1_000_000))))
        o.window = Int(try checked("--window", window, NumberLimit(4096...(1 << 40))))
        return o
    }

    func interval() throws -> Duration? {
        let ms = try checked("--stats", statsInterval, Limits.milliseconds)
        return ms == 0 ? nil : .milliseconds(Int64(ms))
    }
}

/// Set by SIGINT and SIGTERM: the bridge stops at its next turn and prints its counters.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0

private func catchStopSignals() {
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
}

struct BridgeSend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a ring's messages to a `ringctl bridge recv`.",
        discussion: """
            Takes the source's consumer role (a ring with readers: joins it as the durable \
            gating reader bridge:NAME) and consumes only what the receiver acknowledged.
            """)

    @Argument(help: "The source ring (reject-when-full).")
    var source: String

    @Argument(help: "The receiver's endpoint, tcp://HOST:PORT.")
    var endpoint: String

    // .unconditional: a Z85 key may begin with "-", which would otherwise read as an option.
    @Option(name: .customLong("curve-server-key"), parsing: .unconditional,
            help: "With --curve-secret-file: the receiver's public key (Z85).")
    var curveServerKey: String?

    @OptionGroup var common: BridgeCommonOptions

    func run() throws {
        let options = try senderOptions()
        let sender: BridgeSender
        do { sender = try BridgeSender(source: source, endpoint: endpoint, options: options) }
        catch { throw Failure(message: "\(source): \(error)", status: 1) }
        if !common.quiet { sender.onLog = { Output.error("ringctl bridge send: \($0)") } }
        catchStopSignals()
        let every = try common.interval()
        defer { Output.line("bridge send " + stats(sender.counters, ended: sender.isEnded)); sender.close() }
        do {
            try sender.run(stop: { stopRequested != 0 }, tickInterval: every ?? .seconds(3600)) { s in
                if every != nil { Output.line("bridge send " + stats(s.counters, ended: s.isEnded)) }
            }
        } catch { throw Failure(message: "\(source): \(error)", status: 1) }
    }
}

extension BridgeSend {
    /// The common options, and CURVE's keys when a secret key file is given.
    func senderOptions() throws -> BridgeOptions {
        var options = try common.options()
        if let secret = try common.curveSecret() {
            guard let server = curveServerKey else { throw ValidationError("--curve-secret-file needs --curve-server-key") }
            options.curve = BridgeCurve(secretKey: secret, serverKey: server)
        }
        return options
    }
}

struct BridgeRecv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recv",
        abstract: "Receive a `ringctl bridge send` into a ring.",
        discussion: """
            Holds the destination's producer role: the bridge must be its only producer. \
            Its state is the sidecar DEST.bridge beside it; --reset forgets it (to take \
            another stream).
            """)

    @Argument(help: "The destination ring.")
    var destination: String

    @Argument(help: "The endpoint to bind, tcp://ADDR:PORT.")
    var endpoint: String

    @Option(parsing: .unconditional, help: "Create the destination with this capacity if it does not exist.")
    var capacity: String?

    @Option(help: "With --capacity: the new destination's policy, reject or overwrite.")
    var policy: PolicyArgument = .reject

    @Flag(help: "Forget the sidecar's stream and take the one that comes.")
    var reset = false

    // .unconditional: a Z85 key may begin with "-", which would otherwise read as an option.
    @Option(name: .customLong("allow-key"), parsing: .unconditionalSingleValue,
            help: "With --curve-secret-file: a sender public key (Z85) to accept; repeat for several.")
    var allowKeys: [String] = []

    @OptionGroup var common: BridgeCommonOptions

    func run() throws {
        let options = try receiverOptions()
        var create: (capacity: Int, policy: RingPolicy)?
        if let capacity { create = (Int(try checked("--capacity", capacity, Limits.capacity)), policy.policy) }
        let receiver: BridgeReceiver
        do {
            receiver = try BridgeReceiver(destination: destination, endpoint: endpoint, create: create, reset: reset,
                                          options: options)
        } catch { throw Failure(message: "\(destination): \(error)", status: 1) }
        if !common.quiet { receiver.onLog = { Output.error("ringctl bridge recv: \($0)") } }
        Output.error("ringctl bridge recv: listening on \(receiver.endpoint)")
        catchStopSignals()
        let every = try common.interval()
        defer { Output.line("bridge recv " + stats(receiver.counters, ended: receiver.isEnded)); receiver.close() }
        do {
            try receiver.run(stop: { stopRequested != 0 }, tickInterval: every ?? .seconds(3600)) { r in
                if every != nil { Output.line("bridge recv " + stats(r.counters, ended: r.isEnded)) }
            }
        } catch { throw Failure(message: "\(destination): \(error)", status: 1) }
    }
}

extension BridgeRecv {
    /// The common options, and CURVE's keys when a secret key file is given.
    func receiverOptions() throws -> BridgeOptions {
        var options = try common.options()
        if let secret = try common.curveSecret() {
            options.curve = BridgeCurve(secretKey: secret, allowedClients: allowKeys)
        }
        return options
    }
}

/// One line of key=value counters.
private func stats(_ c: BridgeSenderCounters, ended: Bool) -> String {
    "records_sent=\(c.recordsSent) bytes_sent=\(c.bytesSent) frames_sent=\(c.framesSent) records_acked=\(c.recordsAcked) "
        + "bytes_acked=\(c.bytesAcked) lag_records=\(c.lagRecords) lag_bytes=\(c.lagBytes) reconnects=\(c.reconnects) "
        + "peer_timeouts=\(c.peerTimeouts) frames_dropped=\(c.framesDropped) credit_stalls=\(c.creditStalls) "
        + "destination_dropped=\(c.destinationDropped) ended=\(ended ? 1 : 0)"
}

private func stats(_ c: BridgeReceiverCounters, ended: Bool) -> String {
    "records_applied=\(c.recordsApplied) bytes_applied=\(c.bytesApplied) duplicate_records=\(c.duplicateRecords) "
        + "gaps=\(c.gaps) handshakes=\(c.handshakes) refusals=\(c.refusals) frames_dropped=\(c.framesDropped) "
        + "unknown_keys=\(c.unknownKeys) acks_sent=\(c.acksSent) destination_full_waits=\(c.destinationFullWaits) "
        + "destination_dropped=\(c.destinationDropped) peer_timeouts=\(c.peerTimeouts) ended=\(ended ? 1 : 0)"
}

struct BridgeKeygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair for a bridge side.",
        discussion: """
            Prints "public KEY" and "secret KEY" (Z85). Keep the secret line in a file \
            readable by the bridge's user only and pass it as --curve-secret-file.
            """)

    func run() throws {
        guard BridgeCurve.isAvailable else { throw Failure(message: "this libzmq has no CURVE", status: 1) }
        do {
            let pair = try BridgeCurve.keypair()
            Output.line("public \(pair.publicKey)")
            Output.line("secret \(pair.secretKey)")
        } catch { throw Failure(message: error.zmqDescription, status: 1) }
    }
}
