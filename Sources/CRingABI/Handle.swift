// Handle.swift - the boxes behind the opaque C handles: each holds a Swift
// object and a lock that serialises calls on the handle.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

/// What a handle holds: a ring, a producer or a consumer, each closable.
protocol HandleObject: AnyObject {
    /// Closes the object (idempotent).
    func close()
    /// True once closed (through the handle or otherwise).
    var isClosed: Bool { get }
}

extension Ring: HandleObject {}
extension RingProducer: HandleObject {}
extension RingConsumer: HandleObject {}

/// A Swift object behind an opaque C pointer, with a lock.
///
/// The handle owns one reference to the object (`owner`) and lends it to calls
/// through an unmanaged reference, without reference counting: the hot paths (one
/// write, one read) would otherwise pay an atomic retain and release per call.
final class Handle<Object: HandleObject> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// The reference that keeps the object alive; nil once closed. Only touched
    /// with the lock held, so the lock, not a run-time exclusivity check, keeps
    /// accesses apart.
    @exclusivity(unchecked) private var owner: Object?
    /// `owner` without reference counting, for lending while the lock is held.
    @exclusivity(unchecked) private var lent: Unmanaged<Object>?
    /// Binding state (an open peek or reservation); guarded by the lock too.
    @exclusivity(unchecked) var busy = false

    init(_ object: Object) {
        owner = object
        lent = Unmanaged.passUnretained(object)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` holding the lock.
    @inline(__always)
    func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)  // released by the defer below
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Runs `body` on the open object behind `pointer`, holding the handle's lock, and
    /// returns RING_OK or the code of what it throws. A NULL handle is INVALID_ARGUMENT
    /// (`nullMessage`), a closed handle or object CLOSED, and an open peek or
    /// reservation BUSY for `busyRole` (nil: the call is allowed while one is open).
    @inline(__always)
    static func run(_ pointer: OpaquePointer?, nullMessage: StaticString, busyRole: RingRole?,
                    _ body: (Object, Handle) throws(RingError) -> Void) -> Int32 {
        guard let pointer else { return fail(Code.invalidArgument, static: nullMessage) }
        return with(pointer) { handle in
            handle.locked {
                guard let lent = handle.lent else { return fail(.closed) }
                // The object cannot go away meanwhile: `owner` holds it, and only
                // closeObject(), which takes the same lock, lets go of it.
                return lent._withUnsafeGuaranteedRef { object in
                    guard !object.isClosed else { return fail(.closed) }
                    if let busyRole, handle.busy { return fail(.busy(busyRole)) }
                    return call { () throws(RingError) in try body(object, handle) }
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

    /// Closes the object and lets go of it; later calls on the handle see it closed.
    func closeObject() {
        locked {
            owner?.close()
            owner = nil
            lent = nil
            busy = false
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
