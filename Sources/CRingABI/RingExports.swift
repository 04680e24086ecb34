// RingExports.swift - the library and ring-file functions of ringformat.h.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRingSys
import CRingFormatHeader
import RingFormat

/// ring_abi_version
@_cdecl("ring_abi_version")
public func abiVersion() -> UInt32 { UInt32(RING_ABI_VERSION) }

/// ring_format_version
@_cdecl("ring_format_version")
public func abiFormatVersion(_ major: UnsafeMutablePointer<UInt16>?, _ minor: UnsafeMutablePointer<UInt16>?) {
    major?.pointee = RingLayout.versionMajor
    // The newest format this library writes: 1.1 (rings with readers, with producers).
    minor?.pointee = RingLayout.versionMinorReaders
}

/// ring_strerror
@_cdecl("ring_strerror")
public func abiStrerror(_ code: Int32) -> UnsafePointer<CChar> {
    errorText(code).cString
}

/// ring_last_error_message
@_cdecl("ring_last_error_message")
public func abiLastErrorMessage() -> UnsafePointer<CChar> {
    ringsys_last_error_message()
}

/// ring_last_errno
@_cdecl("ring_last_errno")
public func abiLastErrno() -> Int32 { ringsys_last_errno() }

/// ring_create
@_cdecl("ring_create")
public func abiCreate(_ path: UnsafePointer<CChar>?, _ capacity: UInt64, _ policy: Int32, _ mode: UInt32,
                      _ flags: UInt32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    create(path, capacity, policy, mode, flags, 0, out)
}

/// ring_create_readers
@_cdecl("ring_create_readers")
public func abiCreateReaders(_ path: UnsafePointer<CChar>?, _ capacity: UInt64, _ policy: Int32, _ mode: UInt32,
                             _ flags: UInt32, _ readerSlots: UInt32, _ initialPosition: UInt64,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    if initialPosition != 0 && flags & UInt32(RING_CREATE_OPEN_EXISTING) != 0 {
        return fail(Code.invalidArgument, "ring_create_readers takes an initial position only without RING_CREATE_OPEN_EXISTING")
    }
    return create(path, capacity, policy, mode, flags, initialPosition, out, readerSlots: Int(readerSlots))
}

/// ring_create_at_position
@_cdecl("ring_create_at_position")
public func abiCreateAtPosition(_ path: UnsafePointer<CChar>?, _ capacity: UInt64, _ policy: Int32, _ mode: UInt32,
                                _ flags: UInt32, _ initialPosition: UInt64,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    if flags & UInt32(RING_CREATE_OPEN_EXISTING) != 0 {
        return fail(Code.invalidArgument, "ring_create_at_position does not take RING_CREATE_OPEN_EXISTING")
    }
    return create(path, capacity, policy, mode, flags, initialPosition, out)
}

func create(_ path: UnsafePointer<CChar>?, _ capacity: UInt64, _ policy: Int32, _ mode: UInt32,
            _ flags: UInt32, _ initialPosition: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?,
            readerSlots: Int = 0, producerSlots: Int = 0, itemType: ItemType? = nil, itemAlignment: Int = 0) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, "out must not be NULL") }
    out.pointee = nil
    let anonymous = flags & UInt32(RING_CREATE_ANONYMOUS) != 0
    guard path != nil || anonymous else { return fail(Code.invalidArgument, "path must not be NULL") }
    guard let policy = RingPolicy(rawValue: UInt32(bitPattern: policy)) else {
        return fail(Code.invalidArgument, "unknown policy \(policy)")
    }
    let known = UInt32(RING_CREATE_REPLACE | RING_CREATE_OPEN_EXISTING | RING_CREATE_ALLOW_SHARED | RING_CREATE_ANY_GEOMETRY
                       | RING_CREATE_ANONYMOUS | RING_CREATE_DOUBLE_MAP | RING_CREATE_SINGLE_MAP | RING_CREATE_NO_COUNTS)
    guard flags & ~known == 0 else { return fail(Code.invalidArgument, "unknown flags \(flags)") }
    guard let cap = Int(exactly: capacity) else {
        return fail(.invalidSize(size: Int.max, maximum: RingLayout.maxCapacity))
    }
    guard let mapping = mapping(flags) else {
        return fail(Code.invalidArgument, "RING_CREATE_DOUBLE_MAP and RING_CREATE_SINGLE_MAP together")
    }
    // SPEC.md §22.2: new rings keep message counts unless asked not to.
    let counts = flags & UInt32(RING_CREATE_NO_COUNTS) == 0
    return call { () throws(RingError) in
        let ring: Ring
        if anonymous {
            guard flags & UInt32(RING_CREATE_REPLACE | RING_CREATE_OPEN_EXISTING) == 0 else {
                throw .invalidArgument("RING_CREATE_ANONYMOUS does not take RING_CREATE_REPLACE or RING_CREATE_OPEN_EXISTING")
            }
            ring = try Ring.anonymous(name: path.map { String(cString: $0) } ?? "ring", capacity: cap, policy: policy,
                                      initialPosition: initialPosition, readerSlots: readerSlots,
                                      producerSlots: producerSlots, itemType: itemType, itemAlignment: itemAlignment,
                                      mapping: mapping, keepsCounts: counts)
        } else if flags & UInt32(RING_CREATE_OPEN_EXISTING) != 0 {
            ring = try Ring.openOrCreate(at: RingPath(cString: path!), capacity: cap, policy: policy, mode: mode,
                                         allowShared: flags & UInt32(RING_CREATE_ALLOW_SHARED) != 0,
                                         acceptAnyGeometry: flags & UInt32(RING_CREATE_ANY_GEOMETRY) != 0,
                                         readerSlots: readerSlots, producerSlots: producerSlots,
                                         itemType: itemType, itemAlignment: itemAlignment, mapping: mapping,
                                         keepsCounts: counts)
        } else {
            // The path's bytes, unchanged: POSIX paths need not be UTF-8.
            ring = try Ring.create(at: RingPath(cString: path!), capacity: cap, policy: policy, mode: mode,
                                   replaceExisting: flags & UInt32(RING_CREATE_REPLACE) != 0,
                                   initialPosition: initialPosition, readerSlots: readerSlots,
                                   producerSlots: producerSlots, itemType: itemType, itemAlignment: itemAlignment,
                                   mapping: mapping, keepsCounts: counts)
        }
        out.pointee = RingHandle(ring).retainedPointer()
    }
}

/// The mapping RING_CREATE_DOUBLE_MAP / RING_CREATE_SINGLE_MAP (or the RING_OPEN_ flags of the
/// same values) ask for; nil for both at once.
func mapping(_ flags: UInt32) -> RingMapping? {
    switch (flags & UInt32(RING_CREATE_DOUBLE_MAP) != 0, flags & UInt32(RING_CREATE_SINGLE_MAP) != 0) {
    case (true, true): return nil
    case (true, false): return .double
    case (false, true): return .single
    case (false, false): return .automatic
    }
}

/// ring_open
@_cdecl("ring_open")
public func abiOpen(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let path, let out else { return fail(Code.invalidArgument, "path and out must not be NULL") }
    out.pointee = nil
    let p = RingPath(cString: path)  // the bytes, unchanged: POSIX paths need not be UTF-8
    return call { () throws(RingError) in
        out.pointee = RingHandle(try Ring.open(at: p)).retainedPointer()
    }
}

/// Runs `body` on the open Ring behind `pointer`.
func withRing(_ pointer: OpaquePointer?, _ body: (Ring) throws(RingError) -> Void) -> Int32 {
    RingHandle.run(pointer, nullMessage: "ring handle is NULL", body)
}

/// ring_info
@_cdecl("ring_info")
public func abiInfo(_ pointer: OpaquePointer?, _ info: UnsafeMutablePointer<ring_info_t>?) -> Int32 {
    guard let info else { return fail(Code.invalidArgument, "info is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in
        let s = try ring.stats()
        var i = ring_info_t()
        i.capacity = UInt64(s.capacity)
        i.max_message_size = ring.geometry.isTyped ? 0 : UInt64(ring.maxMessageSize)
        i.producer_position = s.producerPosition
        i.consumer_position = s.consumerPosition
        i.used_bytes = UInt64(s.usedBytes)
        i.message_count = UInt64(s.messageCount)
        i.dropped_count = s.droppedCount
        i.policy = s.policy.rawValue
        i.writer_closed = s.isWriterClosed ? 1 : 0
        i.version_major = s.versionMajor
        i.version_minor = s.versionMinor
        i.header_size = UInt32(ring.geometry.headerSize)
        info.pointee = i
    }
}

/// ring_geometry
@_cdecl("ring_geometry")
public func abiGeometry(_ pointer: OpaquePointer?, _ out: UnsafeMutablePointer<ring_geometry_t>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, static: "geometry is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in
        let g = ring.geometry
        var r = ring_geometry_t()
        r.capacity = UInt64(g.capacity)
        r.max_message_size = g.isTyped ? 0 : UInt64(g.maxMessageSize)
        r.policy = g.policy.rawValue
        r.header_size = UInt32(g.headerSize)
        r.version_major = g.versionMajor
        r.version_minor = g.versionMinor
        r.reader_slots = UInt32(g.readerSlots)
        out.pointee = r
    }
}

/// ring_flush
@_cdecl("ring_flush")
public func abiFlush(_ pointer: OpaquePointer?) -> Int32 {
    withRing(pointer) { (ring) throws(RingError) in try ring.flush() }
}

/// ring_close
@_cdecl("ring_close")
public func abiClose(_ pointer: OpaquePointer?) -> Int32 {
    RingHandle.close(pointer, nullMessage: "ring handle is NULL")
}

/// ring_free
@_cdecl("ring_free")
public func abiFree(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    _ = abiClose(pointer)
    RingHandle.release(pointer)
}
