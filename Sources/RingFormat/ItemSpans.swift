// ItemSpans.swift - where a run of items lies in the mapping (SPEC.md §19.3,
// §20.1): one span when the data region is double-mapped, else up to two, the
// first possibly ending inside an item that straddles the end of the region.

/// A run of items in the mapping: `first`, then `second` (empty unless the run wraps
/// around the end of a data region that is mapped once).
///
/// The memory belongs to the ring's mapping: it stays mapped while the producer or
/// consumer that handed it out is alive, and its contents are the run's only until the
/// consumer consumes it (or, under overwrite-oldest, the producer drops it).
public struct ItemSpans: @unchecked Sendable {
    /// The run's first bytes: all of it when double-mapped or when it does not wrap.
    public let first: UnsafeMutableRawBufferPointer
    /// The rest, from the start of the data region.
    public let second: UnsafeMutableRawBufferPointer
    /// Whole items in the run.
    public let count: Int

    /// Bytes in the run: `count * itemSize`.
    public var byteCount: Int { first.count + second.count }

    /// The run of `count` items from position `start` of a ring with this geometry.
    init(data: UnsafeMutableRawPointer, geometry: RingGeometry, doubled: Bool, start: UInt64, count: Int) {
        let offset = Int(truncatingIfNeeded: (start &* UInt64(geometry.itemSize)) & geometry.mask)
        let length = count * geometry.itemSize
        let before = doubled ? length : min(length, geometry.capacity - offset)
        first = UnsafeMutableRawBufferPointer(start: data + offset, count: before)
        second = UnsafeMutableRawBufferPointer(start: data, count: length - before)
        self.count = count
    }

    /// An empty run.
    static let empty = ItemSpans()

    private init() {
        first = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        second = first
        count = 0
    }

    /// Copies the run's bytes to `destination` (at least `byteCount` bytes).
    func copy(to destination: UnsafeMutableRawPointer) {
        if first.count > 0 { destination.copyMemory(from: first.baseAddress!, byteCount: first.count) }
        if second.count > 0 { (destination + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
    }

    /// Copies `byteCount` bytes from `source` into the run.
    func fill(from source: UnsafeRawPointer) {
        if first.count > 0 { first.baseAddress!.copyMemory(from: source, byteCount: first.count) }
        if second.count > 0 { second.baseAddress!.copyMemory(from: source + first.count, byteCount: second.count) }
    }
}
