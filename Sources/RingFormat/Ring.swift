// Ring.swift - creating and opening ring files (SPEC.md §7, §13) and
// inspecting them. Producers and consumers are made from a Ring.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import CRingSys

/// How a ring's data region is mapped (SPEC.md §20.1).
public enum RingMapping: Sendable, Equatable {
    /// Typed rings are double-mapped where the host allows, rings of byte records mapped once.
    case automatic
    /// Mapped once: a run that wraps is two spans.
    case single
    /// Mapped twice back to back where the host allows (else once): every run is one span.
    case double
}

/// An open ring file.
///
/// ```swift
/// let ring = try Ring.create(at: "/dev/shm/events", capacity: 1 << 20)
/// let producer = try ring.makeProducer()
/// try producer.write(Array("hello".utf8))
/// let consumer = try Ring.open(at: "/dev/shm/events").makeConsumer()
/// let message = try consumer.read()          // [UInt8]("hello".utf8)
/// ```
///
/// A Ring, its producer and its consumer share one mapping of the file; it
/// is unmapped when the last of them is released. Closing a Ring does not
/// close the producer or consumer made from it.
public final class Ring {
    let storage: RingStorage
    /// True once `close()` was called.
    public private(set) var isClosed = false

    /// A ring over a validated file, after one consistent snapshot of its
    /// positions (SPEC.md §13: what opening validates).
    init(storage: RingStorage) throws(RingError) {
        guard storage.guardSlot != nil else {
            throw .system(operation: "guard the mapping of \(storage.path) against SIGBUS", errno: ENOMEM)
        }
        _ = try storage.snapshotPositions()
        self.storage = storage
    }

    /// The path the ring was opened or created at.
    public var path: String { storage.path.description }
    /// The ring's validated immutable fields.
    public var geometry: RingGeometry { storage.geometry }
    /// Size of the data region in bytes.
    public var capacity: Int { storage.geometry.capacity }
    /// What a full ring does.
    public var policy: RingPolicy { storage.geometry.policy }
    /// The largest message this ring accepts.
    public var maxMessageSize: Int { storage.geometry.maxMessageSize }

    // MARK: Creating and opening

    /// Creates a new ring file at `path` (SPEC.md §7).
    ///
    /// The file is built completely under no name (Linux O_TMPFILE; elsewhere
    /// under a random temporary name) and then linked into place, so no process
    /// ever sees a half-made ring, a crash leaves nothing behind, and of two
    /// processes creating the same path one succeeds and the other gets
    /// `system(errno: EEXIST)` (see `openOrCreate` for the usual remedy).
    /// The file's blocks are reserved (posix_fallocate) where the file system
    /// can, so the file takes its whole size on disk from the start.
    ///
    /// - Parameters:
    ///   - capacity: bytes of the data region; rounded up to a power of two, at least 4096.
    ///   - policy: what a full ring does.
    ///   - mode: permission bits of the new file (0o777 at most; the umask applies), 0600 by default.
    ///   - replaceExisting: atomically replace a file already at `path`
    ///     (processes that have the old file open keep using the old file).
    ///   - initialPosition: the starting value of both positions, a multiple
    ///     of 8 (for tests of positions past 2^32).
    ///   - readerSlots: 0 (the default) makes a 1.0 ring with one consumer; more
    ///     makes a 1.1 ring with a reader table of that many slots for readers
    ///     (`makeReader`, SPEC.md §17): up to 16 in the default 4096-byte header,
    ///     and up to 496 with a larger header, chosen to fit (48 per 8 KiB, 112
    ///     per 16 KiB, 240 per 32 KiB, 496 per 64 KiB).
    ///   - producerSlots: 0 (the default) makes a ring with one producer; 1 to 16 makes a
    ///     1.1 ring with a producer table: up to that many producers write into it at once
    ///     (`makeProducer` takes a slot, SPEC.md §18). Reject-when-full only.
    ///   - mapping: `.double` maps the data region twice back to back where the host allows
    ///     (SPEC.md §20.1), so the committed bytes are one span (`RingConsumer.committedSpans`).
    ///   - keepsCounts: the ring keeps message counts (COMPAT_COUNTS, SPEC.md §22.2), so that
    ///     `messageCount` and `RingConsumer.pendingCount` need not walk the records; true by
    ///     default. False makes the header of earlier versions (the golden vectors'). Ignored for
    ///     typed rings, whose positions count their items.
    /// - Throws: `invalidSize` for a bad capacity or initial position,
    ///   `invalidArgument` for a mode with other than permission bits, for more than 16
    ///   producer slots or for producer slots under overwrite-oldest, `system` for I/O failures.
    public static func create(
        at path: String, capacity: Int, policy: RingPolicy = .rejectWhenFull,
        mode: UInt32 = 0o600, replaceExisting: Bool = false, initialPosition: UInt64 = 0,
        readerSlots: Int = 0, producerSlots: Int = 0, mapping: RingMapping = .automatic, keepsCounts: Bool = true
    ) throws(RingError) -> Ring {
        try create(at: RingPath(path), capacity: capacity, policy: policy, mode: mode,
                   replaceExisting: replaceExisting, initialPosition: initialPosition, readerSlots: readerSlots,
                   producerSlots: producerSlots, mapping: mapping, keepsCounts: keepsCounts)
    }

    /// The checked header of a new ring (SPEC.md §7), and its capacity. For a typed ring
    /// `capacity` counts items (SPEC.md §19.1).
    static func newImage(
        capacity: Int, policy: RingPolicy, initialPosition: UInt64, readerSlots: Int, producerSlots: Int,
        itemType: ItemType?, itemAlignment: Int, keepsCounts: Bool = true
    ) throws(RingError) -> (image: [UInt8], capacity: Int) {
        try Header.checkProducerSlots(producerSlots, policy: policy)
        var alignment = 0
        let cap: Int
        if let itemType {
            guard readerSlots == 0, producerSlots == 0 else {
                throw .invalidArgument("typed rings do not combine with reader or producer tables in format 1.1 (SPEC.md §19.1)")
            }
            alignment = itemAlignment == 0 ? min(8, 1 << itemType.size.trailingZeroBitCount) : itemAlignment
            guard alignment.nonzeroBitCount == 1, alignment <= RingLayout.maxItemAlignment, itemType.size % alignment == 0 else {
                throw .invalidArgument("item alignment \(itemAlignment): not a power of two up to \(RingLayout.maxItemAlignment) dividing the item size \(itemType.size)")
            }
            let (bytes, overflow) = capacity.multipliedReportingOverflow(by: itemType.size)
            guard capacity > 0, !overflow, bytes <= RingLayout.maxCapacity else {
                throw .invalidSize(size: capacity, maximum: RingLayout.maxCapacity / itemType.size)
            }
            cap = try Header.roundedCapacity(bytes)
        } else {
            cap = try Header.roundedCapacity(capacity)
            guard initialPosition % UInt64(RingLayout.recordAlignment) == 0 else {
                throw .invalidSize(size: Int(truncatingIfNeeded: initialPosition), maximum: Int.max)
            }
        }
        let headerSize = try Header.headerSize(forReaderSlots: readerSlots)
        let image = Header.image(capacity: cap, policy: policy, initialPosition: initialPosition,
                                 headerSize: headerSize, readerSlots: readerSlots, producerSlots: producerSlots,
                                 itemType: itemType, itemAlignment: alignment, keepsCounts: keepsCounts)
        return (image, cap)
    }

    /// `create(at:...)` for a path given as bytes (the C ABI's and Python's paths); with
    /// `itemType` a typed ring of `capacity` items (SPEC.md §19).
    package static func create(
        at path: RingPath, capacity: Int, policy: RingPolicy = .rejectWhenFull,
        mode: UInt32 = 0o600, replaceExisting: Bool = false, initialPosition: UInt64 = 0,
        readerSlots: Int = 0, producerSlots: Int = 0, itemType: ItemType? = nil, itemAlignment: Int = 0,
        mapping: RingMapping = .automatic, keepsCounts: Bool = true
    ) throws(RingError) -> Ring {
        guard mode & ~0o777 == 0 else {
            throw .invalidArgument("mode 0o\(String(mode, radix: 8)) has bits other than permission bits (0o777 at most)")
        }
        let (image, cap) = try newImage(capacity: capacity, policy: policy, initialPosition: initialPosition,
                                        readerSlots: readerSlots, producerSlots: producerSlots,
                                        itemType: itemType, itemAlignment: itemAlignment, keepsCounts: keepsCounts)
        let fileSize = RingLayout.fileSize(headerSize: image.count, capacity: cap)
        let directory = path.directory

        // Build the whole file before it has a name: as a nameless file where the
        // system has them, else under a name nobody can predict (O_EXCL, O_NOFOLLOW).
        let nameless = directory.withCString { ringsys_open_tmpfile($0, mode) }
        guard nameless >= 0 || nameless == -EOPNOTSUPP else {
            throw .system(operation: "open(O_TMPFILE) in \(directory)", errno: -nameless)
        }
        var temporary: RingPath? = nil
        let fd: FileDescriptor
        if nameless >= 0 {
            fd = FileDescriptor(rawValue: nameless)
        } else {
            (fd, temporary) = try Ring.openTemporary(in: directory, for: path, mode: mode)
        }
        try fd.closeOnError { () throws(RingError) in
            do throws(RingError) {
                try Ring.build(fd, image: image, fileSize: fileSize)
                if temporary == nil && !replaceExisting {
                    // The common case: the nameless file gets its name, or EEXIST.
                    let rc = path.withCString { ringsys_link_tmpfile(nameless, $0) }
                    if rc == 0 { return }
                    guard rc != -EEXIST else { throw .system(operation: "link \(path)", errno: EEXIST) }
                    // No /proc to link through: give it a random name below.
                }
                if temporary == nil { temporary = try Ring.linkUnderRandomName(fd, in: directory, for: path) }
                if replaceExisting {
                    try SystemCalls.renameFile(temporary!, path)
                } else {
                    defer { SystemCalls.unlinkFile(temporary!) }
                    try SystemCalls.linkFile(temporary!, path)
                }
                temporary = nil
            } catch {
                if let temporary { SystemCalls.unlinkFile(temporary) }
                throw error
            }
        }
        Ring.syncDirectory(directory)
        // Validate what we made through the same path every reader takes.
        return try Ring(storage: try RingStorage(path: path, fd: fd, mapping: mapping))
    }

    /// Creates a ring without a file (SPEC.md §20.2): in anonymous shared memory (memfd),
    /// with no path and nothing left behind when the last handle and mapping are gone. Share
    /// it with `fork()`ed children, which open it again with `open(descriptor:)` from
    /// `descriptor`. The other parameters are those of `create(at:...)`; with `itemType`
    /// it is a typed ring of `capacity` items (see `createItems`).
    /// - Throws: as `create(at:...)`.
    public static func anonymous(
        name: String = "ring", capacity: Int, policy: RingPolicy = .rejectWhenFull, initialPosition: UInt64 = 0,
        readerSlots: Int = 0, producerSlots: Int = 0, itemType: ItemType? = nil, itemAlignment: Int = 0,
        mapping: RingMapping = .automatic, keepsCounts: Bool = true
    ) throws(RingError) -> Ring {
        let (image, cap) = try newImage(capacity: capacity, policy: policy, initialPosition: initialPosition,
                                        readerSlots: readerSlots, producerSlots: producerSlots,
                                        itemType: itemType, itemAlignment: itemAlignment, keepsCounts: keepsCounts)
        let fd = try FileDescriptor.anonymous(name: name)
        try fd.closeOnError { () throws(RingError) in
            try Ring.build(fd, image: image, fileSize: RingLayout.fileSize(headerSize: image.count, capacity: cap))
        }
        return try Ring(storage: try RingStorage(path: RingPath("memfd:" + name), fd: fd, mapping: mapping))
    }

    /// Creates a typed ring of at least `itemCapacity` items of `type` (SPEC.md §19) at `path`.
    ///
    /// Items carry no record header and every slot is usable; the ring holds
    /// `floor(capacity / type.size)` items for the power-of-two capacity chosen. By default
    /// the data region is double-mapped where the host allows (SPEC.md §20.1), so every run
    /// of items is one span.
    /// - Parameters:
    ///   - itemAlignment: what the items are aligned for (0: the largest power of two up to 8
    ///     dividing the size); a Swift type's `MemoryLayout.alignment`.
    ///   - initialPosition: the item count both positions start at.
    /// - Throws: `invalidArgument` for a bad alignment, `invalidSize` for a bad count, as `create(at:...)`.
    public static func createItems(
        at path: String, type: ItemType, itemCapacity: Int, itemAlignment: Int = 0,
        policy: RingPolicy = .rejectWhenFull, mode: UInt32 = 0o600, replaceExisting: Bool = false,
        initialPosition: UInt64 = 0, mapping: RingMapping = .automatic
    ) throws(RingError) -> Ring {
        try create(at: RingPath(path), capacity: itemCapacity, policy: policy, mode: mode,
                   replaceExisting: replaceExisting, initialPosition: initialPosition,
                   itemType: type, itemAlignment: itemAlignment, mapping: mapping)
    }

    /// A new file under a random name beside `path`, for systems without nameless files.
    static func openTemporary(in directory: RingPath, for path: RingPath, mode: UInt32)
        throws(RingError) -> (FileDescriptor, RingPath) {
        var attempts = 0
        while true {
            let name = Ring.randomName(in: directory, for: path)
            do throws(RingError) {
                return (try FileDescriptor.open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode), name)
            } catch .system(_, let code) where code == EEXIST && attempts < 16 {
                attempts += 1
            }
        }
    }

    /// Links the nameless file `fd` under a random name beside `path` and returns that name.
    static func linkUnderRandomName(_ fd: FileDescriptor, in directory: RingPath, for path: RingPath) throws(RingError) -> RingPath {
        var attempts = 0
        while true {
            let name = Ring.randomName(in: directory, for: path)
            let rc = name.withCString { ringsys_link_tmpfile(fd.rawValue, $0) }
            if rc == 0 { return name }
            guard rc == -EEXIST && attempts < 16 else {
                throw .system(operation: "link a temporary name in \(directory)", errno: -rc)
            }
            attempts += 1
        }
    }

    /// `.NAME.XXXXXXXXXXXXXXXX.tmp` beside `path`, the X from the system's random source.
    static func randomName(in directory: RingPath, for path: RingPath) -> RingPath {
        let random = String(UInt64.random(in: .min ... .max), radix: 16)
        return RingPath(bytes: directory.bytes + Array("/.".utf8) + path.lastComponent + Array(".\(random).tmp".utf8))
    }

    /// Sizes the file, reserves its blocks, writes the header and syncs it.
    static func build(_ fd: FileDescriptor, image: [UInt8], fileSize: Int) throws(RingError) {
        try fd.resize(to: fileSize)
        let rc = ringsys_reserve(fd.rawValue, Int64(fileSize))
        if rc != 0 && rc != -EOPNOTSUPP { throw .system(operation: "posix_fallocate", errno: -rc) }
        let written: Result<Void, RingError> = image.withUnsafeBytes { raw in
            do throws(RingError) { return .success(try fd.write(raw, at: 0)) } catch { return .failure(error) }
        }
        try written.get()
        try fd.sync()
    }

    /// fsync of a directory, so a new name in it survives a machine crash (best effort).
    static func syncDirectory(_ directory: RingPath) {
        guard let fd = try? FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY) else { return }
        try? fd.closeAfter { () throws(RingError) in try fd.sync() }
    }

    /// Opens an existing ring file, validating its header (SPEC.md §13).
    /// - Throws: `system` (errno ENOENT, EACCES, EISDIR, …), `corrupt`, `unsupportedVersion`.
    public static func open(at path: String) throws(RingError) -> Ring {
        try open(at: RingPath(path))
    }

    /// Opens an existing ring file, mapping its data region as `mapping` says (SPEC.md §20.1).
    public static func open(at path: String, mapping: RingMapping) throws(RingError) -> Ring {
        try open(at: RingPath(path), mapping: mapping)
    }

    /// `open(at:)` for a path given as bytes.
    package static func open(at path: RingPath, mapping: RingMapping = .automatic) throws(RingError) -> Ring {
        let fd = try FileDescriptor.open(path, O_RDWR)
        return try Ring(storage: try RingStorage(path: path, fd: fd, mapping: mapping))
    }

    /// Opens the ring held by the open descriptor `descriptor`: a ring without a file inherited
    /// across `fork()` or received over a Unix socket, or any ring file (SPEC.md §20.2). The
    /// file is opened again, as a new open file description (so that role locks stay this
    /// ring's own, SPEC.md §11.3); the caller keeps its descriptor.
    /// - Throws: as `open(at:)`.
    public static func open(descriptor: Int32, mapping: RingMapping = .automatic) throws(RingError) -> Ring {
        let fd = try FileDescriptor(rawValue: descriptor).reopen()
        return try Ring(storage: try RingStorage(path: RingPath(fd.name()), fd: fd, mapping: mapping))
    }

    /// The ring's open descriptor (owned by the ring: duplicate it to keep it, never close it),
    /// to hand a ring without a file to a child or another process.
    public var descriptor: Int32 { storage.fd.rawValue }

    /// Whether the data region is mapped twice back to back (SPEC.md §20.1).
    public var isDoubleMapped: Bool { storage.isDoubleMapped }

    /// A typed ring's item type (SPEC.md §19); nil for a ring of byte records.
    public var itemType: ItemType? { storage.geometry.itemType }

    /// The item type's description as a C string that lives as long as the ring (the C ABI's).
    package var itemTypeCString: UnsafePointer<CChar>? { storage.itemTypeCString.map { UnsafePointer($0) } }

    /// Opens the ring at `path`, creating it if there is none. Of several
    /// processes doing this at once, one creates and the others open its ring.
    /// An existing ring must have the capacity (once rounded) and policy asked
    /// for, else `invalidArgument` says what it has, unless `acceptAnyGeometry`.
    ///
    /// An existing file is used only if it belongs to this user and nobody else
    /// may write it (SPEC.md §7.1): a ring another user planted at the name, or
    /// one shared with a group or everyone, gives `system(EPERM)` unless
    /// `allowShared` says that is meant.
    /// A ring it creates keeps message counts unless `keepsCounts` is false (see `create(at:...)`);
    /// an existing ring is used whether it keeps them or not.
    /// - Throws: as `open` and `create`; `system(ENOENT)` for a dangling symbolic link.
    public static func openOrCreate(
        at path: String, capacity: Int, policy: RingPolicy = .rejectWhenFull, mode: UInt32 = 0o600,
        allowShared: Bool = false, acceptAnyGeometry: Bool = false, readerSlots: Int = 0, producerSlots: Int = 0,
        itemType: ItemType? = nil, itemAlignment: Int = 0, keepsCounts: Bool = true
    ) throws(RingError) -> Ring {
        try openOrCreate(at: RingPath(path), capacity: capacity, policy: policy, mode: mode,
                         allowShared: allowShared, acceptAnyGeometry: acceptAnyGeometry, readerSlots: readerSlots,
                         producerSlots: producerSlots, itemType: itemType, itemAlignment: itemAlignment,
                         keepsCounts: keepsCounts)
    }

    /// `openOrCreate(at:...)` for a path given as bytes; with `itemType` a typed ring of
    /// `capacity` items, and an existing ring must have that type.
    package static func openOrCreate(
        at path: RingPath, capacity: Int, policy: RingPolicy = .rejectWhenFull, mode: UInt32 = 0o600,
        allowShared: Bool = false, acceptAnyGeometry: Bool = false, readerSlots: Int = 0, producerSlots: Int = 0,
        itemType: ItemType? = nil, itemAlignment: Int = 0, mapping: RingMapping = .automatic, keepsCounts: Bool = true
    ) throws(RingError) -> Ring {
        let wanted = try newImage(capacity: capacity, policy: policy, initialPosition: 0, readerSlots: readerSlots,
                                  producerSlots: producerSlots, itemType: itemType, itemAlignment: itemAlignment).capacity
        // Each turn ends in a ring, an error, or a race with a process that removed or
        // created the file in between; such races cannot go on for long.
        for _ in 0..<64 {
            do throws(RingError) {
                let ring = try open(at: path, mapping: mapping)
                if !allowShared { try ring.storage.checkPrivate() }
                if !acceptAnyGeometry && (ring.itemType != itemType
                                          || (itemAlignment != 0 && ring.geometry.itemAlignment != itemAlignment)) {
                    throw .invalidArgument("\(path) holds a ring of items \(ring.itemType.map { "\"\($0)\" aligned to \(ring.geometry.itemAlignment)" } ?? "none (byte records)"), not the \(itemType.map { "\"\($0)\"" } ?? "byte records") asked for")
                }
                if !acceptAnyGeometry && (ring.capacity != wanted || ring.policy != policy
                                          || ring.geometry.readerSlots != readerSlots
                                          || ring.geometry.producerSlots != producerSlots) {
                    throw .invalidArgument("\(path) holds a ring of capacity \(ring.capacity), policy \(ring.policy), \(ring.geometry.readerSlots) reader slots and \(ring.geometry.producerSlots) producer slots, not the \(wanted), \(policy), \(readerSlots) and \(producerSlots) asked for (accept any geometry to use it as it is)")
                }
                return ring
            } catch .system(_, let code) where code == ENOENT {
                do throws(RingError) {
                    return try create(at: path, capacity: capacity, policy: policy, mode: mode, readerSlots: readerSlots,
                                      producerSlots: producerSlots, itemType: itemType, itemAlignment: itemAlignment,
                                      mapping: mapping, keepsCounts: keepsCounts)
                } catch .system(_, let code) where code == EEXIST {
                    // Another process won the race (open its ring), or the name is a dangling link.
                    if SystemCalls.isSymbolicLink(path) {
                        throw .system(operation: "open \(path): a symbolic link to a file that does not exist", errno: ENOENT)
                    }
                }
            }
        }
        throw .system(operation: "open or create \(path): the file kept appearing and disappearing", errno: EAGAIN)
    }

    // MARK: Roles

    /// Takes the producer role of a typed ring (SPEC.md §19.4).
    /// - Throws: `busy(.producer)`, `closed`, `invalidArgument` on a ring of byte records.
    public func makeItemProducer() throws(RingError) -> sending ItemProducer {
        guard !isClosed else { throw .closed }
        return try ItemProducer(storage: storage)
    }

    /// Takes the consumer role of a typed ring (SPEC.md §19.4).
    /// - Throws: `busy(.consumer)`, `closed`, `invalidArgument` on a ring of byte records.
    public func makeItemConsumer() throws(RingError) -> sending ItemConsumer {
        guard !isClosed else { throw .closed }
        return try ItemConsumer(storage: storage)
    }

    /// Takes the producer role (SPEC.md §11).
    /// - Throws: `busy(.producer)` if another handle holds it, `closed`.
    public func makeProducer() throws(RingError) -> sending RingProducer {
        guard !isClosed else { throw .closed }
        return try RingProducer(storage: storage)
    }

    /// Takes the consumer role (SPEC.md §11).
    /// - Throws: `busy(.consumer)` if another handle holds it, `closed`,
    ///   `invalidArgument` on a ring with readers (join it with `makeReader`).
    public func makeConsumer() throws(RingError) -> sending RingConsumer {
        guard !isClosed else { throw .closed }
        return try RingConsumer(storage: storage)
    }

    /// Joins a ring with a reader table as one of its readers (SPEC.md §17.5):
    /// every read API of a consumer works on it, and it reads every message from
    /// where it joined, independently of the other readers.
    /// - Throws: `busy(.reader)` if every slot is taken or the durable name is in
    ///   use, `invalidArgument` on a 1.0 ring or for a gating reader under
    ///   overwrite-oldest, `closed`, `corrupt`.
    public func makeReader(_ options: ReaderOptions = ReaderOptions()) throws(RingError) -> sending RingReader {
        guard !isClosed else { throw .closed }
        return try RingConsumer(storage: storage, reader: options)
    }

    /// The producers in the producer table (none on a single-producer ring).
    public func producers() throws(RingError) -> [ProducerInfo] {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        return try storage.producerInfos()
    }

    /// Publishes the claims that are done and cancels those whose producer died (SPEC.md
    /// §18.5, §18.7), as a reader waiting behind them would: for inspection tools and tests.
    /// A claim of a live producer is left alone. Nothing happens on a single-producer ring.
    public func settleClaims() throws(RingError) {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        guard storage.geometry.hasProducers else { return }
        for _ in 0..<(storage.geometry.capacity / RingLayout.indexedRecordHeaderSize + 1) {
            guard let front = try storage.publishClaims() else { return }
            try storage.settle(front: front, stuckFor: 0)
            // relaxed: only whether the front moved.
            if storage.producerPosition.load(ordering: .relaxed) == front { return }
        }
    }

    /// The readers in the reader table (none on a 1.0 ring).
    public func readers() throws(RingError) -> [ReaderInfo] {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        return try storage.readerInfos()
    }

    // MARK: Inspection

    /// A snapshot of the ring's state, checked record by record.
    /// - Throws: `corrupt` if the committed records do not form a valid chain.
    public func stats() throws(RingError) -> RingStats {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        let g = storage.geometry
        if g.isTyped {
            // A typed ring has no records to walk: the positions count its items (SPEC.md §19.3).
            let (p, c) = try storage.snapshotPositions()
            try storage.checkNotTruncated()
            // acquire: pairs with ItemProducer.closeWriter's release store.
            let state = storage.writerState.load(ordering: .acquiring)
            guard state <= RingLayout.writerStateClosed else { throw .corrupt(.badWriterState(state)) }
            return RingStats(
                capacity: g.capacity, policy: g.policy, versionMajor: g.versionMajor, versionMinor: g.versionMinor,
                producerPosition: p, consumerPosition: c, messageCount: Int(p &- c),
                payloadBytes: Int(p &- c) * g.itemSize, droppedCount: storage.droppedCount.load(ordering: .relaxed),
                isWriterClosed: state == RingLayout.writerStateClosed)
        }
        let walk = try storage.walkUnread()
        try storage.checkNotTruncated()
        // acquire: pairs with RingProducer.closeWriter's release store.
        let state = storage.writerState.load(ordering: .acquiring)
        guard state <= RingLayout.writerStateClosed else { throw .corrupt(.badWriterState(state)) }
        return RingStats(
            capacity: g.capacity, policy: g.policy,
            versionMajor: g.versionMajor, versionMinor: g.versionMinor,
            producerPosition: walk.producer, consumerPosition: walk.consumer,
            messageCount: walk.count, payloadBytes: walk.payloadBytes,
            droppedCount: storage.droppedCount.load(ordering: .relaxed),
            isWriterClosed: state == RingLayout.writerStateClosed)
    }

    /// Number of unread messages: in O(1) from the counts of a ring that keeps them
    /// (`RingGeometry.keepsCounts`, SPEC.md §22.2) or a typed ring, else by walking the
    /// records (O(messages)). Exact while nobody writes or reads; while a producer or
    /// consumer runs, a value between 0 and the unread bytes / 8 that may be off by the
    /// batch in flight. In a ring with readers: the messages from tailPosition, the oldest
    /// any reader may still read.
    /// - Throws: `closed`, `forked`, `corrupt` (the walk, or the positions).
    public var messageCount: Int {
        get throws(RingError) {
            guard !isClosed else { throw .closed }
            try storage.checkProcess()
            if let counted = try storage.countedMessages() { return counted }
            return try storage.walkUnread().count
        }
    }

    /// Writes the mapping's dirty pages to the file (msync).
    public func flush() throws(RingError) {
        guard !isClosed else { throw .closed }
        try storage.checkProcess()
        try storage.flush()
    }

    /// Closes this handle. Producers and consumers made from it stay usable.
    public func close() {
        isClosed = true
    }

    // MARK: Helpers

}

/// A snapshot of a ring's state (`Ring.stats()`).
public struct RingStats: Sendable, Equatable {
    /// Size of the data region in bytes.
    public let capacity: Int
    /// What a full ring does.
    public let policy: RingPolicy
    /// Format major version of the file.
    public let versionMajor: UInt16
    /// Format minor version of the file.
    public let versionMinor: UInt16
    /// producerPosition at the snapshot.
    public let producerPosition: UInt64
    /// consumerPosition at the snapshot.
    public let consumerPosition: UInt64
    /// Unread messages.
    public let messageCount: Int
    /// Sum of the unread messages' lengths.
    public let payloadBytes: Int
    /// Messages dropped by overwrite-oldest since the file was created.
    public let droppedCount: UInt64
    /// Whether the producer closed the stream.
    public let isWriterClosed: Bool

    /// Bytes of the data region in use (records, their headers and padding). In a typed ring,
    /// whose positions count items, this is the unread items (use `messageCount` and
    /// `payloadBytes` there).
    public var usedBytes: Int { Int(producerPosition &- consumerPosition) }
    /// Bytes of the data region free (not meaningful for a typed ring).
    public var freeBytes: Int { capacity - usedBytes }
    /// True when there is nothing to read.
    public var isEmpty: Bool { producerPosition == consumerPosition }
}
