/*
 * test_producers.c - several producers of one ring (format 1.1, SPEC.md §18)
 * through the C ABI: ring_create_shared, ring_producer_open taking a producer
 * slot, ring_producer_slots, ring_producers.
 *
 *   test_producers [LIBRARY] [--long] [--only NAME]
 *
 * The library is dlopened (argv[1], else $RINGFORMAT_LIB). Each test runs in
 * its own forked process with an alarm and a wall-clock limit in the parent.
 * RING_RACE_LONG=1 (or --long) writes ten times as many messages.
 *
 * Racing tests: producer PROCESSES are forked before the ring exists; each
 * opens the ring itself (ring_open, ring_producer_open: a slot), says it is
 * ready, waits for the start, writes its messages with one API and closes the
 * stream (the last one to close ends it, SPEC.md §18.8). The parent consumes
 * until END_OF_STREAM. Message i of producer p has index p << 32 | i in bytes
 * 0..7, a length and body derived from the index and an FNV-1a checksum in its
 * last 8 bytes. Checked: every message is whole (length, body, checksum), each
 * producer's arrive in order with none missing or twice, received == produced.
 *
 * Dead and stopped producers (SPEC.md §18.7) use the core's test hook
 * RINGFORMAT_TEST_STOP_AT=claimed|stamped|written|committed:n (the producer
 * raises SIGSTOP the n-th time it reaches that step of a write); a controller
 * thread in the parent waits for the stop (waitpid WUNTRACED) and SIGKILLs the
 * producer at once, or SIGCONTs it 2.5 s later.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "workload.h"

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_create_shared) X(ring_open) X(ring_geometry) \
    X(ring_info) X(ring_close) X(ring_free) X(ring_producer_slots) X(ring_producers) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_write_batch) X(ring_reserve) X(ring_commit) \
    X(ring_abort) X(ring_producer_close_writer) X(ring_producer_close) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_consumer_free) X(ring_reader_open)
#include "test_harness.h"

static int long_mode;

#define SECOND 1000000000LL
#define MIN_LEN 24
#define MAX_LEN 256
#define MAX_PRODUCERS 16
#define BATCH 16
/* Positions start just below 2^32 in the *_past_2_32 tests. */
#define START_PAST_2_32 4294963200ULL

/* ---------------------------------------------------------------------- */
/* Self-checking messages                                                  */

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t v = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++) v = (v ^ p[i]) * 0x100000001B3ULL;
    return v;
}

static uint64_t index_of(uint32_t producer, uint64_t i) { return (uint64_t)producer << 32 | i; }

/* Length of the message with this index: MIN_LEN..MAX_LEN. */
static size_t msg_size(uint64_t index) { return MIN_LEN + (size_t)(wl_splitmix64(index) % (MAX_LEN - MIN_LEN + 1)); }

/* The message with this index into buf (MAX_LEN bytes): the index, a body derived from it, its checksum. */
static size_t msg_fill(uint64_t index, uint8_t *buf) {
    size_t n = msg_size(index);
    uint64_t h = wl_splitmix64(index ^ 0x5BD1E9955BD1E995ULL);
    for (int b = 0; b < 8; b++) buf[b] = (uint8_t)(index >> (8 * b));
    for (size_t j = 8; j < n - 8; j++) buf[j] = (uint8_t)((h >> ((j & 7) * 8)) ^ j);
    uint64_t c = fnv1a(buf, n - 8);
    for (int b = 0; b < 8; b++) buf[n - 8 + b] = (uint8_t)(c >> (8 * b));
    return n;
}

/* 1 if buf[0..len) is one whole message (its index in *index), else 0. */
static int msg_whole(const uint8_t *buf, size_t len, uint64_t *index) {
    if (len < MIN_LEN || len > MAX_LEN) return 0;
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--) v = (v << 8) | buf[b];
    *index = v;
    uint64_t c = 0;
    for (int b = 7; b >= 0; b--) c = (c << 8) | buf[len - 8 + b];
    if (c != fnv1a(buf, len - 8)) return 0;
    uint8_t want[MAX_LEN];
    return msg_fill(v, want) == len && memcmp(want, buf, len) == 0;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */


/* A new shared ring dir/name (an old file of that name removed first), or NULL with the failure counted. */
static ring_t *make_shared(const char *name, uint64_t capacity, uint32_t reader_slots, uint32_t producer_slots,
                           uint64_t initial_position) {
    ring_t *r = NULL;
    unlink(path_of(name));
    OK(f_ring_create_shared(path_of(name), capacity, RING_REJECT_WHEN_FULL, 0600, 0, reader_slots, producer_slots,
                            initial_position, &r));
    return r;
}

/* The producer table: fills infos[0..16), returns how many entries there are (-1 on failure, counted). */
static int list_producers(ring_t *r, ring_producer_info_t *infos) {
    size_t count = 0;
    int rc = f_ring_producers(r, infos, MAX_PRODUCERS, &count);
    if (rc != RING_OK) { RC(rc, RING_OK); return -1; }
    return (int)count;
}

/* ---------------------------------------------------------------------- */
/* Producer processes                                                      */

enum api { API_TIMEOUT, API_NONBLOCKING, API_BATCH, API_RESERVE };
static const char *api_names[] = { "ring_write_timeout", "ring_write", "ring_write_batch", "ring_reserve+ring_commit" };

/* A producer process: its number (its messages' high 32 bits), how many it writes, with which API,
 * and a RINGFORMAT_TEST_STOP_AT value (NULL: none). */
typedef struct producer_spec {
    uint32_t id;
    uint64_t count;
    enum api api;
    const char *stop_at;
    pid_t pid;
    int status;
} producer_spec;

/* The pipes between the parent and its producers: `created` (the ring exists: open it), `ready`
 * (a producer holds its slot: 'r', or 'x' if it could not open), `go` (start writing). */
typedef struct gates { int created[2], ready[2], go[2]; } gates;

/* Waits (in a producer) for a byte from the parent on fd; exits if none comes within 30 s. */
static void wait_gate(int fd, const char *what) {
    if (read_byte_within(fd, 30) < 0) { fprintf(stderr, "    producer: no '%s' from the parent\n", what); _exit(1); }
}

/* Reports a failed call of a producer and exits. */
static _Noreturn void producer_failed(const producer_spec *s, const char *call, uint64_t i, int rc) {
    fprintf(stderr, "    producer %u (%s): message %llu: %s returned %d %s (%s)\n", s->id, api_names[s->api],
            (unsigned long long)i, call, rc, f_ring_strerror(rc), f_ring_last_error_message());
    _exit(1);
}

/* Writes message i with API_TIMEOUT, API_NONBLOCKING or API_RESERVE (retrying FULL for up to 30 s). */
static void write_one(const producer_spec *s, ring_producer_t *p, uint64_t i) {
    uint8_t buf[MAX_LEN];
    size_t len = msg_fill(index_of(s->id, i), buf);
    double deadline = now() + 30;
    int rc;
    switch (s->api) {
    case API_TIMEOUT:
        if ((rc = f_ring_write_timeout(p, buf, len, 30 * SECOND)) != RING_OK) producer_failed(s, "ring_write_timeout", i, rc);
        return;
    case API_NONBLOCKING:
        while ((rc = f_ring_write(p, buf, len)) == RING_ERR_FULL && now() < deadline) sched_yield();
        if (rc != RING_OK) producer_failed(s, "ring_write", i, rc);
        return;
    case API_RESERVE:
        for (int abandon = i % 50 == 7;;) {
            void *dst = NULL;
            /* Always the largest reservation: most commits are shorter (a filler ends the claim). */
            rc = f_ring_reserve(p, MAX_LEN, &dst);
            if (rc == RING_ERR_FULL && now() < deadline) { sched_yield(); continue; }
            if (rc != RING_OK) producer_failed(s, "ring_reserve", i, rc);
            if (abandon) {
                /* An abandoned reservation: its claim is cancelled and skipped by the consumer; then
                 * this message is reserved anew. */
                memset(dst, 0xEE, MAX_LEN);
                if ((rc = f_ring_abort(p)) != RING_OK) producer_failed(s, "ring_abort", i, rc);
                abandon = 0;
                continue;
            }
            memcpy(dst, buf, len);
            if ((rc = f_ring_commit(p, len)) != RING_OK) producer_failed(s, "ring_commit", i, rc);
            return;
        }
    case API_BATCH:
        break;
    }
}

/* Writes messages from..to-1 with ring_write_batch, BATCH at a time, retrying what did not fit. */
static void write_batches(const producer_spec *s, ring_producer_t *p, uint64_t count) {
    static uint8_t bufs[BATCH][MAX_LEN];
    ring_message_t msgs[BATCH];
    for (uint64_t i = 0; i < count;) {
        size_t n = count - i < BATCH ? (size_t)(count - i) : BATCH;
        for (size_t k = 0; k < n; k++) msgs[k] = (ring_message_t){ bufs[k], msg_fill(index_of(s->id, i + k), bufs[k]) };
        size_t done = 0;
        double deadline = now() + 30;
        while (done < n) {
            size_t written = 0;
            int rc = f_ring_write_batch(p, msgs + done, n - done, &written);
            if (rc != RING_OK) producer_failed(s, "ring_write_batch", i + done, rc);
            done += written;
            if (written == 0) {
                if (now() > deadline) producer_failed(s, "ring_write_batch (30 s without room)", i + done, RING_ERR_FULL);
                sched_yield();
            }
        }
        i += n;
    }
}

/* A producer process: waits for the ring, opens it and a producer slot, says so, waits for the start,
 * writes its messages and closes the stream. */
static _Noreturn void producer_process(const char *path, const producer_spec *s, const gates *g) {
    alarm(long_mode ? 600 : 120);
    failures_in_test = 0;
    close(g->ready[0]);
    if (s->stop_at) setenv("RINGFORMAT_TEST_STOP_AT", s->stop_at, 1);
    wait_gate(g->created[0], "created");
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    int rc = f_ring_open(path, &r);
    if (!rc) rc = f_ring_producer_open(r, &p);
    if (rc) {
        fprintf(stderr, "    producer %u: open: %s (%s)\n", s->id, f_ring_strerror(rc), f_ring_last_error_message());
        (void)write_full(g->ready[1], "x", 1);
        _exit(1);
    }
    (void)write_full(g->ready[1], "r", 1);
    wait_gate(g->go[0], "go");
    if (s->api == API_BATCH) write_batches(s, p, s->count);
    else for (uint64_t i = 0; i < s->count; i++) write_one(s, p, i);
    if ((rc = f_ring_producer_close_writer(p)) != RING_OK) producer_failed(s, "ring_producer_close_writer", s->count, rc);
    f_ring_producer_free(p);
    f_ring_free(r);
    child_end();
}

/* Forks the producers of specs[0..n) (before the ring exists). */
static int fork_producers(const char *path, producer_spec *specs, int n, gates *g) {
    if (pipe(g->created) || pipe(g->ready) || pipe(g->go)) { FAILF("pipe: %s", strerror(errno)); return 0; }
    for (int i = 0; i < n; i++) {
        specs[i].pid = fork_flushed();
        if (specs[i].pid < 0) { FAILF("fork: %s", strerror(errno)); return 0; }
        if (specs[i].pid == 0) producer_process(path, &specs[i], g);
    }
    close(g->ready[1]);
    return 1;
}

/* Tells the producers the ring exists, waits until each holds a slot: 1 if all do. */
static int producers_ready(int n, gates *g) {
    for (int i = 0; i < n; i++) (void)write_full(g->created[1], "c", 1);
    int ready = 0;
    for (int i = 0; i < n; i++) {
        int b = read_byte_within(g->ready[0], 30);
        if (b == 'r') ready++;
        else { FAILF("a producer did not open (%s)", b < 0 ? "no word within 30 s" : "its open failed"); break; }
    }
    return ready == n;
}

/* Starts the producers. */
static void producers_go(int n, gates *g) {
    for (int i = 0; i < n; i++) (void)write_full(g->go[1], "g", 1);
}

/* Waits for every producer but `skip` (a pid, or 0) and checks that it exited 0. */
static void finish_producers(producer_spec *specs, int n, pid_t skip, double seconds) {
    for (int i = 0; i < n; i++) {
        if (specs[i].pid <= 0 || specs[i].pid == skip) continue;
        if (wait_or_kill(specs[i].pid, seconds, &specs[i].status) != 0) FAILF("producer %u had to be killed", specs[i].id);
        else if (!WIFEXITED(specs[i].status) || WEXITSTATUS(specs[i].status) != 0)
            FAILF("producer %u (%s) failed: status 0x%x", specs[i].id, api_names[specs[i].api], specs[i].status);
    }
}

static void close_gates(gates *g) {
    close(g->created[0]); close(g->created[1]); close(g->ready[0]); close(g->go[0]); close(g->go[1]);
}

/* ---------------------------------------------------------------------- */
/* The consumer                                                            */

/* One message as it arrived: when, and its index. */
typedef struct arrival { double at; uint64_t index; } arrival;

/* What the consumer received: per producer the next index expected, every arrival, the bad ones. */
typedef struct tally {
    uint32_t producers;
    uint64_t next[MAX_PRODUCERS];
    uint64_t received, torn, out_of_order;
    arrival *arrivals;
    size_t arrivals_capacity;
    double started, ended;
} tally;

/* Reads with ring_read_timeout until END_OF_STREAM (or `idle` seconds with nothing, a failure). */
static void consume_all(ring_consumer_t *c, tally *t, double idle) {
    uint8_t buf[MAX_LEN + 64];
    size_t len;
    double last = now();
    t->started = last;
    for (;;) {
        int rc = f_ring_read_timeout(c, buf, sizeof buf, &len, SECOND / 10);
        double at = now();
        if (rc == RING_ERR_END_OF_STREAM) break;
        if (rc == RING_ERR_EMPTY) {
            if (at - last > idle) { FAILF("consumer: nothing for %.0f s after %llu messages", idle, (unsigned long long)t->received); break; }
            continue;
        }
        if (rc != RING_OK) { RC(rc, RING_OK); break; }
        last = at;
        uint64_t index = 0;
        if (!msg_whole(buf, len, &index)) {
            if (t->torn++ < 5) FAILF("consumer: message %llu is torn (%zu bytes, index 0x%llx)", (unsigned long long)t->received, len,
                                    (unsigned long long)index);
            continue;
        }
        uint32_t p = (uint32_t)(index >> 32);
        uint64_t i = index & 0xFFFFFFFFULL;
        if (p >= t->producers || i != t->next[p]) {
            if (t->out_of_order++ < 5)
                FAILF("consumer: producer %u's message %llu arrived, expected %llu", p, (unsigned long long)i,
                      (unsigned long long)(p < t->producers ? t->next[p] : 0));
            if (p < t->producers && i >= t->next[p]) t->next[p] = i + 1;
        } else {
            t->next[p]++;
        }
        if (t->received < t->arrivals_capacity) t->arrivals[t->received] = (arrival){ at, index };
        t->received++;
    }
    t->ended = now();
}

static void tally_init(tally *t, uint32_t producers, uint64_t capacity) {
    memset(t, 0, sizeof *t);
    t->producers = producers;
    t->arrivals_capacity = capacity;
    t->arrivals = calloc(capacity, sizeof *t->arrivals);
}

/* The longest wait between two arrivals (or since the start), and when it ended. */
static double longest_gap(const tally *t, double *ended) {
    double gap = 0, prev = t->started;
    size_t n = t->received < t->arrivals_capacity ? t->received : t->arrivals_capacity;
    *ended = prev;
    for (size_t k = 0; k < n; k++) {
        if (t->arrivals[k].at - prev > gap) { gap = t->arrivals[k].at - prev; *ended = t->arrivals[k].at; }
        prev = t->arrivals[k].at;
    }
    return gap;
}

/* The first arrival after time `after` whose wait since the previous arrival is at least `min_gap`
 * seconds: its position in the arrivals, or -1. */
static long first_gap_after(const tally *t, double after, double min_gap) {
    size_t n = t->received < t->arrivals_capacity ? t->received : t->arrivals_capacity;
    for (size_t k = 1; k < n; k++)
        if (t->arrivals[k].at > after && t->arrivals[k].at - t->arrivals[k - 1].at >= min_gap) return (long)k;
    return -1;
}

/* Where producer p's message i arrived (position in the arrivals), or -1. */
static long arrival_of(const tally *t, uint32_t p, uint64_t i) {
    size_t n = t->received < t->arrivals_capacity ? t->received : t->arrivals_capacity;
    for (size_t k = 0; k < n; k++) if (t->arrivals[k].index == index_of(p, i)) return (long)k;
    return -1;
}

/* ---------------------------------------------------------------------- */
/* (a) Four producer processes, every message once                          */

static void several_producers(uint64_t initial_position) {
    uint64_t count = long_mode ? 200000 : 20000;
    producer_spec specs[] = {
        { 0, count, API_TIMEOUT, NULL, 0, 0 },
        { 1, count, API_BATCH, NULL, 0, 0 },
        { 2, count, API_RESERVE, NULL, 0, 0 },
        { 3, count, API_NONBLOCKING, NULL, 0, 0 },
    };
    int n = 4;
    gates g;
    const char *path = path_of(initial_position ? "four-past-2-32" : "four");
    char saved[512];
    snprintf(saved, sizeof saved, "%s", path);
    unlink(saved);
    if (!fork_producers(saved, specs, n, &g)) return;
    /* The ring is made only now, after the producers were forked. */
    ring_t *r = NULL;
    OK(f_ring_create_shared(saved, 65536, RING_REJECT_WHEN_FULL, 0600, 0, 0, 4, initial_position, &r));
    ring_consumer_t *c = NULL;
    if (r) OK(f_ring_consumer_open(r, &c));
    if (!r || !c || !producers_ready(n, &g)) { for (int i = 0; i < n; i++) kill(specs[i].pid, SIGKILL); finish_producers(specs, n, 0, 5); return; }
    ring_producer_info_t infos[MAX_PRODUCERS];
    int listed = list_producers(r, infos);
    CHECK(listed == 4);
    for (int i = 0; i < listed; i++) CHECK(infos[i].flags & RING_PRODUCER_INFO_LIVE);
    tally t;
    tally_init(&t, (uint32_t)n, (size_t)count * (size_t)n + 16);
    producers_go(n, &g);
    consume_all(c, &t, 30);
    finish_producers(specs, n, 0, 30);
    uint64_t produced = 0;
    for (int i = 0; i < n; i++) {
        produced += specs[i].count;
        if (t.next[i] != specs[i].count)
            FAILF("producer %d (%s): %llu of %llu messages arrived", i, api_names[specs[i].api], (unsigned long long)t.next[i],
                  (unsigned long long)specs[i].count);
    }
    CHECK(t.received == produced && t.torn == 0 && t.out_of_order == 0);
    double gap_end, gap = longest_gap(&t, &gap_end);
    double seconds = t.ended - t.started;
    printf("     4 producers (%s, %s, %s, %s) x %llu, from position %llu: %llu received of %llu produced, %llu torn, "
           "%llu out of order, in %.2f s (%.0f k msg/s), longest wait %.1f ms\n",
           api_names[0], api_names[1], api_names[2], api_names[3], (unsigned long long)count,
           (unsigned long long)initial_position, (unsigned long long)t.received, (unsigned long long)produced,
           (unsigned long long)t.torn, (unsigned long long)t.out_of_order, seconds, (double)t.received / seconds / 1000,
           gap * 1000);
    ring_info_t info;
    OK(f_ring_info(r, &info));
    CHECK(info.writer_closed == 1 && info.message_count == 0);
    CHECK(list_producers(r, infos) == 0);
    f_ring_consumer_free(c);
    f_ring_free(r);
    close_gates(&g);
    free(t.arrivals);
}

static void test_four_producers(void) { several_producers(0); }
static void test_four_producers_past_2_32(void) { several_producers(START_PAST_2_32); }

/* ---------------------------------------------------------------------- */
/* (b), (c) A producer stopped in a write: SIGKILLed, or resumed            */

/* The controller thread: waits for the victim to stop, then kills it at once or resumes it later. */
typedef struct controller {
    pid_t victim;
    int kill_it;             /* 1: SIGKILL at once; 0: SIGCONT after resume_after seconds */
    double resume_after;
    ring_t *ring;            /* for ring_producers while the victim is stopped */
    uint32_t victim_slot_count;
    double stopped_at, signalled_at; /* when waitpid saw the stop; just before SIGKILL or SIGCONT */
    int stopped, status;
    ring_producer_info_t seen[MAX_PRODUCERS]; /* the producer table just before SIGCONT */
    int seen_count;
    pthread_t thread;
} controller;

static void *control(void *arg) {
    controller *k = arg;
    int st = 0;
    pid_t w;
    while ((w = waitpid(k->victim, &st, WUNTRACED)) < 0 && errno == EINTR) {}
    if (w != k->victim || !WIFSTOPPED(st)) { k->status = st; return NULL; }
    k->stopped_at = now();
    k->stopped = 1;
    /* The time is taken before the signal: this thread may be scheduled out right after it. */
    if (k->kill_it) {
        k->signalled_at = now();
        kill(k->victim, SIGKILL);
    } else {
        pause_us((unsigned)(k->resume_after * 1e6));
        size_t count = 0;
        if (f_ring_producers(k->ring, k->seen, MAX_PRODUCERS, &count) == RING_OK) k->seen_count = (int)count;
        else k->seen_count = -1;
        k->signalled_at = now();
        kill(k->victim, SIGCONT);
    }
    while ((w = waitpid(k->victim, &st, 0)) < 0 && errno == EINTR) {}
    k->status = st;
    return NULL;
}

/* Three producers (batches, reservations, single writes) write `others` messages each while the victim,
 * producer 3, writes `victim_count` with ring_write_timeout and stops at `stop_at`. Returns the
 * tally; *k what the controller saw. Fails (counted) if the setup fails. */
static int run_with_victim(const char *name, const char *stop_at, uint64_t others, uint64_t victim_count, int kill_it,
                           tally *t, controller *k) {
    producer_spec specs[] = {
        { 0, others, API_BATCH, NULL, 0, 0 },
        { 1, others, API_RESERVE, NULL, 0, 0 },
        { 2, others, API_TIMEOUT, NULL, 0, 0 },
        { 3, victim_count, API_TIMEOUT, stop_at, 0, 0 },
    };
    int n = 4;
    gates g;
    char path[512];
    snprintf(path, sizeof path, "%s", path_of(name));
    unlink(path);
    if (!fork_producers(path, specs, n, &g)) return 0;
    ring_t *r = NULL;
    OK(f_ring_create_shared(path, 65536, RING_REJECT_WHEN_FULL, 0600, 0, 0, 4, 0, &r));
    ring_consumer_t *c = NULL;
    if (r) OK(f_ring_consumer_open(r, &c));
    if (!r || !c || !producers_ready(n, &g)) {
        for (int i = 0; i < n; i++) kill(specs[i].pid, SIGKILL);
        finish_producers(specs, n, 0, 5);
        return 0;
    }
    memset(k, 0, sizeof *k);
    k->victim = specs[3].pid;
    k->kill_it = kill_it;
    k->resume_after = 2.5;
    k->ring = r;
    pthread_create(&k->thread, NULL, control, k);
    tally_init(t, (uint32_t)n, (size_t)(3 * others + victim_count) + 16);
    producers_go(n, &g);
    consume_all(c, t, 30);
    finish_producers(specs, n, specs[3].pid, 30);
    pthread_join(k->thread, NULL);
    if (!k->stopped) FAILF("the victim never stopped at %s (status 0x%x)", stop_at, k->status);
    for (int i = 0; i < 3; i++)
        if (t->next[i] != others)
            FAILF("producer %d (%s): %llu of %llu messages arrived", i, api_names[specs[i].api], (unsigned long long)t->next[i],
                  (unsigned long long)others);
    CHECK(t->torn == 0 && t->out_of_order == 0);
    ring_producer_info_t infos[MAX_PRODUCERS];
    int listed = list_producers(r, infos);
    if (kill_it) {
        CHECK(WIFSIGNALED(k->status) && WTERMSIG(k->status) == SIGKILL);
        /* The dead producer's slot: ACTIVE, not live, no claim ahead of the front (the settler cancelled
         * it; killed after its commit, its intent is left behind the front, published). */
        ring_info_t info;
        OK(f_ring_info(r, &info));
        CHECK(listed == 1 && !(infos[0].flags & RING_PRODUCER_INFO_LIVE));
        if (listed == 1 && infos[0].flags & RING_PRODUCER_INFO_CLAIMING)
            CHECK(info.producer_position - infos[0].claim_start - 1 < (1ULL << 62)); /* behind it */
        /* Its slot can be taken again: four producers open. */
        ring_producer_t *ps[4] = { 0 };
        for (int i = 0; i < 4; i++) OK(f_ring_producer_open(r, &ps[i]));
        for (int i = 0; i < 4; i++) f_ring_producer_free(ps[i]);
    } else {
        CHECK(WIFEXITED(k->status) && WEXITSTATUS(k->status) == 0);
        CHECK(listed == 0);
    }
    f_ring_consumer_free(c);
    f_ring_free(r);
    close_gates(&g);
    return 1;
}

/* (b) SIGKILLed while stopped at `step`: every message of the others, the dead one's committed ones. */
static void killed_at(const char *step) {
    uint64_t others = long_mode ? 100000 : 10000, victim_count = 100000, stop_n = 300;
    char stop_at[64];
    snprintf(stop_at, sizeof stop_at, "%s:%llu", step, (unsigned long long)stop_n);
    char name[64];
    snprintf(name, sizeof name, "killed-%s", step);
    tally t;
    controller k;
    if (!run_with_victim(name, stop_at, others, victim_count, 1, &t, &k)) return;
    /* The victim's write number stop_n (message stop_n - 1) was never reported written; only a
     * commit (step committed) makes it count. */
    uint64_t want = strcmp(step, "committed") == 0 ? stop_n : stop_n - 1;
    if (t.next[3] != want)
        FAILF("the victim killed at %s: %llu of its messages arrived, expected %llu", stop_at, (unsigned long long)t.next[3],
              (unsigned long long)want);
    CHECK(t.received == 3 * others + want);
    /* How soon the others' messages came after the kill: the first arrival after it, and the wait that ended then. */
    long after = -1;
    size_t n = t.received < t.arrivals_capacity ? t.received : t.arrivals_capacity;
    for (size_t i = 0; i < n; i++) if (t.arrivals[i].at > k.signalled_at) { after = (long)i; break; }
    double resumed = after >= 0 ? t.arrivals[after].at - k.signalled_at : -1;
    double stall = after > 0 ? t.arrivals[after].at - t.arrivals[after - 1].at : -1;
    double gap_end, gap = longest_gap(&t, &gap_end);
    printf("     killed at %-12s %llu received (3 x %llu + %llu of the victim's), %llu torn, %llu out of order; "
           "stop -> kill %.2f ms, first message %.1f ms after the kill (a wait of %.1f ms), longest wait %.1f ms\n",
           stop_at, (unsigned long long)t.received, (unsigned long long)others, (unsigned long long)t.next[3],
           (unsigned long long)t.torn, (unsigned long long)t.out_of_order, (k.signalled_at - k.stopped_at) * 1000,
           resumed * 1000, stall * 1000, gap * 1000);
    CHECK(after >= 0 && resumed <= 1.0);
    CHECK(gap <= 1.0);
    free(t.arrivals);
}

static void test_killed_claimed(void) { killed_at("claimed"); }
static void test_killed_stamped(void) { killed_at("stamped"); }
static void test_killed_written(void) { killed_at("written"); }
static void test_killed_committed(void) { killed_at("committed"); }

/* (c) Stopped at `step` (not killed): the others' messages come after about CLAIM_TIMEOUT_MS;
 * resumed 2.5 s after the stop, its message arrives exactly once, after the resume. */
static void stopped_at_step(const char *step) {
    uint64_t others = long_mode ? 100000 : 20000, victim_count = 3000, stop_n = 300;
    char stop_at[64], name[64];
    snprintf(stop_at, sizeof stop_at, "%s:%llu", step, (unsigned long long)stop_n);
    snprintf(name, sizeof name, "stopped-%s", step);
    tally t;
    controller k;
    if (!run_with_victim(name, stop_at, others, victim_count, 0, &t, &k)) return;
    if (t.next[3] != victim_count)
        FAILF("the stopped victim: %llu of its %llu messages arrived", (unsigned long long)t.next[3], (unsigned long long)victim_count);
    CHECK(t.received == 3 * others + victim_count);
    /* The stall: the first long wait after the stop. */
    long s = first_gap_after(&t, k.stopped_at, 0.5);
    double stall = s > 0 ? t.arrivals[s].at - t.arrivals[s - 1].at : -1;
    double from_stop = s > 0 ? t.arrivals[s].at - k.stopped_at : -1;
    /* Messages of the others that came while the victim was still stopped (after the stall). */
    size_t n = t.received < t.arrivals_capacity ? t.received : t.arrivals_capacity, meanwhile = 0;
    for (size_t i = s > 0 ? (size_t)s : n; i < n && t.arrivals[i].at < k.signalled_at; i++)
        if (t.arrivals[i].index >> 32 != 3) meanwhile++;
    /* The message it was writing when it stopped (write number stop_n: message stop_n - 1). */
    long mine = arrival_of(&t, 3, stop_n - 1);
    double mine_after = mine >= 0 ? t.arrivals[mine].at - k.signalled_at : -1e9;
    int held = 0;
    for (int i = 0; i < k.seen_count; i++)
        if ((k.seen[i].flags & (RING_PRODUCER_INFO_LIVE | RING_PRODUCER_INFO_HELD)) == (RING_PRODUCER_INFO_LIVE | RING_PRODUCER_INFO_HELD))
            held++;
    printf("     stopped at %s: %llu received (3 x %llu + %llu), %llu torn, %llu out of order; the others' messages stalled "
           "%.3f s (%.3f s after the stop), then %zu of theirs came while it was stopped; its message %llu arrived once, "
           "%.1f ms after SIGCONT; %d HELD claim listed while stopped\n",
           stop_at, (unsigned long long)t.received, (unsigned long long)others, (unsigned long long)t.next[3],
           (unsigned long long)t.torn, (unsigned long long)t.out_of_order, stall, from_stop, meanwhile,
           (unsigned long long)(stop_n - 1), mine_after * 1000, held);
    CHECK(s > 0);
    CHECK(from_stop >= 0.9 && from_stop <= 2.0);
    CHECK(meanwhile > 0);
    CHECK(mine >= 0 && mine_after > 0);
    if (!(mine >= 0 && mine_after > 0)) {
        for (uint64_t m = stop_n > 4 ? stop_n - 4 : 0; m < stop_n + 3; m++) {
            long a = arrival_of(&t, 3, m);
            if (a >= 0) fprintf(stderr, "    the victim's message %llu: arrival %ld, %.1f ms after the stop, %.1f ms after SIGCONT\n",
                                (unsigned long long)m, a, (t.arrivals[a].at - k.stopped_at) * 1000, (t.arrivals[a].at - k.signalled_at) * 1000);
        }
    }
    CHECK(held == 1);
    free(t.arrivals);
}

static void test_stopped_written(void) { stopped_at_step("written"); }
static void test_stopped_claimed(void) { stopped_at_step("claimed"); }

/* ---------------------------------------------------------------------- */
/* (d) Creation errors, slots, end of stream, readers                       */

/* ring_producer_open on path in a child process: its return code (or -100 if the child failed). */
static int producer_open_in_child(const char *path) {
    int fds[2];
    if (pipe(fds) != 0) return -100;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        ring_t *r = NULL;
        ring_producer_t *p = NULL;
        int rc = f_ring_open(path, &r);
        if (!rc) rc = f_ring_producer_open(r, &p);
        (void)write_full(fds[1], &rc, sizeof rc);
        _exit(0);
    }
    close(fds[1]);
    int rc = -100, status;
    if (read_full(fds[0], &rc, sizeof rc) != 0) rc = -100;
    close(fds[0]);
    wait_or_kill(pid, 10, &status);
    return rc;
}

static void test_errors(void) {
    ring_t *r = NULL;
    /* More than 16 producer slots; producers under overwrite-oldest: INVALID_ARGUMENT, no file. */
    unlink(path_of("e"));
    RC(f_ring_create_shared(path_of("e"), 4096, RING_REJECT_WHEN_FULL, 0600, 0, 0, 17, 0, &r), RING_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL && access(path_of("e"), F_OK) != 0);
    RC(f_ring_create_shared(path_of("e"), 4096, RING_REJECT_WHEN_FULL, 0600, 0, 0, UINT32_MAX, 0, &r), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_shared(path_of("e"), 4096, RING_OVERWRITE_OLDEST, 0600, 0, 0, 4, 0, &r), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_shared(path_of("e"), 4096, RING_OVERWRITE_OLDEST, 0600, 0, 2, 1, 0, &r), RING_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL && access(path_of("e"), F_OK) != 0);
    RC(f_ring_create_shared(path_of("e"), 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, 0, 4, 8, &r),
       RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_shared(NULL, 4096, RING_REJECT_WHEN_FULL, 0600, 0, 0, 4, 0, &r), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_shared(path_of("e"), 4096, RING_REJECT_WHEN_FULL, 0600, 0, 0, 4, 0, NULL), RING_ERR_INVALID_ARGUMENT);
    CHECK(access(path_of("e"), F_OK) != 0);
    /* 0 producer slots: the single producer role, under either policy. */
    OK(f_ring_create_shared(path_of("e"), 4096, RING_OVERWRITE_OLDEST, 0600, 0, 0, 0, 0, &r));
    if (r) {
        uint32_t slots = 99;
        OK(f_ring_producer_slots(r, &slots));
        CHECK(slots == 0);
        ring_geometry_t geo;
        OK(f_ring_geometry(r, &geo));
        CHECK(geo.version_minor == 0 && geo.reader_slots == 0);
        ring_producer_t *p1 = NULL, *p2 = NULL;
        OK(f_ring_producer_open(r, &p1));
        RC(f_ring_producer_open(r, &p2), RING_ERR_BUSY);
        size_t count = 99;
        OK(f_ring_producers(r, NULL, 0, &count));
        CHECK(count == 0);
        f_ring_producer_free(p1);
        f_ring_free(r);
        r = NULL;
    }
    /* 1 and 16 slots: geometry; the file reopens with the same. */
    static const uint32_t sizes[] = { 1, 16 };
    for (size_t s = 0; s < 2; s++) {
        r = make_shared("sizes", 4096, 0, sizes[s], 0);
        if (!r) continue;
        ring_geometry_t geo;
        OK(f_ring_geometry(r, &geo));
        CHECK(geo.version_major == 1 && geo.version_minor == 1 && geo.header_size == 4096 && geo.reader_slots == 0);
        CHECK(geo.max_message_size == 4096 / 2 - 16);
        f_ring_free(r);
        r = NULL;
        OK(f_ring_open(path_of("sizes"), &r));
        uint32_t slots = 0;
        if (r) { OK(f_ring_producer_slots(r, &slots)); f_ring_free(r); r = NULL; }
        CHECK(slots == sizes[s]);
    }
    /* Open-or-create: the same geometry opens; another count of producer slots is INVALID_ARGUMENT. */
    OK(f_ring_create_shared(path_of("sizes"), 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, 0, 16, 0, &r));
    f_ring_free(r);
    r = NULL;
    RC(f_ring_create_shared(path_of("sizes"), 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, 0, 4, 0, &r),
       RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create(path_of("sizes"), 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, &r), RING_ERR_INVALID_ARGUMENT);
    /* Four slots: four producers, the fifth (here or in another process) BUSY; one freed, the next gets it. */
    r = make_shared("four", 4096, 0, 4, 0);
    if (!r) return;
    uint32_t slots = 0;
    OK(f_ring_producer_slots(r, &slots));
    CHECK(slots == 4);
    RC(f_ring_producer_slots(r, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_producer_slots(NULL, &slots), RING_ERR_INVALID_ARGUMENT);
    ring_producer_t *ps[5] = { 0 };
    for (int i = 0; i < 4; i++) OK(f_ring_producer_open(r, &ps[i]));
    RC(f_ring_producer_open(r, &ps[4]), RING_ERR_BUSY);
    CHECK(ps[4] == NULL);
    RC(producer_open_in_child(path_of("four")), RING_ERR_BUSY);
    ring_producer_info_t infos[MAX_PRODUCERS];
    CHECK(list_producers(r, infos) == 4);
    size_t count = 0;
    RC(f_ring_producers(r, NULL, 1, &count), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_producers(r, infos, 1, NULL), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_producers(r, infos, 2, &count));
    CHECK(count == 4); /* more than the room given: the count says so */
    f_ring_producer_free(ps[2]);
    ps[2] = NULL;
    CHECK(list_producers(r, infos) == 3);
    RC(producer_open_in_child(path_of("four")), RING_OK); /* the child's slot is freed when it exits */
    OK(f_ring_producer_open(r, &ps[2]));
    RC(f_ring_producer_open(r, &ps[4]), RING_ERR_BUSY);
    /* Each writes; ring_producers counts what each committed. */
    uint8_t buf[MAX_LEN];
    for (uint32_t i = 0; i < 4; i++)
        for (uint64_t m = 0; m <= i; m++) { size_t len = msg_fill(index_of(i, m), buf); OK(f_ring_write(ps[i], buf, len)); }
    int n = list_producers(r, infos);
    CHECK(n == 4);
    uint64_t committed = 0;
    for (int i = 0; i < n; i++) {
        CHECK(infos[i].flags == RING_PRODUCER_INFO_LIVE && infos[i].claim_start == 0 && infos[i].cancelled_count == 0);
        committed += infos[i].committed_count;
    }
    CHECK(committed == 1 + 2 + 3 + 4);
    /* End of stream: only when the last producer leaves with close_writer (SPEC.md §18.8). */
    ring_consumer_t *c = NULL;
    OK(f_ring_consumer_open(r, &c));
    size_t len;
    int got = 0;
    while (f_ring_read(c, buf, sizeof buf, &len) == RING_OK) got++;
    CHECK(got == 10);
    OK(f_ring_producer_close_writer(ps[0]));
    OK(f_ring_producer_close_writer(ps[1]));
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_EMPTY);
    OK(f_ring_producer_close(ps[2])); /* closes without ending the stream */
    RC(f_ring_read_timeout(c, buf, sizeof buf, &len, SECOND / 20), RING_ERR_EMPTY);
    len = msg_fill(index_of(3, 9), buf);
    OK(f_ring_write(ps[3], buf, len));
    OK(f_ring_producer_close_writer(ps[3]));
    OK(f_ring_read(c, buf, sizeof buf, &len));
    uint64_t index = 0;
    CHECK(msg_whole(buf, len, &index) && index == index_of(3, 9));
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_END_OF_STREAM);
    for (int i = 0; i < 5; i++) f_ring_producer_free(ps[i]);
    CHECK(list_producers(r, infos) == 0);
    f_ring_consumer_free(c);
    OK(f_ring_close(r));
    RC(f_ring_producers(r, infos, MAX_PRODUCERS, &count), RING_ERR_CLOSED);
    RC(f_ring_producer_slots(r, &slots), RING_ERR_CLOSED);
    f_ring_free(r);
}

/* Readers and producers on one ring (SPEC.md §18.9), from positions past 2^32. */
static void test_with_readers(void) {
    ring_t *r = make_shared("readers", 4096, 2, 3, START_PAST_2_32);
    if (!r) return;
    ring_geometry_t geo;
    OK(f_ring_geometry(r, &geo));
    CHECK(geo.reader_slots == 2 && geo.version_minor == 1);
    ring_producer_t *ps[3] = { 0 };
    ring_consumer_t *gating = NULL, *lapping = NULL, *c = NULL;
    for (int i = 0; i < 3; i++) OK(f_ring_producer_open(r, &ps[i]));
    RC(f_ring_consumer_open(r, &c), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_reader_open(r, NULL, &gating));
    ring_reader_options_t o = RING_READER_OPTIONS_INIT;
    o.flags = RING_READER_LAPPING;
    OK(f_ring_reader_open(r, &o, &lapping));
    if (!ps[0] || !ps[1] || !ps[2] || !gating || !lapping) goto done;
    /* 3 x 300 messages in turn through a 4 KiB ring: the gating reader reads every one, in each
     * producer's order, with the writers held back by it; the lapping one reads what it is given. */
    uint8_t buf[MAX_LEN];
    size_t len;
    uint64_t next[3] = { 0 }, read_gating = 0;
    for (uint64_t m = 0; m < 300; m++) {
        for (uint32_t i = 0; i < 3; i++) {
            size_t n = msg_fill(index_of(i, m), buf);
            int rc;
            while ((rc = f_ring_write(ps[i], buf, n)) == RING_ERR_FULL) {
                uint8_t got[MAX_LEN + 64];
                uint64_t index = 0;
                OK(f_ring_read(gating, got, sizeof got, &len));
                CHECK(msg_whole(got, len, &index) && (index >> 32) < 3 && (index & 0xFFFFFFFF) == next[index >> 32]);
                next[index >> 32 & 3]++;
                read_gating++;
                while (f_ring_read(lapping, got, sizeof got, &len) == RING_OK) {}
            }
            RC(rc, RING_OK);
        }
    }
    for (int i = 0; i < 3; i++) OK(f_ring_producer_close_writer(ps[i]));
    uint8_t got[MAX_LEN + 64];
    int rc;
    while ((rc = f_ring_read(gating, got, sizeof got, &len)) == RING_OK) {
        uint64_t index = 0;
        CHECK(msg_whole(got, len, &index) && (index >> 32) < 3 && (index & 0xFFFFFFFF) == next[index >> 32]);
        next[index >> 32 & 3]++;
        read_gating++;
    }
    RC(rc, RING_ERR_END_OF_STREAM);
    CHECK(read_gating == 900 && next[0] == 300 && next[1] == 300 && next[2] == 300);
    while ((rc = f_ring_read(lapping, got, sizeof got, &len)) == RING_OK) {
        uint64_t index = 0;
        CHECK(msg_whole(got, len, &index));
    }
    RC(rc, RING_ERR_END_OF_STREAM);
done:
    for (int i = 0; i < 3; i++) f_ring_producer_free(ps[i]);
    f_ring_consumer_free(gating);
    f_ring_consumer_free(lapping);
    f_ring_free(r);
}

/* ---------------------------------------------------------------------- */
/* Corrupt producer tables and claims: CORRUPT, the reason named            */

static uint32_t crc32_iso_hdlc(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Stores `size` bytes of `value` (little-endian) at file offset `offset` of path; with fix, the checksum again. */
static void poke(const char *path, off_t offset, uint64_t value, size_t size, int fix) {
    int fd = open(path, O_RDWR);
    if (fd < 0) { FAILF("open %s: %s", path, strerror(errno)); return; }
    uint8_t b[8];
    for (size_t i = 0; i < size; i++) b[i] = (uint8_t)(value >> (8 * i));
    CHECK(pwrite(fd, b, size, offset) == (ssize_t)size);
    if (fix) {
        uint8_t h[RING_CHECKSUM_COVERED_BYTES];
        CHECK(pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h);
        uint32_t crc = crc32_iso_hdlc(h, sizeof h);
        uint8_t cb[4] = { (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24) };
        CHECK(pwrite(fd, cb, 4, RING_OFFSET_HEADER_CHECKSUM) == 4);
    }
    close(fd);
}

/* A closed 4-slot ring at dir/name with one message written, ready to be scribbled on: the
 * position after it (claimPosition and producerPosition), or 0 with the failure counted. */
static uint64_t fresh_shared(const char *name) {
    ring_t *r = make_shared(name, 4096, 0, 4, 0);
    if (!r) return 0;
    ring_producer_t *p = NULL;
    uint8_t buf[MAX_LEN];
    ring_info_t info = { 0 };
    OK(f_ring_producer_open(r, &p));
    if (p) { size_t len = msg_fill(index_of(0, 0), buf); OK(f_ring_write(p, buf, len)); }
    OK(f_ring_info(r, &info));
    f_ring_producer_free(p);
    f_ring_free(r);
    return p ? info.producer_position : 0;
}

/* The call returned CORRUPT and the last error names `reason`. */
#define CORRUPT_WITH(expr, reason) do { \
    int rc_c = (expr); \
    RC(rc_c, RING_ERR_CORRUPT); \
    if (rc_c == RING_ERR_CORRUPT && !strstr(f_ring_last_error_message(), (reason))) \
        FAILF("%s: CORRUPT says \"%s\", not \"%s\"", #expr, f_ring_last_error_message(), (reason)); } while (0)

static void test_corrupt(void) {
    const off_t table = 4096 - RING_PRODUCER_TABLE_RESERVE;
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    ring_consumer_t *c = NULL;
    size_t count;
    ring_producer_info_t infos[MAX_PRODUCERS];
    uint8_t buf[MAX_LEN];
    /* producerSlots 17 or 0 under INCOMPAT_PRODUCERS; producers with overwrite-oldest: badProducerTable at open. */
    static const struct { off_t offset; uint64_t value; size_t size; } table_cases[] = {
        { RING_OFFSET_PRODUCER_SLOTS, 17, 4 }, { RING_OFFSET_PRODUCER_SLOTS, 0, 4 }, { RING_OFFSET_POLICY, RING_POLICY_OVERWRITE_OLDEST, 4 },
    };
    for (size_t i = 0; i < sizeof table_cases / sizeof table_cases[0]; i++) {
        if (!fresh_shared("bad")) return;
        poke(path_of("bad"), table_cases[i].offset, table_cases[i].value, table_cases[i].size, 1);
        r = NULL;
        CORRUPT_WITH(f_ring_open(path_of("bad"), &r), "producer slots");
        CHECK(r == NULL);
    }
    /* A slot state no producer writes: badProducerSlot when taking a slot and listing them. */
    if (!fresh_shared("bad")) return;
    poke(path_of("bad"), table + RING_PSLOT_OFFSET_STATE, 7, 4, 0);
    OK(f_ring_open(path_of("bad"), &r));
    if (r) {
        CORRUPT_WITH(f_ring_producer_open(r, &p), "producer slot 0");
        CORRUPT_WITH(f_ring_producers(r, infos, MAX_PRODUCERS, &count), "producer slot 0");
        f_ring_free(r);
        r = NULL;
    }
    /* A claimState no producer writes (slot 1). */
    if (!fresh_shared("bad")) return;
    poke(path_of("bad"), table + RING_PRODUCER_SLOT_SIZE + RING_PSLOT_OFFSET_CLAIM_STATE, 9, 4, 0);
    OK(f_ring_open(path_of("bad"), &r));
    if (r) {
        CORRUPT_WITH(f_ring_producers(r, infos, MAX_PRODUCERS, &count), "producer slot 1");
        f_ring_free(r);
        r = NULL;
    }
    /* claimPosition misaligned, or more than the capacity past the tail: badClaimPosition on a write. */
    static const uint64_t claims[] = { 4, 8192 };
    for (size_t i = 0; i < 2; i++) {
        uint64_t end = fresh_shared("bad");
        if (!end) return;
        poke(path_of("bad"), RING_OFFSET_CLAIM_POSITION, end + claims[i], 8, 0);
        OK(f_ring_open(path_of("bad"), &r));
        if (!r) continue;
        OK(f_ring_producer_open(r, &p));
        if (p) {
            size_t len = msg_fill(index_of(0, 1), buf);
            CORRUPT_WITH(f_ring_write(p, buf, len), "claimPosition");
        }
        f_ring_producer_free(p);
        p = NULL;
        f_ring_free(r);
        r = NULL;
    }
    /* A claim at the front that no producer made (claimPosition ahead, nobody's intent): the
     * consumer reads the committed message, then waits in vain and finds the claim bad. */
    uint64_t end = fresh_shared("bad");
    if (!end) return;
    poke(path_of("bad"), RING_OFFSET_CLAIM_POSITION, end + 64, 8, 0);
    OK(f_ring_open(path_of("bad"), &r));
    if (r) {
        OK(f_ring_consumer_open(r, &c));
        size_t len;
        if (c) {
            OK(f_ring_read(c, buf, sizeof buf, &len));
            /* Waiting forever does not wait forever: the core gives up on it after 2 x CLAIM_TIMEOUT_MS. */
            double t0 = now();
            int rc = f_ring_read_timeout(c, buf, sizeof buf, &len, RING_WAIT_FOREVER);
            double waited = now() - t0;
            printf("     a claim nobody made: %s after %.2f s (%s)\n", f_ring_strerror(rc), waited, f_ring_last_error_message());
            if (rc != RING_ERR_CORRUPT || !strstr(f_ring_last_error_message(), "claim") || waited > 5)
                FAILF("a claim nobody made: ring_read_timeout returned %d %s (%s) after %.2f s, expected CORRUPT(badClaim)", rc,
                      f_ring_strerror(rc), f_ring_last_error_message(), waited);
        }
        f_ring_consumer_free(c);
        f_ring_free(r);
    }
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *only;
    if (suite_setup(argc, argv, "producers", &long_mode, &only) != 0) return 2;
    int race_seconds = long_mode ? 900 : 120;

    test_case tests[] = {
        { "errors_slots_and_end_of_stream", test_errors, 20 },
        { "corrupt_producer_table_and_claims", test_corrupt, 20 },
        { "producers_with_readers_past_2_32", test_with_readers, 20 },
        { "four_producer_processes_every_message_once", test_four_producers, race_seconds },
        { "four_producer_processes_past_2_32", test_four_producers_past_2_32, race_seconds },
        { "killed_producer_at_claimed", test_killed_claimed, race_seconds },
        { "killed_producer_at_stamped", test_killed_stamped, race_seconds },
        { "killed_producer_at_written", test_killed_written, race_seconds },
        { "killed_producer_at_committed", test_killed_committed, race_seconds },
        { "stopped_producer_at_written_resumes", test_stopped_written, race_seconds },
        { "stopped_producer_at_claimed_resumes", test_stopped_claimed, race_seconds },
    };
    return RUN_TESTS(tests, only, "producers");
}
