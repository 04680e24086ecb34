// ItemExports.swift - the typed-ring, mapping and no-file functions of
// ringformat.h (format 1.1, SPEC.md §19, §20; version node RINGFORMAT_1.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRingFormatHeader
import RingFormat

extension ItemProducer: HandleObject {}
extension ItemConsumer: HandleObject {}

typealias ItemProducerHandle = Handle<ItemProducer>
typealias ItemConsumerHandle = Handle<ItemConsumer>

/// ring_create_items
@_cdecl("ring_create_items")
public func abiCreateItems(_ path: UnsafePointer<CChar>?, _ itemType: UnsafePointer<CChar>?, _ itemAlignment: UInt32,
                           _ itemCapacity: UInt64, _ policy: Int32, _ mode: UInt32, _ flags: UInt32,
                           _ initialPosition: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let itemType else { return fail(Code.invalidArgument, static: "item_type is NULL") }
    if initialPosition != 0 && flags & UInt32(RING_CREATE_OPEN_EXISTING) != 0 {
        return fail(Code.invalidArgument, static: "ring_create_items takes an initial position only without RING_CREATE_OPEN_EXISTING")
    }
    let type: ItemType
    do throws(RingError) { type = try ItemType(String(cString: itemType)) } catch { return fail(error) }
    return create(path, itemCapacity, policy, mode, flags, initialPosition, out, itemType: type,
                  itemAlignment: Int(itemAlignment))
}

/// ring_open_flags
@_cdecl("ring_open_flags")
public func abiOpenFlags(_ path: UnsafePointer<CChar>?, _ flags: UInt32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let path, let out else { return fail(Code.invalidArgument, "path and out must not be NULL") }
    out.pointee = nil
    guard flags & ~UInt32(RING_OPEN_DOUBLE_MAP | RING_OPEN_SINGLE_MAP) == 0, let mapping = mapping(flags) else {
        return fail(Code.invalidArgument, "bad flags \(flags): RING_OPEN_DOUBLE_MAP or RING_OPEN_SINGLE_MAP")
    }
    let p = RingPath(cString: path)  // the bytes, unchanged: POSIX paths need not be UTF-8
    return call { () throws(RingError) in
        out.pointee = RingHandle(try Ring.open(at: p, mapping: mapping)).retainedPointer()
    }
}

/// ring_open_fd
@_cdecl("ring_open_fd")
public func abiOpenFd(_ fd: Int32, _ flags: UInt32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, static: "out is NULL") }
    out.pointee = nil
    guard flags & ~UInt32(RING_OPEN_DOUBLE_MAP | RING_OPEN_SINGLE_MAP) == 0, let mapping = mapping(flags) else {
        return fail(Code.invalidArgument, "bad flags \(flags): RING_OPEN_DOUBLE_MAP or RING_OPEN_SINGLE_MAP")
    }
    return call { () throws(RingError) in
        out.pointee = RingHandle(try Ring.open(descriptor: fd, mapping: mapping)).retainedPointer()
    }
}

/// ring_fd
@_cdecl("ring_fd")
public func abiFd(_ pointer: OpaquePointer?, _ fd: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let fd else { return fail(Code.invalidArgument, static: "fd is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in fd.pointee = ring.descriptor }
}

/// ring_is_double_mapped
@_cdecl("ring_is_double_mapped")
public func abiIsDoubleMapped(_ pointer: OpaquePointer?, _ yes: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let yes else { return fail(Code.invalidArgument, static: "yes is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in yes.pointee = ring.isDoubleMapped ? 1 : 0 }
}

/// ring_item_info
@_cdecl("ring_item_info")
public func abiItemInfo(_ pointer: OpaquePointer?, _ info: UnsafeMutablePointer<ring_item_info_t>?) -> Int32 {
    guard let info else { return fail(Code.invalidArgument, static: "info is NULL") }
    return withRing(pointer) { (ring) throws(RingError) in
        var i = ring_item_info_t()
        let g = ring.geometry
        i.item_size = UInt32(g.itemSize)
        i.item_alignment = UInt32(g.itemAlignment)
        i.item_capacity = UInt64(g.itemCapacity)
        i.item_type = ring.itemTypeCString ?? ("" as StaticString).cString
        info.pointee = i
    }
}

/// Fills the two C spans from `spans`.
func export(_ spans: ItemSpans, _ out: UnsafeMutablePointer<ring_span_t>) {
    out[0] = ring_span_t(data: spans.first.baseAddress, len: spans.first.count)
    out[1] = ring_span_t(data: spans.second.count > 0 ? spans.second.baseAddress : nil, len: spans.second.count)
}

// MARK: Producer

/// ring_item_producer_open
@_cdecl("ring_item_producer_open")
public func abiItemProducerOpen(_ ring: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, static: "out is NULL") }
    out.pointee = nil
    return withRing(ring) { (ring) throws(RingError) in
        out.pointee = ItemProducerHandle(try ring.makeItemProducer()).retainedPointer()
    }
}

/// Runs `body` on the open item producer behind `pointer`, holding its lock.
@inline(__always)
func withItemProducer(_ pointer: OpaquePointer?, _ body: (ItemProducer) throws(RingError) -> Void) -> Int32 {
    ItemProducerHandle.run(pointer, nullMessage: "item producer handle is NULL", body)
}

/// ring_write_items
@_cdecl("ring_write_items")
public func abiWriteItems(_ pointer: OpaquePointer?, _ items: UnsafeRawPointer?, _ count: Int, _ timeout: Int64) -> Int32 {
    guard count >= 0 else { return fail(Code.invalidSize, static: "count is over SIZE_MAX / 2") }
    guard count == 0 || items != nil else { return fail(Code.invalidArgument, static: "items is NULL") }
    return withItemProducer(pointer) { (p) throws(RingError) in
        let (bytes, overflow) = count.multipliedReportingOverflow(by: p.itemSize)
        guard !overflow else { throw .invalidSize(size: count, maximum: p.itemCapacity) }
        try p.write(UnsafeRawBufferPointer(start: count == 0 ? nil : items, count: bytes), timeout: duration(timeout))
    }
}

/// ring_items_writable
@_cdecl("ring_items_writable")
public func abiItemsWritable(_ pointer: OpaquePointer?, _ spans: UnsafeMutablePointer<ring_span_t>?,
                             _ count: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    guard let spans, let count else { return fail(Code.invalidArgument, static: "spans and count must not be NULL") }
    count.pointee = 0
    return withItemProducer(pointer) { (p) throws(RingError) in
        let s = try p.writableSpans(timeout: duration(timeout))
        export(s, spans)
        count.pointee = s.count
    }
}

/// ring_items_commit
@_cdecl("ring_items_commit")
public func abiItemsCommit(_ pointer: OpaquePointer?, _ count: Int) -> Int32 {
    withItemProducer(pointer) { (p) throws(RingError) in try p.commit(count) }
}

/// ring_item_producer_close_writer
@_cdecl("ring_item_producer_close_writer")
public func abiItemProducerCloseWriter(_ pointer: OpaquePointer?) -> Int32 {
    withItemProducer(pointer) { (p) throws(RingError) in p.closeWriter() }
}

/// ring_item_producer_close
@_cdecl("ring_item_producer_close")
public func abiItemProducerClose(_ pointer: OpaquePointer?) -> Int32 {
    ItemProducerHandle.close(pointer, nullMessage: "item producer handle is NULL")
}

/// ring_item_producer_free
@_cdecl("ring_item_producer_free")
public func abiItemProducerFree(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    _ = abiItemProducerClose(pointer)
    ItemProducerHandle.release(pointer)
}

// MARK: Consumer

/// ring_item_consumer_open
@_cdecl("ring_item_consumer_open")
public func abiItemConsumerOpen(_ ring: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(Code.invalidArgument, static: "out is NULL") }
    out.pointee = nil
    return withRing(ring) { (ring) throws(RingError) in
        out.pointee = ItemConsumerHandle(try ring.makeItemConsumer()).retainedPointer()
    }
}

/// Runs `body` on the open item consumer behind `pointer`, holding its lock.
@inline(__always)
func withItemConsumer(_ pointer: OpaquePointer?, _ body: (ItemConsumer) throws(RingError) -> Void) -> Int32 {
    ItemConsumerHandle.run(pointer, nullMessage: "item consumer handle is NULL", body)
}

/// ring_read_items
@_cdecl("ring_read_items")
public func abiReadItems(_ pointer: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ maxCount: Int,
                         _ count: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    guard let count else { return fail(Code.invalidArgument, static: "count is NULL") }
    count.pointee = 0
    guard maxCount >= 0 else { return fail(Code.invalidSize, static: "max_count is over SIZE_MAX / 2") }
    guard maxCount == 0 || buffer != nil else { return fail(Code.invalidArgument, static: "buf is NULL") }
    return withItemConsumer(pointer) { (c) throws(RingError) in
        let (bytes, overflow) = maxCount.multipliedReportingOverflow(by: c.itemSize)
        let wanted = overflow ? Int.max / c.itemSize : maxCount
        let raw = UnsafeMutableRawBufferPointer(start: buffer, count: overflow ? wanted * c.itemSize : bytes)
        count.pointee = timeout == 0 ? try c.read(into: raw, maxItems: wanted)
                                     : try c.read(into: raw, maxItems: wanted, timeout: duration(timeout))
        if count.pointee == 0 && maxCount > 0 { throw .empty }
    }
}

/// ring_items_readable
@_cdecl("ring_items_readable")
public func abiItemsReadable(_ pointer: OpaquePointer?, _ spans: UnsafeMutablePointer<ring_span_t>?,
                             _ count: UnsafeMutablePointer<Int>?, _ timeout: Int64) -> Int32 {
    guard let spans, let count else { return fail(Code.invalidArgument, static: "spans and count must not be NULL") }
    count.pointee = 0
    return withItemConsumer(pointer) { (c) throws(RingError) in
        let s = try c.readableSpans(timeout: duration(timeout))
        export(s, spans)
        count.pointee = s.count
    }
}

/// ring_items_consume
@_cdecl("ring_items_consume")
public func abiItemsConsume(_ pointer: OpaquePointer?, _ count: Int) -> Int32 {
    var dropped = 0
    let rc = withItemConsumer(pointer) { (c) throws(RingError) in dropped = try c.consume(count) }
    if rc == Code.ok && dropped > 0 {
        return fail(Code.overwritten, "the producer dropped the first \(dropped) of the \(count) items given back while they were held (overwrite-oldest); the rest were consumed")
    }
    return rc
}

/// ring_items_missed
@_cdecl("ring_items_missed")
public func abiItemsMissed(_ pointer: OpaquePointer?, _ missed: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let missed else { return fail(Code.invalidArgument, static: "missed is NULL") }
    return withItemConsumer(pointer) { (c) throws(RingError) in missed.pointee = c.missedCount }
}

/// ring_item_consumer_close
@_cdecl("ring_item_consumer_close")
public func abiItemConsumerClose(_ pointer: OpaquePointer?) -> Int32 {
    ItemConsumerHandle.close(pointer, nullMessage: "item consumer handle is NULL")
}

/// ring_item_consumer_free
@_cdecl("ring_item_consumer_free")
public func abiItemConsumerFree(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    _ = abiItemConsumerClose(pointer)
    ItemConsumerHandle.release(pointer)
}

// MARK: Byte rings

/// ring_committed_spans
@_cdecl("ring_committed_spans")
public func abiCommittedSpans(_ pointer: OpaquePointer?, _ spans: UnsafeMutablePointer<ring_span_t>?) -> Int32 {
    guard let spans else { return fail(Code.invalidArgument, static: "spans is NULL") }
    return ConsumerHandle.run(pointer, nullMessage: "consumer handle is NULL") { (c) throws(RingError) in
        let (first, second) = try c.committedSpans()
        spans[0] = ring_span_t(data: UnsafeMutableRawPointer(mutating: first.baseAddress), len: first.count)
        spans[1] = ring_span_t(data: second.count > 0 ? UnsafeMutableRawPointer(mutating: second.baseAddress) : nil,
                               len: second.count)
    }
}
