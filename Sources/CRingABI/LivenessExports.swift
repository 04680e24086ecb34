// LivenessExports.swift - liveness and message counts of ringformat.h (SPEC.md §22):
// whether the other side is alive, a consumer that stops when the producer is gone,
// and the unread messages in O(1).

import CRingFormatHeader
import RingFormat

/// ring_producer_alive
@_cdecl("ring_producer_alive")
public func abiProducerAlive(_ pointer: OpaquePointer?, _ alive: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let alive else { return fail(Code.invalidArgument, static: "alive is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in alive.pointee = try ring.producerAlive ? 1 : 0 }
}

/// ring_consumer_alive
@_cdecl("ring_consumer_alive")
public func abiConsumerAlive(_ pointer: OpaquePointer?, _ alive: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let alive else { return fail(Code.invalidArgument, static: "alive is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in alive.pointee = try ring.consumerAlive ? 1 : 0 }
}

/// ring_consumer_stop_when_producer_gone
@_cdecl("ring_consumer_stop_when_producer_gone")
public func abiConsumerStopWhenProducerGone(_ pointer: OpaquePointer?, _ on: Int32) -> Int32 {
    withConsumer(pointer) { (consumer) throws(RingError) in consumer.stopsWhenProducerGone = on != 0 }
}

/// ring_item_consumer_stop_when_producer_gone
@_cdecl("ring_item_consumer_stop_when_producer_gone")
public func abiItemConsumerStopWhenProducerGone(_ pointer: OpaquePointer?, _ on: Int32) -> Int32 {
    withItemConsumer(pointer) { (consumer) throws(RingError) in consumer.stopsWhenProducerGone = on != 0 }
}

/// ring_message_count
@_cdecl("ring_message_count")
public func abiMessageCount(_ pointer: OpaquePointer?, _ count: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let count else { return fail(Code.invalidArgument, static: "count is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in count.pointee = UInt64(try ring.messageCount) }
}

/// ring_consumer_pending
@_cdecl("ring_consumer_pending")
public func abiConsumerPending(_ pointer: OpaquePointer?, _ count: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let count else { return fail(Code.invalidArgument, static: "count is NULL") }
    return withConsumer(pointer) { (consumer) throws(RingError) in count.pointee = UInt64(try consumer.pendingCount) }
}
