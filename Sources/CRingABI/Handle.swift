// Handle.swift - the boxes behind the opaque C handles: each holds a Swift
// object and a lock that serialises calls on the handle.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingFormat

/// A Swift object behind an opaque C pointer, with a lock.
final class Handle<Object: AnyObject> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// The object; nil once closed. Only touched with the lock held, so the
    /// lock, not a run-time exclusivity check, keeps accesses apart.
    @exclusivity(unchecked) var object: Object?
    /// Binding state (an open peek or reservation); guarded by the lock too.
    @exclusivity(unchecked) var busy = false

    init(_ object: Object) {
        self.object = object
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` holding the lock.
    func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// The retained handle as an opaque pointer for C.
    func retainedPointer() -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(self).toOpaque())
    }

    /// The handle behind a pointer from C (not retained).
    static func from(_ pointer: OpaquePointer) -> Handle<Object> {
        Unmanaged<Handle<Object>>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
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
