// TypedRing.swift - typed rings for Swift values (SPEC.md §19): a generic
// producer and consumer over BitwiseCopyable elements, vmcircbuffer's shape
// (the writer fills a span and commits n; the reader gets a span and consumes
// n), on top of ItemProducer and ItemConsumer.

/// A Swift type a typed ring can carry: its `ItemType` (SPEC.md §19.2).
///
/// A type of your own conforms by naming its layout; every bit pattern of its size must be
/// a valid value (a peer may write any bytes), so use integers, floats and fixed arrays of
/// them, not Bool, enums or pointers:
///
/// ```swift
/// struct Quote: RingItem {
///     var sequence: UInt64; var price: Double; var size: UInt32; var padding: UInt32 = 0
///     static let ringItemType = try! ItemType("{sequence:<u8@0,price:<f8@8,size:<u4@16}24")
/// }
/// ```
public protocol RingItem: BitwiseCopyable {
    /// The type description of this type's values in a ring.
    static var ringItemType: ItemType { get }
}

extension Int8: RingItem { public static var ringItemType: ItemType { .int8 } }
extension Int16: RingItem { public static var ringItemType: ItemType { .int16 } }
extension Int32: RingItem { public static var ringItemType: ItemType { .int32 } }
extension Int64: RingItem { public static var ringItemType: ItemType { .int64 } }
extension UInt8: RingItem { public static var ringItemType: ItemType { .uint8 } }
extension UInt16: RingItem { public static var ringItemType: ItemType { .uint16 } }
extension UInt32: RingItem { public static var ringItemType: ItemType { .uint32 } }
extension UInt64: RingItem { public static var ringItemType: ItemType { .uint64 } }
extension Float: RingItem { public static var ringItemType: ItemType { .float32 } }
extension Double: RingItem { public static var ringItemType: ItemType { .float64 } }

/// Checks that `Element` stands for the ring's items: the same type description and a stride
/// equal to the item size (SPEC.md §19.2). Item i starts at data offset (i * itemSize) mod
/// capacity, a multiple of the largest power of two dividing itemSize, and a stride is a
/// multiple of its type's alignment: so every item is aligned for `Element`, whatever
/// itemAlignment the creator wrote (NumPy writes 1 for a struct made without align=True).
func checkElement<Element: RingItem>(_: Element.Type, _ geometry: RingGeometry) throws(RingError) {
    let stride = MemoryLayout<Element>.stride
    guard Element.ringItemType == geometry.itemType else {
        throw .invalidArgument("\(Element.self) is \"\(Element.ringItemType)\", the ring's items are \"\(geometry.itemType?.description ?? "byte records")\"")
    }
    guard stride == geometry.itemSize else {
        throw .invalidArgument("\(Element.self) has a stride of \(stride) bytes; the ring's items are \(geometry.itemSize) bytes")
    }
}

/// The writer of a typed ring of `Element` values.
///
/// ```swift
/// let ring = try Ring.createItems(at: "/dev/shm/prices", type: .float64, itemCapacity: 1 << 16)
/// let writer = try ring.makeTypedProducer(of: Double.self)
/// try writer.write([1.5, 2.5])
/// ```
public final class TypedProducer<Element: RingItem> {
    /// The untyped producer underneath.
    public let items: ItemProducer

    /// A typed writer over `items`.
    /// - Throws: `invalidArgument` if `Element` cannot stand for the ring's items.
    public init(_ items: ItemProducer) throws(RingError) {
        try checkElement(Element.self, items.ringGeometry)
        self.items = items
    }

    /// Writes `values` as one commit, waiting up to `timeout` for room (nil: no limit; the
    /// default does not wait). Under overwrite-oldest it never waits.
    /// - Throws: `full`, `invalidSize` (more than the ring holds, reject-when-full), `closed`, `corrupt`.
    public func write(_ values: [Element], timeout: Duration? = .zero) throws(RingError) {
        let done: Result<Void, RingError> = values.withUnsafeBytes { raw in
            do throws(RingError) { return .success(try items.write(raw, timeout: timeout)) } catch { return .failure(error) }
        }
        try done.get()
    }

    /// Writes one value (see `write(_:timeout:)`).
    public func write(_ value: Element, timeout: Duration? = .zero) throws(RingError) {
        try write([value], timeout: timeout)
    }

    /// Lets `body` fill free slots in place and return how many it filled, then commits them
    /// (vmcircbuffer's `slice()` and `produce(n)`). `body` gets every free slot when the ring
    /// is double-mapped; mapped once, the whole slots before the end of the region (at least
    /// one: a slot that straddles the end is filled through a private copy).
    /// - Throws: `full` when `timeout` passes with no free slot (reject-when-full), what `body` throws.
    /// Returns how many were committed: what `body` returned, at most the slots it was given.
    public func withWritableSpan(timeout: Duration? = .zero,
                                 _ body: (UnsafeMutableBufferPointer<Element>) throws(RingError) -> Int) throws(RingError) -> Int {
        let spans = try items.writableSpans(timeout: timeout)
        do throws(RingError) {
            let whole = spans.first.count / MemoryLayout<Element>.stride
            let committed: Int
            if whole > 0 {
                let filled = try body(UnsafeMutableBufferPointer(
                    start: spans.first.baseAddress?.assumingMemoryBound(to: Element.self), count: whole))
                committed = max(0, min(filled, whole))
            } else {
                // The first free slot straddles the end: fill a private one and copy it in two pieces.
                let slot = UnsafeMutableBufferPointer<Element>.allocate(capacity: 1)
                defer { slot.deallocate() }
                committed = max(0, min(try body(slot), 1))
                if committed > 0 { items.spans(from: items.head, count: 1).fill(from: UnsafeRawPointer(slot.baseAddress!)) }
            }
            try items.commit(committed)
            return committed
        } catch {
            try? items.commit(0)
            throw error
        }
    }

    /// Ends the stream (SPEC.md §8.3) and gives up the role.
    public func closeWriter() { items.closeWriter() }

    /// Gives up the producer role.
    public func close() { items.close() }
}

/// The reader of a typed ring of `Element` values.
public final class TypedConsumer<Element: RingItem> {
    /// The untyped consumer underneath.
    public let items: ItemConsumer

    /// A typed reader over `items`.
    /// - Throws: `invalidArgument` if `Element` cannot stand for the ring's items.
    public init(_ items: ItemConsumer) throws(RingError) {
        try checkElement(Element.self, items.ringGeometry)
        self.items = items
    }

    /// Reads and consumes up to `maxCount` values, oldest first, waiting up to `timeout` for the
    /// first (nil: no limit; the default does not wait and returns [] when there are none).
    /// - Throws: `empty` when a wait times out, `endOfStream`, `closed`, `corrupt`.
    public func read(maxCount: Int, timeout: Duration? = .zero) throws(RingError) -> [Element] {
        guard maxCount > 0 else { return [] }
        let wanted = min(maxCount, items.itemCapacity)
        let values = UnsafeMutableBufferPointer<Element>.allocate(capacity: wanted)
        defer { values.deallocate() }
        let raw = UnsafeMutableRawBufferPointer(values)
        let n: Int
        if timeout == .zero {
            n = try items.read(into: raw, maxItems: wanted)
        } else {
            n = try items.read(into: raw, maxItems: wanted, timeout: timeout)
        }
        return Array(values.prefix(n))
    }

    /// Reads and consumes one value, waiting up to `timeout` (nil: no limit).
    /// - Throws: `empty` (none now, or the timeout passed), `endOfStream`, `closed`, `corrupt`.
    public func read(timeout: Duration? = .zero) throws(RingError) -> Element {
        let values = try read(maxCount: 1, timeout: timeout)
        guard let value = values.first else { throw .empty }
        return value
    }

    /// Lets `body` read unread values in place and return how many it consumed (vmcircbuffer's
    /// reader `slice()` and `consume(n)`). `body` gets every unread value when double-mapped;
    /// mapped once, the whole values before the end of the region (a value that straddles the
    /// end comes through a private copy). Returns how many were consumed (at most what `body`
    /// was given) and how many of the first of them the producer dropped while `body` read them
    /// (overwrite-oldest): discard what `body` made of those.
    /// - Throws: `empty` when `timeout` passes, `endOfStream`, what `body` throws.
    @discardableResult
    public func withReadableSpan(timeout: Duration? = .zero,
                                 _ body: (UnsafeBufferPointer<Element>) throws(RingError) -> Int)
        throws(RingError) -> (consumed: Int, dropped: Int) {
        let spans = try items.readableSpans(timeout: timeout)
        let count: Int
        do throws(RingError) {
            let whole = spans.first.count / MemoryLayout<Element>.stride
            if whole > 0 {
                count = max(0, min(whole, try body(UnsafeBufferPointer(
                    start: spans.first.baseAddress?.assumingMemoryBound(to: Element.self), count: whole))))
            } else {
                let slot = UnsafeMutableBufferPointer<Element>.allocate(capacity: 1)
                defer { slot.deallocate() }
                items.spans(from: items.tail, count: 1).copy(to: UnsafeMutableRawPointer(slot.baseAddress!))
                count = max(0, min(1, try body(UnsafeBufferPointer(slot))))
            }
        } catch {
            _ = try? items.consume(0)
            throw error
        }
        return (count, try items.consume(count))
    }

    /// Every unread value, oldest first, without consuming (NumericRingBuffer's `unwrapped()`).
    /// Under overwrite-oldest the values the producer dropped while they were copied are left out.
    public func unread() throws(RingError) -> [Element] {
        let (values, dropped) = try items.withUnread { (spans) throws(RingError) -> [Element] in
            [Element](unsafeUninitializedCapacity: spans.count) { buffer, initialized in
                spans.copy(to: UnsafeMutableRawPointer(buffer.baseAddress!))
                initialized = spans.count
            }
        }
        return dropped == 0 ? values : Array(values.dropFirst(dropped))
    }

    /// Values the producer dropped before this consumer read them (overwrite-oldest).
    public var missedCount: UInt64 { items.missedCount }

    /// Gives up the consumer role.
    public func close() { items.close() }
}

extension Ring {
    /// Takes the producer role of a typed ring as a writer of `Element` values.
    /// - Throws: `invalidArgument` if `Element` does not match the ring's items, as `makeItemProducer`.
    public func makeTypedProducer<Element: RingItem>(of: Element.Type) throws(RingError) -> TypedProducer<Element> {
        try TypedProducer(try makeItemProducer())
    }

    /// Takes the consumer role of a typed ring as a reader of `Element` values.
    /// - Throws: `invalidArgument` if `Element` does not match the ring's items, as `makeItemConsumer`.
    public func makeTypedConsumer<Element: RingItem>(of: Element.Type) throws(RingError) -> TypedConsumer<Element> {
        try TypedConsumer(try makeItemConsumer())
    }

    /// Creates a typed ring of at least `itemCapacity` values of `Element` at `path`
    /// (see `createItems`), its type and alignment those of `Element`.
    public static func createItems<Element: RingItem>(
        at path: String, of: Element.Type, itemCapacity: Int, policy: RingPolicy = .rejectWhenFull,
        mode: UInt32 = 0o600, replaceExisting: Bool = false, mapping: RingMapping = .automatic
    ) throws(RingError) -> Ring {
        try createItems(at: path, type: Element.ringItemType, itemCapacity: itemCapacity,
                        itemAlignment: MemoryLayout<Element>.alignment, policy: policy, mode: mode,
                        replaceExisting: replaceExisting, mapping: mapping)
    }
}
