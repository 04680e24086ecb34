/*
 * ringformat_zmq.h - the C ABI of RingFormat's ZeroMQ transport: a ring's producer and
 * consumer over a ZeroMQ endpoint (frames of SPEC.md §23), for C and any language that
 * can dlopen a C library.
 *
 * Link with -lringformat_zmq, or dlopen("libringformat_zmq.so.1"): every function below
 * is a plain C symbol of the version node RINGFORMAT_ZMQ_1. The library is apart from
 * libringformat so that the ring library needs no libzmq; it carries its own Swift
 * runtime and needs the system's libzmq.so.5 (Debian libzmq5) at run time. Both
 * libraries may be loaded in one process.
 *
 * Conventions (those of ringformat.h, whose ring_error_t codes these functions return)
 *  - Every function returns RING_OK (0) or a negative ring_error_t code and never aborts.
 *    NULL where a pointer is required is RING_ERR_INVALID_ARGUMENT.
 *  - After a failure, ring_zmq_last_error_message() and ring_zmq_last_errno() describe it
 *    on the calling thread (this library's own record: ring_last_error_message() is
 *    libringformat's). A SYSTEM error names the libzmq call and the endpoint, and for
 *    libzmq's own error numbers (from 156384712, ZMQ_HAUSNUMERO) zmq_strerror's words.
 *  - Handles are opaque; after *_close every call but *_counters returns
 *    RING_ERR_CLOSED; *_free closes and releases. Using a handle after *_free is undefined.
 *  - Thread safety: each handle has a lock; calls on one handle are serialised. A
 *    blocking put or get waits in slices of at most 50 ms, and a *_close from another
 *    thread makes it return RING_ERR_CLOSED at the end of the slice.
 *    ring_zmq_producer_close_writer waits its whole timeout holding the lock.
 *  - fork(): a handle belongs to the process that opened it. libzmq cannot be used in a
 *    child, so there every call on an inherited handle returns RING_ERR_FORKED and
 *    *_free releases nothing (the parent's sockets stay the parent's).
 *  - Timeouts are in nanoseconds: 0 does not wait, RING_WAIT_FOREVER (-1) has no limit.
 *    A put that finds no room in time is RING_ERR_FULL (nothing sent); a get that finds
 *    no message in time RING_ERR_EMPTY.
 */
#ifndef RINGFORMAT_ZMQ_H
#define RINGFORMAT_ZMQ_H

#include <stddef.h>
#include <stdint.h>

#include "ringformat.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of this C ABI. Incremented when a function's signature or meaning changes. */
#define RING_ZMQ_ABI_VERSION 1

/** Who is one and who is many on an endpoint, and so who binds (SPEC.md §23.6). */
typedef enum ring_zmq_topology {
    RING_ZMQ_SPSC = 0, /**< One producer (binds), one consumer (connects). */
    RING_ZMQ_MPSC = 1, /**< Several producers (connect), one consumer (binds). */
    RING_ZMQ_SPMC = 2  /**< One producer (binds), several consumers (connect); each message reaches one. */
} ring_zmq_topology_t;

/** ring_zmq_options_t.bind: bind or connect as the topology says. */
#define RING_ZMQ_BIND_AUTO (-1)

/**
 * Settings of a producer or a consumer; each side reads the fields that concern it.
 * Fill it with ring_zmq_options_init, then change fields. A NULL options pointer means
 * the defaults.
 */
typedef struct ring_zmq_options {
    size_t struct_size;              /**< sizeof(ring_zmq_options_t), set by ring_zmq_options_init. */
    int32_t send_hwm;                /**< Producer: ZMQ_SNDHWM, frames queued per peer before a put waits; 0 no limit. Default 1000. */
    int32_t receive_hwm;             /**< Consumer: ZMQ_RCVHWM; 0 no limit. Default 1000. */
    int32_t kernel_buffer_bytes;     /**< ZMQ_SNDBUF / ZMQ_RCVBUF in bytes; 0: the system's. */
    int32_t bind;                    /**< 1 bind, 0 connect, RING_ZMQ_BIND_AUTO (the default): the topology's rule. */
    int64_t linger_ns;               /**< Producer: how long close waits for queued frames; RING_WAIT_FOREVER no limit. Default 1 s. */
    uint32_t max_messages_per_frame; /**< Producer: most messages ring_zmq_put_packed packs in one frame. Default 1024. */
    uint32_t max_frame_bytes;        /**< Producer: most body bytes per packed frame (8 at least). Default 65536. */
    uint64_t max_message_size;       /**< Producer: largest payload sent (INVALID_SIZE above). Default and maximum: RING_MAX_MESSAGE_SIZE_LIMIT. */
    uint32_t producers;              /**< Consumer: how many streams' END end its stream (MPSC: the producers). Default 1. */
    uint32_t reserved;               /**< 0. */
    int64_t max_receive_frame_bytes; /**< Consumer: ZMQ_MAXMSGSIZE, a peer sending a larger frame is disconnected; -1 (default) no limit. */
    uint64_t stream_id;              /**< Producer: the stream's identity in its frames; 0 (default) a random one. */
} ring_zmq_options_t;

/** What a handle sent, received and dropped since it was opened (SPEC.md §23.8). */
typedef struct ring_zmq_counters {
    uint64_t frames_sent;         /**< Frames a producer handed to libzmq (DATA and END). */
    uint64_t messages_sent;       /**< Messages in them. */
    uint64_t bytes_sent;          /**< Payload bytes in them. */
    uint64_t frames_received;     /**< Frames a consumer accepted (DATA and END). */
    uint64_t messages_received;   /**< Messages in them. */
    uint64_t bytes_received;      /**< Payload bytes in them. */
    uint64_t frames_dropped;      /**< Frames dropped as malformed (ring_zmq_last_drop says why). */
    uint64_t frames_ignored;      /**< Well-formed frames of the bridge's kinds (HELLO, ACK, HEARTBEAT). */
    uint64_t end_frames_received; /**< END frames, one per stream. */
    uint64_t sequence_breaks;     /**< Frames whose first index was not the one their stream led to expect. */
} ring_zmq_counters_t;

/** Opaque handle of a producer (a PUSH socket). */
typedef struct ring_zmq_producer ring_zmq_producer_t;
/** Opaque handle of a consumer (a PULL socket). */
typedef struct ring_zmq_consumer ring_zmq_consumer_t;

/* ------------------------------------------------------------------------ */
/* Library                                                                  */

/** The package version of the loaded library ("1.0.0"). Thread-safe. */
const char *ring_zmq_version(void);

/** Detail of the last error of this library on the calling thread; "" if none. */
const char *ring_zmq_last_error_message(void);

/** errno (or libzmq's error number) of the last RING_ERR_SYSTEM on the calling thread, else 0. */
int ring_zmq_last_errno(void);

/** Fills `options` with the defaults (NULL: nothing). */
void ring_zmq_options_init(ring_zmq_options_t *options);

/** 1 if the producer binds under `topology` (SPSC, SPMC), 0 if it connects (MPSC);
 *  mm_toolbox's should_producer_bind. RING_ERR_INVALID_ARGUMENT for another value. */
int ring_zmq_should_producer_bind(ring_zmq_topology_t topology);

/* ------------------------------------------------------------------------ */
/* Producers                                                                */

/**
 * Opens a producer on `endpoint` (ipc://PATH, tcp://HOST:PORT, inproc://NAME; a bound
 * tcp port may be `*`), binding or connecting as `topology` and options->bind say.
 * Errors: INVALID_ARGUMENT (a bad option, with its name), SYSTEM (libzmq refused: the
 * endpoint malformed or in use; the message names it). *out owns a handle for
 * ring_zmq_producer_free.
 */
int ring_zmq_producer_open(const char *endpoint, ring_zmq_topology_t topology, const ring_zmq_options_t *options,
                           ring_zmq_producer_t **out);

/** Sends one message in a frame of its own, waiting up to timeout_ns for room.
 *  FULL (nothing sent), INVALID_SIZE (over max_message_size), CLOSED (also after close_writer), SYSTEM. */
int ring_zmq_put(ring_zmq_producer_t *producer, const void *data, size_t size, int64_t timeout_ns);

/**
 * Sends `count` messages in order, packed into frames of at most max_messages_per_frame
 * messages and max_frame_bytes body bytes, waiting up to timeout_ns in all. *sent (may be
 * NULL) is how many went: all with RING_OK, or those of the whole frames sent before the
 * time ran out with RING_ERR_FULL (a frame goes whole or not at all). A message over
 * max_message_size is INVALID_SIZE with nothing sent. count 0 is RING_OK.
 */
int ring_zmq_put_packed(ring_zmq_producer_t *producer, const void *const *messages, const size_t *sizes, size_t count,
                        int64_t timeout_ns, size_t *sent);

/**
 * Ends the stream: sends `end_frames` END frames (SPSC and MPSC: 1 per producer; SPMC:
 * one per consumer, dealt round-robin, best-effort) carrying how many messages were sent,
 * waiting up to timeout_ns for room. Afterwards puts are CLOSED; a second call does
 * nothing. FULL if an END could not be queued in time (call again: the ENDs are sent
 * again, and a consumer counts one per stream). end_frames 0 is INVALID_ARGUMENT.
 */
int ring_zmq_producer_close_writer(ring_zmq_producer_t *producer, uint32_t end_frames, int64_t timeout_ns);

/** What the producer sent. Works after close (the counts at close). */
int ring_zmq_producer_counters(ring_zmq_producer_t *producer, ring_zmq_counters_t *out);

/** The endpoint as bound (a tcp port `*` resolved) or as connected, NUL-terminated, into
 *  `buffer` of `capacity` bytes; *length (may be NULL) its length without the NUL.
 *  BUFFER_TOO_SMALL (with *length set) if it does not fit. */
int ring_zmq_producer_endpoint(ring_zmq_producer_t *producer, char *buffer, size_t capacity, size_t *length);

/** Closes the socket; queued frames leave within the linger (close waits that long at
 *  most). Idempotent. */
int ring_zmq_producer_close(ring_zmq_producer_t *producer);

/** Closes (if open) and releases the handle. NULL: nothing. */
void ring_zmq_producer_free(ring_zmq_producer_t *producer);

/* ------------------------------------------------------------------------ */
/* Consumers                                                                */

/** Opens a consumer on `endpoint`; as ring_zmq_producer_open. */
int ring_zmq_consumer_open(const char *endpoint, ring_zmq_topology_t topology, const ring_zmq_options_t *options,
                           ring_zmq_consumer_t **out);

/**
 * Takes the next message into `buffer` (`capacity` bytes), waiting up to timeout_ns for
 * one; *size is its length. BUFFER_TOO_SMALL: it is larger, *size says how large, and it
 * stays to be taken by a later call. EMPTY when the time runs out; END_OF_STREAM once the
 * stream ended (every producer's END came) and every message was taken. Malformed frames
 * are dropped and counted, never returned.
 */
int ring_zmq_get(ring_zmq_consumer_t *consumer, void *buffer, size_t capacity, size_t *size, int64_t timeout_ns);

/**
 * Takes up to max_count messages into `buffer`, back to back, waiting up to timeout_ns for
 * the first, then only what has arrived and fits; sizes[k] is the length of the k-th,
 * *count how many. BUFFER_TOO_SMALL if the first does not fit (sizes[0] its length; it
 * stays). EMPTY, END_OF_STREAM as ring_zmq_get. max_count 0 is RING_OK with *count 0.
 */
int ring_zmq_get_many(ring_zmq_consumer_t *consumer, void *buffer, size_t capacity, size_t *sizes, size_t max_count,
                      size_t *count, int64_t timeout_ns);

/** Messages received and not yet taken (without receiving more). */
int ring_zmq_pending(ring_zmq_consumer_t *consumer, size_t *count);

/** What the consumer received and dropped. Works after close (the counts at close). */
int ring_zmq_consumer_counters(ring_zmq_consumer_t *consumer, ring_zmq_counters_t *out);

/** Why the last malformed frame was dropped, NUL-terminated into `text` ("" if none was);
 *  BUFFER_TOO_SMALL if it was cut to fit. */
int ring_zmq_last_drop(ring_zmq_consumer_t *consumer, char *text, size_t capacity);

/** The endpoint, as ring_zmq_producer_endpoint. */
int ring_zmq_consumer_endpoint(ring_zmq_consumer_t *consumer, char *buffer, size_t capacity, size_t *length);

/** Closes the socket; messages received and not taken are dropped. Idempotent. */
int ring_zmq_consumer_close(ring_zmq_consumer_t *consumer);

/** Closes (if open) and releases the handle. NULL: nothing. */
void ring_zmq_consumer_free(ring_zmq_consumer_t *consumer);

#ifdef __cplusplus
}
#endif

#endif /* RINGFORMAT_ZMQ_H */
