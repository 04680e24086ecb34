// DoorbellExports.swift - the pollable waits of ringformat.h (SPEC.md §21;
// version node RINGFORMAT_1.4): each handle's doorbell descriptor, arming it
// and disarming it (RingFormat/DoorbellHandles.swift).

import CRingFormatHeader
import RingFormat

/// The RING_DOORBELL_* value of `kind`.
func code(_ kind: DoorbellKind?) -> Int32 {
    kind == .poll ? Int32(RING_DOORBELL_POLL) : Int32(RING_DOORBELL_FUTEX)
}

/// Stores a doorbell's descriptor and kind for C.
func export(fd: Int32, kind: DoorbellKind?, _ fdOut: UnsafeMutablePointer<Int32>, _ kindOut: UnsafeMutablePointer<Int32>?) {
    fdOut.pointee = fd
    kindOut?.pointee = code(kind)
}

/// ring_consumer_doorbell
@_cdecl("ring_consumer_doorbell")
public func abiConsumerDoorbell(_ pointer: OpaquePointer?, _ fd: UnsafeMutablePointer<Int32>?,
                                _ kind: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let fd else { return fail(Code.invalidArgument, static: "fd is NULL") }
    return withConsumer(pointer) { (c) throws(RingError) in
        export(fd: try c.doorbellDescriptor(), kind: c.doorbellKind, fd, kind)
    }
}

/// ring_consumer_arm
@_cdecl("ring_consumer_arm")
public func abiConsumerArm(_ pointer: OpaquePointer?, _ armed: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let armed else { return fail(Code.invalidArgument, static: "armed is NULL") }
    armed.pointee = 0
    return withConsumer(pointer) { (c) throws(RingError) in armed.pointee = try c.armDoorbell() ? 1 : 0 }
}

/// ring_consumer_disarm
@_cdecl("ring_consumer_disarm")
public func abiConsumerDisarm(_ pointer: OpaquePointer?) -> Int32 {
    withConsumer(pointer) { (c) throws(RingError) in c.disarmDoorbell() }
}

/// ring_producer_doorbell
@_cdecl("ring_producer_doorbell")
public func abiProducerDoorbell(_ pointer: OpaquePointer?, _ fd: UnsafeMutablePointer<Int32>?,
                                _ kind: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let fd else { return fail(Code.invalidArgument, static: "fd is NULL") }
    return withProducer(pointer) { (p) throws(RingError) in
        export(fd: try p.doorbellDescriptor(), kind: p.doorbellKind, fd, kind)
    }
}

/// ring_producer_arm
@_cdecl("ring_producer_arm")
public func abiProducerArm(_ pointer: OpaquePointer?, _ size: Int, _ armed: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let armed else { return fail(Code.invalidArgument, static: "armed is NULL") }
    armed.pointee = 0
    return withProducer(pointer) { (p) throws(RingError) in
        armed.pointee = try p.armDoorbell(forPayload: size) ? 1 : 0
    }
}

/// ring_producer_disarm
@_cdecl("ring_producer_disarm")
public func abiProducerDisarm(_ pointer: OpaquePointer?) -> Int32 {
    withProducer(pointer) { (p) throws(RingError) in p.disarmDoorbell() }
}

/// ring_item_consumer_doorbell
@_cdecl("ring_item_consumer_doorbell")
public func abiItemConsumerDoorbell(_ pointer: OpaquePointer?, _ fd: UnsafeMutablePointer<Int32>?,
                                    _ kind: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let fd else { return fail(Code.invalidArgument, static: "fd is NULL") }
    return withItemConsumer(pointer) { (c) throws(RingError) in
        export(fd: try c.doorbellDescriptor(), kind: c.doorbellKind, fd, kind)
    }
}

/// ring_item_consumer_arm
@_cdecl("ring_item_consumer_arm")
public func abiItemConsumerArm(_ pointer: OpaquePointer?, _ armed: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let armed else { return fail(Code.invalidArgument, static: "armed is NULL") }
    armed.pointee = 0
    return withItemConsumer(pointer) { (c) throws(RingError) in armed.pointee = try c.armDoorbell() ? 1 : 0 }
}

/// ring_item_consumer_disarm
@_cdecl("ring_item_consumer_disarm")
public func abiItemConsumerDisarm(_ pointer: OpaquePointer?) -> Int32 {
    withItemConsumer(pointer) { (c) throws(RingError) in c.disarmDoorbell() }
}

/// ring_item_producer_doorbell
@_cdecl("ring_item_producer_doorbell")
public func abiItemProducerDoorbell(_ pointer: OpaquePointer?, _ fd: UnsafeMutablePointer<Int32>?,
                                    _ kind: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let fd else { return fail(Code.invalidArgument, static: "fd is NULL") }
    return withItemProducer(pointer) { (p) throws(RingError) in
        export(fd: try p.doorbellDescriptor(), kind: p.doorbellKind, fd, kind)
    }
}

/// ring_item_producer_arm
@_cdecl("ring_item_producer_arm")
public func abiItemProducerArm(_ pointer: OpaquePointer?, _ count: Int, _ armed: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let armed else { return fail(Code.invalidArgument, static: "armed is NULL") }
    armed.pointee = 0
    return withItemProducer(pointer) { (p) throws(RingError) in
        armed.pointee = try p.armDoorbell(forItems: count) ? 1 : 0
    }
}

/// ring_item_producer_disarm
@_cdecl("ring_item_producer_disarm")
public func abiItemProducerDisarm(_ pointer: OpaquePointer?) -> Int32 {
    withItemProducer(pointer) { (p) throws(RingError) in p.disarmDoorbell() }
}
