// BridgeOptions.swift - the settings of a bridge's two sides (SPEC.md §24).

/// Settings of a `BridgeSender` or `BridgeReceiver`; each side reads the ones that concern it.
public struct BridgeOptions: Sendable {
    /// The bridge's name: with the source ring's path it makes the stream id, and on a
    /// ring with readers it names the sender's durable gating reader ("bridge:NAME").
    public var name = "bridge"
    /// Most body bytes in one DATA frame (a larger message goes alone).
    public var maxFrameBytes = 256 << 10
    /// While frames are unacknowledged, a frame that is not full waits this long after its
    /// first record for more (with nothing in flight it goes at once).
    public var flushInterval: Duration = .microseconds(200)
    /// The receiver grants at most this much credit (bytes of DATA bodies in flight).
    public var window = 32 << 20
    /// A side that sent nothing for this long sends a HEARTBEAT (also ZMQ_HEARTBEAT_IVL).
    public var heartbeatInterval: Duration = .milliseconds(100)
    /// A peer silent for this long is taken for dead: the sender starts a new handshake
    /// (also ZMQ_HEARTBEAT_TIMEOUT and _TTL).
    public var peerTimeout: Duration = .milliseconds(1500)
    /// How often a sender repeats an unanswered HELLO or END.
    public var retryInterval: Duration = .milliseconds(250)
    /// ZMQ_RECONNECT_IVL (ten times it is ZMQ_RECONNECT_IVL_MAX).
    public var reconnectInterval: Duration = .milliseconds(100)
    /// ZMQ_SNDHWM and ZMQ_RCVHWM, in frames.
    public var sendHighWaterMark: Int32 = 1000
    /// ZMQ_SNDBUF and ZMQ_RCVBUF (nil: the system's).
    public var kernelBufferBytes: Int32? = nil
    /// The receiver's ZMQ_MAXMSGSIZE: libzmq disconnects a peer that sends a larger frame.
    public var maxReceiveFrameBytes = (1 << 31) + 4096
    /// The receiver: how long it stays after the stream ended, answering a repeated END.
    public var endLinger: Duration = .seconds(1)

    /// CURVE encryption and client keys (nil: off, the default). Needs `BridgeCurve.isAvailable`.
    public var curve: BridgeCurve? = nil

    /// 256 KiB frames, 200 us flush, a 32 MiB window, 100 ms heartbeats, a 1.5 s peer timeout.
    /// (64 KiB frames and an 8 MiB window carried 2.88 M msg/s of 64 B over veth where these
    /// carried 3.97 M, in one bench run; 1 KiB: 0.29 M and 0.40 M.)
    public init() {}

    /// Nanoseconds of a duration (negative: 0).
    static func nanoseconds(_ d: Duration) -> UInt64 {
        let (s, atto) = d.components
        guard s >= 0 else { return 0 }
        return UInt64(s) * 1_000_000_000 + UInt64(atto / 1_000_000_000)
    }
}

/// The loop of both bridge sides' `run`: `step()` until it reports the end or `stop()` is
/// true, calling `tick` about every `tickInterval`.
func runBridgeTurns(stop: () -> Bool, tickInterval: Duration, tick: () -> Void,
                    step: () throws(BridgeError) -> Bool) throws(BridgeError) {
    var lastTick = ZmqDeadline.now()
    let tickNs = BridgeOptions.nanoseconds(tickInterval)
    while !stop() {
        if try step() { return }
        let now = ZmqDeadline.now()
        if now &- lastTick >= tickNs { lastTick = now; tick() }
    }
}
