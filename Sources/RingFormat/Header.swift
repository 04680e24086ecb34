// Header.swift - building a new header (SPEC.md §7) and validating an
// existing one (SPEC.md §13). Values are read once from a private copy of the
// header, checked, and only the checked copies are used afterwards.

/// What a ring does when a message does not fit (SPEC.md §9).
public enum RingPolicy: UInt32, Sendable, CaseIterable {
    /// The writer is told the ring is full (`RingError.full`); nothing is lost.
    case rejectWhenFull = 0
    /// The writer drops the oldest records to make room, like `deque(maxlen)`.
    case overwriteOldest = 1
}

/// The immutable fields of a header that passed validation.
public struct RingGeometry: Sendable, Equatable {
    /// Offset of the data region.
    public let headerSize: Int
    /// Size of the data region; a power of two.
    public let capacity: Int
    /// Full-ring behaviour.
    public let policy: RingPolicy
    /// Format major version of the file.
    public let versionMajor: UInt16
    /// Format minor version of the file.
    public let versionMinor: UInt16
    /// Compatible feature bits (ignored by 1.0).
    public let compatFlags: UInt32
    /// Slots of the reader table (SPEC.md §17); 0 for a ring without one (a 1.0 file).
    public let readerSlots: Int
    /// Slots of the producer table (SPEC.md §18); 0 for a single-producer ring.
    public let producerSlots: Int
    /// A typed ring's item type (SPEC.md §19); nil for a ring of byte records.
    public let itemType: ItemType?
    /// The alignment a typed ring's items were written for; 0 for a ring of byte records.
    public let itemAlignment: Int

    /// Whether the ring holds fixed-size items (1.1, SPEC.md §19).
    @inlinable public var isTyped: Bool { itemType != nil }
    /// Bytes of one item (typed rings); 0 for a ring of byte records.
    @inlinable public var itemSize: Int { itemType?.size ?? 0 }
    /// Items a typed ring holds: floor(capacity / itemSize) (SPEC.md §19.1); 0 for byte rings.
    @inlinable public var itemCapacity: Int { isTyped ? capacity / itemSize : 0 }
    /// The most producerPosition - consumerPosition may be: capacity bytes, or itemCapacity items.
    @inlinable public var positionSpan: UInt64 { UInt64(isTyped ? itemCapacity : capacity) }

    /// Whether the ring has a reader table (1.1, SPEC.md §17).
    @inlinable public var hasReaders: Bool { readerSlots > 0 }
    /// Whether several producers share the ring (1.1, SPEC.md §18).
    @inlinable public var hasProducers: Bool { producerSlots > 0 }
    /// Whether the ring keeps message counts (COMPAT_COUNTS, SPEC.md §22.2): the number of
    /// unread messages is known without walking the records. Never for a typed ring, whose
    /// positions count its items.
    @inlinable public var keepsCounts: Bool { compatFlags & RingLayout.compatCounts != 0 && !isTyped }
    /// Bytes before a message's payload: 8, or 16 in a ring with readers or producers (the index).
    @inlinable public var messageHeaderSize: Int {
        hasReaders || hasProducers ? RingLayout.indexedRecordHeaderSize : RingLayout.recordHeaderSize
    }
    /// log2(capacity).
    @inlinable public var capacityShift: Int { capacity.trailingZeroBitCount }
    /// Bytes a message record of `payloadLength` takes in this ring.
    @inlinable public func recordSize(payloadLength: Int) -> Int {
        RingLayout.recordSize(payloadLength: payloadLength, headerSize: messageHeaderSize)
    }

    /// capacity - 1: position & mask is the offset within the data region.
    @inlinable public var mask: UInt64 { UInt64(capacity) - 1 }
    /// The largest payload this ring accepts.
    @inlinable public var maxMessageSize: Int { RingLayout.maxMessageSize(capacity: capacity, headerSize: messageHeaderSize) }
    /// headerSize + capacity.
    @inlinable public var fileSize: Int { headerSize + capacity }
}

enum Header {
    /// The capacity a request for `requested` bytes gets: the next power of two, at least MIN_CAPACITY.
    static func roundedCapacity(_ requested: Int) throws(RingError) -> Int {
        guard requested > 0, requested <= RingLayout.maxCapacity else {
            throw .invalidSize(size: requested, maximum: RingLayout.maxCapacity)
        }
        var c = RingLayout.minCapacity
        while c < requested { c <<= 1 }
        return c
    }

    /// Checks a request for `slots` producer slots (SPEC.md §18.1).
    static func checkProducerSlots(_ slots: Int, policy: RingPolicy) throws(RingError) {
        guard slots >= 0, slots <= RingLayout.maxProducerSlots else {
            throw .invalidArgument("\(slots) producer slots: at most \(RingLayout.maxProducerSlots)")
        }
        guard slots == 0 || policy == .rejectWhenFull else {
            throw .invalidArgument("several producers need reject-when-full: under overwrite-oldest the oldest bytes may be another producer's claim still being written, which nobody may overwrite (SPEC.md §18.1)")
        }
    }

    /// The smallest headerSize whose reader table has `slots` slots (SPEC.md §17.1).
    static func headerSize(forReaderSlots slots: Int) throws(RingError) -> Int {
        guard slots >= 0, slots <= RingLayout.maxReaderSlots(headerSize: RingLayout.maxHeaderSize) else {
            throw .invalidArgument("\(slots) reader slots: at most \(RingLayout.maxReaderSlots(headerSize: RingLayout.maxHeaderSize)) fit in the largest header")
        }
        var size = RingLayout.defaultHeaderSize
        while RingLayout.maxReaderSlots(headerSize: size) < slots { size <<= 1 }
        return size
    }

    /// The bytes of a fresh header (SPEC.md §7): identity line with checksum,
    /// both positions at `initialPosition`, writer open, everything else zero.
    static func image(capacity: Int, policy: RingPolicy, initialPosition: UInt64,
                      headerSize: Int = RingLayout.defaultHeaderSize, readerSlots: Int = 0,
                      producerSlots: Int = 0, itemType: ItemType? = nil, itemAlignment: Int = 0,
                      keepsCounts: Bool = false) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerSize)
        bytes.withUnsafeMutableBytes { raw in
            func put<T: FixedWidthInteger>(_ value: T, _ field: FieldLayout) {
                precondition(MemoryLayout<T>.size == field.size)
                raw.storeBytes(of: value.littleEndian, toByteOffset: field.offset, as: T.self)
            }
            for (i, b) in RingLayout.magicBytes.enumerated() { raw[RingLayout.Header.magic.offset + i] = b }
            put(RingLayout.versionMajor, RingLayout.Header.versionMajor)
            let minor = readerSlots > 0 || producerSlots > 0 || itemType != nil
                ? RingLayout.versionMinorReaders : RingLayout.versionMinor
            put(minor, RingLayout.Header.versionMinor)
            put(UInt32(headerSize), RingLayout.Header.headerSize)
            put(UInt64(capacity), RingLayout.Header.capacity)
            put(policy.rawValue, RingLayout.Header.policy)
            let incompat = (readerSlots > 0 ? RingLayout.incompatReaders : 0)
                | (producerSlots > 0 ? RingLayout.incompatProducers : 0)
                | (itemType != nil ? RingLayout.incompatItems : 0)
            put(incompat, RingLayout.Header.incompatFlags)
            // COMPAT_COUNTS (SPEC.md §22.2): a typed ring counts its items by its positions.
            put(keepsCounts && itemType == nil ? RingLayout.compatCounts : 0, RingLayout.Header.compatFlags)
            put(UInt32(readerSlots), RingLayout.Header.readerSlots)
            put(UInt32(producerSlots), RingLayout.Header.producerSlots)
            if let itemType {
                // SPEC.md §19.1: the description at ITEM_TYPE_OFFSET, its length and CRC in the identity line.
                let text = Array(itemType.description.utf8)
                for (i, b) in text.enumerated() { raw[RingLayout.itemTypeOffset + i] = b }
                put(UInt32(itemType.size), RingLayout.Header.itemSize)
                put(UInt32(itemAlignment), RingLayout.Header.itemAlignment)
                put(UInt32(text.count), RingLayout.Header.typeLength)
                let typeCRC = ringChecksum(UnsafeRawBufferPointer(
                    rebasing: raw[RingLayout.itemTypeOffset..<(RingLayout.itemTypeOffset + text.count)]))
                put(typeCRC, RingLayout.Header.typeChecksum)
            }
            let crc = ringChecksum(UnsafeRawBufferPointer(rebasing: raw[0..<RingLayout.checksumCoveredBytes]))
            put(crc, RingLayout.Header.headerChecksum)
            put(initialPosition, RingLayout.Header.producerPosition)
            put(initialPosition, RingLayout.Header.consumerPosition)
            // SPEC.md §18.1: claims start where the positions do.
            if producerSlots > 0 { put(initialPosition, RingLayout.Header.claimPosition) }
            put(RingLayout.writerStateOpen, RingLayout.Header.writerState)
        }
        return bytes
    }

    /// Validates the identity line held in `header` (a private copy of the
    /// file's first bytes) against a file of `fileSize` bytes, in the order of
    /// SPEC.md §13.
    static func validate(_ header: UnsafeRawBufferPointer, fileSize: Int) throws(RingError) -> RingGeometry {
        guard fileSize >= RingLayout.minHeaderSize, header.count >= RingLayout.minHeaderSize else {
            throw .corrupt(.truncated(fileSize: fileSize, expected: RingLayout.minHeaderSize))
        }
        func get<T: FixedWidthInteger>(_ field: FieldLayout, as: T.Type) -> T {
            T(littleEndian: header.loadUnaligned(fromByteOffset: field.offset, as: T.self))
        }
        guard get(RingLayout.Header.magic, as: UInt64.self) == RingLayout.magicValue else {
            throw .corrupt(.badMagic)
        }
        let major = get(RingLayout.Header.versionMajor, as: UInt16.self)
        let minor = get(RingLayout.Header.versionMinor, as: UInt16.self)
        guard major == RingLayout.versionMajor else {
            throw .unsupportedVersion(.majorVersion(major: major, minor: minor))
        }
        let stored = get(RingLayout.Header.headerChecksum, as: UInt32.self)
        let computed = ringChecksum(UnsafeRawBufferPointer(rebasing: header[0..<RingLayout.checksumCoveredBytes]))
        guard stored == computed else {
            throw .corrupt(.badChecksum(stored: stored, computed: computed))
        }
        let headerSize = get(RingLayout.Header.headerSize, as: UInt32.self)
        guard headerSize.nonzeroBitCount == 1,
              headerSize >= RingLayout.minHeaderSize, headerSize <= RingLayout.maxHeaderSize else {
            throw .corrupt(.badHeaderSize(headerSize))
        }
        let capacity = get(RingLayout.Header.capacity, as: UInt64.self)
        guard capacity.nonzeroBitCount == 1,
              capacity >= RingLayout.minCapacity, capacity <= RingLayout.maxCapacity else {
            throw .corrupt(.badCapacity(capacity))
        }
        let incompat = get(RingLayout.Header.incompatFlags, as: UInt32.self)
        guard incompat & ~RingLayout.knownIncompatFlags == 0 else {
            throw .unsupportedVersion(.incompatibleFlags(incompat))
        }
        // SPEC.md §19.1: typed rings with a reader or producer table are not defined in 1.1.
        if incompat & RingLayout.incompatItems != 0,
           incompat & (RingLayout.incompatReaders | RingLayout.incompatProducers) != 0 {
            throw .unsupportedVersion(.featureCombination(incompat))
        }
        var readerSlots = 0
        if incompat & RingLayout.incompatReaders != 0 {
            let slots = get(RingLayout.Header.readerSlots, as: UInt32.self)
            guard slots >= 1, Int(slots) <= RingLayout.maxReaderSlots(headerSize: Int(headerSize)) else {
                throw .corrupt(.badReaderTable(slots))
            }
            readerSlots = Int(slots)
        }
        let policyValue = get(RingLayout.Header.policy, as: UInt32.self)
        guard let policy = RingPolicy(rawValue: policyValue) else {
            throw .unsupportedVersion(.policy(policyValue))
        }
        var producerSlots = 0
        if incompat & RingLayout.incompatProducers != 0 {
            let slots = get(RingLayout.Header.producerSlots, as: UInt32.self)
            guard slots >= 1, Int(slots) <= RingLayout.maxProducerSlots, policy == .rejectWhenFull else {
                throw .corrupt(.badProducerTable(slots))
            }
            producerSlots = Int(slots)
        }
        var itemType: ItemType?
        var itemAlignment = 0
        if incompat & RingLayout.incompatItems != 0 {
            (itemType, itemAlignment) = try validateItemType(header, capacity: Int(capacity))
        }
        let expected = Int(headerSize) + Int(capacity)
        if fileSize < expected { throw .corrupt(.truncated(fileSize: fileSize, expected: expected)) }
        if fileSize > expected { throw .corrupt(.fileSizeMismatch(fileSize: fileSize, expected: expected)) }
        return RingGeometry(headerSize: Int(headerSize), capacity: Int(capacity), policy: policy,
                            versionMajor: major, versionMinor: minor,
                            compatFlags: get(RingLayout.Header.compatFlags, as: UInt32.self),
                            readerSlots: readerSlots, producerSlots: producerSlots,
                            itemType: itemType, itemAlignment: itemAlignment)
    }

    /// Checks a typed ring's item fields and type description (SPEC.md §19.5) in the private header copy.
    static func validateItemType(_ header: UnsafeRawBufferPointer, capacity: Int) throws(RingError) -> (ItemType, Int) {
        func get(_ field: FieldLayout) -> Int {
            Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: field.offset, as: UInt32.self)))
        }
        let size = get(RingLayout.Header.itemSize)
        let alignment = get(RingLayout.Header.itemAlignment)
        let length = get(RingLayout.Header.typeLength)
        guard size >= 1, size <= RingLayout.maxItemSize, size <= capacity else {
            throw .corrupt(.badItemType("itemSize \(size) is not 1 to \(RingLayout.maxItemSize) and at most the capacity \(capacity)"))
        }
        guard alignment.nonzeroBitCount == 1, alignment <= RingLayout.maxItemAlignment, size % alignment == 0 else {
            throw .corrupt(.badItemType("itemAlignment \(alignment) is not a power of two up to \(RingLayout.maxItemAlignment) dividing itemSize \(size)"))
        }
        guard length >= 1, length <= RingLayout.maxTypeLength else {
            throw .corrupt(.badItemType("typeLength \(length) is not 1 to \(RingLayout.maxTypeLength)"))
        }
        let start = RingLayout.itemTypeOffset
        let text = UnsafeRawBufferPointer(rebasing: header[start..<(start + length)])
        let stored = UInt32(get(RingLayout.Header.typeChecksum))
        let computed = ringChecksum(text)
        guard stored == computed else {
            throw .corrupt(.badItemType("typeChecksum 0x\(String(stored, radix: 16)) does not match the description's CRC-32 0x\(String(computed, radix: 16))"))
        }
        guard text.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .corrupt(.badItemType("the type description holds a byte that is not printable ASCII"))
        }
        guard header[(start + length)..<(start + RingLayout.maxTypeLength)].allSatisfy({ $0 == 0 }) else {
            throw .corrupt(.badItemType("non-zero bytes after the type description"))
        }
        let description = String(decoding: text, as: UTF8.self)
        let type: ItemType
        do throws(RingError) { type = try ItemType(description) } catch {
            if case .invalidArgument(let why) = error { throw .corrupt(.badItemType(why)) }
            throw error
        }
        guard type.size == size else {
            throw .corrupt(.badItemType("the description \"\(description)\" is \(type.size) bytes, itemSize says \(size)"))
        }
        return (type, alignment)
    }

    /// Checks a pair of positions read from the shared header (SPEC.md §13).
    /// In a typed ring positions count items: no alignment, at most itemCapacity apart (SPEC.md §19.3).
    @inline(__always)
    static func checkPositions(producer: UInt64, consumer: UInt64, geometry: RingGeometry) throws(RingError) {
        if !geometry.isTyped {
            let alignMask = UInt64(RingLayout.recordAlignment - 1)
            if producer & alignMask != 0 { throw .corrupt(.misalignedPosition(producer)) }
            if consumer & alignMask != 0 { throw .corrupt(.misalignedPosition(consumer)) }
        }
        if producer &- consumer > geometry.positionSpan {
            throw .corrupt(.positionsOutOfOrder(producer: producer, consumer: consumer))
        }
    }
}
