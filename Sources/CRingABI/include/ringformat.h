/*
 * ringformat.h - the C ABI of RingFormat, a shared-memory ring buffer file
 * shared by processes written in any language (format: SPEC.md, version 1.1).
 *
 * Link with -lringformat (pkg-config ringformat, or CMake's find_package(ringformat)
 * and the target ringformat::ringformat; ringformat::ringformat_static or
 * pkg-config --static for libringformat.a), or dlopen("libringformat.so.1") and
 * look the functions up with dlsym: every function below is a plain C symbol, of
 * the version node RINGFORMAT_1, or of the newer node that the heading of its
 * section names (the several-readers functions: node 1.1; the several-producers
 * functions: node 1.2; typed rings, mappings and rings without a file: node 1.3).
 * The library carries its own Swift runtime; it needs only libc, libm, libstdc++
 * and libgcc_s at run time.
 *
 * Conventions
 *  - Every function returns RING_OK (0) or a negative ring_error_t code, and
 *    never aborts the process: no error crosses the boundary as anything else.
 *  - Pointer arguments are checked: NULL where a pointer is required gives
 *    RING_ERR_INVALID_ARGUMENT.
 *  - Handles (ring_t, ring_producer_t, ring_consumer_t) are opaque. A handle
 *    stays valid until its *_free function; after *_close every call on it
 *    returns RING_ERR_CLOSED. Using a handle after *_free is undefined.
 *  - Thread safety: every handle carries a lock; calls on one handle from
 *    several threads are serialised (a blocking call holds it while it
 *    waits). Different handles are independent. Closing a producer or
 *    consumer handle from another thread ends a call blocked on it, which
 *    returns RING_ERR_CLOSED (within the 100 ms a wait sleeps at most).
 *  - fork(): a handle belongs to the process that made it. In a child every
 *    call on an inherited handle returns RING_ERR_FORKED, and the close and free functions
 *    there release memory but never the role, which stays with the parent
 *    (SPEC.md §11.3). Open the ring again in the child.
 *  - Timeouts are in nanoseconds: 0 does not wait, RING_WAIT_FOREVER (-1)
 *    waits without limit. A wait that times out reports RING_ERR_FULL
 *    (writes) or RING_ERR_EMPTY (reads), like Python's queue.Full/Empty.
 *  - After a failure, ring_last_error_message() and ring_last_errno()
 *    describe it (per thread).
 */
#ifndef RINGFORMAT_H
#define RINGFORMAT_H

#include <stddef.h>
#include <stdint.h>

/* The format's constants and field offsets (SPEC.md §1.3, §3, §6.1): RING_MAGIC, RING_OFFSET_*, ... */
#include "ringformat_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */

/** Version of this C ABI. Incremented when a function's signature or meaning changes. */
#define RING_ABI_VERSION 1

/* ------------------------------------------------------------------------ */
/* Errors (SPEC.md §15): the same names as Swift's RingError and ringpy's.  */

typedef enum ring_error {
    RING_OK                      = 0,
    RING_ERR_FULL                = -1,  /**< No room (reject-when-full), or a timed write expired. */
    RING_ERR_EMPTY               = -2,  /**< Nothing to read, or a timed read expired. */
    RING_ERR_INVALID_SIZE        = -3,  /**< Message over the maximum, or a bad capacity/size argument. */
    RING_ERR_CLOSED              = -4,  /**< The handle was closed. */
    RING_ERR_END_OF_STREAM       = -5,  /**< The producer closed the stream and it is drained. */
    RING_ERR_CORRUPT             = -6,  /**< The file holds values no valid ring holds; ring_last_error_message() names the
                                             reason of SPEC.md §13, §17.9 or §18.10 (e.g. a bad producer table or claim). */
    RING_ERR_UNSUPPORTED_VERSION = -7,  /**< Another major version, unknown incompatible flags or policy. */
    RING_ERR_BUSY                = -8,  /**< The role is held by another handle, or a reservation/peek is open; or every
                                             reader slot / producer slot is taken. */
    RING_ERR_SYSTEM              = -9,  /**< A system call failed: see ring_last_errno(). */
    RING_ERR_BUFFER_TOO_SMALL    = -10, /**< The caller's buffer is too small; the needed size is reported. */
    RING_ERR_INVALID_ARGUMENT    = -11, /**< A NULL pointer or an argument out of range. */
    RING_ERR_OVERWRITTEN         = -12, /**< Overwrite-oldest: a peeked record was reclaimed while held. */
    RING_ERR_FORKED              = -13, /**< The handle belongs to the process that opened it (inherited across fork). */
    RING_ERR_PRODUCER_GONE       = -14  /**< A consumer that stops when the producer is gone (SPEC.md §22.1) found the ring
                                             drained, the stream open and no live producer. */
} ring_error_t;

/** What a full ring does (SPEC.md §9). */
typedef enum ring_policy {
    RING_REJECT_WHEN_FULL = RING_POLICY_REJECT_WHEN_FULL, /**< The writer gets RING_ERR_FULL. */
    RING_OVERWRITE_OLDEST = RING_POLICY_OVERWRITE_OLDEST  /**< The oldest records are dropped. */
} ring_policy_t;

/** Flags of ring_create(). */
enum {
    RING_CREATE_REPLACE       = 1, /**< Atomically replace an existing file at the path. */
    RING_CREATE_OPEN_EXISTING = 2, /**< If a ring exists at the path, open it instead (open-or-create):
                                        only if this user owns it and no one else may write it (SPEC.md §7.1),
                                        else RING_ERR_SYSTEM with EPERM. */
    RING_CREATE_ALLOW_SHARED  = 4, /**< With OPEN_EXISTING: also use a ring owned by another user or writable
                                        by its group or others (a ring meant to be shared). */
    RING_CREATE_ANY_GEOMETRY  = 8  /**< With OPEN_EXISTING: use an existing ring whatever its capacity and
                                        policy (without it, another capacity or policy is INVALID_ARGUMENT). */
};

/** Timeout value: wait without limit. */
#define RING_WAIT_FOREVER (-1)

/** Opaque handle of an open ring file. */
typedef struct ring ring_t;
/** Opaque handle of the producer role of a ring. */
typedef struct ring_producer ring_producer_t;
/** Opaque handle of the consumer role of a ring. */
typedef struct ring_consumer ring_consumer_t;

/** One message of a batch write: `len` bytes at `data`. */
typedef struct ring_message {
    const void *data;
    size_t len;
} ring_message_t;

/** A snapshot of a ring's state (ring_info). */
typedef struct ring_info {
    uint64_t capacity;          /**< Bytes in the data region (a power of two). */
    uint64_t max_message_size;  /**< Largest message accepted (0 for a typed ring). */
    uint64_t producer_position; /**< Free-running byte position of the producer (a typed ring: item count). */
    uint64_t consumer_position; /**< Free-running byte position of the consumer. */
    uint64_t used_bytes;        /**< producer_position - consumer_position (a typed ring: unread items). */
    uint64_t message_count;     /**< Unread messages (a typed ring: unread items). */
    uint64_t dropped_count;     /**< Messages dropped by overwrite-oldest. */
    uint32_t policy;            /**< ring_policy_t. */
    uint32_t writer_closed;     /**< 1 if the producer closed the stream. */
    uint16_t version_major;     /**< Format version of the file. */
    uint16_t version_minor;
    uint32_t header_size;       /**< Offset of the data region in the file. */
} ring_info_t;

/* ------------------------------------------------------------------------ */
/* Library                                                                  */

/** RING_ABI_VERSION of the loaded library. Thread-safe. */
uint32_t ring_abi_version(void);

/** The newest format version this library reads and writes (major.minor). Thread-safe. */
void ring_format_version(uint16_t *major, uint16_t *minor);

/** Static, human-readable text for an error code (never NULL). Thread-safe. */
const char *ring_strerror(int code);

/** Detail of the last error on the calling thread (for example the corruption reason); "" if none. */
const char *ring_last_error_message(void);

/** errno of the last RING_ERR_SYSTEM on the calling thread, else 0. */
int ring_last_errno(void);

/* ------------------------------------------------------------------------ */
/* Ring files                                                               */

/**
 * Creates a ring file at `path` (SPEC.md §7) and opens it.
 * capacity is rounded up to a power of two (at least RING_MIN_CAPACITY).
 * mode: permission bits, 0777 at most (0600 is usual; the umask applies); other bits
 * are INVALID_ARGUMENT.
 * flags: RING_CREATE_REPLACE and/or RING_CREATE_OPEN_EXISTING (with RING_CREATE_ALLOW_SHARED), or 0.
 * Errors: INVALID_ARGUMENT, INVALID_SIZE, SYSTEM (EEXIST if the path exists and
 * no flag says otherwise), and with OPEN_EXISTING those of ring_open.
 * On success *out owns a handle to release with ring_free().
 */
int ring_create(const char *path, uint64_t capacity, int policy, uint32_t mode, uint32_t flags, ring_t **out);

/**
 * Like ring_create, with both positions starting at initial_position (a
 * multiple of 8): for tests of positions past 2^32. OPEN_EXISTING is not accepted.
 */
int ring_create_at_position(const char *path, uint64_t capacity, int policy, uint32_t mode,
                            uint32_t flags, uint64_t initial_position, ring_t **out);

/**
 * Opens an existing ring file, validating its header (SPEC.md §13).
 * Errors: INVALID_ARGUMENT, SYSTEM (ENOENT, EACCES, EISDIR, ...), CORRUPT,
 * UNSUPPORTED_VERSION. On success *out owns a handle to release with ring_free().
 */
int ring_open(const char *path, ring_t **out);

/** Fills *info with a snapshot of the ring (walks the unread records). Errors: CLOSED, CORRUPT. */
int ring_info(ring_t *ring, ring_info_t *info);

/** The immutable fields of a ring, validated when it was opened (ring_geometry). */
typedef struct ring_geometry {
    uint64_t capacity;          /**< Bytes in the data region (a power of two). */
    uint64_t max_message_size;  /**< Largest message accepted (0 for a typed ring). */
    uint32_t policy;            /**< ring_policy_t. */
    uint32_t header_size;       /**< Offset of the data region in the file. */
    uint16_t version_major;     /**< Format version of the file. */
    uint16_t version_minor;
    uint32_t reader_slots;      /**< Slots of the reader table (format 1.1); 0 for a 1.0 ring. */
} ring_geometry_t;
/* ring_geometry_t has no room left: the producer slots are ring_producer_slots() (RINGFORMAT_1.2). */

/**
 * Fills *geometry with the ring's immutable fields, as validated at open: reads
 * nothing from the shared mapping, walks no record, judges no writerState (SPEC.md
 * §13: what opening validates). Errors: INVALID_ARGUMENT, CLOSED, FORKED.
 */
int ring_geometry(ring_t *ring, ring_geometry_t *geometry);

/** msync: the mapping's dirty pages reach the file. Errors: CLOSED, SYSTEM. */
int ring_flush(ring_t *ring);

/** Closes the handle (producers and consumers made from it stay usable). Idempotent. */
int ring_close(ring_t *ring);

/** Closes (if needed) and releases the handle. NULL is ignored. */
void ring_free(ring_t *ring);

/* ------------------------------------------------------------------------ */
/* Producer                                                                 */

/**
 * Takes the producer role (SPEC.md §11). Errors: BUSY when another handle,
 * here or in another process, holds it; CLOSED; CORRUPT.
 * On a ring with producer slots (ring_create_shared, SPEC.md §18) each call takes a
 * free slot instead, so up to that many producers, in any processes, write at once
 * with every producer function below; BUSY when every slot is taken (a slot a killed
 * producer left may be busy for a moment while its claim is settled).
 * Release with ring_producer_free().
 */
int ring_producer_open(ring_t *ring, ring_producer_t **out);

/** Writes one message of len bytes without blocking. Errors: FULL, INVALID_SIZE, CLOSED, CORRUPT, BUSY (a reservation is open). data may be NULL when len is 0. */
int ring_write(ring_producer_t *producer, const void *data, size_t len);

/** Writes one message, waiting up to timeout_ns for room. Errors: as ring_write; FULL when the time is up. */
int ring_write_timeout(ring_producer_t *producer, const void *data, size_t len, int64_t timeout_ns);

/**
 * Writes the longest prefix of messages[0..count) that fits now, with one
 * commit; *written receives how many. Nothing is written (INVALID_SIZE) if
 * any message is over the maximum. FULL is not an error here: *written may be 0.
 */
int ring_write_batch(ring_producer_t *producer, const ring_message_t *messages, size_t count, size_t *written);

/**
 * Zero-copy write: reserves room for a message of up to size bytes and sets
 * *buffer to where to write it, inside the shared mapping. Nothing is visible
 * to the consumer until ring_commit(); ring_abort() gives the room back.
 * Errors: FULL, INVALID_SIZE, CLOSED, BUSY (a reservation is already open).
 */
int ring_reserve(ring_producer_t *producer, size_t size, void **buffer);

/** Commits the open reservation as a message of len bytes (len <= reserved size). Errors: INVALID_SIZE, INVALID_ARGUMENT (no reservation), CLOSED. */
int ring_commit(ring_producer_t *producer, size_t len);

/** Abandons the open reservation. */
int ring_abort(ring_producer_t *producer);

/**
 * Ends the stream (the consumer drains, then gets END_OF_STREAM) and closes the producer.
 * On a ring with producer slots the stream ends when the last live producer so leaves
 * (SPEC.md §18.8); until then this only gives the slot up.
 */
int ring_producer_close_writer(ring_producer_t *producer);

/** msync of the ring's mapping. Errors: CLOSED, SYSTEM. */
int ring_producer_flush(ring_producer_t *producer);

/** Closes the producer without ending the stream; the role (or producer slot) is released. Idempotent. */
int ring_producer_close(ring_producer_t *producer);

/** Closes (if needed) and releases the handle. NULL is ignored. */
void ring_producer_free(ring_producer_t *producer);

/* ------------------------------------------------------------------------ */
/* Consumer                                                                 */

/** Takes the consumer role (SPEC.md §11). Errors: BUSY, CLOSED, CORRUPT. Release with ring_consumer_free(). */
int ring_consumer_open(ring_t *ring, ring_consumer_t **out);

/**
 * Reads and consumes the oldest message into buf without blocking; *len
 * receives its length. If capacity is too small the message is not consumed,
 * *len receives the size needed, and BUFFER_TOO_SMALL is returned.
 * Errors: EMPTY, END_OF_STREAM, BUFFER_TOO_SMALL, CLOSED, CORRUPT, BUSY (a peek is open).
 * buf may be NULL when capacity is 0 (to ask for the size). Under overwrite-oldest the
 * producer may reclaim that message before the next call, so the next message may need
 * another size: call again with the size it reports.
 */
int ring_read(ring_consumer_t *consumer, void *buf, size_t capacity, size_t *len);

/** Like ring_read, waiting up to timeout_ns for a message. EMPTY when the time is up. */
int ring_read_timeout(ring_consumer_t *consumer, void *buf, size_t capacity, size_t *len, int64_t timeout_ns);

/**
 * Reads and consumes up to max_count messages, packed one after another into
 * buf, with one position update; lengths[i] receives the length of message i
 * and *count how many were read. Stops early at the first message that does
 * not fit in what is left of buf. Waits up to timeout_ns for the first one.
 * Errors: EMPTY (none within the timeout), END_OF_STREAM, BUFFER_TOO_SMALL
 * (the first message alone does not fit: lengths[0] receives its size), CLOSED, CORRUPT.
 */
int ring_read_batch(ring_consumer_t *consumer, void *buf, size_t capacity, size_t *lengths,
                    size_t max_count, size_t *count, int64_t timeout_ns);

/**
 * Copies up to max_count of the oldest unread messages into buf, packed one after
 * another, WITHOUT consuming them; lengths[i] and *count as in ring_read_batch. Does
 * not wait. *count is 0 when the ring is empty. Errors: BUFFER_TOO_SMALL (the first
 * message alone does not fit: lengths[0] receives its size), CLOSED, CORRUPT, BUSY.
 */
int ring_peek_batch(ring_consumer_t *consumer, void *buf, size_t capacity, size_t *lengths,
                    size_t max_count, size_t *count);

/**
 * Called by ring_consume for message `index` (0, 1, ...) of a batch, with its bytes
 * inside the shared mapping (valid only during the call). Return 0 to take the message,
 * non-zero to stop before it (it is then not consumed).
 */
typedef int (*ring_visit_fn)(void *context, size_t index, const void *data, size_t len);

/**
 * Consumes up to max_count messages with one position update, showing each to
 * visit (which copies what it needs out of the mapping: one copy, straight into the
 * caller's own objects); *count receives how many were consumed. Does not wait: 0
 * messages is EMPTY. Under overwrite-oldest the producer may reclaim the batch while it
 * is being visited: the visited bytes are then discarded (they may be torn) and visit
 * is called again from index 0 on the new oldest messages. So a visitor copies and
 * keeps, and acts only after the call: when it returns, exactly the first *count
 * messages of the last pass were consumed, and everything else visit was shown is
 * void - all of it when the call returns EMPTY or any other error (SPEC.md §8.2).
 * Under reject-when-full no pass is ever discarded. visit runs with the consumer's
 * lock held and must not call functions on the same consumer. Errors: EMPTY,
 * END_OF_STREAM, CLOSED, CORRUPT, FORKED, BUSY (a peek is open), INVALID_ARGUMENT
 * (visit or count NULL, max_count 0).
 */
int ring_consume(ring_consumer_t *consumer, ring_visit_fn visit, void *context, size_t max_count,
                 size_t *count);

/**
 * Zero-copy read: sets *data and *len to the oldest message inside the shared
 * mapping without consuming it, waiting up to timeout_ns. The bytes stay valid
 * until ring_release() or ring_release_cancel(). Under overwrite-oldest the
 * producer may overwrite them meanwhile; ring_release() then says OVERWRITTEN.
 * While the peek is open every other read, peek, batch, consume or wait on this
 * consumer returns BUSY (SPEC.md §8.2), so nothing moves the position the release
 * starts from. Errors: EMPTY, END_OF_STREAM, CLOSED, CORRUPT, BUSY (a peek is already open).
 */
int ring_peek(ring_consumer_t *consumer, const void **data, size_t *len, int64_t timeout_ns);

/**
 * Consumes the message returned by ring_peek(). Returns OVERWRITTEN if, under
 * overwrite-oldest, it was reclaimed while held: discard what was read from it.
 * Errors: INVALID_ARGUMENT (no peek open), CLOSED.
 */
int ring_release(ring_consumer_t *consumer);

/** Ends a ring_peek() without consuming the message. */
int ring_release_cancel(ring_consumer_t *consumer);

/** Waits up to timeout_ns until a message (or the end of the stream) is there. EMPTY on timeout; BUSY while a peek is open. */
int ring_wait(ring_consumer_t *consumer, int64_t timeout_ns);

/** msync of the ring's mapping. Errors: CLOSED, SYSTEM. */
int ring_consumer_flush(ring_consumer_t *consumer);

/** Closes the consumer; the next consumer resumes at its position. Idempotent. */
int ring_consumer_close(ring_consumer_t *consumer);

/** Closes (if needed) and releases the handle. NULL is ignored. */
void ring_consumer_free(ring_consumer_t *consumer);

/* ------------------------------------------------------------------------ */
/* Several readers (format 1.1, SPEC.md §17; since RINGFORMAT_1.1)           */

/**
 * Like ring_create, for a ring with a reader table of reader_slots slots (1 to 496;
 * more than 16 take a larger header): any number of readers up to that, in any
 * process, each read every message (ring_reader_open). reader_slots 0 makes a 1.0
 * ring, as ring_create does. Both positions start at initial_position (a multiple of 8;
 * 0 is usual), which RING_CREATE_OPEN_EXISTING does not take. Errors: as ring_create;
 * INVALID_ARGUMENT for too many slots.
 */
int ring_create_readers(const char *path, uint64_t capacity, int policy, uint32_t mode, uint32_t flags,
                        uint32_t reader_slots, uint64_t initial_position, ring_t **out);

/** Flags of ring_reader_options_t. */
enum {
    RING_READER_LAPPING = 1, /**< Never hold the producer back; count what was missed when lapped.
                                  Without it a reader is gating (reject-when-full rings only). */
    RING_READER_NEWEST  = 2  /**< Start after the newest message instead of at the oldest. */
};

/**
 * How a reader joins (ring_reader_open). Initialize with RING_READER_OPTIONS_INIT. `size`
 * lets the struct grow: a caller built against a later header may pass a larger size, whose
 * extra bytes must then be zero (at most 4096 bytes in all); a smaller one is INVALID_ARGUMENT.
 */
typedef struct ring_reader_options {
    uint32_t size;             /**< sizeof(ring_reader_options_t). */
    uint32_t flags;            /**< RING_READER_LAPPING, RING_READER_NEWEST. */
    const char *name;          /**< NULL: anonymous. A name (UTF-8, at most 63 bytes) makes the reader durable:
                                    its slot and cursor stay when it closes or dies, and a reader that opens
                                    with the same name resumes there. */
    uint32_t gate_timeout_ms;  /**< A durable gating reader that died still holds the producer back this long. */
    uint32_t reserved;         /**< 0. */
} ring_reader_options_t;

/** Gating, anonymous, from the oldest message, a 10 s gate timeout. */
#define RING_READER_OPTIONS_INIT { sizeof(ring_reader_options_t), 0, NULL, 10000, 0 }

/**
 * Joins a ring with a reader table as a reader (SPEC.md §17.5). The handle is a
 * ring_consumer_t: every read function above works on it (ring_read, ring_consume,
 * ring_peek, ring_wait, ...), on this reader's own cursor. options may be NULL (the
 * defaults). Errors: BUSY (every slot taken, or the durable name in use),
 * INVALID_ARGUMENT (a 1.0 ring; a gating reader under overwrite-oldest; a bad name or
 * options size), CLOSED, CORRUPT. Release with ring_consumer_free().
 */
int ring_reader_open(ring_t *ring, const ring_reader_options_t *options, ring_consumer_t **out);

/** Messages this reader missed because the producer lapped it (0 for a 1.0 consumer). */
int ring_reader_missed(ring_consumer_t *reader, uint64_t *missed);

/**
 * Closes a reader and frees its slot, a durable reader's too (it gives its name up: the
 * next reader of that name starts afresh). ring_consumer_close keeps a durable reader's
 * slot for its return. Errors: INVALID_ARGUMENT (a 1.0 consumer), FORKED.
 */
int ring_reader_leave(ring_consumer_t *reader);

/** One reader of a ring (ring_readers). */
typedef struct ring_reader_info {
    uint32_t slot;             /**< Slot number. */
    uint32_t flags;            /**< RING_READER_INFO_* bits. */
    uint64_t cursor;           /**< Position of the next record it reads. */
    uint64_t lag_bytes;        /**< Bytes between its cursor and the producer. */
    uint64_t missed_count;     /**< Messages it missed because it was lapped. */
    char name[64];             /**< NUL-terminated; empty for an anonymous reader. */
} ring_reader_info_t;

/** Bits of ring_reader_info_t.flags. */
enum {
    RING_READER_INFO_GATING  = 1, /**< It gates the producer. */
    RING_READER_INFO_DURABLE = 2, /**< It is durable (named). */
    RING_READER_INFO_LIVE    = 4  /**< A live process holds its slot. */
};

/**
 * The readers of the ring: fills infos[0..capacity) and sets *count to how many
 * readers there are (which may be more than capacity: call again with more room).
 * A 1.0 ring has none. Errors: INVALID_ARGUMENT, CLOSED, CORRUPT.
 */
int ring_readers(ring_t *ring, ring_reader_info_t *infos, size_t capacity, size_t *count);

/* ------------------------------------------------------------------------ */
/* Several producers (format 1.1, SPEC.md §18; since RINGFORMAT_1.2)         */

/**
 * Like ring_create_readers, for a ring with a producer table of producer_slots slots
 * (1 to RING_MAX_PRODUCER_SLOTS, 16): each ring_producer_open takes a slot, and up to
 * that many producers, in any processes, write into the one ring at once; the consumer
 * (or each reader, with reader_slots) sees every message whole, each producer's in its
 * order. A producer killed at any instruction never blocks the others; a stopped one
 * holds the readers back for RING_CLAIM_TIMEOUT_MS at most (SPEC.md §18.7).
 * producer_slots 0 makes a ring with one producer, exactly as ring_create_readers does.
 * reader_slots and initial_position as ring_create_readers (initial_position only
 * without RING_CREATE_OPEN_EXISTING). Errors: as ring_create_readers; INVALID_ARGUMENT
 * for more than 16 producer slots, or producer slots with RING_OVERWRITE_OLDEST
 * (several producers need reject-when-full, SPEC.md §18.1).
 */
int ring_create_shared(const char *path, uint64_t capacity, int policy, uint32_t mode, uint32_t flags,
                       uint32_t reader_slots, uint32_t producer_slots, uint64_t initial_position, ring_t **out);

/** Sets *slots to the ring's producer slots (0: a ring with one producer). Errors: INVALID_ARGUMENT, CLOSED, FORKED. */
int ring_producer_slots(ring_t *ring, uint32_t *slots);

/** One producer slot of a ring in use (ring_producers). */
typedef struct ring_producer_info {
    uint32_t slot;             /**< Slot number. */
    uint32_t flags;            /**< RING_PRODUCER_INFO_* bits. */
    uint64_t claim_start;      /**< With RING_PRODUCER_INFO_CLAIMING: where its claim in progress starts; else 0. */
    uint64_t committed_count;  /**< Messages it committed. */
    uint64_t cancelled_count;  /**< Claims of its that were cancelled: abandoned reservations (ring_abort), and
                                    claims a settler cancelled while it was stopped (counted when it resumes). */
    uint64_t reserved[2];      /**< 0. */
} ring_producer_info_t;

/** Bits of ring_producer_info_t.flags. */
enum {
    RING_PRODUCER_INFO_LIVE     = 1, /**< A live process holds the slot. */
    RING_PRODUCER_INFO_CLAIMING = 2, /**< A claim of this slot is being made or written, or is held. */
    RING_PRODUCER_INFO_HELD     = 4  /**< That claim was cancelled while its producer lived: its bytes are held. */
};

/**
 * The producers of the ring: the slots held by a producer (or left by one that died)
 * and those with a claim in progress. Fills infos[0..capacity) and sets *count to how
 * many there are (which may be more than capacity: call again with more room). A ring
 * without producer slots has none. Errors: INVALID_ARGUMENT, CLOSED, CORRUPT, FORKED.
 */
int ring_producers(ring_t *ring, ring_producer_info_t *infos, size_t capacity, size_t *count);

/**
 * Publishes the claims at the front that are done and cancels those whose producer died
 * (SPEC.md §18.5, §18.7), as a reader waiting behind them would; a claim of a live producer
 * is left alone. For inspection tools and tests (a reader settles by itself when it waits).
 * Does nothing on a ring without producer slots. Errors: CLOSED, CORRUPT, FORKED.
 */
int ring_settle_claims(ring_t *ring);

/* ------------------------------------------------------------------------ */
/* Typed rings, mappings, rings without a file (format 1.1, SPEC.md §19, §20;  */
/* since RINGFORMAT_1.3)                                                      */

/** More flags of ring_create(), ring_create_readers(), ring_create_shared(), ring_create_items(). */
enum {
    RING_CREATE_ANONYMOUS   = 16, /**< No file: the ring lives in anonymous shared memory (memfd, SPEC.md §20.2); the
                                       path argument is only its name in messages (NULL: "ring"), and nothing is left
                                       behind. Share it with fork()ed children (ring_open_fd) or over a Unix socket. Not
                                       with REPLACE or OPEN_EXISTING. */
    RING_CREATE_DOUBLE_MAP  = 32, /**< Map the data region twice back to back (SPEC.md §20.1); see RING_OPEN_DOUBLE_MAP. */
    RING_CREATE_SINGLE_MAP  = 64  /**< Map it once, even for a typed ring; see RING_OPEN_SINGLE_MAP. */
};

/** Flags of ring_open_flags() and ring_open_fd(). */
enum {
    RING_OPEN_DOUBLE_MAP = 32, /**< Map the data region twice, so every run of records or items is one span; where the
                                    host cannot (SPEC.md §20.1), the ring is mapped once (ring_is_double_mapped says). */
    RING_OPEN_SINGLE_MAP = 64  /**< Map once. Without either flag a typed ring is double-mapped where possible and a
                                    byte ring is mapped once. */
};

/**
 * Creates a typed ring (SPEC.md §19) of at least item_capacity items of the type
 * item_type, a type description of SPEC.md §19.2 (for example "<f8", "(3)<f4",
 * "{ts:<i8@0,px:<f8@8}16"); the item size is the description's size. item_alignment is
 * what the items are aligned for (a power of two up to 64 dividing the size; 0: the
 * largest power of two up to 8 that divides the size). policy, mode and flags as
 * ring_create (RING_CREATE_ANONYMOUS, the map flags too); initial_position is an item
 * count. Errors: INVALID_ARGUMENT (a bad description, alignment, or OPEN_EXISTING
 * finding another type), INVALID_SIZE (item_capacity 0 or too large), SYSTEM, as ring_create.
 */
int ring_create_items(const char *path, const char *item_type, uint32_t item_alignment, uint64_t item_capacity,
                      int policy, uint32_t mode, uint32_t flags, uint64_t initial_position, ring_t **out);

/** Like ring_open, with RING_OPEN_* flags. */
int ring_open_flags(const char *path, uint32_t flags, ring_t **out);

/**
 * Opens the ring held by descriptor fd (a ring without a file inherited across fork(),
 * received over a Unix socket, or any open ring file), with RING_OPEN_* flags. The file is
 * opened again as a new open file description (Linux: /proc/self/fd/N), so role locks are
 * this ring's own (SPEC.md §20.2); the caller keeps fd. A forked child must call this before
 * it frees the ring it inherited (freeing closes the child's copy of the descriptor).
 * Errors: as ring_open.
 */
int ring_open_fd(int fd, uint32_t flags, ring_t **out);

/** Sets *fd to the ring's descriptor (owned by the ring: do not close it; dup it to keep it). */
int ring_fd(ring_t *ring, int *fd);

/** Sets *yes to 1 if the ring's data region is mapped twice back to back (SPEC.md §20.1), else 0. */
int ring_is_double_mapped(ring_t *ring, int *yes);

/** What a typed ring holds (ring_item_info). */
typedef struct ring_item_info {
    uint32_t item_size;        /**< Bytes of one item; 0 for a byte ring. */
    uint32_t item_alignment;   /**< Alignment the items were written for. */
    uint64_t item_capacity;    /**< Items the ring holds. */
    const char *item_type;     /**< The type description (NUL-terminated, owned by the ring: valid until
                                    ring_free); "" for a byte ring. */
    uint64_t reserved[2];      /**< 0. */
} ring_item_info_t;

/** The ring's item type; a byte ring reports item_size 0. Errors: INVALID_ARGUMENT, CLOSED. */
int ring_item_info(ring_t *ring, ring_item_info_t *info);

/** A run of bytes in the mapping (ring_items_writable, ring_items_readable, ring_committed_spans). */
typedef struct ring_span {
    void *data;
    size_t len;
} ring_span_t;

/** Opaque handle of the producer role of a typed ring. */
typedef struct ring_item_producer ring_item_producer_t;
/** Opaque handle of the consumer role of a typed ring. */
typedef struct ring_item_consumer ring_item_consumer_t;

/**
 * Takes the producer role of a typed ring (ring_producer_open refuses typed rings with
 * INVALID_ARGUMENT, and this refuses byte rings so). Errors: BUSY, INVALID_ARGUMENT,
 * CLOSED, FORKED, CORRUPT. Release with ring_item_producer_free().
 */
int ring_item_producer_open(ring_t *ring, ring_item_producer_t **out);

/**
 * Writes count items (count * item_size bytes at items) as one commit: all of them or
 * none. Reject-when-full: waits up to timeout_ns for room, then RING_ERR_FULL; more items
 * than the ring holds is RING_ERR_INVALID_SIZE. Overwrite-oldest: never waits, drops the
 * oldest items (a batch larger than the ring is committed in pieces of item_capacity
 * items, so the last item_capacity remain). Errors also: CLOSED, FORKED, CORRUPT, BUSY
 * (spans of ring_items_writable are out).
 */
int ring_write_items(ring_item_producer_t *producer, const void *items, size_t count, int64_t timeout_ns);

/**
 * The free item slots at the producer's position, in place: spans[0] and spans[1] (len 0
 * if unused) hold *count whole items in all; one span when double-mapped; mapped once,
 * the first span may end inside an item that straddles the end of the region. Write items
 * there, then ring_items_commit. At least one slot: under reject-when-full it waits up to
 * timeout_ns for one; under overwrite-oldest it drops the oldest item if the ring is full,
 * and the free slots are those holding no unread item.
 */
int ring_items_writable(ring_item_producer_t *producer, ring_span_t spans[2], size_t *count, int64_t timeout_ns);

/** Commits the first count items written into the spans of ring_items_writable (count <= its *count; 0: none).
 *  RING_ERR_INVALID_SIZE for a larger count, or when no spans are out. */
int ring_items_commit(ring_item_producer_t *producer, size_t count);

/** Ends the stream (SPEC.md §8.3) and closes the producer. */
int ring_item_producer_close_writer(ring_item_producer_t *producer);

/** Gives up the producer role (idempotent). */
int ring_item_producer_close(ring_item_producer_t *producer);

/** Closes (if needed) and frees the handle. NULL is ignored. */
void ring_item_producer_free(ring_item_producer_t *producer);

/** Takes the consumer role of a typed ring. Errors: as ring_item_producer_open. Release with ring_item_consumer_free(). */
int ring_item_consumer_open(ring_t *ring, ring_item_consumer_t **out);

/**
 * Reads up to max_count items into buf (room for max_count * item_size bytes), oldest
 * first, consuming them; *count gets how many. Waits up to timeout_ns for the first one
 * (RING_ERR_EMPTY; RING_ERR_END_OF_STREAM once the stream is closed and drained).
 */
int ring_read_items(ring_item_consumer_t *consumer, void *buf, size_t max_count, size_t *count, int64_t timeout_ns);

/**
 * Lends the unread items in place, oldest first, without consuming them: spans as
 * ring_items_writable, *count items in all (waits up to timeout_ns for one). Until
 * ring_items_consume, other reads on the consumer are RING_ERR_BUSY. Under
 * overwrite-oldest the producer may drop lent items: ring_items_consume tells.
 */
int ring_items_readable(ring_item_consumer_t *consumer, ring_span_t spans[2], size_t *count, int64_t timeout_ns);

/**
 * Ends a lend of ring_items_readable, consuming its first count items (0: none);
 * RING_ERR_INVALID_SIZE for more than were lent, or when nothing is lent.
 * RING_ERR_OVERWRITTEN: under overwrite-oldest the producer dropped the first d of those
 * count items while they were held (d is how much ring_items_missed grew; with count 0, the
 * first d of the lend): what was read from them is not to be trusted; the other count - d
 * were consumed intact.
 */
int ring_items_consume(ring_item_consumer_t *consumer, size_t count);

/** Items this consumer missed because the producer dropped them under overwrite-oldest. */
int ring_items_missed(ring_item_consumer_t *consumer, uint64_t *missed);

/** Gives up the consumer role (idempotent). */
int ring_item_consumer_close(ring_item_consumer_t *consumer);

/** Closes (if needed) and frees the handle. NULL is ignored. */
void ring_item_consumer_free(ring_item_consumer_t *consumer);

/**
 * The committed, unread bytes of a byte ring as spans (records, and a padding record if
 * the run passes the end), without consuming: one span when double-mapped, else up to
 * two. For tools and tests; the record format is SPEC.md §6. Errors: INVALID_ARGUMENT
 * (a typed ring), BUSY (a peek is open), CLOSED, CORRUPT.
 */
int ring_committed_spans(ring_consumer_t *consumer, ring_span_t spans[2]);

/* ------------------------------------------------------------------------ */
/* Pollable waits (SPEC.md §21; since RINGFORMAT_1.4)                        */
/*                                                                           */
/* Each handle has a doorbell: a descriptor for epoll, poll or select that   */
/* becomes readable when an armed wait of the handle may end. The loop:      */
/*   ring_consumer_arm(c, &armed); if armed, wait for the descriptor to be   */
/*   readable; ring_consumer_disarm(c); then read without waiting (timeout   */
/*   0), and arm again when the ring is empty. An armed handle counts as a   */
/*   sleeping waiter, so the other side makes a wake-up call per commit      */
/*   until it is disarmed: disarm as soon as the descriptor is readable.     */
/* The descriptor is the handle's: do not close it; it is closed with the    */
/* handle. Readable also after one slice (100 ms) without news, so a wait    */
/* notices a truncated file or a peer that cleared the wait words.           */

/** How a doorbell is woken (ring_*_doorbell's *kind). */
enum {
    RING_DOORBELL_FUTEX = 1, /**< An io_uring with a futex wait on the ring's wait word (Linux 6.7+): the writer's
                                  FUTEX_WAKE makes it readable, nothing polls. */
    RING_DOORBELL_POLL  = 2  /**< A timer firing after 20 us doubling to 1 ms: polling, where the kernel cannot
                                  (or RINGFORMAT_DOORBELL=poll in the environment). */
};

/** Sets *fd to the consumer's (or reader's) doorbell descriptor, made on first use, and *kind (may be NULL)
 *  to its RING_DOORBELL_* kind. Errors: CLOSED, FORKED, SYSTEM. */
int ring_consumer_doorbell(ring_consumer_t *consumer, int *fd, int *kind);
/** Arms the doorbell for the next message: *armed = 0 if a message (or the end of stream) is there now
 *  (nothing armed: read), 1 if armed (wait for the descriptor, then ring_consumer_disarm). Errors: CLOSED,
 *  FORKED, BUSY (a peek open), CORRUPT, SYSTEM. */
int ring_consumer_arm(ring_consumer_t *consumer, int *armed);
/** Takes an armed doorbell out of the waiter count and consumes its readiness. Idempotent. */
int ring_consumer_disarm(ring_consumer_t *consumer);

/** The producer's doorbell, as ring_consumer_doorbell. */
int ring_producer_doorbell(ring_producer_t *producer, int *fd, int *kind);
/** Arms the producer's doorbell for room for one message of size bytes: *armed = 0 if it fits now (or the
 *  ring overwrites), 1 if armed. Errors: INVALID_SIZE, CLOSED, FORKED, BUSY (a reservation open), CORRUPT, SYSTEM. */
int ring_producer_arm(ring_producer_t *producer, size_t size, int *armed);
/** As ring_consumer_disarm. */
int ring_producer_disarm(ring_producer_t *producer);

/** A typed ring's consumer's doorbell, as ring_consumer_doorbell. */
int ring_item_consumer_doorbell(ring_item_consumer_t *consumer, int *fd, int *kind);
/** Arms it for the next item, as ring_consumer_arm. */
int ring_item_consumer_arm(ring_item_consumer_t *consumer, int *armed);
/** As ring_consumer_disarm. */
int ring_item_consumer_disarm(ring_item_consumer_t *consumer);
/** A typed ring's producer's doorbell, as ring_consumer_doorbell. */
int ring_item_producer_doorbell(ring_item_producer_t *producer, int *fd, int *kind);
/** Arms it for room for count items (1 to item_capacity), as ring_producer_arm. */
int ring_item_producer_arm(ring_item_producer_t *producer, size_t count, int *armed);
/** As ring_consumer_disarm. */
int ring_item_producer_disarm(ring_item_producer_t *producer);

/* ------------------------------------------------------------------------ */
/* Liveness and message counts (SPEC.md §22; since RINGFORMAT_1.4)           */
/*                                                                           */
/* Whether the other side is alive, a consumer that stops instead of waiting */
/* for a producer that died without closing the stream, and the unread      */
/* messages in O(1) in a ring that keeps counts (new rings do by default).   */

/** A ring_create flag (every ring_create_* function): make the ring without counts (no COMPAT_COUNTS,
 *  SPEC.md §22.2), as earlier versions did: its header is theirs, byte for byte (the golden vectors'),
 *  and ring_message_count walks the records. */
enum {
    RING_CREATE_NO_COUNTS = 128
};

/** *alive = 1 if a live process holds the producer role (a write lock on its role byte, or its owner word
 *  naming a running process, SPEC.md §11.4), or, on a ring with producers, a producer slot; else 0. A killed
 *  producer is not alive. Errors: INVALID_ARGUMENT (NULL), CLOSED, FORKED, SYSTEM. */
int ring_producer_alive(ring_t *ring, int *alive);
/** *alive = 1 if a live process holds the consumer role, or, on a ring with readers, a reader slot; else 0.
 *  Errors as ring_producer_alive. */
int ring_consumer_alive(ring_t *ring, int *alive);
/** on != 0: a read or wait of the consumer (or reader) that finds the ring drained, the stream open and no
 *  live producer returns RING_ERR_PRODUCER_GONE instead of RING_ERR_EMPTY or waiting on; every message
 *  committed before the producer died is read first. A wait notices within about 200 ms. With no producer
 *  started yet the ring counts as gone too. Off by default. Errors: INVALID_ARGUMENT (NULL), CLOSED, FORKED. */
int ring_consumer_stop_when_producer_gone(ring_consumer_t *consumer, int on);
/** As ring_consumer_stop_when_producer_gone, for a typed ring's consumer. */
int ring_item_consumer_stop_when_producer_gone(ring_item_consumer_t *consumer, int on);
/** *count = the unread messages (a typed ring: items; a ring with readers: from the oldest any reader may
 *  read). O(1) in a ring that keeps counts and in a typed ring, else a walk of the records. Exact while
 *  nobody writes or reads; meanwhile off by at most the batch in flight, never above the unread bytes / 8.
 *  Errors: INVALID_ARGUMENT (NULL), CLOSED, FORKED, CORRUPT. */
int ring_message_count(ring_t *ring, uint64_t *count);
/** *count = the messages this consumer or reader has not read yet, O(1) (a reader: from the indexes; the
 *  consumer: as ring_message_count). Errors: INVALID_ARGUMENT (NULL), CLOSED, FORKED, BUSY (a peek open),
 *  CORRUPT. */
int ring_consumer_pending(ring_consumer_t *consumer, uint64_t *count);

#ifdef __cplusplus
}
#endif

#endif /* RINGFORMAT_H */
