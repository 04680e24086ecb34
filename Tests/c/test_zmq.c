/*
 * test_zmq.c - the ZeroMQ transport's C ABI (ringformat_zmq.h, SPEC.md §23) loaded with
 * dlopen beside libringformat in one process:
 *  - each topology with racing peer processes and exact accounting, every message
 *    self-checking (the interop workload: index and bytes), received = produced, the
 *    counters of both ends equal, no sequence break: SPSC over ipc:// one per frame, SPSC
 *    over tcp:// (port * read back with ring_zmq_producer_endpoint) packed, MPSC with 3
 *    producer processes, SPMC with 3 consumer processes (each message reaches exactly one);
 *  - frames from a raw libzmq socket that break §23.5 (short, bad magic, bad length,
 *    multipart, unknown kind) dropped and counted with their reason, a HELLO ignored, the
 *    good messages around them delivered;
 *  - FULL with no consumer, BUFFER_TOO_SMALL keeping the message, INVALID_SIZE, CLOSED
 *    after close_writer and close, a close from another thread ending a blocked get,
 *    FORKED in a child, errors naming the endpoint, NULL arguments;
 *  - a ring of libringformat carried over the transport in one process (both libraries).
 *
 *   test_zmq LIBRINGFORMAT LIBRINGFORMAT_ZMQ [--only NAME]
 *   (or $RINGFORMAT_LIB and $RINGFORMAT_ZMQ_LIB)
 */
#define _GNU_SOURCE
#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_write) X(ring_read) X(ring_read_timeout) \
    X(ring_producer_open) X(ring_consumer_open) X(ring_producer_free) X(ring_consumer_free) X(ring_free) \
    X(ring_producer_close_writer)
#include "test_harness.h"
#include "ringformat_zmq.h"
#include "workload.h"

#include <zmq.h>

#define ZMQ_FUNCTIONS(X) \
    X(ring_zmq_version) X(ring_zmq_last_error_message) X(ring_zmq_last_errno) X(ring_zmq_options_init) \
    X(ring_zmq_should_producer_bind) X(ring_zmq_producer_open) X(ring_zmq_put) X(ring_zmq_put_packed) \
    X(ring_zmq_producer_close_writer) X(ring_zmq_producer_counters) X(ring_zmq_producer_endpoint) \
    X(ring_zmq_producer_close) X(ring_zmq_producer_free) X(ring_zmq_consumer_open) X(ring_zmq_get) \
    X(ring_zmq_get_many) X(ring_zmq_pending) X(ring_zmq_consumer_counters) X(ring_zmq_last_drop) \
    X(ring_zmq_consumer_endpoint) X(ring_zmq_consumer_close) X(ring_zmq_consumer_free)
#define ZMQ_DECLARE(name) static __typeof__(name) *z_##name;
ZMQ_FUNCTIONS(ZMQ_DECLARE)
#undef ZMQ_DECLARE

/* A call of this library that must return `code` (its own last error in the report). */
#define ZRC(expr, code) do { int rc_ = (expr); if (rc_ != (code)) \
    FAILF("%s:%d: %s returned %d (%s), expected %d; last error: %s", __FILE__, __LINE__, #expr, \
          rc_, f_ring_strerror(rc_), (code), z_ring_zmq_last_error_message()); } while (0)
#define ZOK(expr) ZRC(expr, RING_OK)

static int load_zmq_library(const char *library) {
    void *h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return -1; }
    int missing = 0;
#define ZMQ_LOOKUP(name) if (!(z_##name = (__typeof__(name) *)dlsym(h, #name))) { fprintf(stderr, "missing symbol %s\n", #name); missing++; }
    ZMQ_FUNCTIONS(ZMQ_LOOKUP)
#undef ZMQ_LOOKUP
    return missing;
}

/* The messages: 8..200 bytes, the index in the first 8. */
static const wl_workload WORKLOAD = { 18, 8, 200 };
#define MAX_SIZE 200

/* ipc://dir/name in a static buffer. */
static const char *ipc(const char *name) {
    static char buf[600];
    snprintf(buf, sizeof buf, "ipc://%s/%s", dir, name);
    return buf;
}

/* Options with the defaults, then a stream id (producers) or a count of producers (consumers). */
static ring_zmq_options_t options(uint64_t stream_id, uint32_t producers) {
    ring_zmq_options_t o;
    z_ring_zmq_options_init(&o);
    o.stream_id = stream_id;
    o.producers = producers;
    return o;
}

/* A producer process's work (its endpoint as bound written to report_fd, if not -1):
 * `count` messages from `first` by ring_zmq_put (packed: in
 * batches of up to 100 by ring_zmq_put_packed), then END frames, all waiting without
 * limit; its counters must say what it sent. Exits 0 when all went. */
static _Noreturn void produce(const char *endpoint, ring_zmq_topology_t topology, int report_fd, uint64_t stream,
                              uint64_t first, uint64_t count, int packed, uint32_t end_frames) {
    ring_zmq_options_t o = options(stream, 1);
    ring_zmq_producer_t *p = NULL;
    ZOK(z_ring_zmq_producer_open(endpoint, topology, &o, &p));
    if (!p) child_end();
    if (report_fd >= 0) {
        /* The endpoint as bound (a tcp port * resolved), for the consumer to connect to. */
        char bound[256] = {0};
        size_t len = 0;
        ZOK(z_ring_zmq_producer_endpoint(p, bound, sizeof bound, &len));
        write_full(report_fd, bound, sizeof bound);
        close(report_fd);
    }
    static uint8_t bufs[100][MAX_SIZE];
    const void *ptrs[100];
    size_t sizes[100];
    uint64_t bytes = 0;
    for (uint64_t i = first; i < first + count;) {
        size_t n = packed ? (size_t)(first + count - i < 100 ? first + count - i : 100) : 1;
        for (size_t k = 0; k < n; k++) {
            sizes[k] = wl_fill(&WORKLOAD, i + k, bufs[k]);
            ptrs[k] = bufs[k];
            bytes += sizes[k];
        }
        if (packed) {
            size_t sent = 0;
            ZOK(z_ring_zmq_put_packed(p, ptrs, sizes, n, RING_WAIT_FOREVER, &sent));
            CHECK(sent == n);
        } else {
            ZOK(z_ring_zmq_put(p, bufs[0], sizes[0], RING_WAIT_FOREVER));
        }
        i += n;
    }
    ZOK(z_ring_zmq_producer_close_writer(p, end_frames, RING_WAIT_FOREVER));
    ring_zmq_counters_t c;
    ZOK(z_ring_zmq_producer_counters(p, &c));
    CHECK(c.messages_sent == count && c.bytes_sent == bytes);
    CHECK(c.frames_sent == (packed ? (count + 99) / 100 : count) + end_frames);
    z_ring_zmq_producer_free(p);  /* waits up to the linger for the last frames */
    child_end();
}

/* What a consumer saw: per stream (by the workload index range) the next index expected. */
typedef struct tally { uint64_t received, bytes, sum, out_of_order, bad, end_seen; } tally;

/* Takes every message until END_OF_STREAM (or `idle` seconds with none, for SPMC's
 * best-effort END), checking each; `ranges` streams of `per_stream` indices from 0, each
 * in order. get_many in batches if `batch`. */
static tally consume(ring_zmq_consumer_t *c, int batch, uint64_t per_stream, int ranges, double idle, int strict_order) {
    tally t = {0};
    uint64_t next[8] = {0};
    for (int r = 0; r < ranges; r++) next[r] = (uint64_t)r * per_stream;
    static uint8_t buf[64 * 1024];
    size_t sizes[256];
    double last = now();
    for (;;) {
        size_t got = 0, offset = 0;
        int rc;
        if (batch) rc = z_ring_zmq_get_many(c, buf, sizeof buf, sizes, 256, &got, 100 * 1000 * 1000LL);
        else { rc = z_ring_zmq_get(c, buf, sizeof buf, &sizes[0], 100 * 1000 * 1000LL); got = rc == RING_OK; }
        if (rc == RING_ERR_END_OF_STREAM) { t.end_seen = 1; break; }
        if (rc == RING_ERR_EMPTY) { if (now() - last > idle) break; continue; }
        if (rc != RING_OK) { FAILF("get: %d %s", rc, z_ring_zmq_last_error_message()); break; }
        last = now();
        for (size_t k = 0; k < got; k++) {
            const uint8_t *m = buf + offset;
            uint64_t index = 0;
            if (wl_index(m, sizes[k], &index) != 0 || !wl_matches(&WORKLOAD, index, m, sizes[k])) t.bad++;
            else {
                int r = (int)(index / per_stream);
                if (r >= ranges) t.bad++;
                else {
                    if (strict_order ? index != next[r] : index < next[r]) t.out_of_order++;
                    next[r] = index + 1;
                }
                t.sum += index;
            }
            t.received++;
            t.bytes += sizes[k];
            offset += sizes[k];
        }
    }
    return t;
}

/* Sum of the indices 0..n-1. */
static uint64_t index_sum(uint64_t n) { return n * (n - 1) / 2; }

/* Waits for a child and checks it exited 0. */
static void expect_child(pid_t pid, const char *what) {
    int status = 0;
    if (wait_or_kill(pid, 60, &status) != 0) FAILF("%s was killed: still running after 60 s", what);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAILF("%s failed (status %d)", what, status);
}

/* ---------------------------------------------------------------------- */

/* One producer process (it binds, SPSC's rule, and says where), one consumer (this
 * process, which connects afterwards: no zmq context exists here at the fork), N
 * messages; both ends' counts agree. */
static void spsc(const char *endpoint, int packed, int batch, uint64_t n) {
    int fds[2];
    if (pipe(fds) != 0) { FAILF("pipe: %s", strerror(errno)); return; }
    pid_t pid = fork_child(60);
    if (pid == 0) { close(fds[0]); produce(endpoint, RING_ZMQ_SPSC, fds[1], 7, 0, n, packed, 1); }
    close(fds[1]);
    char bound[256];
    if (read_full(fds[0], bound, sizeof bound) != 0) { FAILF("the producer did not say where it bound"); close(fds[0]); return; }
    close(fds[0]);
    bound[sizeof bound - 1] = 0;
    CHECK(strchr(bound, '*') == NULL);
    ring_zmq_consumer_t *c = NULL;
    ZOK(z_ring_zmq_consumer_open(bound, RING_ZMQ_SPSC, NULL, &c));
    if (!c) return;
    tally t = consume(c, batch, n, 1, 30, 1);
    expect_child(pid, "the producer");
    ring_zmq_counters_t k;
    ZOK(z_ring_zmq_consumer_counters(c, &k));
    printf("     %s: %llu of %llu messages in %llu frames, %llu bad, %llu out of order, END %s\n", bound,
           (unsigned long long)t.received, (unsigned long long)n, (unsigned long long)k.frames_received,
           (unsigned long long)t.bad, (unsigned long long)t.out_of_order, t.end_seen ? "seen" : "missing");
    CHECK(t.end_seen && t.received == n && t.bad == 0 && t.out_of_order == 0 && t.sum == index_sum(n));
    CHECK(k.messages_received == n && k.bytes_received == t.bytes && k.end_frames_received == 1);
    CHECK(k.frames_received == (packed ? (n + 99) / 100 : n) + 1);
    CHECK(k.sequence_breaks == 0 && k.frames_dropped == 0 && k.frames_ignored == 0);
    z_ring_zmq_consumer_free(c);
}

static void test_spsc_ipc_one_per_frame(void) { spsc(ipc("spsc"), 0, 0, 20000); }

static void test_spsc_tcp_packed(void) { spsc("tcp://127.0.0.1:*", 1, 1, 50000); }

static void test_spsc_ipc_packed_read_one_by_one(void) { spsc(ipc("packed"), 1, 0, 20000); }

/* Three producer processes connect to this consumer, each its own stream and index range. */
static void test_mpsc_three_producers(void) {
    uint64_t per = 10000;
    pid_t pids[3];
    /* The producers first (they connect and retry until the consumer binds), so that no
     * zmq context exists here at the forks. */
    for (int k = 0; k < 3; k++) {
        pids[k] = fork_child(60);
        if (pids[k] == 0) produce(ipc("mpsc"), RING_ZMQ_MPSC, -1, 100 + (uint64_t)k, per * (uint64_t)k, per, k == 1, 1);
    }
    ring_zmq_options_t o = options(0, 3);
    ring_zmq_consumer_t *c = NULL;
    ZOK(z_ring_zmq_consumer_open(ipc("mpsc"), RING_ZMQ_MPSC, &o, &c));
    if (!c) return;
    tally t = consume(c, 1, per, 3, 30, 1);
    for (int k = 0; k < 3; k++) expect_child(pids[k], "a producer");
    ring_zmq_counters_t k;
    ZOK(z_ring_zmq_consumer_counters(c, &k));
    printf("     %llu of %llu messages from 3 streams, %llu END, %llu sequence breaks\n", (unsigned long long)t.received,
           (unsigned long long)(3 * per), (unsigned long long)k.end_frames_received, (unsigned long long)k.sequence_breaks);
    CHECK(t.end_seen && t.received == 3 * per && t.bad == 0 && t.out_of_order == 0 && t.sum == index_sum(3 * per));
    CHECK(k.messages_received == 3 * per && k.end_frames_received == 3 && k.sequence_breaks == 0 && k.frames_dropped == 0);
    z_ring_zmq_consumer_free(c);
}

/* One producer (this process) binds; 3 consumer processes each report what they got
 * (count, index sum, bad, out of order) on a pipe; each message reaches exactly one. */
static void test_spmc_three_consumers(void) {
    uint64_t n = 30000;
    ring_zmq_producer_t *p = NULL;
    int fds[3][2];
    pid_t pids[3];
    /* The consumers first (fork before this process makes a zmq context): they connect
     * and wait; the producer binds once they are forked. */
    for (int k = 0; k < 3; k++) {
        if (pipe(fds[k]) != 0) { FAILF("pipe: %s", strerror(errno)); return; }
        pids[k] = fork_child(60);
        if (pids[k] == 0) {
            close(fds[k][0]);
            ring_zmq_consumer_t *c = NULL;
            ZOK(z_ring_zmq_consumer_open(ipc("spmc"), RING_ZMQ_SPMC, NULL, &c));
            if (!c) child_end();
            uint8_t one = 1;
            write_full(fds[k][1], &one, 1);
            tally t = consume(c, k != 0, n, 1, 3, 0);
            ring_zmq_counters_t kc;
            ZOK(z_ring_zmq_consumer_counters(c, &kc));
            CHECK(kc.messages_received == t.received && kc.sequence_breaks == 0 && kc.frames_dropped == 0);
            write_full(fds[k][1], &t, sizeof t);
            z_ring_zmq_consumer_free(c);
            child_end();
        }
        close(fds[k][1]);
    }
    for (int k = 0; k < 3; k++) CHECK(read_byte_within(fds[k][0], 10) == 1);
    ZOK(z_ring_zmq_producer_open(ipc("spmc"), RING_ZMQ_SPMC, NULL, &p));
    if (!p) return;
    pause_us(300000);  /* the three connect (libzmq deals to the peers connected at each send) */
    uint8_t buf[MAX_SIZE];
    for (uint64_t i = 0; i < n; i++) {
        size_t size = wl_fill(&WORKLOAD, i, buf);
        ZOK(z_ring_zmq_put(p, buf, size, RING_WAIT_FOREVER));
    }
    ZOK(z_ring_zmq_producer_close_writer(p, 3, RING_WAIT_FOREVER));
    uint64_t received = 0, sum = 0, bad = 0, disorder = 0, ends = 0;
    for (int k = 0; k < 3; k++) {
        tally t;
        if (read_full(fds[k][0], &t, sizeof t) != 0) { FAILF("consumer %d reported nothing", k); continue; }
        printf("     consumer %d: %llu messages, END %s\n", k, (unsigned long long)t.received, t.end_seen ? "seen" : "missing");
        CHECK(t.received > 0);
        received += t.received; sum += t.sum; bad += t.bad; disorder += t.out_of_order; ends += t.end_seen;
        close(fds[k][0]);
        expect_child(pids[k], "a consumer");
    }
    CHECK(received == n && sum == index_sum(n) && bad == 0 && disorder == 0);
    printf("     %llu of %llu messages, each once; %llu of 3 consumers saw END (best-effort)\n",
           (unsigned long long)received, (unsigned long long)n, (unsigned long long)ends);
    z_ring_zmq_producer_free(p);
}

/* ---------------------------------------------------------------------- */

/* Sends `size` bytes as one message (more: a first part of a multi-part one) on a raw socket. */
static void raw_send(void *socket, const void *bytes, size_t size, int more) {
    if (zmq_send(socket, bytes, size, more ? ZMQ_SNDMORE : 0) < 0) FAILF("zmq_send: %s", zmq_strerror(zmq_errno()));
}

/* A consumer bound to ipc://bad; a transport producer and a raw PUSH connect to it. The
 * raw socket's frames are copies of real ones, changed: each breaks one rule of §23.5. */
static void test_bad_frames_are_dropped_and_counted(void) {
    ring_zmq_options_t o = options(0, 1);
    o.bind = 1;
    ring_zmq_consumer_t *c = NULL;
    ZOK(z_ring_zmq_consumer_open(ipc("bad"), RING_ZMQ_SPSC, &o, &c));
    if (!c) return;
    char text[512];
    ZOK(z_ring_zmq_last_drop(c, text, sizeof text));
    CHECK(text[0] == 0);
    /* A real DATA frame and a real END frame, caught by a raw PULL. */
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL), *push = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
    CHECK(zmq_bind(pull, ipc("catch")) == 0);
    ring_zmq_options_t po = options(55, 1);
    po.bind = 0;
    ring_zmq_producer_t *p = NULL;
    ZOK(z_ring_zmq_producer_open(ipc("catch"), RING_ZMQ_SPSC, &po, &p));
    if (!p) return;
    ZOK(z_ring_zmq_put(p, "hello, frame", 12, RING_WAIT_FOREVER));
    ZOK(z_ring_zmq_producer_close_writer(p, 1, RING_WAIT_FOREVER));
    uint8_t data[256], end[64];
    int data_n = zmq_recv(pull, data, sizeof data, 0), end_n = zmq_recv(pull, end, sizeof end, 0);
    CHECK(data_n == 48 + 8 + 16 && end_n == 48);
    z_ring_zmq_producer_free(p);
    CHECK(zmq_connect(push, ipc("bad")) == 0);
    /* Frames that break a rule, one each. */
    uint8_t f[256];
    raw_send(push, data, 20, 0);                                   /* shorter than a header */
    memcpy(f, data, (size_t)data_n); f[0] ^= 0xFF;                 /* bad magic */
    raw_send(push, f, (size_t)data_n, 0);
    memcpy(f, data, (size_t)data_n); f[16] += 8;                   /* bodyLength says 8 more */
    raw_send(push, f, (size_t)data_n, 0);
    memcpy(f, data, (size_t)data_n); f[6] = 9;                     /* unknown kind */
    raw_send(push, f, (size_t)data_n, 0);
    memcpy(f, data, (size_t)data_n); f[12] = 2;                    /* count 2, one record */
    raw_send(push, f, (size_t)data_n, 0);
    raw_send(push, data, (size_t)data_n, 1);                       /* multi-part: dropped whole */
    raw_send(push, data, (size_t)data_n, 0);
    memcpy(f, end, (size_t)end_n); f[6] = 3;                       /* HELLO: ignored */
    raw_send(push, f, (size_t)end_n, 0);
    raw_send(push, data, (size_t)data_n, 0);                       /* the good frame */
    raw_send(push, end, (size_t)end_n, 0);                         /* and END */
    char got[64];
    size_t size = 0;
    ZOK(z_ring_zmq_get(c, got, sizeof got, &size, 5 * 1000000000LL));
    CHECK(size == 12 && memcmp(got, "hello, frame", 12) == 0);
    ZRC(z_ring_zmq_get(c, got, sizeof got, &size, 5 * 1000000000LL), RING_ERR_END_OF_STREAM);
    ring_zmq_counters_t k;
    ZOK(z_ring_zmq_consumer_counters(c, &k));
    printf("     dropped %llu, ignored %llu, received %llu frames\n", (unsigned long long)k.frames_dropped,
           (unsigned long long)k.frames_ignored, (unsigned long long)k.frames_received);
    CHECK(k.frames_dropped == 6 && k.frames_ignored == 1 && k.frames_received == 2 && k.messages_received == 1);
    ZOK(z_ring_zmq_last_drop(c, text, sizeof text));
    printf("     last drop: %s\n", text);
    CHECK(strstr(text, "multi") != NULL);
    ZRC(z_ring_zmq_last_drop(c, text, 5), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(strlen(text) == 4);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    z_ring_zmq_consumer_free(c);
}

/* ---------------------------------------------------------------------- */

static void test_full_without_a_consumer(void) {
    ring_zmq_producer_t *p = NULL;
    ZOK(z_ring_zmq_producer_open(ipc("lonely"), RING_ZMQ_SPSC, NULL, &p));
    if (!p) return;
    ZRC(z_ring_zmq_put(p, "x", 1, 0), RING_ERR_FULL);
    double t0 = now();
    ZRC(z_ring_zmq_put(p, "x", 1, 120 * 1000000LL), RING_ERR_FULL);
    double waited = now() - t0;
    CHECK(waited >= 0.115 && waited < 2.0);
    const void *ptrs[2] = { "a", "b" };
    size_t sizes[2] = { 1, 1 }, sent = 99;
    ZRC(z_ring_zmq_put_packed(p, ptrs, sizes, 2, 0, &sent), RING_ERR_FULL);
    CHECK(sent == 0);
    ring_zmq_counters_t k;
    ZOK(z_ring_zmq_producer_counters(p, &k));
    CHECK(k.frames_sent == 0 && k.messages_sent == 0);
    z_ring_zmq_producer_free(p);
}

static void test_sizes_and_closed_handles(void) {
    ring_zmq_options_t o = options(9, 1);
    o.max_message_size = 100;
    o.max_frame_bytes = 96;
    ring_zmq_producer_t *p = NULL;
    ZOK(z_ring_zmq_producer_open(ipc("sizes"), RING_ZMQ_SPSC, &o, &p));
    ring_zmq_consumer_t *c = NULL;
    ZOK(z_ring_zmq_consumer_open(ipc("sizes"), RING_ZMQ_SPSC, NULL, &c));
    if (!p || !c) return;
    uint8_t big[101];
    memset(big, 7, sizeof big);
    ZRC(z_ring_zmq_put(p, big, 101, RING_WAIT_FOREVER), RING_ERR_INVALID_SIZE);
    const void *ptrs[4] = { big, big, big, big };
    size_t sizes[4] = { 100, 30, 101, 1 }, sent = 99;
    ZRC(z_ring_zmq_put_packed(p, ptrs, sizes, 4, RING_WAIT_FOREVER, &sent), RING_ERR_INVALID_SIZE);
    CHECK(sent == 0);
    sizes[2] = 20;  /* 100 alone (its record is over 96 bytes), then 30 + 20 + 1 (88 bytes) in one frame */
    ZOK(z_ring_zmq_put_packed(p, ptrs, sizes, 4, RING_WAIT_FOREVER, &sent));
    CHECK(sent == 4);
    ZOK(z_ring_zmq_put_packed(p, ptrs, sizes, 0, 0, &sent));
    CHECK(sent == 0);
    ring_zmq_counters_t k;
    ZOK(z_ring_zmq_producer_counters(p, &k));
    CHECK(k.frames_sent == 2 && k.messages_sent == 4 && k.bytes_sent == 151);
    /* BUFFER_TOO_SMALL keeps the message, for get and for get_many. */
    uint8_t buf[128];
    size_t size = 0, count = 9, got[4];
    ZRC(z_ring_zmq_get(c, buf, 50, &size, 5 * 1000000000LL), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(size == 100);
    ZRC(z_ring_zmq_get_many(c, buf, 50, got, 4, &count, 0), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(got[0] == 100 && count == 0);
    ZOK(z_ring_zmq_get(c, buf, sizeof buf, &size, 0));
    CHECK(size == 100 && buf[99] == 7);
    /* get_many takes what fits: 30 and 20 in 50 bytes, the 1 stays. */
    ZOK(z_ring_zmq_get_many(c, buf, 50, got, 4, &count, 5 * 1000000000LL));
    CHECK(count == 2 && got[0] == 30 && got[1] == 20);
    size_t pending = 0;
    ZOK(z_ring_zmq_pending(c, &pending));
    CHECK(pending == 1);
    ZOK(z_ring_zmq_get_many(c, buf, 60, got, 0, &count, 0));
    CHECK(count == 0);
    ZOK(z_ring_zmq_get_many(c, buf, 60, got, 4, &count, 0));
    CHECK(count == 1 && got[0] == 1);
    ZRC(z_ring_zmq_get(c, buf, sizeof buf, &size, 0), RING_ERR_EMPTY);
    /* close_writer: END, then puts are CLOSED; a second close_writer does nothing. */
    ZRC(z_ring_zmq_producer_close_writer(p, 0, 0), RING_ERR_INVALID_ARGUMENT);
    ZOK(z_ring_zmq_producer_close_writer(p, 1, RING_WAIT_FOREVER));
    ZOK(z_ring_zmq_producer_close_writer(p, 1, RING_WAIT_FOREVER));
    ZRC(z_ring_zmq_put(p, "x", 1, 0), RING_ERR_CLOSED);
    ZRC(z_ring_zmq_get(c, buf, sizeof buf, &size, 5 * 1000000000LL), RING_ERR_END_OF_STREAM);
    ZRC(z_ring_zmq_get_many(c, buf, sizeof buf, got, 4, &count, 0), RING_ERR_END_OF_STREAM);
    /* close: every call CLOSED but the counters, which keep their values. */
    ZOK(z_ring_zmq_producer_close(p));
    ZOK(z_ring_zmq_producer_close(p));
    ZRC(z_ring_zmq_put(p, "x", 1, 0), RING_ERR_CLOSED);
    ZOK(z_ring_zmq_producer_counters(p, &k));
    CHECK(k.frames_sent == 3 && k.messages_sent == 4);
    char text[64];
    ZRC(z_ring_zmq_producer_endpoint(p, text, sizeof text, NULL), RING_ERR_CLOSED);
    ZOK(z_ring_zmq_consumer_close(c));
    ZRC(z_ring_zmq_get(c, buf, sizeof buf, &size, 0), RING_ERR_CLOSED);
    ZRC(z_ring_zmq_pending(c, &pending), RING_ERR_CLOSED);
    ZOK(z_ring_zmq_consumer_counters(c, &k));
    CHECK(k.messages_received == 4 && k.end_frames_received == 1);
    z_ring_zmq_producer_free(p);
    z_ring_zmq_consumer_free(c);
}

/* A get blocked without limit in one thread; close from another ends it with CLOSED. */
typedef struct blocked { ring_zmq_consumer_t *c; _Atomic int rc; _Atomic int done; } blocked;

static void *blocked_get(void *arg) {
    blocked *b = arg;
    char buf[16];
    size_t size;
    b->rc = z_ring_zmq_get(b->c, buf, sizeof buf, &size, RING_WAIT_FOREVER);
    b->done = 1;
    return NULL;
}

static void test_close_from_another_thread_ends_a_blocked_get(void) {
    blocked b = { NULL, 1, 0 };
    ZOK(z_ring_zmq_consumer_open(ipc("blocked"), RING_ZMQ_SPSC, NULL, &b.c));
    if (!b.c) return;
    pthread_t thread;
    pthread_create(&thread, NULL, blocked_get, &b);
    pause_us(200000);
    CHECK(!b.done);
    double t0 = now();
    ZOK(z_ring_zmq_consumer_close(b.c));
    pthread_join(thread, NULL);
    double took = now() - t0;
    printf("     the blocked get returned %.1f ms after close\n", took * 1e3);
    CHECK(b.done && b.rc == RING_ERR_CLOSED && took < 1.0);
    z_ring_zmq_consumer_free(b.c);
}

/* A child of fork gets FORKED on every call and frees without touching the parent's socket;
 * the parent's handle goes on working. */
static void test_fork_child_gets_forked(void) {
    ring_zmq_consumer_t *c = NULL;
    ring_zmq_producer_t *p = NULL;
    ZOK(z_ring_zmq_consumer_open(ipc("fork"), RING_ZMQ_SPSC, NULL, &c));
    ZOK(z_ring_zmq_producer_open(ipc("fork"), RING_ZMQ_SPSC, NULL, &p));
    if (!c || !p) return;
    pid_t pid = fork_child(10);
    if (pid == 0) {
        char buf[16];
        size_t size;
        ZRC(z_ring_zmq_put(p, "x", 1, 0), RING_ERR_FORKED);
        ZRC(z_ring_zmq_get(c, buf, sizeof buf, &size, 0), RING_ERR_FORKED);
        CHECK(strstr(z_ring_zmq_last_error_message(), "fork") != NULL);
        z_ring_zmq_producer_free(p);
        z_ring_zmq_consumer_free(c);
        child_end();
    }
    expect_child(pid, "the child");
    char buf[16];
    size_t size = 0;
    ZOK(z_ring_zmq_put(p, "after", 5, RING_WAIT_FOREVER));
    ZOK(z_ring_zmq_get(c, buf, sizeof buf, &size, 5 * 1000000000LL));
    CHECK(size == 5 && memcmp(buf, "after", 5) == 0);
    z_ring_zmq_producer_free(p);
    z_ring_zmq_consumer_free(c);
}

/* ---------------------------------------------------------------------- */

static void test_errors_name_the_endpoint(void) {
    ring_zmq_producer_t *p = NULL, *q = NULL;
    ZRC(z_ring_zmq_producer_open("nope://where", RING_ZMQ_SPSC, NULL, &p), RING_ERR_SYSTEM);
    CHECK(p == NULL && strstr(z_ring_zmq_last_error_message(), "nope://where") != NULL);
    printf("     %s\n", z_ring_zmq_last_error_message());
    ZOK(z_ring_zmq_producer_open("tcp://127.0.0.1:*", RING_ZMQ_SPSC, NULL, &p));
    if (!p) return;
    char bound[128];
    size_t len = 0;
    ZOK(z_ring_zmq_producer_endpoint(p, bound, sizeof bound, &len));
    CHECK(strncmp(bound, "tcp://127.0.0.1:", 16) == 0 && strchr(bound, '*') == NULL && len == strlen(bound));
    ZRC(z_ring_zmq_producer_endpoint(p, bound, 8, &len), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(strlen(bound) == 7 && len > 16);
    ZOK(z_ring_zmq_producer_endpoint(p, bound, sizeof bound, &len));
    ZRC(z_ring_zmq_producer_open(bound, RING_ZMQ_SPSC, NULL, &q), RING_ERR_SYSTEM);
    CHECK(z_ring_zmq_last_errno() == EADDRINUSE && strstr(z_ring_zmq_last_error_message(), bound) != NULL);
    printf("     %s\n", z_ring_zmq_last_error_message());
    z_ring_zmq_producer_free(p);
}

static void test_options_and_null_arguments(void) {
    CHECK(strlen(z_ring_zmq_version()) > 0);
    CHECK(z_ring_zmq_should_producer_bind(RING_ZMQ_SPSC) == 1 && z_ring_zmq_should_producer_bind(RING_ZMQ_SPMC) == 1);
    CHECK(z_ring_zmq_should_producer_bind(RING_ZMQ_MPSC) == 0);
    ZRC(z_ring_zmq_should_producer_bind((ring_zmq_topology_t)7), RING_ERR_INVALID_ARGUMENT);
    ring_zmq_options_t o;
    z_ring_zmq_options_init(&o);
    CHECK(o.struct_size == sizeof o && o.send_hwm == 1000 && o.bind == RING_ZMQ_BIND_AUTO && o.producers == 1);
    CHECK(o.max_message_size == RING_MAX_MESSAGE_SIZE_LIMIT && o.max_receive_frame_bytes == -1 && o.stream_id == 0);
    z_ring_zmq_options_init(NULL);
    ring_zmq_producer_t *p = (ring_zmq_producer_t *)&o;
    ring_zmq_consumer_t *c = NULL;
    ZRC(z_ring_zmq_producer_open(NULL, RING_ZMQ_SPSC, NULL, &p), RING_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    ZRC(z_ring_zmq_producer_open(ipc("x"), RING_ZMQ_SPSC, NULL, NULL), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_open(ipc("x"), (ring_zmq_topology_t)3, NULL, &p), RING_ERR_INVALID_ARGUMENT);
    ring_zmq_options_t bad = o;
    bad.struct_size = 8;
    ZRC(z_ring_zmq_consumer_open(ipc("x"), RING_ZMQ_SPSC, &bad, &c), RING_ERR_INVALID_ARGUMENT);
    CHECK(strstr(z_ring_zmq_last_error_message(), "struct_size") != NULL);
    bad = o; bad.bind = 2;
    ZRC(z_ring_zmq_consumer_open(ipc("x"), RING_ZMQ_SPSC, &bad, &c), RING_ERR_INVALID_ARGUMENT);
    bad = o; bad.producers = 0;
    ZRC(z_ring_zmq_consumer_open(ipc("x"), RING_ZMQ_MPSC, &bad, &c), RING_ERR_INVALID_ARGUMENT);
    bad = o; bad.max_frame_bytes = 4;
    ZRC(z_ring_zmq_producer_open(ipc("x"), RING_ZMQ_SPSC, &bad, &p), RING_ERR_INVALID_ARGUMENT);
    bad = o; bad.max_message_size = (uint64_t)RING_MAX_MESSAGE_SIZE_LIMIT + 1;
    ZRC(z_ring_zmq_producer_open(ipc("x"), RING_ZMQ_SPSC, &bad, &p), RING_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL && p == NULL);
    char buf[8];
    size_t n = 0;
    ring_zmq_counters_t k;
    ZRC(z_ring_zmq_put(NULL, "x", 1, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_put_packed(NULL, NULL, NULL, 0, 0, &n), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_close_writer(NULL, 1, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_counters(NULL, &k), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_endpoint(NULL, buf, sizeof buf, &n), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_close(NULL), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_get(NULL, buf, sizeof buf, &n, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_get_many(NULL, buf, sizeof buf, &n, 1, &n, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_pending(NULL, &n), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_consumer_counters(NULL, &k), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_last_drop(NULL, buf, sizeof buf), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_consumer_close(NULL), RING_ERR_INVALID_ARGUMENT);
    z_ring_zmq_producer_free(NULL);
    z_ring_zmq_consumer_free(NULL);
    /* NULL out-pointers on open handles. */
    ZOK(z_ring_zmq_producer_open(ipc("x"), RING_ZMQ_SPSC, NULL, &p));
    ZOK(z_ring_zmq_consumer_open(ipc("x"), RING_ZMQ_SPSC, NULL, &c));
    if (!p || !c) return;
    ZRC(z_ring_zmq_put(p, NULL, 1, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_put_packed(p, NULL, NULL, 1, 0, &n), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_counters(p, NULL), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_producer_endpoint(p, NULL, 8, &n), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_get(c, NULL, 8, &n, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_get(c, buf, 8, NULL, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_get_many(c, buf, 8, NULL, 1, &n, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_get_many(c, buf, 8, &n, 1, NULL, 0), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_pending(c, NULL), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_consumer_counters(c, NULL), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_last_drop(c, NULL, 8), RING_ERR_INVALID_ARGUMENT);
    ZRC(z_ring_zmq_consumer_endpoint(c, NULL, 8, &n), RING_ERR_INVALID_ARGUMENT);
    z_ring_zmq_producer_free(p);
    z_ring_zmq_consumer_free(c);
}

/* ---------------------------------------------------------------------- */

/* Both libraries in one process: messages written to a ring of libringformat are read
 * from it, sent over the transport, received, and written to a second ring. */
static void test_a_ring_carried_over_the_transport(void) {
    ring_t *a = NULL, *b = NULL;
    ring_producer_t *ap = NULL, *bp = NULL;
    ring_consumer_t *ac = NULL, *bc = NULL;
    if (!open_roles("a", 1 << 20, RING_REJECT_WHEN_FULL, &a, &ap, &ac)) return;
    if (!open_roles("b", 1 << 20, RING_REJECT_WHEN_FULL, &b, &bp, &bc)) return;
    ring_zmq_producer_t *zp = NULL;
    ring_zmq_consumer_t *zc = NULL;
    ZOK(z_ring_zmq_producer_open(ipc("carry"), RING_ZMQ_SPSC, NULL, &zp));
    ZOK(z_ring_zmq_consumer_open(ipc("carry"), RING_ZMQ_SPSC, NULL, &zc));
    if (!zp || !zc) return;
    uint64_t n = 500;  /* fewer than the two queues hold (1000 frames each), so the puts need no reader */
    uint8_t buf[MAX_SIZE];
    size_t size = 0;
    for (uint64_t i = 0; i < n; i++) { size = wl_fill(&WORKLOAD, i, buf); OK(f_ring_write(ap, buf, size)); }
    for (uint64_t i = 0; i < n; i++) {
        OK(f_ring_read(ac, buf, sizeof buf, &size));
        ZOK(z_ring_zmq_put(zp, buf, size, RING_WAIT_FOREVER));
    }
    ZOK(z_ring_zmq_producer_close_writer(zp, 1, RING_WAIT_FOREVER));
    for (;;) {
        int rc = z_ring_zmq_get(zc, buf, sizeof buf, &size, 5 * 1000000000LL);
        if (rc == RING_ERR_END_OF_STREAM) break;
        ZOK(rc);
        if (rc != RING_OK) break;
        OK(f_ring_write(bp, buf, size));
    }
    uint64_t got = 0;
    while (f_ring_read(bc, buf, sizeof buf, &size) == RING_OK) {
        CHECK(wl_matches(&WORKLOAD, got, buf, size));
        got++;
    }
    CHECK(got == n);
    z_ring_zmq_producer_free(zp);
    z_ring_zmq_consumer_free(zc);
    free_roles(a, ap, ac);
    free_roles(b, bp, bc);
}

int main(int argc, char **argv) {
    int long_mode = 0;
    const char *only = NULL;
    const char *zmq_lib = getenv("RINGFORMAT_ZMQ_LIB");
    /* The second library argument is the transport's; the harness takes the first. */
    char *args[8];
    int n = 0;
    for (int i = 0; i < argc && n < 8; i++) {
        if (i >= 1 && strstr(argv[i], "ringformat_zmq")) zmq_lib = argv[i];
        else args[n++] = argv[i];
    }
    if (!zmq_lib) { fprintf(stderr, "usage: test_zmq LIBRINGFORMAT LIBRINGFORMAT_ZMQ [--only NAME]\n"); return 2; }
    if (suite_setup(n, args, "zmq", &long_mode, &only) != 0 || load_zmq_library(zmq_lib) != 0) return 2;
    test_case tests[] = {
        { "options_and_null_arguments", test_options_and_null_arguments, 20 },
        { "errors_name_the_endpoint", test_errors_name_the_endpoint, 20 },
        { "full_without_a_consumer", test_full_without_a_consumer, 20 },
        { "sizes_and_closed_handles", test_sizes_and_closed_handles, 20 },
        { "close_from_another_thread_ends_a_blocked_get", test_close_from_another_thread_ends_a_blocked_get, 20 },
        { "fork_child_gets_forked", test_fork_child_gets_forked, 20 },
        { "bad_frames_are_dropped_and_counted", test_bad_frames_are_dropped_and_counted, 30 },
        { "spsc_ipc_one_per_frame", test_spsc_ipc_one_per_frame, 90 },
        { "spsc_ipc_packed_read_one_by_one", test_spsc_ipc_packed_read_one_by_one, 90 },
        { "spsc_tcp_packed", test_spsc_tcp_packed, 90 },
        { "mpsc_three_producers", test_mpsc_three_producers, 90 },
        { "spmc_three_consumers", test_spmc_three_consumers, 90 },
        { "a_ring_carried_over_the_transport", test_a_ring_carried_over_the_transport, 30 },
    };
    return RUN_TESTS(tests, only, "zmq");
}
