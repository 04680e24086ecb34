// ItemHandle.swift - what the producer and the consumer of a typed ring share
// (SPEC.md §19.4): the role they hold, the geometry, closing, interrupting a
// wait and flushing.

import Atomics

/// The producer or consumer role of a typed ring: `ItemProducer` or `ItemConsumer`.
public class ItemHandle {
    let storage: RingStorage
    let data: UnsafeMutableRawPointer
    let geometry: RingGeometry
    let role: RingRole
    /// The wait channel this side sleeps on (`interrupt()` wakes it).
    let channel: WaitChannel
    /// Bytes of one item.
    public let itemSize: Int
    /// Items the ring holds.
    public let itemCapacity: Int
    @exclusivity(unchecked)
    var closed = false
    /// Set by `interrupt()` from any thread: waits end with `closed`.
    let interrupted = ManagedAtomic<Bool>(false)
    /// True once closed.
    public var isClosed: Bool { closed }
    /// The doorbell (SPEC.md §21), made by the first `doorbellDescriptor()` or `armDoorbell`.
    @exclusivity(unchecked)
    var bell: Doorbell?

    /// Takes `role` of the typed ring in `storage` (SPEC.md §11); `position` gets the
    /// side's own position from the snapshot taken with the role.
    init(storage: RingStorage, role: RingRole, position: (UInt64, UInt64) -> UInt64) throws(RingError) {
        guard let type = storage.geometry.itemType else {
            throw .invalidArgument("\(storage.path) is a ring of byte records, not a typed ring: use a Ring\(role == .producer ? "Producer" : "Consumer")")
        }
        try storage.takeRole(role)
        self.storage = storage
        self.data = storage.data
        self.geometry = storage.geometry
        self.role = role
        self.channel = role == .producer ? storage.spaceChannel : storage.dataChannel
        self.itemSize = type.size
        self.itemCapacity = storage.geometry.itemCapacity
        do throws(RingError) {
            let (p, c) = try storage.snapshotPositions()
            start = position(p, c)
        } catch {
            storage.releaseRole(role)
            throw error
        }
        // A side that died while sleeping left its count behind; we hold the role.
        channel.waiters.store(0, ordering: .relaxed)
    }

    /// This side's position at the snapshot taken with the role.
    let start: UInt64

    deinit {
        if !closed {
            bell?.disarm()
            storage.releaseRole(role)
        }
    }

    /// The ring's geometry.
    public var ringGeometry: RingGeometry { geometry }

    /// Forgets spans handed out (subclasses), when closing.
    func dropLent() {}

    /// Gives up the role; the positions stay in the file for the next taker.
    public func close() {
        guard !closed else { return }
        closed = true
        dropLent()
        // Our count leaves the wait line before the role does.
        bell?.disarm()
        bell = nil
        storage.releaseRole(role)
    }

    /// Ends a wait of another thread on this handle with `closed` (for closing from another
    /// thread, as the C ABI does); every later wait ends so too.
    package func interrupt() {
        interrupted.store(true, ordering: .relaxed)
        WaitWord.wakeWithoutSignal(channel)
    }

    /// Writes the mapping's dirty pages to the file (msync), for surviving a machine restart.
    public func flush() throws(RingError) {
        guard !closed else { throw .closed }
        try storage.checkProcess()
        try storage.flush()
    }

    /// The run of `count` items from `position`.
    @inline(__always)
    func spans(from position: UInt64, count: Int) -> ItemSpans {
        ItemSpans(data: data, geometry: geometry, doubled: storage.isDoubleMapped, start: position, count: count)
    }
}
