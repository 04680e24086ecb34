// DoorbellHandles.swift - each handle's doorbell (SPEC.md §21): its descriptor,
// arming it for the condition the handle's blocking wait waits for, and
// disarming it. The event loops of the bindings (ringpy's asyncio methods, the
// Swift reactor of AsyncWaits.swift, a C program's epoll) are built on these.
//
// The protocol, the same for every handle:
//   1. armDoorbell(...) - false: the condition holds, try the operation now;
//      true: armed, poll the descriptor for readability;
//   2. when it is readable (or the caller gives up), disarmDoorbell();
//   3. try the operation; if it would still wait, go to 1.
// An armed handle counts in the ring's waiter count, so the other side makes a
// wake-up call on each commit until it is disarmed: disarm promptly.

extension RingStorage {
    /// A handle's doorbell, `bell`, made on first use: for an open handle in the process that made it.
    func doorbell(_ bell: inout Doorbell?, closed: Bool) throws(RingError) -> Doorbell {
        guard !closed else { throw .closed }
        try checkProcess()
        if let bell { return bell }
        let made = try Doorbell(path: "\(path)")
        bell = made
        return made
    }
}

extension RingConsumer {
    /// The doorbell's file descriptor: readable once an armed doorbell may end the wait
    /// (a message or the end of stream, or one slice of 100 ms at the latest). Made on
    /// first use; it belongs to this consumer and is closed with it (do not close it).
    /// - Throws: `closed`, `forked`, `system` if the kernel gives no descriptor.
    public func doorbellDescriptor() throws(RingError) -> Int32 {
        try doorbell().fileDescriptor
    }

    /// How the doorbell is woken (`futex` or `poll`), once one was made.
    public var doorbellKind: DoorbellKind? { bell?.kind }

    /// Arms the doorbell for the next message. False: a message (or the end of stream) is
    /// there, nothing was armed, read now. True: poll `doorbellDescriptor()`, then call
    /// `disarmDoorbell()` and read. Arming also looks at the file's size, as a blocking
    /// wait's slices do.
    /// - Throws: `closed`, `forked`, `busy` with a view out, `corrupt` (truncated file), `system`.
    public func armDoorbell() throws(RingError) -> Bool {
        bell?.disarm()  // a failed arm leaves nothing armed
        try checkUsable()
        try storage.checkFileSize()
        return try doorbell().arm(storage.dataChannel, sleepMark: reader?.slot.sleeping, ready: dataReady)
    }

    /// Takes an armed doorbell out of the ring's waiter count and consumes its readiness.
    /// Idempotent; a consumer that is closed or was never armed does nothing.
    public func disarmDoorbell() { bell?.disarm() }

    func doorbell() throws(RingError) -> Doorbell { try storage.doorbell(&bell, closed: closed) }
}

extension RingProducer {
    /// The doorbell's file descriptor: readable once an armed doorbell may end the wait for
    /// room (or one slice of 100 ms at the latest). Made on first use; closed with the producer.
    /// - Throws: `closed`, `forked`, `system`.
    public func doorbellDescriptor() throws(RingError) -> Int32 {
        try doorbell().fileDescriptor
    }

    /// How the doorbell is woken (`futex` or `poll`), once one was made.
    public var doorbellKind: DoorbellKind? { bell?.kind }

    /// Arms the doorbell for room for one message of `size` bytes. False: it fits now (or the
    /// ring overwrites and never waits), nothing was armed, write now. True: poll the
    /// descriptor, then `disarmDoorbell()` and write.
    /// - Throws: `invalidSize` over maxMessageSize, `closed`, `forked`, `busy` with a
    ///   reservation open, `corrupt`, `system`.
    public func armDoorbell(forPayload size: Int) throws(RingError) -> Bool {
        bell?.disarm()  // a failed arm leaves nothing armed
        try checkUsable()
        guard size >= 0, size <= geometry.maxMessageSize else {
            throw .invalidSize(size: size, maximum: geometry.maxMessageSize)
        }
        if geometry.policy == .overwriteOldest && producerSlot == nil { return false }
        try storage.checkFileSize()
        return try doorbell().arm(storage.spaceChannel, sleepMark: nil) { () throws(RingError) -> Bool in
            try roomReady(payload: size)
        }
    }

    /// Takes an armed doorbell out of the ring's waiter count and consumes its readiness. Idempotent.
    public func disarmDoorbell() { bell?.disarm() }

    func doorbell() throws(RingError) -> Doorbell { try storage.doorbell(&bell, closed: closed) }
}

extension ItemHandle {
    /// The doorbell's file descriptor: readable once an armed doorbell may end the wait
    /// (or one slice of 100 ms at the latest). Made on first use; closed with the handle.
    /// - Throws: `closed`, `forked`, `system`.
    public func doorbellDescriptor() throws(RingError) -> Int32 {
        try doorbell().fileDescriptor
    }

    /// How the doorbell is woken (`futex` or `poll`), once one was made.
    public var doorbellKind: DoorbellKind? { bell?.kind }

    /// Takes an armed doorbell out of the ring's waiter count and consumes its readiness. Idempotent.
    public func disarmDoorbell() { bell?.disarm() }

    func doorbell() throws(RingError) -> Doorbell { try storage.doorbell(&bell, closed: closed) }

    /// Arms the doorbell on this side's channel for `ready`.
    func armDoorbell(ready: () throws(RingError) -> Bool) throws(RingError) -> Bool {
        bell?.disarm()  // a failed arm leaves nothing armed
        guard !closed else { throw .closed }
        try storage.checkProcess()
        try storage.checkFileSize()
        return try doorbell().arm(channel, sleepMark: nil, ready: ready)
    }
}

extension ItemConsumer {
    /// Arms the doorbell for the next item. False: an item (or the end of stream) is there,
    /// read now. True: poll the descriptor, then `disarmDoorbell()` and read.
    /// - Throws: `closed`, `forked`, `corrupt`, `system`.
    public func armDoorbell() throws(RingError) -> Bool {
        try armDoorbell(ready: dataReady)
    }
}

extension ItemProducer {
    /// Arms the doorbell for room for `count` items (at most itemCapacity). False: they fit
    /// now (or the ring overwrites and never waits), write now. True: poll the descriptor,
    /// then `disarmDoorbell()` and write.
    /// - Throws: `invalidSize` for a count below 1, `closed`, `forked`, `corrupt`, `system`.
    public func armDoorbell(forItems count: Int = 1) throws(RingError) -> Bool {
        bell?.disarm()  // a failed arm leaves nothing armed
        guard count >= 1 else { throw .invalidSize(size: count, maximum: itemCapacity) }
        if geometry.policy == .overwriteOldest { return false }
        return try armDoorbell { () throws(RingError) -> Bool in try roomReady(count) }
    }
}
