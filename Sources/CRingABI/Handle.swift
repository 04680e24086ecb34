// Handle.swift - the boxes behind the opaque C handles: each holds a Swift
// object and a lock that serialises calls on the handle.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRingSys
import RingFormat

/// What a handle holds: a ring, a producer or a consumer, each closable.
protocol HandleObject: AnyObject {
    /// Closes the object (idempotent).
    func close()
    /// Ends a wait that another thread has open on the object (thread-safe).
    func interrupt()
}

extension Ring: HandleObject {
    /// A ring handle has no waits to end.
    func interrupt() {}
}
extension RingProducer: HandleObject {}
extension RingConsumer: HandleObject {}

/// A Swift object behind an opaque C pointer, with a lock.
///
/// The handle owns one reference to the object until it is freed and lends it
/// to calls through an unmanaged reference, without reference counting: the hot
/// paths (one write, one read) would otherwise pay an atomic retain and release
/// per call. The object's own state (an open peek or reservation, its position)
/// is the object's: the core enforces it, the handle only serialises calls.
final class Handle<Object: HandleObject> {
    /// The lock word of ringsys_mutex_lock (a pthread mutex costs three times the instructions).
    private let mutex: UnsafeMutablePointer<UInt32>
    /// The object, alive until the handle is freed, so that a close from another
    /// thread can interrupt a call blocked on it.
    private let object: Object
    /// `object` without reference counting, for lending while the lock is held.
    private let lent: Unmanaged<Object>
    /// False once closed through the handle. Only touched with the lock held, so
    /// the lock, not a run-time exclusivity check, keeps accesses apart.
    @exclusivity(unchecked) private var open = true
    /// The fork generation of the process that made the handle (SPEC.md §11.3).
    private let forkGeneration: UInt32

    init(_ object: Object) {
        self.object = object
        lent = Unmanaged.passUnretained(object)
        forkGeneration = ringsys_fork_generation()
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: 0)
    }

    deinit {
        mutex.deallocate()
    }

    /// True in a process that inherited the handle across fork().
    @inline(__always)
    var isInherited: Bool { ringsys_fork_generation() != forkGeneration }

    /// Runs `body` holding the lock.
    @inline(__always)
    func locked<R>(_ body: () -> R) -> R {
        ringsys_mutex_lock(mutex)  // released by the defer below
        defer { ringsys_mutex_unlock(mutex) }
        return body()
    }

    /// Runs `body` on the open object behind `pointer`, holding the handle's lock, and
    /// returns RING_OK or the code of what it throws. A NULL handle is INVALID_ARGUMENT
    /// (`nullMessage`), a closed handle or object CLOSED, a handle inherited across
    /// fork() FORKED (without touching the lock another thread of the parent may hold).
    @inline(__always)
    static func run(_ pointer: OpaquePointer?, nullMessage: StaticString,
                    _ body: (Object) throws(RingError) -> Void) -> Int32 {
        guard let pointer else { return fail(Code.invalidArgument, static: nullMessage) }
        return with(pointer) { handle in
            if handle.isInherited { return fail(.forked) }
            return handle.locked {
                // An object closed otherwise (a producer's closeWriter) refuses calls itself.
                guard handle.open else { return fail(.closed) }
                return handle.lent._withUnsafeGuaranteedRef { object in
                    call { () throws(RingError) in try body(object) }
                }
            }
        }
    }

    /// ring_*_close: closes the object behind `pointer` (NULL: INVALID_ARGUMENT with `nullMessage`).
    static func close(_ pointer: OpaquePointer?, nullMessage: StaticString) -> Int32 {
        guard let pointer else { return fail(Code.invalidArgument, static: nullMessage) }
        with(pointer) { $0.closeObject() }
        return Code.ok
    }

    /// Ends a call blocked on the object in another thread, then closes the object;
    /// later calls on the handle see it closed. In a process that inherited the
    /// handle, nothing is closed: the role belongs to the process that took it.
    func closeObject() {
        if isInherited { return }
        object.interrupt()
        locked {
            object.close()
            open = false
        }
    }

    /// The retained handle as an opaque pointer for C.
    func retainedPointer() -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(self).toOpaque())
    }

    /// Runs `body` with the handle behind a pointer from C, without reference
    /// counting (the C caller's handle keeps it alive until ring_*_free).
    @inline(__always)
    static func with<R>(_ pointer: OpaquePointer, _ body: (Handle<Object>) -> R) -> R {
        Unmanaged<Handle<Object>>.fromOpaque(UnsafeRawPointer(pointer))._withUnsafeGuaranteedRef { body($0) }
    }

    /// Releases the reference taken by `retainedPointer`.
    static func release(_ pointer: OpaquePointer) {
        Unmanaged<Handle<Object>>.fromOpaque(UnsafeRawPointer(pointer)).release()
    }
}

typealias RingHandle = Handle<Ring>
typealias ProducerHandle = Handle<RingProducer>
typealias ConsumerHandle = Handle<RingConsumer>

/// A C timeout in nanoseconds as a Swift one: negative waits forever.
func duration(_ timeoutNanoseconds: Int64) -> Duration? {
    timeoutNanoseconds < 0 ? nil : .nanoseconds(timeoutNanoseconds)
}
