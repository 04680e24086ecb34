// SharedProducerExports.swift - the several-producers functions of ringformat.h
// (format 1.1, SPEC.md §18; version node RINGFORMAT_1.2). A producer of a shared
// ring is a ring_producer_t from ring_producer_open, which takes a producer slot:
// every producer function works on it unchanged.

import CRingFormatHeader
import RingFormat

/// ring_create_shared
@_cdecl("ring_create_shared")
public func abiCreateShared(_ path: UnsafePointer<CChar>?, _ capacity: UInt64, _ policy: Int32, _ mode: UInt32,
                            _ flags: UInt32, _ readerSlots: UInt32, _ producerSlots: UInt32, _ initialPosition: UInt64,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    if initialPosition != 0 && flags & UInt32(RING_CREATE_OPEN_EXISTING) != 0 {
        return fail(Code.invalidArgument, static: "ring_create_shared takes an initial position only without RING_CREATE_OPEN_EXISTING")
    }
    return create(path, capacity, policy, mode, flags, initialPosition, out, readerSlots: Int(readerSlots),
                  producerSlots: Int(producerSlots))
}

/// ring_producer_slots
@_cdecl("ring_producer_slots")
public func abiProducerSlots(_ pointer: OpaquePointer?, _ slots: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let slots else { return fail(Code.invalidArgument, static: "slots is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in slots.pointee = UInt32(ring.geometry.producerSlots) }
}

/// ring_producers
@_cdecl("ring_producers")
public func abiProducers(_ pointer: OpaquePointer?, _ infos: UnsafeMutablePointer<ring_producer_info_t>?,
                         _ capacity: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let count else { return fail(Code.invalidArgument, static: "count is NULL") }
    guard capacity >= 0, capacity == 0 || infos != nil else { return fail(Code.invalidArgument, static: "infos is NULL") }
    count.pointee = 0
    return withRing(pointer) { (ring) throws(RingError) in
        let all = try ring.producers()
        count.pointee = all.count
        for (i, p) in all.prefix(capacity).enumerated() {
            var info = ring_producer_info_t()
            info.slot = UInt32(p.slot)
            info.flags = (p.isLive ? UInt32(RING_PRODUCER_INFO_LIVE) : 0)
                | (p.claimStart != nil ? UInt32(RING_PRODUCER_INFO_CLAIMING) : 0)
                | (p.isHeld ? UInt32(RING_PRODUCER_INFO_HELD) : 0)
            info.claim_start = p.claimStart ?? 0
            info.committed_count = p.committedCount
            info.cancelled_count = p.cancelledCount
            infos![i] = info
        }
    }
}

/// ring_settle_claims
@_cdecl("ring_settle_claims")
public func abiSettleClaims(_ pointer: OpaquePointer?) -> Int32 {
    withRing(pointer) { (ring) throws(RingError) in try ring.settleClaims() }
}
