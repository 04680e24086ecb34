// ZmqHandle.swift - the box behind an opaque ring_zmq_producer_t or ring_zmq_consumer_t:
// the Swift object, a lock that serialises calls on it, a close flag another thread may
// set, and the process that opened it.

import Atomics
import CRingSys
import RingFormat
import RingZmq

/// What a handle holds: a ZmqProducer or a ZmqConsumer.
protocol ZmqHandleObject: AnyObject {
    /// Closes the socket (idempotent).
    func close()
    /// What the object has sent and received.
    var counters: ZmqCounters { get }
    /// The endpoint as bound or connected.
    var endpoint: String { get }
}

extension ZmqProducer: ZmqHandleObject {}
extension ZmqConsumer: ZmqHandleObject {}

/// The longest a blocking call waits before it looks at the close flag again.
let sliceNanoseconds: Int64 = 50_000_000

/// A Swift object behind an opaque C pointer. The C caller's pointer holds one reference
/// until *_free; calls borrow the object while they hold the lock.
final class ZmqHandle<Object: ZmqHandleObject> {
    /// The lock word of ringsys_mutex_lock: one call on the object at a time (libzmq
    /// sockets are not thread-safe).
    private let mutex: UnsafeMutablePointer<UInt32>
    /// The object; nil once closed. Only touched with the lock held.
    private var object: Object?
    /// The counts at close, which *_counters reports afterwards. Lock held.
    private var finalCounters = ZmqCounters()
    /// Set by a close from any thread before it takes the lock; a call waiting in slices
    /// sees it between two and returns CLOSED.
    let closing = ManagedAtomic<Bool>(false)
    /// The fork generation of the process that opened the handle.
    private let forkGeneration: UInt32

    init(_ object: Object) {
        self.object = object
        forkGeneration = ringsys_fork_generation()
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: 0)
    }

    deinit { mutex.deallocate() }

    /// True in a process that inherited the handle across fork().
    var isInherited: Bool { ringsys_fork_generation() != forkGeneration }

    /// Runs `body` holding the lock.
    private func locked<R>(_ body: () -> R) -> R {
        ringsys_mutex_lock(mutex)  // released by the defer below
        defer { ringsys_mutex_unlock(mutex) }
        return body()
    }

    /// Runs `body` on the open object, holding the lock; RING_OK or the code of what it
    /// throws. CLOSED once closed, FORKED in a child.
    func run(_ body: (Object) throws(RingError) -> Void) -> Int32 {
        if isInherited { return fail(.forked) }
        return locked {
            guard let object, !closing.load(ordering: .relaxed) else { return fail(.closed) }
            return call { () throws(RingError) in try body(object) }
        }
    }

    /// Runs `attempt` with the time of one slice at a time until it does not throw
    /// `expired` (FULL or EMPTY), the timeout runs out (then `expired`) or another thread
    /// closes the handle (CLOSED). The lock is let go between slices, so a close gets it
    /// within one. timeout < 0: no limit; 0: one attempt that does not wait.
    func runSliced(timeout: Int64, expired: RingError,
                   _ attempt: (Object, Duration) throws(RingError) -> Void) -> Int32 {
        let start = SystemCalls.monotonicNanoseconds()
        func elapsed() -> Int64 { Int64(bitPattern: SystemCalls.monotonicNanoseconds() &- start) }
        while true {
            let slice = timeout < 0 ? sliceNanoseconds : max(0, min(sliceNanoseconds, timeout - elapsed()))
            let rc = run { (object) throws(RingError) in try attempt(object, .nanoseconds(slice)) }
            guard rc == expired.code else { return rc }
            if timeout >= 0 && elapsed() >= timeout { return rc }
        }
    }

    /// The counters: the object's while open, those at close afterwards.
    func counters() -> ZmqCounters {
        locked { object?.counters ?? finalCounters }
    }

    /// The endpoint as bound or connected (nil once closed).
    func endpoint() -> String? {
        locked { object?.endpoint }
    }

    /// Closes the object: raises the close flag (a call waiting in another thread lets
    /// go within a slice), then closes with the lock held. In a child of fork(), nothing.
    func close() {
        if isInherited { return }
        closing.store(true, ordering: .relaxed)
        locked {
            guard let object else { return }
            finalCounters = object.counters
            object.close()
            self.object = nil
        }
    }

    /// The retained handle as an opaque pointer for C.
    func retainedPointer() -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(self).toOpaque())
    }

    /// The handle behind a pointer from C, borrowed (the caller's reference keeps it alive).
    static func borrow(_ pointer: OpaquePointer) -> ZmqHandle<Object> {
        Unmanaged<ZmqHandle<Object>>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }

    /// *_free: closes and releases the handle. In a child of fork() the handle (and the
    /// parent's socket in it) is left as it is: libzmq cannot close it there.
    static func free(_ pointer: OpaquePointer?) {
        guard let pointer else { return }
        let handle = borrow(pointer)
        if handle.isInherited { return }
        handle.close()
        Unmanaged<ZmqHandle<Object>>.fromOpaque(UnsafeRawPointer(pointer)).release()
    }
}

typealias ProducerHandle = ZmqHandle<ZmqProducer>
typealias ConsumerHandle = ZmqHandle<ZmqConsumer>
