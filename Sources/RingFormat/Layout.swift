// Layout.swift - SPEC.md in Swift: every offset, size and constant of the
// format, section by section, under the names SPEC.md uses. The algorithms in
// this module speak only in these names. `LayoutSpecTests` parses the tables
// of SPEC.md and checks that every number here agrees with it.

#if _endian(big)
#error("RingFormat files are little-endian; big-endian hosts are not supported")
#endif

/// Where a fixed-size field sits inside the ring header or a record header.
public struct FieldLayout: Sendable, Equatable {
    /// Byte offset from the start of the header (or record).
    public let offset: Int
    /// Size of the field in bytes.
    public let size: Int

    /// A field of `size` bytes at `offset`.
    public init(offset: Int, size: Int) {
        self.offset = offset
        self.size = size
    }
}

/// The binary layout of a ring file, mirroring SPEC.md.
///
/// ```
///  0            128           256           384           512      headerSize      headerSize+capacity
///  +------------+-------------+-------------+-------------+---...---+------------------+
///  | identity   | producer    | consumer    | wait words  | reserved| data region      |
///  | (immutable)| line        | line        |             | (zero)  | (records)        |
///  +------------+-------------+-------------+-------------+---...---+------------------+
/// ```
public enum RingLayout {

    // MARK: SPEC.md §2 File layout

    /// Header size a 1.0 writer creates (one 4 KiB page).
    public static let defaultHeaderSize = 4096
    /// Smallest header size a reader accepts.
    public static let minHeaderSize = 4096
    /// Largest header size a reader accepts (so 64 KiB pages can double-map the data).
    public static let maxHeaderSize = 65536

    // MARK: SPEC.md §3 Header

    /// Header fields, by the line (128-byte block) they live on.
    public enum Header {
        // §3.1 Identity line, immutable after creation.
        /// Eight bytes "RINGFMT\0".
        public static let magic = FieldLayout(offset: 0, size: 8)
        /// Format major version; a reader refuses any major it does not know.
        public static let versionMajor = FieldLayout(offset: 8, size: 2)
        /// Format minor version; a 1.0 reader accepts any 1.x.
        public static let versionMinor = FieldLayout(offset: 10, size: 2)
        /// Offset of the data region: a power of two in minHeaderSize...maxHeaderSize.
        public static let headerSize = FieldLayout(offset: 12, size: 4)
        /// Size of the data region in bytes: a power of two.
        public static let capacity = FieldLayout(offset: 16, size: 8)
        /// What a writer does when the ring is full (`RingPolicy`).
        public static let policy = FieldLayout(offset: 24, size: 4)
        /// Features a reader must understand; an unknown bit makes the file unreadable.
        public static let incompatFlags = FieldLayout(offset: 28, size: 4)
        /// Features a reader may ignore.
        public static let compatFlags = FieldLayout(offset: 32, size: 4)
        /// Number of reader-table slots (1.1, INCOMPAT_READERS; SPEC.md §17.1).
        public static let readerSlots = FieldLayout(offset: 36, size: 4)
        /// Number of producer-table slots (1.1, INCOMPAT_PRODUCERS; SPEC.md §18.1).
        public static let producerSlots = FieldLayout(offset: 40, size: 4)
        /// Bytes of one item of a typed ring (1.1, INCOMPAT_ITEMS; SPEC.md §19.1).
        public static let itemSize = FieldLayout(offset: 44, size: 4)
        /// The alignment a typed ring's items were written for (SPEC.md §19.1).
        public static let itemAlignment = FieldLayout(offset: 48, size: 4)
        /// Bytes of a typed ring's type description at itemTypeOffset (SPEC.md §19.1).
        public static let typeLength = FieldLayout(offset: 52, size: 4)
        /// CRC-32 of the type description (SPEC.md §19.1).
        public static let typeChecksum = FieldLayout(offset: 56, size: 4)
        /// CRC-32 of bytes 0..<checksumCoveredBytes of the header.
        public static let headerChecksum = FieldLayout(offset: 124, size: 4)

        // §3.2 Producer line.
        /// Free-running byte position of the end of the last committed record.
        public static let producerPosition = FieldLayout(offset: 128, size: 8)
        /// End of the last claim, in a ring with producers (SPEC.md §18.3); zero in 1.0.
        public static let claimPosition = FieldLayout(offset: 136, size: 8)
        /// Messages the producer reclaimed under overwrite-oldest (statistics only).
        public static let droppedCount = FieldLayout(offset: 144, size: 8)
        /// WRITER_STATE_OPEN or WRITER_STATE_CLOSED (end of stream).
        public static let writerState = FieldLayout(offset: 152, size: 4)
        /// Index of the next message the producer commits (1.1 rings with readers; SPEC.md §17.2).
        public static let nextIndex = FieldLayout(offset: 160, size: 8)
        /// Odd while the producer publishes a new tailPosition under reject-when-full (SPEC.md §17.3).
        public static let reclaimSequence = FieldLayout(offset: 168, size: 4)
        /// Bit i: producer slot i has a HELD claim (SPEC.md §18.7).
        public static let heldClaims = FieldLayout(offset: 176, size: 4)
        /// 1 + the slot of the producer holding reclaimSequence odd (SPEC.md §18.9).
        public static let reclaimOwner = FieldLayout(offset: 180, size: 4)
        /// The producer's owner token (pid and start time), or 0 (SPEC.md §11.4).
        public static let producerOwner = FieldLayout(offset: 248, size: 8)

        // §3.3 Consumer line.
        /// Free-running byte position of the first record not yet consumed.
        public static let consumerPosition = FieldLayout(offset: 256, size: 8)
        /// Messages the consumer consumed since creation (COMPAT_COUNTS rings; SPEC.md §22.2).
        public static let consumedCount = FieldLayout(offset: 264, size: 8)
        /// The consumer's owner token (pid and start time), or 0 (SPEC.md §11.4).
        public static let consumerOwner = FieldLayout(offset: 376, size: 8)

        // §3.4 Wait line.
        /// Futex word readers sleep on; bumped by the producer after a commit.
        public static let dataSignal = FieldLayout(offset: 384, size: 4)
        /// Number of readers sleeping (or about to sleep) on dataSignal.
        public static let readerWaiters = FieldLayout(offset: 388, size: 4)
        /// Futex word a blocked producer sleeps on; bumped by the consumer.
        public static let spaceSignal = FieldLayout(offset: 392, size: 4)
        /// Number of producers sleeping (or about to sleep) on spaceSignal.
        public static let writerWaiters = FieldLayout(offset: 396, size: 4)

        /// Every header field with its SPEC.md name.
        public static let allFields: [(name: String, layout: FieldLayout)] = [
            ("magic", magic), ("versionMajor", versionMajor), ("versionMinor", versionMinor),
            ("headerSize", headerSize), ("capacity", capacity), ("policy", policy),
            ("incompatFlags", incompatFlags), ("compatFlags", compatFlags),
            ("readerSlots", readerSlots), ("producerSlots", producerSlots),
            ("itemSize", itemSize), ("itemAlignment", itemAlignment), ("typeLength", typeLength),
            ("typeChecksum", typeChecksum), ("headerChecksum", headerChecksum),
            ("producerPosition", producerPosition), ("claimPosition", claimPosition),
            ("droppedCount", droppedCount), ("writerState", writerState),
            ("nextIndex", nextIndex), ("reclaimSequence", reclaimSequence),
            ("heldClaims", heldClaims), ("reclaimOwner", reclaimOwner),
            ("producerOwner", producerOwner),
            ("consumerPosition", consumerPosition), ("consumedCount", consumedCount), ("consumerOwner", consumerOwner),
            ("dataSignal", dataSignal), ("readerWaiters", readerWaiters),
            ("spaceSignal", spaceSignal), ("writerWaiters", writerWaiters),
        ]
    }

    /// The eight magic bytes, "RINGFMT" and a NUL.
    public static let magicBytes: [UInt8] = [0x52, 0x49, 0x4E, 0x47, 0x46, 0x4D, 0x54, 0x00]
    /// The magic read as a little-endian u64.
    public static let magicValue: UInt64 = 0x0054_4D46_474E_4952
    /// Format major version this implementation reads and writes.
    public static let versionMajor: UInt16 = 1
    /// Format minor version of a ring without a reader table (a 1.0 file).
    public static let versionMinor: UInt16 = 0
    /// Format minor version of a ring with a reader table (SPEC.md §17).
    public static let versionMinorReaders: UInt16 = 1
    /// incompatFlags bit: the ring has a reader table (SPEC.md §17.1).
    public static let incompatReaders: UInt32 = 1
    /// incompatFlags bit: the ring has a producer table (SPEC.md §18.1).
    public static let incompatProducers: UInt32 = 2
    /// incompatFlags bit: a typed ring of fixed-size items (SPEC.md §19.1).
    public static let incompatItems: UInt32 = 4
    /// The incompatFlags bits this implementation understands.
    public static let knownIncompatFlags: UInt32 = incompatReaders | incompatProducers | incompatItems
    /// compatFlags bit 1: the ring keeps message counts, nextIndex and consumedCount (SPEC.md §22.2).
    /// (Bit 0, COMPAT_DOORBELL, stays reserved, SPEC.md §21.3.)
    public static let compatCounts: UInt32 = 2

    // MARK: SPEC.md §19 Typed rings

    /// Largest itemSize.
    public static let maxItemSize = 65536
    /// Largest itemAlignment.
    public static let maxItemAlignment = 64
    /// Header offset of the type description.
    public static let itemTypeOffset = 512
    /// Longest type description.
    public static let maxTypeLength = 512
    /// The header checksum covers bytes 0..<checksumCoveredBytes.
    public static let checksumCoveredBytes = 124
    /// Offset of the reader table (1.1; zero in 1.0).
    public static let readerTableOffset = 1024
    /// Size of one reader slot: one line.
    public static let readerSlotSize = 128
    /// Header bytes kept after the reader table for several producers' table (SPEC.md §17.1).
    public static let producerTableReserve = 1024

    /// The most reader slots a header of `headerSize` bytes has room for: (headerSize - 2048) / 128.
    @inlinable public static func maxReaderSlots(headerSize: Int) -> Int {
        (headerSize - readerTableOffset - producerTableReserve) / readerSlotSize
    }

    /// A reader slot's fields, at offsets within the slot (SPEC.md §17.4).
    public enum ReaderSlot {
        /// Position of the next record the reader reads.
        public static let cursor = FieldLayout(offset: 0, size: 8)
        /// Index of the message at cursor (durable readers, to count what they missed while away).
        public static let resumeIndex = FieldLayout(offset: 8, size: 8)
        /// READER_SLOT_FREE or READER_SLOT_ACTIVE.
        public static let state = FieldLayout(offset: 16, size: 4)
        /// READER_FLAG_GATING | READER_FLAG_DURABLE.
        public static let flags = FieldLayout(offset: 20, size: 4)
        /// The reader's owner token (SPEC.md §11.4).
        public static let owner = FieldLayout(offset: 24, size: 8)
        /// Messages the reader missed because it was lapped.
        public static let missedCount = FieldLayout(offset: 32, size: 8)
        /// How long a dead durable gating reader still gates, in milliseconds.
        public static let gateTimeoutMs = FieldLayout(offset: 40, size: 4)
        /// 1 while the reader is counted in readerWaiters.
        public static let sleeping = FieldLayout(offset: 44, size: 4)
        /// The reader's name, UTF-8, NUL-padded.
        public static let name = FieldLayout(offset: 48, size: 64)

        /// Every slot field with its SPEC.md name.
        public static let allFields: [(name: String, layout: FieldLayout)] = [
            ("cursor", cursor), ("resumeIndex", resumeIndex), ("state", state), ("flags", flags),
            ("owner", owner), ("missedCount", missedCount), ("gateTimeoutMs", gateTimeoutMs),
            ("sleeping", sleeping), ("name", name),
        ]
    }

    // MARK: SPEC.md §18 Several producers

    /// Most slots of a producer table.
    public static let maxProducerSlots = 16
    /// Size of one producer slot.
    public static let producerSlotSize = 64
    /// Offset of the producer table: the header's last 1 KiB.
    @inlinable public static func producerTableOffset(headerSize: Int) -> Int { headerSize - producerTableReserve }

    /// A producer slot's fields, at offsets within the slot (SPEC.md §18.2).
    public enum ProducerSlot {
        /// PRODUCER_SLOT_FREE or PRODUCER_SLOT_ACTIVE.
        public static let state = FieldLayout(offset: 0, size: 4)
        /// CLAIM_IDLE, CLAIM_INTENT or CLAIM_HELD.
        public static let claimState = FieldLayout(offset: 4, size: 4)
        /// The producer's owner token (SPEC.md §11.4).
        public static let owner = FieldLayout(offset: 8, size: 8)
        /// Where the claim being made or written starts.
        public static let claimStart = FieldLayout(offset: 16, size: 8)
        /// Where it ends.
        public static let claimEnd = FieldLayout(offset: 24, size: 8)
        /// Messages this producer committed (statistics).
        public static let committedCount = FieldLayout(offset: 32, size: 8)
        /// Claims of this producer that were cancelled (statistics).
        public static let cancelledCount = FieldLayout(offset: 40, size: 8)
        /// 1 while the producer is counted in writerWaiters.
        public static let sleeping = FieldLayout(offset: 48, size: 4)

        /// Every slot field with its SPEC.md name.
        public static let allFields: [(name: String, layout: FieldLayout)] = [
            ("state", state), ("claimState", claimState), ("owner", owner), ("claimStart", claimStart),
            ("claimEnd", claimEnd), ("committedCount", committedCount), ("cancelledCount", cancelledCount),
            ("sleeping", sleeping),
        ]
    }

    /// Producer slot `state`: nobody holds it.
    public static let producerSlotFree: UInt32 = 0
    /// Producer slot `state`: a producer holds it (or held it and died).
    public static let producerSlotActive: UInt32 = 1
    /// claimState: no claim.
    public static let claimIdle: UInt32 = 0
    /// claimState: claimStart..claimEnd is being claimed or written.
    public static let claimIntent: UInt32 = 1
    /// claimState: that claim was cancelled while its producer lived; its bytes are held.
    public static let claimHeld: UInt32 = 2
    /// `kind` of a record that ends a claim after a shortened reservation.
    public static let recordKindFiller: UInt32 = 3
    /// `kind` of a message record that another record of its claim follows.
    public static let recordKindMessageMore: UInt32 = 4
    /// Stamp state (bits 62..63 of a control word): claimed (CLAIMED, or COMMITTED with bit 56).
    public static let stampClaimed: UInt64 = 1
    /// Stamp state: cancelled.
    public static let stampCancelled: UInt64 = 2
    /// Stamp state: published.
    public static let stampPublished: UInt64 = 3
    /// How long a live producer's claim may hold the front before it is cancelled.
    public static let claimTimeoutMs = 1000

    /// File byte whose lock serialises durable joins (SPEC.md §17.5).
    public static let readerNameLockOffset = 512
    /// A slot's resumeIndex when the reader's index is not known (it joined at the newest
    /// and has read nothing yet).
    public static let unknownIndex = UInt64.max

    /// Slot `state`: nobody holds the slot.
    public static let readerSlotFree: UInt32 = 0
    /// Slot `state`: a reader holds it (or a durable reader left it to come back to).
    public static let readerSlotActive: UInt32 = 1
    /// Slot `flags` bit: the reader gates the producer.
    public static let readerFlagGating: UInt32 = 1
    /// Slot `flags` bit: the reader is durable (named).
    public static let readerFlagDurable: UInt32 = 2
    /// The 1.0 writer leaves every header byte it does not name zero.
    public static let lineSize = 128

    /// Value of `writerState` while a producer may still write.
    public static let writerStateOpen: UInt32 = 0
    /// Value of `writerState` after the producer closed the stream.
    public static let writerStateClosed: UInt32 = 1

    // MARK: SPEC.md §4 Capacity and positions

    /// Smallest capacity (one 4 KiB page).
    public static let minCapacity = 4096
    /// Largest capacity (1 TiB).
    public static let maxCapacity = 1 << 40
    /// Every record starts on a multiple of this many bytes; positions are multiples of it.
    public static let recordAlignment = 8

    // MARK: SPEC.md §6 Records

    /// Record header fields.
    public enum Record {
        /// Payload length in bytes (u32).
        public static let length = FieldLayout(offset: 0, size: 4)
        /// RECORD_KIND_MESSAGE or RECORD_KIND_PADDING (u32).
        public static let kind = FieldLayout(offset: 4, size: 4)
        /// The message's index (u64), in message records of rings with readers (SPEC.md §17.2).
        public static let index = FieldLayout(offset: 8, size: 8)

        /// Every record-header field with its SPEC.md name.
        public static let allFields: [(name: String, layout: FieldLayout)] = [
            ("length", length), ("kind", kind), ("index", index),
        ]
    }

    /// Bytes before a record's payload (and the whole header of a padding record).
    public static let recordHeaderSize = 8
    /// Bytes before a message's payload in a ring with readers (length, kind, index).
    public static let indexedRecordHeaderSize = 16
    /// `kind` of a record that carries a message.
    public static let recordKindMessage: UInt32 = 1
    /// `kind` of a record that fills the end of the data region.
    public static let recordKindPadding: UInt32 = 2
    /// No message is larger than this, whatever the capacity.
    public static let maxMessageSizeLimit = 0x7FFF_FFF8

    // MARK: SPEC.md §9 Policies

    /// `policy` value: a full ring refuses the write.
    public static let policyRejectWhenFull: UInt32 = 0
    /// `policy` value: a full ring drops its oldest records.
    public static let policyOverwriteOldest: UInt32 = 1

    // MARK: SPEC.md §11 Roles and locks

    /// File byte whose lock is the producer role.
    public static let producerLockOffset = 128
    /// File byte whose lock is the consumer role.
    public static let consumerLockOffset = 256

    /// The constants of SPEC.md by their SPEC.md names.
    public static let specConstants: [(name: String, value: UInt64)] = [
        ("MAGIC", magicValue),
        ("VERSION_MAJOR", UInt64(versionMajor)),
        ("VERSION_MINOR", UInt64(versionMinor)),
        ("DEFAULT_HEADER_SIZE", UInt64(defaultHeaderSize)),
        ("MIN_HEADER_SIZE", UInt64(minHeaderSize)),
        ("MAX_HEADER_SIZE", UInt64(maxHeaderSize)),
        ("CHECKSUM_COVERED_BYTES", UInt64(checksumCoveredBytes)),
        ("LINE_SIZE", UInt64(lineSize)),
        ("READER_TABLE_OFFSET", UInt64(readerTableOffset)),
        ("WRITER_STATE_OPEN", UInt64(writerStateOpen)),
        ("WRITER_STATE_CLOSED", UInt64(writerStateClosed)),
        ("MIN_CAPACITY", UInt64(minCapacity)),
        ("MAX_CAPACITY", UInt64(maxCapacity)),
        ("RECORD_ALIGNMENT", UInt64(recordAlignment)),
        ("RECORD_HEADER_SIZE", UInt64(recordHeaderSize)),
        ("RECORD_KIND_MESSAGE", UInt64(recordKindMessage)),
        ("RECORD_KIND_PADDING", UInt64(recordKindPadding)),
        ("MAX_MESSAGE_SIZE_LIMIT", UInt64(maxMessageSizeLimit)),
        ("POLICY_REJECT_WHEN_FULL", UInt64(policyRejectWhenFull)),
        ("POLICY_OVERWRITE_OLDEST", UInt64(policyOverwriteOldest)),
        ("PRODUCER_LOCK_OFFSET", UInt64(producerLockOffset)),
        ("CONSUMER_LOCK_OFFSET", UInt64(consumerLockOffset)),
        ("VERSION_MINOR_READERS", UInt64(versionMinorReaders)),
        ("INCOMPAT_READERS", UInt64(incompatReaders)),
        ("INCOMPAT_PRODUCERS", UInt64(incompatProducers)),
        ("INCOMPAT_ITEMS", UInt64(incompatItems)),
        ("COMPAT_COUNTS", UInt64(compatCounts)),
        ("READER_SLOT_SIZE", UInt64(readerSlotSize)),
        ("PRODUCER_TABLE_RESERVE", UInt64(producerTableReserve)),
        ("INDEXED_RECORD_HEADER_SIZE", UInt64(indexedRecordHeaderSize)),
        ("READER_SLOT_FREE", UInt64(readerSlotFree)),
        ("READER_SLOT_ACTIVE", UInt64(readerSlotActive)),
        ("READER_FLAG_GATING", UInt64(readerFlagGating)),
        ("READER_FLAG_DURABLE", UInt64(readerFlagDurable)),
        ("READER_NAME_LOCK_OFFSET", UInt64(readerNameLockOffset)),
        ("UNKNOWN_INDEX", unknownIndex),
        ("MAX_PRODUCER_SLOTS", UInt64(maxProducerSlots)),
        ("PRODUCER_SLOT_SIZE", UInt64(producerSlotSize)),
        ("PRODUCER_SLOT_FREE", UInt64(producerSlotFree)),
        ("PRODUCER_SLOT_ACTIVE", UInt64(producerSlotActive)),
        ("CLAIM_IDLE", UInt64(claimIdle)),
        ("CLAIM_INTENT", UInt64(claimIntent)),
        ("CLAIM_HELD", UInt64(claimHeld)),
        ("RECORD_KIND_FILLER", UInt64(recordKindFiller)),
        ("RECORD_KIND_MESSAGE_MORE", UInt64(recordKindMessageMore)),
        ("STAMP_CLAIMED", stampClaimed),
        ("STAMP_CANCELLED", stampCancelled),
        ("STAMP_PUBLISHED", stampPublished),
        ("CLAIM_TIMEOUT_MS", UInt64(claimTimeoutMs)),
        ("MAX_ITEM_SIZE", UInt64(maxItemSize)),
        ("MAX_ITEM_ALIGNMENT", UInt64(maxItemAlignment)),
        ("ITEM_TYPE_OFFSET", UInt64(itemTypeOffset)),
        ("MAX_TYPE_LENGTH", UInt64(maxTypeLength)),
    ]

    // MARK: Derived quantities (SPEC.md §2, §6)

    /// Size of the whole file: header then data region.
    @inlinable public static func fileSize(headerSize: Int, capacity: Int) -> Int {
        headerSize + capacity
    }

    /// Bytes a record of `payloadLength` occupies: header plus payload, rounded up to 8.
    @inlinable public static func recordSize(payloadLength: Int, headerSize: Int = recordHeaderSize) -> Int {
        (headerSize + payloadLength + recordAlignment - 1) & ~(recordAlignment - 1)
    }

    /// The largest payload a ring of `capacity` bytes accepts: min(capacity/2 - H, MAX_MESSAGE_SIZE_LIMIT),
    /// H the message header size (8, or 16 with readers).
    @inlinable public static func maxMessageSize(capacity: Int, headerSize: Int = recordHeaderSize) -> Int {
        min(capacity / 2 - headerSize, maxMessageSizeLimit)
    }
}
