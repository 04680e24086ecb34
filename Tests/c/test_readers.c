/*
 * test_readers.c - several readers of one ring (format 1.1, SPEC.md §17)
 * through the C ABI: broadcast to gating readers, lapping readers under both
 * policies, a gating reader holding the writer back, killed gating readers
 * (anonymous and durable), durable named readers, and the errors of the
 * several-readers functions.
 *
 *   test_readers [LIBRARY] [--long] [--only NAME]
 *
 * The library is dlopened (argv[1], else $RINGFORMAT_LIB). Each test runs in
 * its own forked process with an alarm and a wall-clock limit in the parent.
 * RING_RACE_LONG=1 (or --long) writes many more messages.
 *
 * Racing tests: a producer PROCESS writes N self-checking messages of the
 * interop workload (interop/c/workload.h: bytes 0..7 carry the index, every
 * byte is a function of the index) and closes the stream; reader PROCESSES,
 * each with its own ring_t from ring_open, join before the first message and
 * read with one API until END_OF_STREAM. Checked per reader: every message
 * delivered is exactly message `index`; indexes strictly increase;
 * received + gaps == produced; gaps == ring_reader_missed(); a gating reader
 * has no gaps. (The hostile reader table is in hostile_peer.c, under ASan.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "workload.h"

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_format_version) X(ring_create) X(ring_create_readers) \
    X(ring_open) X(ring_info) X(ring_geometry) X(ring_close) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_producer_close_writer) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_read_batch) X(ring_peek_batch) X(ring_consume) \
    X(ring_peek) X(ring_release) X(ring_wait) X(ring_consumer_close) X(ring_consumer_free) \
    X(ring_reader_open) X(ring_reader_missed) X(ring_readers)
#include "test_harness.h"

static int long_mode;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }
static void reseed(uint64_t seed) { rng_state ^= seed * 0x9E3779B97F4A7C15ULL; if (!rng_state) rng_state = 1; }

#define SECOND 1000000000LL
#define BATCH 8

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

/* A new ring with a reader table dir/name (an old file of that name removed first), or NULL with the failure counted. */
static ring_t *make_reader_ring(const char *name, uint64_t capacity, int policy, uint32_t slots) {
    ring_t *r = NULL;
    unlink(path_of(name));
    OK(f_ring_create_readers(path_of(name), capacity, policy, 0600, 0, slots, 0, &r));
    return r;
}

/* ring_reader_open with these flags, name (NULL: anonymous) and gate timeout. */
static int join(ring_t *r, uint32_t flags, const char *name, uint32_t gate_timeout_ms, ring_consumer_t **c) {
    ring_reader_options_t o = RING_READER_OPTIONS_INIT;
    o.flags = flags;
    o.name = name;
    o.gate_timeout_ms = gate_timeout_ms;
    *c = NULL;
    return f_ring_reader_open(r, &o, c);
}

/* The reader's missed count, or UINT64_MAX with the failure counted. */
static uint64_t missed_of(ring_consumer_t *c) {
    uint64_t m = UINT64_MAX;
    OK(f_ring_reader_missed(c, &m));
    return m;
}

/* The reader table: fills infos[0..16), returns how many readers there are (-1 on failure, counted). */
static int list_readers(ring_t *r, ring_reader_info_t *infos) {
    size_t count = 0;
    int rc = f_ring_readers(r, infos, 16, &count);
    if (rc != RING_OK) { RC(rc, RING_OK); return -1; }
    return (int)count;
}

/* The entry of `slot` in infos[0..n), or NULL. */
static const ring_reader_info_t *info_of_slot(const ring_reader_info_t *infos, int n, uint32_t slot) {
    for (int i = 0; i < n; i++) if (infos[i].slot == slot) return &infos[i];
    return NULL;
}

/* The entry named `name` in infos[0..n), or NULL. */
static const ring_reader_info_t *info_named(const ring_reader_info_t *infos, int n, const char *name) {
    for (int i = 0; i < n; i++) if (strcmp(infos[i].name, name) == 0) return &infos[i];
    return NULL;
}


/* The size of message `len`'s record in a ring with readers (SPEC.md §17.2). */
static uint64_t record_size(size_t len) { return (16 + (uint64_t)len + 7) & ~(uint64_t)7; }

/* ---------------------------------------------------------------------- */
/* The producer process                                                    */

enum { PRODUCE_BLOCKING = 0, PRODUCE_NEVER_FULL = 1, PRODUCE_PAUSES = 2 };

/* Writes messages 0..n-1 of w and closes the stream: with ring_write_timeout (20 s), or with
 * ring_write where FULL is a failure (PRODUCE_NEVER_FULL: no reader gates). Exit code 0 if all went. */
static int produce(const char *path, uint64_t n, wl_workload w, int mode) {
    reseed((uint64_t)getpid());
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    int rc = f_ring_open(path, &r);
    if (!rc) rc = f_ring_producer_open(r, &p);
    if (rc) { fprintf(stderr, "    producer: open: %s (%s)\n", f_ring_strerror(rc), f_ring_last_error_message()); return 1; }
    uint8_t *buf = malloc(w.max_size + 1);
    for (uint64_t i = 0; i < n; i++) {
        size_t len = wl_fill(&w, i, buf);
        rc = mode & PRODUCE_NEVER_FULL ? f_ring_write(p, buf, len) : f_ring_write_timeout(p, buf, len, 20 * SECOND);
        if (rc) {
            fprintf(stderr, "    producer: message %llu: %s %s (%s)\n", (unsigned long long)i,
                    mode & PRODUCE_NEVER_FULL ? "ring_write" : "ring_write_timeout", f_ring_strerror(rc), f_ring_last_error_message());
            return 1;
        }
        if (mode & PRODUCE_PAUSES && rnd() % 16 == 0) pause_us((unsigned)(rnd() % 200));
    }
    rc = f_ring_producer_close_writer(p);
    if (rc) { fprintf(stderr, "    producer: close_writer: %s (%s)\n", f_ring_strerror(rc), f_ring_last_error_message()); return 1; }
    f_ring_producer_free(p);
    f_ring_free(r);
    free(buf);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Accounting of what a reader receives                                     */

typedef struct account {
    wl_workload w;
    uint64_t produced;        /* what the producer writes in all */
    uint64_t received, gaps, expected;
    uint64_t bad, out_of_order;
} account_t;

static void deliver(account_t *a, const uint8_t *buf, size_t len, const char *who) {
    uint64_t index = 0;
    if (wl_index(buf, len, &index) != 0 || index >= a->produced || !wl_matches(&a->w, index, buf, len)) {
        if (a->bad++ < 5)
            fprintf(stderr, "    %s: a message fails its check (torn or wrong): %zu bytes, index field %llu (expected >= %llu)\n",
                    who, len, (unsigned long long)index, (unsigned long long)a->expected);
        return;
    }
    if (index < a->expected) {
        if (a->out_of_order++ < 5)
            fprintf(stderr, "    %s: index %llu after %llu\n", who, (unsigned long long)index, (unsigned long long)a->expected - 1);
        return;
    }
    a->gaps += index - a->expected;
    a->expected = index + 1;
    a->received++;
}

/* What a reader process reports to the test through a pipe. */
typedef struct reader_result {
    int join_rc, ended;
    uint64_t received, gaps, expected, missed, bad, out_of_order, unexpected, overwritten, calls, peek_bad;
    double seconds;
} reader_result;

/* ---------------------------------------------------------------------- */
/* A reader: one API until END_OF_STREAM                                   */

enum api { API_READ_TIMEOUT, API_READ_BATCH, API_CONSUME, API_PEEK, API_PEEK_BATCH, API_MIXED };
static const char *api_names[] = { "ring_read_timeout", "ring_read_batch", "ring_consume", "ring_peek+ring_release",
                                   "ring_peek_batch+ring_read", "mixed" };

typedef struct visit_ctx {
    size_t kept, max_size;
    uint8_t *copies;          /* BATCH slots of max_size bytes */
    size_t lengths[BATCH];
    uint64_t index_skips;
} visit_ctx;

/* Copies what it is shown; a new pass starts again at index 0 (SPEC.md §8.2, Batches). */
static int visit_copy(void *context, size_t index, const void *data, size_t len) {
    visit_ctx *v = context;
    if (index == 0) v->kept = 0;
    if (index != v->kept || index >= BATCH || len > v->max_size) { v->index_skips++; return 1; }
    memcpy(v->copies + index * v->max_size, data, len);
    v->lengths[index] = len;
    v->kept = index + 1;
    return 0;
}

/* The reader's pace: 0 as fast as it can; else a pause of up to pace_us, now and then. */
static void reader_pause(unsigned pace_us) {
    if (pace_us == 0) return;
    uint64_t x = rnd() % 4;
    if (x == 0) pause_us((unsigned)(rnd() % (pace_us + 1)));
    else if (x == 1) for (volatile int i = 0; i < 2000; i++) {}
}

/* Reads with `api` until END_OF_STREAM (or `limit` seconds): fills res. */
static void read_until_end(ring_consumer_t *c, enum api api, int lapping, unsigned pace_us, account_t *a,
                           reader_result *res, double limit) {
    const char *who = api_names[api];
    size_t max = a->w.max_size, cap = BATCH * (max + 8), lengths[BATCH];
    uint8_t *buf = malloc(cap);
    visit_ctx v = { .max_size = max, .copies = malloc(BATCH * max) };
    double t0 = now(), deadline = t0 + limit;
    while (now() < deadline) {
        enum api use = api == API_MIXED ? (enum api)(rnd() % 5) : api;
        size_t len = 0, count = 0;
        int rc;
        res->calls++;
        switch (use) {
        case API_READ_TIMEOUT:
            rc = f_ring_read_timeout(c, buf, cap, &len, 5 * SECOND);
            if (rc == RING_OK) deliver(a, buf, len, who);
            break;
        case API_READ_BATCH:
            rc = f_ring_read_batch(c, buf, cap, lengths, 1 + rnd() % BATCH, &count, 5 * SECOND);
            if (rc == RING_OK) {
                size_t off = 0;
                for (size_t k = 0; k < count; k++) { deliver(a, buf + off, lengths[k], who); off += lengths[k]; }
            }
            break;
        case API_CONSUME:
            v.kept = 0;
            rc = f_ring_consume(c, visit_copy, &v, 1 + rnd() % BATCH, &count);
            if (rc == RING_OK) {
                /* Only the first *count copies of the last pass were consumed: keep those, nothing else. */
                if (count > v.kept) {
                    fprintf(stderr, "    ring_consume: *count %zu but the last pass showed only %zu\n", count, v.kept);
                    res->unexpected++;
                    count = v.kept;
                }
                for (size_t k = 0; k < count; k++) deliver(a, v.copies + k * max, v.lengths[k], who);
            } else if (rc == RING_ERR_EMPTY) {
                rc = f_ring_wait(c, SECOND / 10);
                if (rc == RING_ERR_EMPTY) rc = RING_OK;
            }
            break;
        case API_PEEK_BATCH:
            /* Copies without consuming: each must be whole, in order, from the next one on; then one ring_read. */
            rc = f_ring_peek_batch(c, buf, cap, lengths, 1 + rnd() % BATCH, &count);
            if (rc == RING_OK) {
                size_t off = 0;
                uint64_t last = a->expected, index = 0;
                for (size_t k = 0; k < count; k++) {
                    if (wl_index(buf + off, lengths[k], &index) != 0 || index < last || !wl_matches(&a->w, index, buf + off, lengths[k])) {
                        if (res->peek_bad++ < 5)
                            fprintf(stderr, "    ring_peek_batch copy %zu of %zu fails its check (%zu bytes, index field %llu, expected >= %llu)\n",
                                    k, count, lengths[k], (unsigned long long)index, (unsigned long long)last);
                    } else last = index + 1;
                    off += lengths[k];
                }
                rc = f_ring_read_timeout(c, buf, cap, &len, 5 * SECOND);
                if (rc == RING_OK) deliver(a, buf, len, who);
                else if (rc != RING_ERR_END_OF_STREAM && rc != RING_ERR_EMPTY) fprintf(stderr, "    (the ring_read_timeout after the peek)\n");
            } else if (rc != RING_ERR_END_OF_STREAM) fprintf(stderr, "    (ring_peek_batch itself)\n");
            break;
        default: {
            const void *data = NULL;
            rc = f_ring_peek(c, &data, &len, 5 * SECOND);
            if (rc == RING_OK) {
                if (len > max) { fprintf(stderr, "    ring_peek: %zu bytes, over max_message_size\n", len); res->unexpected++; len = max; }
                memcpy(buf, data, len);
                if (pace_us && rnd() % 4 == 0) pause_us((unsigned)(rnd() % (pace_us + 1)));
                rc = f_ring_release(c);
                if (rc == RING_OK) deliver(a, buf, len, who);
                else if (rc == RING_ERR_OVERWRITTEN && lapping) { res->overwritten++; rc = RING_OK; }
            }
            break;
        }
        }
        if (rc == RING_ERR_END_OF_STREAM) { res->ended = 1; break; }
        if (rc == RING_ERR_EMPTY) continue;
        if (rc != RING_OK) {
            fprintf(stderr, "    %s: %s returned %d %s (%s) after %llu messages\n", who, api_names[use], rc, f_ring_strerror(rc),
                    f_ring_last_error_message(), (unsigned long long)a->received);
            if (++res->unexpected > 3) break;
        }
        reader_pause(pace_us);
    }
    if (!res->ended)
        fprintf(stderr, "    %s: no END_OF_STREAM after %.0f s (received %llu)\n", who, limit, (unsigned long long)a->received);
    CHECK(v.index_skips == 0);
    res->seconds = now() - t0;
    free(buf);
    free(v.copies);
}

/* A reader process: ring_open, join (flags, name), one byte 'j' on ready (or 'x' if the join failed),
 * read everything with `api`, then its reader_result on result_fd. */
static _Noreturn void reader_process(const char *path, uint32_t flags, const char *name, enum api api, unsigned pace_us,
                                     account_t a, int ready_fd, int result_fd, unsigned seconds) {
    alarm(seconds + 5);
    failures_in_test = 0;
    reseed((uint64_t)getpid() * 7919);
    reader_result res;
    memset(&res, 0, sizeof res);
    ring_t *r = NULL;
    ring_consumer_t *c = NULL;
    res.join_rc = f_ring_open(path, &r);
    if (!res.join_rc) res.join_rc = join(r, flags, name, 10000, &c);
    if (res.join_rc) {
        fprintf(stderr, "    reader (%s): join: %s (%s)\n", api_names[api], f_ring_strerror(res.join_rc), f_ring_last_error_message());
        (void)write_full(ready_fd, "x", 1);
        (void)write_full(result_fd, &res, sizeof res);
        _exit(1);
    }
    (void)write_full(ready_fd, "j", 1);
    read_until_end(c, api, (flags & RING_READER_LAPPING) != 0, pace_us, &a, &res, (double)seconds);
    res.received = a.received; res.gaps = a.gaps; res.expected = a.expected;
    res.bad = a.bad; res.out_of_order = a.out_of_order;
    OK(f_ring_reader_missed(c, &res.missed));
    f_ring_consumer_free(c);
    f_ring_free(r);
    if (write_full(result_fd, &res, sizeof res) != 0) _exit(1);
    child_end();
}

/* One reader of a racing test: how it joins and reads, then what it reported. */
typedef struct reader_spec {
    const char *role;
    uint32_t flags;
    enum api api;
    unsigned pace_us;
    pid_t pid;
    int result_fd;
    reader_result res;
    int status;
} reader_spec;

/* Forks the readers of specs[0..n) on `path` and waits until each joined: 1 if all did. */
static int start_readers(const char *path, reader_spec *specs, int n, account_t a, unsigned seconds) {
    int ready[2];
    if (pipe(ready) != 0) { FAILF("pipe: %s", strerror(errno)); return 0; }
    for (int i = 0; i < n; i++) {
        int result[2];
        if (pipe(result) != 0) { FAILF("pipe: %s", strerror(errno)); return 0; }
        specs[i].pid = fork_flushed();
        if (specs[i].pid == 0) {
            close(ready[0]); close(result[0]);
            reader_process(path, specs[i].flags, NULL, specs[i].api, specs[i].pace_us, a, ready[1], result[1], seconds);
        }
        close(result[1]);
        specs[i].result_fd = result[0];
    }
    close(ready[1]);
    int joined = 0;
    for (int i = 0; i < n; i++) {
        int b = read_byte_within(ready[0], 10);
        if (b == 'j') joined++;
        else { FAILF("a reader did not join (%s)", b < 0 ? "no word within 10 s" : "its join failed"); break; }
    }
    close(ready[0]);
    return joined == n;
}

/* Collects each reader's result and exit status (killing what is still running after `seconds`). */
static void finish_readers(reader_spec *specs, int n, double seconds) {
    for (int i = 0; i < n; i++) {
        struct pollfd pfd = { specs[i].result_fd, POLLIN, 0 };
        if (poll(&pfd, 1, (int)(seconds * 1000)) != 1 || read_full(specs[i].result_fd, &specs[i].res, sizeof specs[i].res) != 0) {
            FAILF("reader %d (%s) reported nothing", i, specs[i].role);
            memset(&specs[i].res, 0, sizeof specs[i].res);
            specs[i].res.join_rc = -100;
        }
        close(specs[i].result_fd);
        if (wait_or_kill(specs[i].pid, 5, &specs[i].status) != 0) FAILF("reader %d (%s) had to be killed", i, specs[i].role);
        else if (!WIFEXITED(specs[i].status) || WEXITSTATUS(specs[i].status) != 0) FAILF("reader %d (%s) failed", i, specs[i].role);
    }
}

/* Prints a reader's line and checks its accounting: received + gaps == produced, gaps == missed, nothing torn. */
static void check_reader(const reader_spec *s, uint64_t produced, int gating) {
    const reader_result *r = &s->res;
    printf("     %-14s %-22s %-8s received %llu gaps %llu missed %llu%s in %.2f s (%llu calls)\n", s->role, api_names[s->api],
           gating ? "gating" : "lapping", (unsigned long long)r->received, (unsigned long long)r->gaps,
           (unsigned long long)r->missed, "", r->seconds, (unsigned long long)r->calls);
    if (r->overwritten) printf("     %-14s releases that found the view reclaimed (OVERWRITTEN): %llu\n", s->role, (unsigned long long)r->overwritten);
    CHECK(r->join_rc == RING_OK);
    CHECK(r->ended);
    CHECK(r->bad == 0);
    CHECK(r->out_of_order == 0);
    CHECK(r->unexpected == 0);
    CHECK(r->peek_bad == 0);
    CHECK(r->received + r->gaps == produced);
    CHECK(r->expected == produced); /* the last message is never reclaimed: END_OF_STREAM comes after it */
    CHECK(r->gaps == r->missed);
    if (r->gaps != r->missed)
        fprintf(stderr, "    %s: gaps seen in the indexes %llu, ring_reader_missed %llu\n", s->role, (unsigned long long)r->gaps,
                (unsigned long long)r->missed);
    if (gating) { CHECK(r->gaps == 0); CHECK(r->received == produced); CHECK(r->overwritten == 0); }
}

/* Runs a producer process and the readers of specs[0..n) on one ring; checks every reader. */
static void run_broadcast(const char *name, uint64_t capacity, int policy, reader_spec *specs, int n, uint64_t produced,
                          size_t max_size, int produce_mode) {
    ring_t *r = make_reader_ring(name, capacity, policy, 16);
    if (!r) return;
    ring_geometry_t g;
    OK(f_ring_geometry(r, &g));
    wl_workload w = { 0x5EED + (uint64_t)policy * 31 + produced, 8, max_size && max_size < g.max_message_size ? max_size : (size_t)g.max_message_size };
    account_t a = { .w = w, .produced = produced };
    unsigned seconds = long_mode ? 600 : 60;
    if (!start_readers(path_of(name), specs, n, a, seconds)) {
        for (int i = 0; i < n; i++) if (specs[i].pid > 0) kill(specs[i].pid, SIGKILL);
        f_ring_free(r);
        return;
    }
    ring_reader_info_t infos[16];
    int listed = list_readers(r, infos);
    CHECK(listed == n);
    for (int i = 0; i < listed && i < 16; i++) {
        CHECK(infos[i].flags & RING_READER_INFO_LIVE);
        CHECK(!(infos[i].flags & RING_READER_INFO_DURABLE) && infos[i].name[0] == 0);
    }
    double t0 = now();
    pid_t producer = fork_flushed();
    if (producer == 0) { alarm(seconds + 5); _exit(produce(path_of(name), produced, w, produce_mode)); }
    int status = 0;
    if (wait_or_kill(producer, seconds + 5, &status) != 0) FAILF("the producer had to be killed");
    else CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double produce_seconds = now() - t0;
    finish_readers(specs, n, seconds + 5);
    ring_info_t info;
    OK(f_ring_info(r, &info));
    printf("     %s, capacity %llu, messages of 8..%zu bytes: produced %llu in %.2f s, dropped_count %llu (reclaimed)\n",
           policy == RING_OVERWRITE_OLDEST ? "overwrite-oldest" : "reject-when-full", (unsigned long long)capacity, w.max_size,
           (unsigned long long)produced, produce_seconds, (unsigned long long)info.dropped_count);
    for (int i = 0; i < n; i++) check_reader(&specs[i], produced, !(specs[i].flags & RING_READER_LAPPING));
    /* Anonymous readers free their slots when they close. */
    CHECK(list_readers(r, infos) == 0);
    f_ring_free(r);
}

/* ---------------------------------------------------------------------- */
/* The racing tests                                                        */

/* Reject-when-full: gating readers with four APIs, each gets every message exactly once, in order. */
static void test_broadcast(void) {
    reader_spec specs[] = {
        { .role = "gating-1", .api = API_READ_TIMEOUT, .pace_us = 0 },
        { .role = "gating-2", .api = API_READ_BATCH, .pace_us = 300 },
        { .role = "gating-3", .api = API_CONSUME, .pace_us = 0 },
        { .role = "gating-4", .api = API_PEEK, .pace_us = 300 },
    };
    run_broadcast("broadcast", 65536, RING_REJECT_WHEN_FULL, specs, 4, long_mode ? 500000 : 20000, 8192, PRODUCE_BLOCKING | PRODUCE_PAUSES);
}

/* A slow and a fast lapping reader: each counts exactly what it missed; the slow one must be lapped. */
static void lapping(int policy) {
    reader_spec specs[] = {
        { .role = "lapping-slow", .flags = RING_READER_LAPPING, .api = API_MIXED, .pace_us = 2000 },
        { .role = "lapping-fast", .flags = RING_READER_LAPPING, .api = API_READ_BATCH, .pace_us = 0 },
    };
    /* Reject-when-full with only lapping readers: nothing gates, so the producer never gets FULL. */
    int mode = policy == RING_REJECT_WHEN_FULL ? PRODUCE_NEVER_FULL : PRODUCE_BLOCKING;
    run_broadcast(policy == RING_OVERWRITE_OLDEST ? "lap-overwrite" : "lap-reject", 16384, policy, specs, 2,
                  long_mode ? 1000000 : 30000, 2048, mode | PRODUCE_PAUSES);
    CHECK(specs[0].res.missed > 0);
    if (specs[0].res.missed == 0) fprintf(stderr, "    the slow reader was never lapped: the test proves nothing\n");
}
static void test_lapping_overwrite(void) { lapping(RING_OVERWRITE_OLDEST); }
static void test_lapping_reject(void) { lapping(RING_REJECT_WHEN_FULL); }

/* ---------------------------------------------------------------------- */
/* A gating reader holds the writer back                                    */

typedef struct blocked_write {
    ring_producer_t *p;
    const void *data;
    size_t len;
    int64_t timeout;
    _Atomic int rc, done;
    _Atomic double when;
    pthread_t thread;
} blocked_write;

static void *blocked_writer(void *arg) {
    blocked_write *b = arg;
    b->rc = f_ring_write_timeout(b->p, b->data, b->len, b->timeout);
    b->when = now();
    b->done = 1;
    return NULL;
}

static void start_blocked_write(blocked_write *b, ring_producer_t *p, const void *data, size_t len, int64_t timeout) {
    b->p = p; b->data = data; b->len = len; b->timeout = timeout;
    b->rc = 1; b->done = 0; b->when = 0;
    pthread_create(&b->thread, NULL, blocked_writer, b);
}

/* Waits up to `seconds` for b to return; its time from t0, or -1 if it still blocks. */
static double wait_blocked_write(blocked_write *b, double t0, double seconds) {
    while (!b->done && now() - t0 < seconds) pause_us(500);
    return b->done ? b->when - t0 : -1;
}

static void test_gating_holds_writer(void) {
    ring_t *r = make_reader_ring("gate", 4096, RING_REJECT_WHEN_FULL, 4);
    if (!r) return;
    ring_producer_t *p = NULL;
    ring_consumer_t *g = NULL, *l = NULL;
    OK(f_ring_producer_open(r, &p));
    if (!p) { f_ring_free(r); return; }
    uint8_t msg[100];
    /* No gating reader: the producer reclaims what nobody holds, and is never FULL. */
    int full = 0;
    for (int i = 0; i < 500; i++) { memset(msg, i, sizeof msg); if (f_ring_write(p, msg, sizeof msg) != RING_OK) full++; }
    CHECK(full == 0);
    /* The ring is full of those old records; a gating reader joins after the newest, then the ring fills until FULL. */
    OK(join(r, RING_READER_NEWEST, NULL, 0, &g));
    OK(join(r, RING_READER_LAPPING | RING_READER_NEWEST, NULL, 0, &l));
    if (!g || !l) { free_roles(r, p, g); f_ring_consumer_free(l); return; }
    int written = 0;
    while (written < 1000 && f_ring_write(p, msg, sizeof msg) == RING_OK) written++;
    CHECK(written == 4096 / (int)record_size(100));
    RC(f_ring_write(p, msg, sizeof msg), RING_ERR_FULL);
    pause_us(50000);
    RC(f_ring_write(p, msg, sizeof msg), RING_ERR_FULL);
    /* A lapping reader reading does not make room. */
    uint8_t buf[256];
    size_t len = 0;
    int lread = 0;
    while (f_ring_read(l, buf, sizeof buf, &len) == RING_OK) lread++;
    RC(f_ring_write(p, msg, sizeof msg), RING_ERR_FULL);
    /* A timed write that nobody helps: FULL when its 100 ms are up. */
    double t0 = now();
    RC(f_ring_write_timeout(p, msg, sizeof msg, SECOND / 10), RING_ERR_FULL);
    double timed = now() - t0;
    CHECK(timed >= 0.09 && timed < 1.5);
    /* A write blocked on the gating reader returns OK soon after it reads, in another thread. */
    blocked_write b;
    memset(msg, 0xAB, sizeof msg);
    start_blocked_write(&b, p, msg, sizeof msg, 10 * SECOND);
    pause_us(200000);
    CHECK(!b.done);
    t0 = now();
    OK(f_ring_read(g, buf, sizeof buf, &len));
    double took = wait_blocked_write(&b, t0, 5);
    printf("     %d messages of 100 bytes fill the 4096-byte ring (the lapping reader read %d); a timed write: FULL after %.3f s;\n"
           "     a write blocked on the gating reader: %s %.3f s after it read one message\n",
           written, lread, timed, b.done ? f_ring_strerror(b.rc) : "still blocked", took);
    CHECK(b.done && took < 1.0);
    if (!b.done) { fflush(NULL); _exit(1); }
    pthread_join(b.thread, NULL);
    CHECK(b.rc == RING_OK);
    RC(f_ring_write(p, msg, sizeof msg), RING_ERR_FULL);
    /* The gating reader leaves: nothing gates any more. */
    OK(f_ring_consumer_close(g));
    full = 0;
    for (int i = 0; i < 200; i++) if (f_ring_write(p, msg, sizeof msg) != RING_OK) full++;
    CHECK(full == 0);
    f_ring_consumer_free(g);
    f_ring_consumer_free(l);
    f_ring_producer_free(p);
    f_ring_free(r);
}

/* ---------------------------------------------------------------------- */
/* A gating reader killed with SIGKILL                                      */

/* A reader process that joins (gating; durable if name), reads `stall_after` messages, says 's', then stalls. */
static _Noreturn void stalling_reader(const char *path, const char *name, uint32_t gate_timeout_ms, int stall_after,
                                      int ready_fd) {
    alarm(60);
    ring_t *r = NULL;
    ring_consumer_t *c = NULL;
    int rc = f_ring_open(path, &r);
    if (!rc) rc = join(r, 0, name, gate_timeout_ms, &c);
    if (rc) { fprintf(stderr, "    stalling reader: %s (%s)\n", f_ring_strerror(rc), f_ring_last_error_message()); _exit(1); }
    (void)write_full(ready_fd, "j", 1);
    uint8_t buf[4096];
    size_t len;
    for (int i = 0; i < stall_after; i++) {
        rc = f_ring_read_timeout(c, buf, sizeof buf, &len, 10 * SECOND);
        if (rc) { fprintf(stderr, "    stalling reader: read %d: %s\n", i, f_ring_strerror(rc)); _exit(1); }
    }
    (void)write_full(ready_fd, "s", 1);
    for (;;) pause();
}

/* Writes messages from *next with ring_write_timeout(timeout) until one is FULL (held back): 1 then, 0 on another error. */
static int write_until_held(ring_producer_t *p, const wl_workload *w, uint64_t *next, uint64_t limit, uint8_t *buf) {
    while (*next < limit) {
        size_t len = wl_fill(w, *next, buf);
        int rc = f_ring_write_timeout(p, buf, len, SECOND / 3);
        if (rc == RING_ERR_FULL) return 1;
        if (rc != RING_OK) { RC(rc, RING_OK); return 0; }
        (*next)++;
    }
    return 0;
}

/* A producer (this process) held back by a stalled gating reader A; a second gating reader B reads
 * everything. A is killed: the blocked write completes within the bound, and B misses nothing.
 * durable: A is named, with a gate timeout of 300 ms; it then comes back and counts what it missed. */
static void killed_gating_reader(int durable) {
    const char *name = durable ? "killed-durable" : "killed-anonymous";
    uint32_t gate_ms = durable ? 300 : 10000;
    ring_t *r = make_reader_ring(name, 16384, RING_REJECT_WHEN_FULL, 16);
    if (!r) return;
    ring_geometry_t g;
    OK(f_ring_geometry(r, &g));
    uint64_t produced = long_mode ? 200000 : 5000;
    wl_workload w = { 4242 + (uint64_t)durable, 8, 1024 };
    account_t a = { .w = w, .produced = produced };
    int ready[2];
    if (pipe(ready) != 0) { FAILF("pipe"); f_ring_free(r); return; }
    pid_t stalled = fork_flushed();
    if (stalled == 0) { close(ready[0]); stalling_reader(path_of(name), durable ? "stalled" : NULL, gate_ms, 10, ready[1]); }
    close(ready[1]);
    if (read_byte_within(ready[0], 10) != 'j') { FAILF("the stalling reader did not join"); kill(stalled, SIGKILL); f_ring_free(r); return; }
    reader_spec b = { .role = "gating-B", .api = API_READ_BATCH, .pace_us = 0 };
    if (!start_readers(path_of(name), &b, 1, a, long_mode ? 300 : 60)) { kill(stalled, SIGKILL); f_ring_free(r); return; }
    ring_producer_t *p = NULL;
    OK(f_ring_producer_open(r, &p));
    if (!p) { kill(stalled, SIGKILL); kill(b.pid, SIGKILL); f_ring_free(r); return; }
    uint8_t *buf = malloc(w.max_size + 1);
    uint64_t next = 0;
    int held = write_until_held(p, &w, &next, produced, buf);
    CHECK(held);
    CHECK(read_byte_within(ready[0], 10) == 's');
    /* Who holds the writer back: the stalled reader, its cursor at tailPosition. */
    ring_reader_info_t infos[16];
    ring_info_t info;
    int n = list_readers(r, infos);
    OK(f_ring_info(r, &info));
    const ring_reader_info_t *ai = durable ? info_named(infos, n, "stalled") : NULL;
    for (int i = 0; !ai && i < n; i++) if (infos[i].cursor == info.consumer_position) ai = &infos[i];
    CHECK(n == 2 && ai != NULL);
    uint32_t a_slot = ai ? ai->slot : 99;
    uint64_t a_cursor = ai ? ai->cursor : 0;
    if (ai) {
        CHECK(ai->cursor == info.consumer_position);
        CHECK((ai->flags & RING_READER_INFO_GATING) && (ai->flags & RING_READER_INFO_LIVE));
        CHECK(!!(ai->flags & RING_READER_INFO_DURABLE) == durable);
    }
    /* A write blocked on it; then SIGKILL. */
    blocked_write bw;
    size_t len = wl_fill(&w, next, buf);
    start_blocked_write(&bw, p, buf, len, 10 * SECOND);
    pause_us(200000);
    CHECK(!bw.done);
    double t0 = now();
    kill(stalled, SIGKILL);
    int status;
    waitpid(stalled, &status, 0);
    double took = wait_blocked_write(&bw, t0, 5);
    printf("     %s gating reader (gate timeout %u ms) held the producer at message %llu; SIGKILL: the blocked write %s after %.3f s\n",
           durable ? "durable" : "anonymous", gate_ms, (unsigned long long)next, bw.done ? f_ring_strerror(bw.rc) : "still blocked",
           took);
    CHECK(bw.done);
    if (!bw.done) { fflush(NULL); _exit(1); }
    pthread_join(bw.thread, NULL);
    CHECK(bw.rc == RING_OK);
    CHECK(took < 2.0);
    if (durable) CHECK(took >= gate_ms / 1000.0 - 0.02);
    next++;
    /* The killed reader's slot: still ACTIVE (the producer writes nothing into it), not live. */
    n = list_readers(r, infos);
    const ring_reader_info_t *dead = info_of_slot(infos, n, a_slot);
    CHECK(dead != NULL);
    if (dead) { CHECK(!(dead->flags & RING_READER_INFO_LIVE)); CHECK(dead->cursor == a_cursor); }
    /* The rest of the stream; B gets it all. */
    while (next < produced) {
        len = wl_fill(&w, next, buf);
        int rc = f_ring_write_timeout(p, buf, len, 10 * SECOND);
        if (rc) { RC(rc, RING_OK); break; }
        next++;
    }
    OK(f_ring_producer_close_writer(p));
    finish_readers(&b, 1, long_mode ? 300 : 60);
    check_reader(&b, produced, 1);
    if (durable) {
        /* It comes back by name: it resumes at its cursor, was reclaimed past, and counts what it missed. */
        ring_consumer_t *c = NULL;
        OK(join(r, 0, "stalled", 0, &c));
        if (c) {
            uint64_t index = 0;
            int rc = f_ring_read(c, buf, w.max_size + 1, &len);
            RC(rc, RING_OK);
            if (rc == RING_OK) {
                CHECK(wl_index(buf, len, &index) == 0 && wl_matches(&w, index, buf, len));
                uint64_t m = missed_of(c);
                printf("     the durable reader came back: first message %llu, ring_reader_missed %llu (it had read 10)\n",
                       (unsigned long long)index, (unsigned long long)m);
                CHECK(index > 10);
                CHECK(m == index - 10);
            }
            f_ring_consumer_free(c);
        }
    } else {
        /* The dead anonymous reader's slot is free to the next joiner. */
        ring_consumer_t *c = NULL;
        OK(join(r, RING_READER_LAPPING, NULL, 0, &c));
        n = list_readers(r, infos);
        const ring_reader_info_t *again = info_of_slot(infos, n, a_slot);
        CHECK(n == 1 && again && (again->flags & RING_READER_INFO_LIVE) && !(again->flags & RING_READER_INFO_GATING));
        f_ring_consumer_free(c);
    }
    close(ready[0]);
    free(buf);
    f_ring_producer_free(p);
    f_ring_free(r);
}
static void test_killed_anonymous_gating(void) { killed_gating_reader(0); }
static void test_killed_durable_gating(void) { killed_gating_reader(1); }

/* ---------------------------------------------------------------------- */
/* Durable named readers                                                    */

/* Tries ring_reader_open by `name` in a forked child (its own ring_t); the child's return code. */
static int join_in_child(const char *path, const char *name) {
    pid_t pid = fork_flushed();
    if (pid == 0) {
        alarm(10);
        ring_t *r = NULL;
        ring_consumer_t *c = NULL;
        int rc = f_ring_open(path, &r);
        if (!rc) rc = join(r, 0, name, 0, &c);
        f_ring_consumer_free(c);
        f_ring_free(r);
        _exit(-rc);
    }
    int status = 0;
    if (wait_or_kill(pid, 10, &status) != 0 || !WIFEXITED(status)) return 100;
    return -WEXITSTATUS(status);
}

static void test_durable_readers(void) {
    ring_t *r = make_reader_ring("durable", 65536, RING_REJECT_WHEN_FULL, 16);
    ring_t *r2 = NULL;
    if (!r) return;
    OK(f_ring_open(path_of("durable"), &r2));
    ring_producer_t *p = NULL;
    OK(f_ring_producer_open(r, &p));
    if (!p || !r2) { f_ring_free(r); f_ring_free(r2); return; }
    ring_consumer_t *alpha = NULL, *again = NULL, *anon = NULL;
    OK(join(r, 0, "alpha", 0, &alpha));
    if (!alpha) { f_ring_producer_free(p); f_ring_free(r); f_ring_free(r2); return; }
    /* The name is in use: BUSY from the same ring_t, another ring_t, another process. */
    RC(join(r, 0, "alpha", 0, &again), RING_ERR_BUSY);
    CHECK(again == NULL);
    RC(join(r2, RING_READER_LAPPING, "alpha", 0, &again), RING_ERR_BUSY);
    RC(join_in_child(path_of("durable"), "alpha"), RING_ERR_BUSY);
    OK(join(r2, RING_READER_LAPPING, NULL, 0, &anon));
    /* Ten messages of 24 bytes (records of 40); alpha reads four. */
    uint8_t msg[24], buf[64];
    wl_workload w = { 99, 24, 24 };
    for (uint64_t i = 0; i < 10; i++) { wl_fill(&w, i, msg); OK(f_ring_write(p, msg, sizeof msg)); }
    size_t len = 0;
    uint64_t index = 0;
    for (uint64_t i = 0; i < 4; i++) {
        OK(f_ring_read(alpha, buf, sizeof buf, &len));
        CHECK(len == 24 && wl_index(buf, len, &index) == 0 && index == i && wl_matches(&w, i, buf, len));
    }
    ring_reader_info_t infos[16];
    int n = list_readers(r, infos);
    CHECK(n == 2);
    const ring_reader_info_t *ai = info_named(infos, n, "alpha"), *ni = info_named(infos, n, "");
    CHECK(ai && ni);
    if (ai) {
        CHECK(ai->flags == (RING_READER_INFO_GATING | RING_READER_INFO_DURABLE | RING_READER_INFO_LIVE));
        CHECK(ai->cursor == 4 * record_size(24));
        CHECK(ai->lag_bytes == 6 * record_size(24));
        CHECK(ai->missed_count == 0);
        printf("     alpha: slot %u flags 0x%x cursor %llu lag %llu missed %llu\n", ai->slot, ai->flags,
               (unsigned long long)ai->cursor, (unsigned long long)ai->lag_bytes, (unsigned long long)ai->missed_count);
    }
    if (ni) CHECK(ni->flags == RING_READER_INFO_LIVE && ni->cursor == 0 && ni->lag_bytes == 10 * record_size(24));
    /* The table as another open and another process see it: alpha is live there too. */
    n = list_readers(r2, infos);
    ai = info_named(infos, n, "alpha");
    CHECK(n == 2 && ai && (ai->flags & RING_READER_INFO_LIVE));
    /* A small infos array: *count says how many there are. */
    size_t count = 0;
    OK(f_ring_readers(r, infos, 1, &count));
    CHECK(count == 2);
    OK(f_ring_readers(r, NULL, 0, &count));
    CHECK(count == 2);
    /* alpha closes: its slot stays, not live, cursor kept; the name is free again. */
    f_ring_consumer_free(alpha);
    alpha = NULL;
    n = list_readers(r, infos);
    ai = info_named(infos, n, "alpha");
    CHECK(n == 2 && ai);
    if (ai) {
        CHECK(ai->flags == (RING_READER_INFO_GATING | RING_READER_INFO_DURABLE));
        CHECK(ai->cursor == 4 * record_size(24));
    }
    /* Reopened (from another ring_t) it resumes at the next message, 4. */
    OK(join(r2, 0, "alpha", 0, &alpha));
    if (alpha) {
        OK(f_ring_read(alpha, buf, sizeof buf, &len));
        CHECK(len == 24 && wl_index(buf, len, &index) == 0 && index == 4);
        CHECK(missed_of(alpha) == 0);
        n = list_readers(r, infos);
        ai = info_named(infos, n, "alpha");
        CHECK(ai && ai->flags == (RING_READER_INFO_GATING | RING_READER_INFO_DURABLE | RING_READER_INFO_LIVE)
              && ai->cursor == 5 * record_size(24));
        RC(join(r, 0, "alpha", 0, &again), RING_ERR_BUSY);
        f_ring_consumer_free(alpha);
    }
    /* From another process: it resumes at 5 there. */
    pid_t pid = fork_flushed();
    if (pid == 0) {
        alarm(10);
        failures_in_test = 0;
        ring_t *cr = NULL;
        ring_consumer_t *c = NULL;
        OK(f_ring_open(path_of("durable"), &cr));
        if (cr) OK(join(cr, 0, "alpha", 0, &c));
        if (c) {
            OK(f_ring_read(c, buf, sizeof buf, &len));
            CHECK(len == 24 && wl_index(buf, len, &index) == 0 && index == 5);
        }
        f_ring_consumer_free(c);
        f_ring_free(cr);
        child_end();
    }
    int status = 0;
    CHECK(wait_or_kill(pid, 10, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The anonymous reader closes: its slot is freed. */
    f_ring_consumer_free(anon);
    n = list_readers(r, infos);
    CHECK(n == 1 && info_named(infos, n, "alpha") && info_named(infos, n, "alpha")->cursor == 6 * record_size(24));
    f_ring_producer_free(p);
    f_ring_free(r2);
    f_ring_free(r);
}

/* A durable lapping reader away while the producer laps it: back by name, it counts exactly what it missed,
 * and ring_readers shows that count. */
static void test_durable_lapped_while_away(void) {
    ring_t *r = make_reader_ring("away", 4096, RING_OVERWRITE_OLDEST, 16);
    if (!r) return;
    ring_producer_t *p = NULL;
    ring_consumer_t *c = NULL;
    OK(f_ring_producer_open(r, &p));
    OK(join(r, RING_READER_LAPPING, "beta", 0, &c));
    if (!p || !c) { free_roles(r, p, c); return; }
    wl_workload w = { 7, 100, 100 };
    uint8_t msg[100], buf[256];
    size_t len = 0;
    uint64_t index = 0, i = 0;
    for (; i < 3; i++) { wl_fill(&w, i, msg); OK(f_ring_write(p, msg, sizeof msg)); }
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(wl_index(buf, len, &index) == 0 && index == 0);
    f_ring_consumer_free(c);
    c = NULL;
    for (; i < 200; i++) { wl_fill(&w, i, msg); OK(f_ring_write(p, msg, sizeof msg)); }
    ring_info_t info;
    OK(f_ring_info(r, &info));
    OK(join(r, RING_READER_LAPPING, "beta", 0, &c));
    if (!c) { free_roles(r, p, c); return; }
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == 100 && wl_index(buf, len, &index) == 0 && wl_matches(&w, index, buf, len));
    uint64_t m = missed_of(c);
    printf("     beta read message 0, went away for 197 messages (dropped_count %llu); back: message %llu, missed %llu\n",
           (unsigned long long)info.dropped_count, (unsigned long long)index, (unsigned long long)m);
    CHECK(index > 1 && m == index - 1);
    ring_reader_info_t infos[16];
    int n = list_readers(r, infos);
    const ring_reader_info_t *bi = info_named(infos, n, "beta");
    CHECK(n == 1 && bi);
    if (bi) {
        CHECK(bi->missed_count == m);
        CHECK(bi->flags == (RING_READER_INFO_DURABLE | RING_READER_INFO_LIVE));
    }
    /* Lapped while joined, too: the count goes on. */
    for (; i < 400; i++) { wl_fill(&w, i, msg); OK(f_ring_write(p, msg, sizeof msg)); }
    uint64_t before = index;
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(wl_index(buf, len, &index) == 0 && index > before + 1);
    CHECK(missed_of(c) == m + (index - before - 1));
    free_roles(r, p, c);
}

/* ---------------------------------------------------------------------- */
/* Errors and geometry                                                      */

static void test_errors(void) {
    ring_consumer_t *c = NULL;
    ring_reader_options_t o = RING_READER_OPTIONS_INIT;
    uint16_t major = 0, minor = 0;
    f_ring_format_version(&major, &minor);
    CHECK(major == 1 && minor == 1);
    /* A 1.0 ring: no reader table. */
    ring_t *old = make_ring("v10", 4096, RING_REJECT_WHEN_FULL);
    if (old) {
        ring_geometry_t g;
        OK(f_ring_geometry(old, &g));
        CHECK(g.version_major == 1 && g.version_minor == 0 && g.reader_slots == 0);
        RC(f_ring_reader_open(old, &o, &c), RING_ERR_INVALID_ARGUMENT);
        CHECK(c == NULL);
        RC(f_ring_reader_open(old, NULL, &c), RING_ERR_INVALID_ARGUMENT);
        size_t count = 99;
        OK(f_ring_readers(old, NULL, 0, &count));
        CHECK(count == 0);
        ring_consumer_t *consumer = NULL;
        OK(f_ring_consumer_open(old, &consumer));
        uint64_t m = 99;
        if (consumer) { OK(f_ring_reader_missed(consumer, &m)); CHECK(m == 0); }
        f_ring_consumer_free(consumer);
        f_ring_free(old);
    }
    /* reader_slots 0 is a 1.0 ring; too many slots is INVALID_ARGUMENT. */
    ring_t *r = NULL;
    unlink(path_of("zero"));
    OK(f_ring_create_readers(path_of("zero"), 4096, RING_REJECT_WHEN_FULL, 0600, 0, 0, 0, &r));
    if (r) {
        ring_geometry_t g;
        OK(f_ring_geometry(r, &g));
        CHECK(g.version_minor == 0 && g.reader_slots == 0 && g.header_size == 4096);
        f_ring_free(r);
        r = NULL;
    }
    unlink(path_of("many"));
    RC(f_ring_create_readers(path_of("many"), 4096, RING_REJECT_WHEN_FULL, 0600, 0, 497, 0, &r), RING_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL && access(path_of("many"), F_OK) != 0);
    /* Geometry: slots and the header they need (SPEC.md §17.1). */
    static const struct { uint32_t slots, header; } sizes[] = { { 1, 4096 }, { 16, 4096 }, { 17, 8192 }, { 48, 8192 }, { 49, 16384 }, { 496, 65536 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        r = make_reader_ring("sizes", 4096, RING_REJECT_WHEN_FULL, sizes[i].slots);
        if (!r) continue;
        ring_geometry_t g;
        OK(f_ring_geometry(r, &g));
        CHECK(g.version_major == 1 && g.version_minor == 1);
        CHECK(g.reader_slots == sizes[i].slots);
        CHECK(g.header_size == sizes[i].header);
        CHECK(g.max_message_size == 4096 / 2 - 16);
        if (g.reader_slots != sizes[i].slots || g.header_size != sizes[i].header)
            fprintf(stderr, "    %u slots: geometry reader_slots %u header_size %u (expected %u)\n", sizes[i].slots, g.reader_slots,
                    g.header_size, sizes[i].header);
        ring_info_t info;
        OK(f_ring_info(r, &info));
        CHECK(info.version_minor == 1 && info.header_size == sizes[i].header);
        f_ring_free(r);
        ring_t *again = NULL;
        OK(f_ring_open(path_of("sizes"), &again));
        if (again) { OK(f_ring_geometry(again, &g)); CHECK(g.reader_slots == sizes[i].slots); f_ring_free(again); }
    }
    /* A ring with readers: no consumer role; the producer role is as ever. */
    r = make_reader_ring("errors", 4096, RING_REJECT_WHEN_FULL, 16);
    if (!r) return;
    ring_consumer_t *consumer = NULL;
    RC(f_ring_consumer_open(r, &consumer), RING_ERR_INVALID_ARGUMENT);
    CHECK(consumer == NULL);
    ring_producer_t *p = NULL;
    OK(f_ring_producer_open(r, &p));
    /* Bad arguments. */
    RC(f_ring_reader_open(r, &o, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_reader_open(NULL, &o, &c), RING_ERR_INVALID_ARGUMENT);
    o.size = 0;
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    o.size = sizeof o - 1;
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    /* A larger structure (a caller built against a later header): its extra fields must be zero (ringformat.h). */
    struct { ring_reader_options_t o; uint64_t newer_field; } bigger = { RING_READER_OPTIONS_INIT, ~0ULL };
    bigger.o.size = sizeof bigger;
    c = NULL;
    RC(f_ring_reader_open(r, &bigger.o, &c), RING_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    bigger.newer_field = 0;
    OK(f_ring_reader_open(r, &bigger.o, &c));
    f_ring_consumer_free(c);
    c = NULL;
    o = (ring_reader_options_t)RING_READER_OPTIONS_INIT;
    o.flags = 4;
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    o.flags = 0;
    RC(f_ring_reader_missed(NULL, NULL), RING_ERR_INVALID_ARGUMENT);
    size_t count = 0;
    RC(f_ring_readers(r, NULL, 1, &count), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_readers(r, NULL, 0, NULL), RING_ERR_INVALID_ARGUMENT);
    /* All 16 slots taken: BUSY; one freed: the next joiner gets it. */
    ring_consumer_t *readers[16] = { 0 };
    int opened = 0;
    for (int i = 0; i < 16; i++) {
        o.flags = i % 2 ? RING_READER_LAPPING : 0;
        if (f_ring_reader_open(r, &o, &readers[i]) == RING_OK) opened++;
    }
    CHECK(opened == 16);
    RC(f_ring_reader_open(r, NULL, &c), RING_ERR_BUSY);
    CHECK(c == NULL);
    o.name = "durable";
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_BUSY);
    o.name = NULL;
    RC(join_in_child(path_of("errors"), NULL), RING_ERR_BUSY);
    f_ring_consumer_free(readers[5]);
    readers[5] = NULL;
    OK(f_ring_reader_open(r, NULL, &readers[5]));
    ring_reader_info_t infos[16];
    CHECK(list_readers(r, infos) == 16);
    for (int i = 0; i < 16; i++) f_ring_consumer_free(readers[i]);
    CHECK(list_readers(r, infos) == 0);
    /* Names: 64 bytes is too long, 63 is the longest; not UTF-8 is refused. (A durable reader's slot stays
     * when it closes: done last, as nothing in the C ABI gives a name up.) */
    char name[80];
    memset(name, 'n', sizeof name);
    name[64] = 0; /* 64 bytes */
    o.name = name;
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    CHECK(list_readers(r, infos) == 0);
    name[63] = 0; /* 63 bytes: the longest name */
    OK(f_ring_reader_open(r, &o, &c));
    if (c) {
        int n = list_readers(r, infos);
        CHECK(n == 1 && strlen(infos[0].name) == 63 && memcmp(infos[0].name, name, 63) == 0);
        f_ring_consumer_free(c);
        c = NULL;
    }
    o.name = "\xff\xfe not UTF-8";
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    o.name = NULL;
    f_ring_producer_free(p);
    /* A closed ring_t: CLOSED. */
    OK(f_ring_close(r));
    RC(f_ring_reader_open(r, NULL, &c), RING_ERR_CLOSED);
    RC(f_ring_readers(r, infos, 16, &count), RING_ERR_CLOSED);
    f_ring_free(r);
    /* Overwrite-oldest: every reader laps; asking for a gating one is INVALID_ARGUMENT. */
    r = make_reader_ring("errors-ow", 4096, RING_OVERWRITE_OLDEST, 4);
    if (!r) return;
    o = (ring_reader_options_t)RING_READER_OPTIONS_INIT;
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_reader_open(r, NULL, &c), RING_ERR_INVALID_ARGUMENT);
    o.name = "gating-durable";
    RC(f_ring_reader_open(r, &o, &c), RING_ERR_INVALID_ARGUMENT);
    o.flags = RING_READER_LAPPING;
    OK(f_ring_reader_open(r, &o, &c));
    f_ring_consumer_free(c);
    RC(f_ring_consumer_open(r, &consumer), RING_ERR_INVALID_ARGUMENT);
    f_ring_free(r);
}

/* RING_READER_NEWEST: only what comes after the join; a gating reader from the newest gates from there. */
static void test_newest(void) {
    ring_t *r = make_reader_ring("newest", 4096, RING_REJECT_WHEN_FULL, 4);
    if (!r) return;
    ring_producer_t *p = NULL;
    ring_consumer_t *oldest = NULL, *newest = NULL;
    OK(f_ring_producer_open(r, &p));
    if (!p) { f_ring_free(r); return; }
    wl_workload w = { 3, 40, 40 };
    uint8_t msg[40], buf[64];
    size_t len;
    uint64_t index;
    OK(join(r, RING_READER_LAPPING, NULL, 0, &oldest));
    for (uint64_t i = 0; i < 5; i++) { wl_fill(&w, i, msg); OK(f_ring_write(p, msg, sizeof msg)); }
    OK(join(r, RING_READER_NEWEST, NULL, 0, &newest));
    if (!newest || !oldest) { free_roles(r, p, newest); f_ring_consumer_free(oldest); return; }
    RC(f_ring_read(newest, buf, sizeof buf, &len), RING_ERR_EMPTY);
    RC(f_ring_read_timeout(newest, buf, sizeof buf, &len, SECOND / 20), RING_ERR_EMPTY);
    wl_fill(&w, 5, msg);
    OK(f_ring_write(p, msg, sizeof msg));
    OK(f_ring_read(newest, buf, sizeof buf, &len));
    CHECK(wl_index(buf, len, &index) == 0 && index == 5);
    OK(f_ring_read(oldest, buf, sizeof buf, &len));
    CHECK(wl_index(buf, len, &index) == 0 && index == 0);
    CHECK(missed_of(newest) == 0 && missed_of(oldest) == 0);
    /* End of stream: each reader drains, then END_OF_STREAM, again and again. */
    OK(f_ring_producer_close_writer(p));
    RC(f_ring_read(newest, buf, sizeof buf, &len), RING_ERR_END_OF_STREAM);
    RC(f_ring_wait(newest, 0), RING_OK);
    int more = 0;
    while (f_ring_read(oldest, buf, sizeof buf, &len) == RING_OK) more++;
    CHECK(more == 5);
    RC(f_ring_read(oldest, buf, sizeof buf, &len), RING_ERR_END_OF_STREAM);
    RC(f_ring_read(oldest, buf, sizeof buf, &len), RING_ERR_END_OF_STREAM);
    f_ring_consumer_free(oldest);
    f_ring_consumer_free(newest);
    f_ring_producer_free(p);
    f_ring_free(r);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *only;
    if (suite_setup(argc, argv, "readers", &long_mode, &only) != 0) return 2;
    int race_seconds = long_mode ? 700 : 90;

    test_case tests[] = {
        { "errors_and_geometry", test_errors, 20 },
        { "newest_and_end_of_stream", test_newest, 10 },
        { "broadcast_gating_readers_every_message", test_broadcast, race_seconds },
        { "lapping_readers_overwrite_oldest", test_lapping_overwrite, race_seconds },
        { "lapping_readers_reject_never_full", test_lapping_reject, race_seconds },
        { "gating_reader_holds_writer_back", test_gating_holds_writer, 15 },
        { "killed_anonymous_gating_reader", test_killed_anonymous_gating, race_seconds },
        { "killed_durable_gating_reader_gate_timeout", test_killed_durable_gating, race_seconds },
        { "durable_named_readers", test_durable_readers, 20 },
        { "durable_reader_lapped_while_away", test_durable_lapped_while_away, 10 },
    };
    return RUN_TESTS(tests, only, "readers");
}
