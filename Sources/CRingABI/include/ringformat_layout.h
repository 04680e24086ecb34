/*
 * ringformat_layout.h - the wire format of RingFormat 1.1 as C constants:
 * every constant of SPEC.md §1.3 and the offset and size of every header
 * field (SPEC.md §3), record-header field (SPEC.md §6.1, §17.2) and reader-slot
 * field (SPEC.md §17.4, as RING_SLOT_OFFSET_* within a slot) and producer-slot
 * field (SPEC.md §18.2, as RING_PSLOT_OFFSET_* within a slot), under the names
 * SPEC.md uses (RING_ + UPPER_SNAKE of the name). Only macros: no types, no
 * functions, no includes; usable from C, C++ and any FFI generator.
 *
 * ringformat.h (the API) includes this header. A program that only reads or
 * writes ring files byte by byte may include it alone.
 *
 * Checked against SPEC.md and the Swift core by Tests/RingFormatTests/
 * HeaderSpecTests.swift, and against Tests/python/ringtools.py by
 * Tests/python/test_layout_header.py.
 */
#ifndef RINGFORMAT_LAYOUT_H
#define RINGFORMAT_LAYOUT_H

/* Constants (SPEC.md §1.3). */
#define RING_MAGIC                   0x00544D46474E4952ULL /* "RINGFMT\0" read as u64 LE */
#define RING_VERSION_MAJOR           1
#define RING_VERSION_MINOR           0
#define RING_DEFAULT_HEADER_SIZE     4096
#define RING_MIN_HEADER_SIZE         4096
#define RING_MAX_HEADER_SIZE         65536
#define RING_CHECKSUM_COVERED_BYTES  124
#define RING_LINE_SIZE               128
#define RING_READER_TABLE_OFFSET     1024
#define RING_WRITER_STATE_OPEN       0
#define RING_WRITER_STATE_CLOSED     1
#define RING_MIN_CAPACITY            4096
#define RING_MAX_CAPACITY            1099511627776ULL /* 2^40 */
#define RING_RECORD_ALIGNMENT        8
#define RING_RECORD_HEADER_SIZE      8
#define RING_RECORD_KIND_MESSAGE     1
#define RING_RECORD_KIND_PADDING     2
#define RING_MAX_MESSAGE_SIZE_LIMIT  0x7FFFFFF8
#define RING_POLICY_REJECT_WHEN_FULL 0
#define RING_POLICY_OVERWRITE_OLDEST 1
#define RING_PRODUCER_LOCK_OFFSET    128
#define RING_CONSUMER_LOCK_OFFSET    256
#define RING_VERSION_MINOR_READERS   1
#define RING_INCOMPAT_READERS        1
#define RING_INCOMPAT_PRODUCERS      2
#define RING_INCOMPAT_ITEMS          4
#define RING_COMPAT_COUNTS           2
#define RING_READER_SLOT_SIZE        128
#define RING_PRODUCER_TABLE_RESERVE  1024
#define RING_INDEXED_RECORD_HEADER_SIZE 16
#define RING_READER_SLOT_FREE        0
#define RING_READER_SLOT_ACTIVE      1
#define RING_READER_FLAG_GATING      1
#define RING_READER_FLAG_DURABLE     2
#define RING_READER_NAME_LOCK_OFFSET 512
#define RING_UNKNOWN_INDEX           0xFFFFFFFFFFFFFFFFULL
/* Several producers (SPEC.md §18). */
#define RING_MAX_PRODUCER_SLOTS      16
#define RING_PRODUCER_SLOT_SIZE      64
#define RING_PRODUCER_SLOT_FREE      0
#define RING_PRODUCER_SLOT_ACTIVE    1
#define RING_CLAIM_IDLE              0
#define RING_CLAIM_INTENT            1
#define RING_CLAIM_HELD              2
#define RING_RECORD_KIND_FILLER      3
#define RING_RECORD_KIND_MESSAGE_MORE 4
#define RING_STAMP_CLAIMED           1 /* bits 62..63 of a claim's control word (SPEC.md §18.3) */
#define RING_STAMP_CANCELLED         2
#define RING_STAMP_PUBLISHED         3
#define RING_CLAIM_TIMEOUT_MS        1000
/* Typed rings (SPEC.md §19). */
#define RING_MAX_ITEM_SIZE           65536
#define RING_MAX_ITEM_ALIGNMENT      64
#define RING_ITEM_TYPE_OFFSET        512
#define RING_MAX_TYPE_LENGTH         512

/* Header fields: offset and size in bytes (SPEC.md §3). */
#define RING_OFFSET_MAGIC             0
#define RING_SIZE_MAGIC               8
#define RING_OFFSET_VERSION_MAJOR     8
#define RING_SIZE_VERSION_MAJOR       2
#define RING_OFFSET_VERSION_MINOR     10
#define RING_SIZE_VERSION_MINOR       2
#define RING_OFFSET_HEADER_SIZE       12
#define RING_SIZE_HEADER_SIZE         4
#define RING_OFFSET_CAPACITY          16
#define RING_SIZE_CAPACITY            8
#define RING_OFFSET_POLICY            24
#define RING_SIZE_POLICY              4
#define RING_OFFSET_INCOMPAT_FLAGS    28
#define RING_SIZE_INCOMPAT_FLAGS      4
#define RING_OFFSET_COMPAT_FLAGS      32
#define RING_SIZE_COMPAT_FLAGS        4
#define RING_OFFSET_READER_SLOTS      36
#define RING_SIZE_READER_SLOTS        4
#define RING_OFFSET_PRODUCER_SLOTS    40
#define RING_SIZE_PRODUCER_SLOTS      4
#define RING_OFFSET_ITEM_SIZE         44
#define RING_SIZE_ITEM_SIZE           4
#define RING_OFFSET_ITEM_ALIGNMENT    48
#define RING_SIZE_ITEM_ALIGNMENT      4
#define RING_OFFSET_TYPE_LENGTH       52
#define RING_SIZE_TYPE_LENGTH         4
#define RING_OFFSET_TYPE_CHECKSUM     56
#define RING_SIZE_TYPE_CHECKSUM       4
#define RING_OFFSET_HEADER_CHECKSUM   124
#define RING_SIZE_HEADER_CHECKSUM     4
#define RING_OFFSET_PRODUCER_POSITION 128
#define RING_SIZE_PRODUCER_POSITION   8
#define RING_OFFSET_CLAIM_POSITION    136
#define RING_SIZE_CLAIM_POSITION      8
#define RING_OFFSET_DROPPED_COUNT     144
#define RING_SIZE_DROPPED_COUNT       8
#define RING_OFFSET_WRITER_STATE      152
#define RING_SIZE_WRITER_STATE        4
#define RING_OFFSET_NEXT_INDEX        160
#define RING_SIZE_NEXT_INDEX          8
#define RING_OFFSET_RECLAIM_SEQUENCE  168
#define RING_SIZE_RECLAIM_SEQUENCE    4
#define RING_OFFSET_HELD_CLAIMS       176
#define RING_SIZE_HELD_CLAIMS         4
#define RING_OFFSET_RECLAIM_OWNER     180
#define RING_SIZE_RECLAIM_OWNER       4
#define RING_OFFSET_PRODUCER_OWNER    248
#define RING_SIZE_PRODUCER_OWNER      8
#define RING_OFFSET_CONSUMER_POSITION 256
#define RING_SIZE_CONSUMER_POSITION   8
#define RING_OFFSET_CONSUMED_COUNT    264
#define RING_SIZE_CONSUMED_COUNT      8
#define RING_OFFSET_CONSUMER_OWNER    376
#define RING_SIZE_CONSUMER_OWNER      8
#define RING_OFFSET_DATA_SIGNAL       384
#define RING_SIZE_DATA_SIGNAL         4
#define RING_OFFSET_READER_WAITERS    388
#define RING_SIZE_READER_WAITERS      4
#define RING_OFFSET_SPACE_SIGNAL      392
#define RING_SIZE_SPACE_SIGNAL        4
#define RING_OFFSET_WRITER_WAITERS    396
#define RING_SIZE_WRITER_WAITERS      4

/* Record header fields (SPEC.md §6.1; index: §17.2, §18.3). */
#define RING_OFFSET_LENGTH            0
#define RING_SIZE_LENGTH              4
#define RING_OFFSET_KIND              4
#define RING_SIZE_KIND                4
#define RING_OFFSET_INDEX             8
#define RING_SIZE_INDEX               8

/* Reader-slot fields (SPEC.md §17.4): offset and size within a slot; slot i is at
 * RING_READER_TABLE_OFFSET + i * RING_READER_SLOT_SIZE. */
#define RING_SLOT_OFFSET_CURSOR          0
#define RING_SLOT_SIZE_CURSOR            8
#define RING_SLOT_OFFSET_RESUME_INDEX    8
#define RING_SLOT_SIZE_RESUME_INDEX      8
#define RING_SLOT_OFFSET_STATE           16
#define RING_SLOT_SIZE_STATE             4
#define RING_SLOT_OFFSET_FLAGS           20
#define RING_SLOT_SIZE_FLAGS             4
#define RING_SLOT_OFFSET_OWNER           24
#define RING_SLOT_SIZE_OWNER             8
#define RING_SLOT_OFFSET_MISSED_COUNT    32
#define RING_SLOT_SIZE_MISSED_COUNT      8
#define RING_SLOT_OFFSET_GATE_TIMEOUT_MS 40
#define RING_SLOT_SIZE_GATE_TIMEOUT_MS   4
#define RING_SLOT_OFFSET_SLEEPING        44
#define RING_SLOT_SIZE_SLEEPING          4
#define RING_SLOT_OFFSET_NAME            48
#define RING_SLOT_SIZE_NAME              64

/* Producer-slot fields (SPEC.md §18.2): offset and size within a slot; slot k is at
 * headerSize - RING_PRODUCER_TABLE_RESERVE + k * RING_PRODUCER_SLOT_SIZE (the header's
 * last 1 KiB), its first byte the slot's lock byte. */
#define RING_PSLOT_OFFSET_STATE           0
#define RING_PSLOT_SIZE_STATE             4
#define RING_PSLOT_OFFSET_CLAIM_STATE     4
#define RING_PSLOT_SIZE_CLAIM_STATE       4
#define RING_PSLOT_OFFSET_OWNER           8
#define RING_PSLOT_SIZE_OWNER             8
#define RING_PSLOT_OFFSET_CLAIM_START     16
#define RING_PSLOT_SIZE_CLAIM_START       8
#define RING_PSLOT_OFFSET_CLAIM_END       24
#define RING_PSLOT_SIZE_CLAIM_END         8
#define RING_PSLOT_OFFSET_COMMITTED_COUNT 32
#define RING_PSLOT_SIZE_COMMITTED_COUNT   8
#define RING_PSLOT_OFFSET_CANCELLED_COUNT 40
#define RING_PSLOT_SIZE_CANCELLED_COUNT   8
#define RING_PSLOT_OFFSET_SLEEPING        48
#define RING_PSLOT_SIZE_SLEEPING          4

#endif /* RINGFORMAT_LAYOUT_H */
