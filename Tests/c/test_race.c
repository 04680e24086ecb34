/*
 * test_race.c - every C read API against a racing producer PROCESS, both
 * policies, with exact accounting; and the consumer's view-state rules
 * (peek..release owns the consumer, close interrupts a blocked read,
 * ring_read with a NULL length).
 *
 *   test_race [LIBRARY] [--long] [--only NAME]
 *
 * The library is dlopened (argv[1], else $RINGFORMAT_LIB). Each test runs in
 * its own forked process with an alarm and a wall-clock limit in the parent,
 * so a crash or a hang is reported as a FAIL of that test, not of the suite.
 *
 * Racing tests: a producer process writes N self-checking messages of the
 * interop workload (interop/c/workload.h: bytes 0..7 carry the index, every
 * byte is a function of the index; sizes 8..max_message_size, so records wrap
 * and pad on a 64 KiB ring) and closes the stream; the consumer reads slowly
 * with one API until END_OF_STREAM. Checked: every message delivered is
 * exactly message `index`; indices strictly increase; received + gaps ==
 * produced; reject-when-full: no gaps; overwrite-oldest: gaps == droppedCount.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "workload.h"

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_open) X(ring_info) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_producer_close_writer) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_read_batch) X(ring_peek_batch) X(ring_consume) \
    X(ring_peek) X(ring_release) X(ring_release_cancel) X(ring_wait) X(ring_consumer_close) X(ring_consumer_free)
#include "test_harness.h"

static int long_mode;

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }

/* ---------------------------------------------------------------------- */
/* The producer process                                                    */

#define RING_CAPACITY 65536

static int produce(const char *path, uint64_t n, wl_workload w, uint64_t seed) {
    rng_state ^= seed * 0x9E3779B97F4A7C15ULL;
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    int rc = f_ring_open(path, &r);
    if (!rc) rc = f_ring_producer_open(r, &p);
    if (rc) { fprintf(stderr, "    producer: open: %s (%s)\n", f_ring_strerror(rc), f_ring_last_error_message()); return 1; }
    uint8_t *buf = malloc(w.max_size + 1);
    for (uint64_t i = 0; i < n; i++) {
        size_t len = wl_fill(&w, i, buf);
        rc = f_ring_write_timeout(p, buf, len, 20LL * 1000000000);
        if (rc) { fprintf(stderr, "    producer: message %llu: %s (%s)\n", (unsigned long long)i, f_ring_strerror(rc), f_ring_last_error_message()); return 1; }
        if (rnd() % 16 == 0) pause_us((unsigned)(rnd() % 200));
    }
    rc = f_ring_producer_close_writer(p);
    if (rc) { fprintf(stderr, "    producer: close_writer: %s\n", f_ring_strerror(rc)); return 1; }
    f_ring_producer_free(p);
    f_ring_free(r);
    free(buf);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Accounting of what the consumer receives                                */

typedef struct account {
    wl_workload w;
    uint64_t produced, received, gaps, expected;
    uint64_t bad, out_of_order, discarded;
} account_t;

static int message_ok(const wl_workload *w, uint64_t produced, const uint8_t *buf, size_t len, uint64_t *index) {
    return wl_index(buf, len, index) == 0 && *index < produced && wl_matches(w, *index, buf, len);
}

static void deliver(account_t *a, const uint8_t *buf, size_t len, const char *api) {
    uint64_t index = 0;
    if (!message_ok(&a->w, a->produced, buf, len, &index)) {
        if (a->bad++ < 5)
            fprintf(stderr, "    %s delivered a message that fails its check: %zu bytes, index field %llu (expected >= %llu)\n",
                    api, len, (unsigned long long)index, (unsigned long long)a->expected);
        return;
    }
    if (index < a->expected) {
        if (a->out_of_order++ < 5)
            fprintf(stderr, "    %s delivered index %llu after %llu\n", api, (unsigned long long)index, (unsigned long long)a->expected - 1);
        return;
    }
    a->gaps += index - a->expected;
    a->expected = index + 1;
    a->received++;
}

/* ---------------------------------------------------------------------- */
/* The racing consumer, one API per run                                    */

enum api { API_READ, API_READ_TIMEOUT, API_READ_BATCH, API_CONSUME, API_PEEK, API_PEEK_BATCH };
static const char *api_names[] = { "ring_read", "ring_read_timeout", "ring_read_batch", "ring_consume",
                                   "ring_peek+ring_release", "ring_peek_batch" };

#define BATCH 8
typedef struct visit_ctx {
    size_t kept;              /* copies since the last index 0 */
    size_t max_size;
    uint8_t *copies;          /* BATCH slots of max_size bytes */
    size_t lengths[BATCH];
    uint64_t visits, index_skips;
} visit_ctx;

static int visit_copy(void *context, size_t index, const void *data, size_t len) {
    visit_ctx *v = context;
    v->visits++;
    if (index == 0) v->kept = 0;
    if (index != v->kept || index >= BATCH || len > v->max_size) { v->index_skips++; return 1; }
    memcpy(v->copies + index * v->max_size, data, len);
    v->lengths[index] = len;
    /* A slow visitor (one that parses what it copies) widens the window for the producer. */
    if (rnd() % 2 == 0) for (volatile size_t i = 0; i < len / 4; i++) {}
    v->kept = index + 1;
    return 0;
}

static void slow_consumer_pause(void) {
    uint64_t x = rnd() % 8;
    if (x == 0) pause_us((unsigned)(rnd() % 300));
    else if (x < 3) for (volatile int i = 0; i < 2000; i++) {}
}

static void run_race(enum api api, int policy, uint64_t produced) {
    const char *name = policy == RING_OVERWRITE_OLDEST ? "race-overwrite" : "race-reject";
    const char *api_name = api_names[api];
    ring_t *r = make_ring(name, RING_CAPACITY, policy);
    if (!r) return;
    ring_info_t info;
    OK(f_ring_info(r, &info));
    wl_workload w = { 7 + (uint64_t)api * 2 + (uint64_t)policy, 8, (size_t)info.max_message_size };
    ring_consumer_t *c = NULL;
    OK(f_ring_consumer_open(r, &c));
    if (!c) { f_ring_free(r); return; }

    pid_t pid = fork();
    if (pid == 0) _exit(produce(path_of(name), produced, w, (uint64_t)getpid()));

    account_t a = { .w = w, .produced = produced };
    uint8_t *buf = malloc(BATCH * (w.max_size + 8));
    size_t cap = BATCH * (w.max_size + 8);
    size_t lengths[BATCH];
    visit_ctx v = { .max_size = w.max_size, .copies = malloc(BATCH * w.max_size) };
    uint64_t consume_calls_short = 0, consume_torn_shown = 0, consume_shown_discarded = 0;
    uint64_t peek_batch_copies = 0, peek_batch_bad = 0, overwritten = 0;
    double deadline = now() + (long_mode ? 600 : 60);
    int ended = 0, unexpected = 0;

    while (!ended && now() < deadline) {
        int rc = RING_OK;
        size_t len = 0, count = 0;
        switch (api) {
        case API_READ:
            rc = f_ring_read(c, buf, cap, &len);
            if (rc == RING_OK) deliver(&a, buf, len, api_name);
            break;
        case API_READ_TIMEOUT:
            rc = f_ring_read_timeout(c, buf, cap, &len, 5LL * 1000000000);
            if (rc == RING_OK) deliver(&a, buf, len, api_name);
            break;
        case API_READ_BATCH:
            rc = f_ring_read_batch(c, buf, cap, lengths, 1 + rnd() % BATCH, &count, 5LL * 1000000000);
            if (rc == RING_OK) {
                size_t off = 0;
                for (size_t k = 0; k < count; k++) { deliver(&a, buf + off, lengths[k], api_name); off += lengths[k]; }
            }
            break;
        case API_CONSUME: {
            v.kept = 0;
            rc = f_ring_consume(c, visit_copy, &v, 1 + rnd() % BATCH, &count);
            /* Only the first *count copies of the last pass were consumed (DECISIONS #4). */
            size_t consumed = rc == RING_OK ? count : 0;
            if (consumed > v.kept) {
                fprintf(stderr, "    ring_consume: *count %zu but the last pass showed only %zu\n", count, v.kept);
                unexpected++;
                consumed = v.kept;
            }
            for (size_t k = 0; k < consumed; k++) deliver(&a, v.copies + k * v.max_size, v.lengths[k], api_name);
            if (v.kept > consumed) {
                /* Shown but not consumed: a visitor that keeps everything since index 0 (as the
                 * 1.0 header text suggested) would have delivered these. Informational. */
                consume_calls_short++;
                for (size_t k = consumed; k < v.kept; k++) {
                    uint64_t index;
                    consume_shown_discarded++;
                    if (!message_ok(&w, produced, v.copies + k * v.max_size, v.lengths[k], &index)) consume_torn_shown++;
                }
            }
            if (rc == RING_ERR_EMPTY) pause_us(50);
            break;
        }
        case API_PEEK: {
            const void *data = NULL;
            rc = f_ring_peek(c, &data, &len, 5LL * 1000000000);
            if (rc == RING_OK) {
                memcpy(buf, data, len);
                if (rnd() % 4 == 0) pause_us((unsigned)(rnd() % 400));
                rc = f_ring_release(c);
                if (rc == RING_OK) deliver(&a, buf, len, api_name);
                else if (rc == RING_ERR_OVERWRITTEN && policy == RING_OVERWRITE_OLDEST) { overwritten++; rc = RING_OK; }
                else { fprintf(stderr, "    ring_release: %s (%s)\n", f_ring_strerror(rc), f_ring_last_error_message()); unexpected++; }
            }
            break;
        }
        case API_PEEK_BATCH: {
            rc = f_ring_peek_batch(c, buf, cap, lengths, 1 + rnd() % BATCH, &count);
            if (rc == RING_OK) {
                size_t off = 0;
                uint64_t last = a.expected, index = 0;
                for (size_t k = 0; k < count; k++) {
                    peek_batch_copies++;
                    if (!message_ok(&w, produced, buf + off, lengths[k], &index) || index < last) {
                        if (peek_batch_bad++ < 5)
                            fprintf(stderr, "    ring_peek_batch copy %zu of %zu fails its check (%zu bytes, index field %llu, expected >= %llu)\n",
                                    k, count, lengths[k], (unsigned long long)index, (unsigned long long)last);
                    } else last = index + 1;
                    off += lengths[k];
                }
                if (count == 0) { rc = RING_ERR_EMPTY; }
                else {
                    slow_consumer_pause();
                    rc = f_ring_read(c, buf, cap, &len);
                    if (rc == RING_OK) deliver(&a, buf, len, api_name);
                }
            }
            if (rc == RING_ERR_EMPTY) {
                /* peek_batch does not report the end: ask ring_read. */
                rc = f_ring_read(c, buf, cap, &len);
                if (rc == RING_OK) deliver(&a, buf, len, api_name);
                else if (rc == RING_ERR_EMPTY) pause_us(50);
            }
            break;
        }
        }
        if (rc == RING_ERR_END_OF_STREAM) { ended = 1; break; }
        if (rc == RING_ERR_EMPTY) { if (api == API_READ) pause_us(50); continue; }
        if (rc != RING_OK) {
            fprintf(stderr, "    %s: %s (%s)\n", api_name, f_ring_strerror(rc), f_ring_last_error_message());
            unexpected++;
            if (unexpected > 3) break;
        }
        slow_consumer_pause();
    }

    int status = 0;
    if (!ended) {
        fprintf(stderr, "    %s: no END_OF_STREAM after %s s (received %llu)\n", api_name, long_mode ? "600" : "60",
                (unsigned long long)a.received);
        kill(pid, SIGKILL);
    }
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(ended);
    OK(f_ring_info(r, &info));
    uint64_t tail = produced - a.expected;
    printf("     %-22s %-9s produced %llu received %llu gaps %llu (tail %llu) dropped_count %llu bad %llu%s",
           api_name, policy == RING_OVERWRITE_OLDEST ? "overwrite" : "reject", (unsigned long long)produced,
           (unsigned long long)a.received, (unsigned long long)a.gaps, (unsigned long long)tail,
           (unsigned long long)info.dropped_count, (unsigned long long)a.bad, "");
    if (api == API_PEEK) printf(" overwritten-releases %llu", (unsigned long long)overwritten);
    if (api == API_PEEK_BATCH) printf(" peeked-copies %llu bad-copies %llu", (unsigned long long)peek_batch_copies, (unsigned long long)peek_batch_bad);
    if (api == API_CONSUME)
        printf(" | calls that showed more than they consumed %llu (%llu copies, %llu torn)", (unsigned long long)consume_calls_short,
               (unsigned long long)consume_shown_discarded, (unsigned long long)consume_torn_shown);
    printf("\n");
    CHECK(a.bad == 0);
    CHECK(a.out_of_order == 0);
    CHECK(unexpected == 0);
    CHECK(peek_batch_bad == 0);
    CHECK(v.index_skips == 0);
    CHECK(a.received + a.gaps + tail == produced);
    CHECK(tail == 0); /* END_OF_STREAM comes only after the last message */
    if (policy == RING_REJECT_WHEN_FULL) { CHECK(a.gaps == 0); CHECK(info.dropped_count == 0); CHECK(a.received == produced); }
    else CHECK(a.gaps + tail == info.dropped_count);
    free(buf);
    free(v.copies);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* The racing tests: X(function, api, test name), each run under both policies. */
#define RACE_TESTS(X) \
    X(race_read, API_READ, "race_read") X(race_read_timeout, API_READ_TIMEOUT, "race_read_timeout") \
    X(race_read_batch, API_READ_BATCH, "race_read_batch") X(race_consume, API_CONSUME, "race_consume") \
    X(race_peek, API_PEEK, "race_peek_release") X(race_peek_batch, API_PEEK_BATCH, "race_peek_batch")
#define RACE_TEST(fn, api, name) \
    static void fn##_reject(void) { run_race(api, RING_REJECT_WHEN_FULL, long_mode ? 200000 : 3000); } \
    static void fn##_overwrite(void) { run_race(api, RING_OVERWRITE_OLDEST, long_mode ? 1000000 : 20000); }
RACE_TESTS(RACE_TEST)
/* Its two rows of the test table (race_seconds: the limit in main). */
#define RACE_ROWS(fn, api, name) { name "_reject", fn##_reject, race_seconds }, { name "_overwrite", fn##_overwrite, race_seconds },

/* ---------------------------------------------------------------------- */
/* View state (DECISIONS #3), close interrupts a wait (#6), NULL len (#8)  */

static int visit_nothing(void *context, size_t index, const void *data, size_t len) {
    (void)context; (void)index; (void)data; (void)len;
    return 0;
}

/* While a peek is out every other read, peek, batch, consume, peek_batch or wait fails BUSY. */
static void test_peek_owns_consumer(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("busy", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) return;
    OK(f_ring_write(p, "first", 5));
    OK(f_ring_write(p, "second", 6));
    const void *data = NULL, *data2 = NULL;
    size_t len = 0, len2 = 0, lengths[4], count = 0;
    char buf[256];
    OK(f_ring_peek(c, &data, &len, 0));
    CHECK(len == 5 && data && memcmp(data, "first", 5) == 0);
    RC(f_ring_wait(c, 0), RING_ERR_BUSY);
    RC(f_ring_wait(c, 10 * 1000000LL), RING_ERR_BUSY);
    RC(f_ring_read(c, buf, sizeof buf, &len2), RING_ERR_BUSY);
    RC(f_ring_read_timeout(c, buf, sizeof buf, &len2, 10 * 1000000LL), RING_ERR_BUSY);
    RC(f_ring_read_batch(c, buf, sizeof buf, lengths, 4, &count, 0), RING_ERR_BUSY);
    RC(f_ring_peek_batch(c, buf, sizeof buf, lengths, 4, &count), RING_ERR_BUSY);
    RC(f_ring_consume(c, visit_nothing, NULL, 4, &count), RING_ERR_BUSY);
    RC(f_ring_peek(c, &data2, &len2, 0), RING_ERR_BUSY);
    OK(f_ring_release(c));
    OK(f_ring_read(c, buf, sizeof buf, &len2));
    CHECK(len2 == 6 && memcmp(buf, "second", 6) == 0);
    RC(f_ring_read(c, buf, sizeof buf, &len2), RING_ERR_EMPTY);
    free_roles(r, p, c);
}

/* Overwrite-oldest: a peek whose record is reclaimed -> release gives OVERWRITTEN, and
 * consumerPosition never goes backwards, also when ring_wait ran in between (defect 2). */
static void peek_reclaimed(int wait_between) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("reclaim", 4096, RING_OVERWRITE_OLDEST, &r, &p, &c)) return;
    char msg[1000];
    memset(msg, 'a', sizeof msg);
    OK(f_ring_write(p, msg, sizeof msg));
    const void *data = NULL;
    size_t len = 0;
    OK(f_ring_peek(c, &data, &len, 0));
    CHECK(len == sizeof msg);
    ring_info_t before, after;
    for (int i = 0; i < 8; i++) { memset(msg, 'b' + i, sizeof msg); OK(f_ring_write(p, msg, sizeof msg)); }
    OK(f_ring_info(r, &before));
    CHECK(before.consumer_position > 0 && before.dropped_count >= 1);
    if (wait_between) RC(f_ring_wait(c, 0), RING_ERR_BUSY);
    RC(f_ring_release(c), RING_ERR_OVERWRITTEN);
    OK(f_ring_info(r, &after));
    CHECK(after.consumer_position >= before.consumer_position);
    if (after.consumer_position < before.consumer_position)
        fprintf(stderr, "    consumerPosition went backwards: %llu -> %llu\n", (unsigned long long)before.consumer_position,
                (unsigned long long)after.consumer_position);
    /* The ring is still good: the oldest unread message is one of the later ones, whole. */
    char buf[2048];
    size_t n = 0;
    OK(f_ring_read(c, buf, sizeof buf, &n));
    CHECK(n == sizeof msg && buf[0] > 'a' && buf[0] == buf[n - 1]);
    ring_t *again = NULL;
    OK(f_ring_open(path_of("reclaim"), &again));
    if (again) { OK(f_ring_info(again, &after)); f_ring_free(again); }
    free_roles(r, p, c);
}
static void test_peek_reclaimed(void) { peek_reclaimed(0); }
static void test_peek_wait_reclaimed(void) { peek_reclaimed(1); }

/* ring_consumer_close from another thread interrupts ring_read_timeout(FOREVER): CLOSED within 1 s. */
static void test_close_interrupts_read(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("interrupt", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) return;
    blocked_read *b = start_blocked_read(c);
    double t0 = now();
    OK(f_ring_consumer_close(c));
    while (!b->done && now() - t0 < 3) pause_us(1000);
    double took = now() - t0;
    printf("     blocked read returned %s after close, %.3f s\n", b->done ? f_ring_strerror(b->rc) : "nothing", took);
    CHECK(b->done && took < 1.0);
    CHECK(b->rc == RING_ERR_CLOSED);
    if (!b->done) { fflush(NULL); _exit(1); } /* the thread still holds the handle: leave */
    join_blocked_read(b);
    free_roles(r, p, c);
}

/* ring_read(c, buf, cap, NULL) -> INVALID_ARGUMENT and the message is still there. */
static void test_read_null_len(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("nulllen", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) return;
    check_null_len_keeps_message(p, c, "keep me");
    free_roles(r, p, c);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *only;
    if (suite_setup(argc, argv, "race", &long_mode, &only) != 0) return 2;
    int race_seconds = long_mode ? 700 : 90;

    test_case tests[] = {
        RACE_TESTS(RACE_ROWS)
        { "peek_owns_consumer_busy", test_peek_owns_consumer, 10 },
        { "peek_reclaimed_overwritten", test_peek_reclaimed, 10 },
        { "peek_wait_reclaimed_overwritten", test_peek_wait_reclaimed, 10 },
        { "close_interrupts_blocked_read", test_close_interrupts_read, 5 },
        { "read_null_len_keeps_message", test_read_null_len, 5 },
    };
    return RUN_TESTS(tests, only, "race");
}
