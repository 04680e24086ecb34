// ZmqTopology.swift - who is one and who is many on an endpoint, and so who binds
// (SPEC.md §23.6).

/// How many producers and consumers share one endpoint. MPMC is not offered: with many on
/// both sides nobody is the single, stable side that should bind.
public enum ZmqTopology: String, Sendable, CaseIterable {
    /// One producer, one consumer. The producer binds (mm_toolbox's `should_producer_bind`
    /// says yes when the producer is single), the consumer connects.
    case spsc
    /// Several producers, one consumer. The consumer binds, the producers connect; PULL
    /// fair-queues their frames. Each producer's frames stay in its order.
    case mpsc
    /// One producer, several consumers. The producer binds, the consumers connect; PUSH
    /// deals whole frames round-robin, so each message reaches exactly one consumer.
    case spmc

    /// Whether the producer binds and the consumers connect (true), or the other way round.
    public var producerBinds: Bool { self != .mpsc }
}

/// Which side of an endpoint a handle is.
public enum ZmqSide: Sendable {
    /// The side that sends (PUSH).
    case producer
    /// The side that receives (PULL).
    case consumer
}

extension ZmqTopology {
    /// Whether `side` binds the endpoint under this topology (else it connects).
    public func binds(_ side: ZmqSide) -> Bool { (side == .producer) == producerBinds }
}
