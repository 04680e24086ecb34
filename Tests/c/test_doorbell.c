/*
 * test_doorbell.c - pollable waits (SPEC.md §21) through the C ABI: each
 * handle's doorbell descriptor in an epoll loop, woken by a writer in another
 * process; arming when the condition already holds; the waiter count in the
 * file while armed and after disarming; the bounded slice; the producer's
 * doorbell on a full ring; typed rings; the poll kind; the errors.
 *
 *   test_doorbell [LIBRARY] [--long] [--only NAME]
 *
 * The racing test: a producer process writes N self-checking messages (index,
 * a checksum of the index, bytes derived from it; random lengths) in bursts
 * with pauses, so the consumer really sleeps on its doorbell between them;
 * the consumer reads with timeout 0 until the ring is empty, then arms,
 * epoll_waits and disarms. A hostile peer zeroing the waiter count delays a wake-up by one
 * slice at most. Checked: every message once, in order, intact,
 * received == N, then END_OF_STREAM; fewer wake-ups than messages (one per
 * arming, whatever the commits behind it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_open) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_producer_close_writer) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_peek) X(ring_release_cancel) \
    X(ring_consumer_close) X(ring_consumer_free) \
    X(ring_consumer_doorbell) X(ring_consumer_arm) X(ring_consumer_disarm) \
    X(ring_producer_doorbell) X(ring_producer_arm) X(ring_producer_disarm) \
    X(ring_create_items) X(ring_item_producer_open) X(ring_write_items) X(ring_item_producer_free) \
    X(ring_item_consumer_open) X(ring_read_items) X(ring_item_consumer_free) \
    X(ring_item_consumer_doorbell) X(ring_item_consumer_arm) X(ring_item_consumer_disarm) \
    X(ring_item_producer_doorbell) X(ring_item_producer_arm) X(ring_item_producer_disarm)
#include "test_harness.h"

static int long_mode;

/* File offsets of the wait line's waiter counts (SPEC.md §3.4). */
#define READER_WAITERS_OFFSET 388
#define WRITER_WAITERS_OFFSET 396

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Message i: its index, mix(i), then (mix(i) >> 56) + k for the k-th further byte; 16..271 bytes. */
static size_t message_fill(uint8_t *buf, uint64_t i) {
    uint64_t m = mix(i);
    size_t len = 16 + (size_t)(m % 256);
    memcpy(buf, &i, 8);
    memcpy(buf + 8, &m, 8);
    for (size_t k = 16; k < len; k++) buf[k] = (uint8_t)((m >> 56) + k);
    return len;
}

/* Whether buf[0..len) is message `expected`, intact. */
static int message_ok(const uint8_t *buf, size_t len, uint64_t expected) {
    uint8_t want[300];
    size_t n = message_fill(want, expected);
    return len == n && memcmp(buf, want, n) == 0;
}

/* A u32 of the ring file at `offset`, read with pread (what another process sees). */
static uint32_t file_u32(const char *path, off_t offset) {
    int fd = open(path, O_RDONLY);
    uint32_t v = 0xFFFFFFFF;
    if (fd >= 0) {
        if (pread(fd, &v, 4, offset) != 4) v = 0xFFFFFFFF;
        close(fd);
    }
    return v;
}

/* Whether fd is readable within ms milliseconds (epoll, as an event loop would). */
static int readable_within(int fd, int ms) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event out;
    int n;
    do { n = epoll_wait(ep, &out, 1, ms); } while (n < 0 && errno == EINTR);
    close(ep);
    return n == 1;
}

/* In a forked child: opens the ring at path anew, sleeps delay_us, writes `count` messages from
 * index `first`, closes the stream if `end`; exits. */
static _Noreturn void child_writes(const char *path, unsigned delay_us, uint64_t first, uint64_t count, int end) {
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    OK(f_ring_open(path, &r));
    if (r) OK(f_ring_producer_open(r, &p));
    pause_us(delay_us);
    uint8_t buf[300];
    for (uint64_t i = first; p && i < first + count; i++) {
        size_t n = message_fill(buf, i);
        int rc;
        while ((rc = f_ring_write(p, buf, n)) == RING_ERR_FULL) pause_us(50);
        RC(rc, RING_OK);
    }
    if (p && end) OK(f_ring_producer_close_writer(p));
    f_ring_producer_free(p);
    f_ring_free(r);
    child_end();
}

/* ---------------------------------------------------------------------- */

/* An armed consumer's descriptor is readable only after a writer in another process commits;
 * the waiter count in the file is 1 while armed and 0 after disarming. */
static void test_wakes_across_processes(void) {
    const char *path = path_of("wake");
    ring_t *r = make_ring("wake", 4096, RING_REJECT_WHEN_FULL);
    ring_consumer_t *c = NULL;
    if (!r) return;
    OK(f_ring_consumer_open(r, &c));
    int fd = -1, kind = 0, armed = -1;
    OK(f_ring_consumer_doorbell(c, &fd, &kind));
    CHECK(fd >= 0 && (kind == RING_DOORBELL_FUTEX || kind == RING_DOORBELL_POLL));
    int fd2 = -1;
    OK(f_ring_consumer_doorbell(c, &fd2, NULL));
    CHECK(fd2 == fd);
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 1);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 1);
    if (kind == RING_DOORBELL_FUTEX) CHECK(!readable_within(fd, 20));
    double t0 = now();
    pid_t pid = fork_child(10);
    if (pid == 0) child_writes(path, 150000, 0, 1, 0);
    int woke = 0;
    /* The futex kind is readable once the child commits; the poll kind after its interval, so poll it. */
    while (!woke && now() - t0 < 3) {
        CHECK(readable_within(fd, 3000));
        OK(f_ring_consumer_disarm(c));
        uint8_t buf[300];
        size_t len = 0;
        int rc = f_ring_read_timeout(c, buf, sizeof buf, &len, 0);
        if (rc == RING_OK) { CHECK(message_ok(buf, len, 0)); woke = 1; break; }
        RC(rc, RING_ERR_EMPTY);
        OK(f_ring_consumer_arm(c, &armed));
    }
    double waited = now() - t0;
    printf("     %s doorbell: readable with the message %.1f ms after the writer started (it sleeps 150 ms)\n",
           kind == RING_DOORBELL_FUTEX ? "futex" : "poll", waited * 1000);
    CHECK(woke);
    CHECK(waited >= 0.14);
    /* Woken by the commit, not by the end of a slice (at 100 and 200 ms). */
    if (kind == RING_DOORBELL_FUTEX) CHECK(waited < 0.19);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 0);
    CHECK(!readable_within(fd, 0));
    OK(f_ring_consumer_disarm(c));  /* idempotent */
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 0);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* Arming when a message or the end of stream is there arms nothing; freeing an armed consumer
 * takes its count out of the file. */
static void test_arm_when_ready(void) {
    const char *path = path_of("ready");
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    ring_consumer_t *c = NULL;
    if (!open_roles("ready", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) { free_roles(r, p, c); return; }
    int armed = -1;
    OK(f_ring_write(p, "x", 1));
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 0);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 0);
    char buf[8];
    size_t len;
    OK(f_ring_read(c, buf, sizeof buf, &len));
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 1);
    OK(f_ring_producer_close_writer(p));
    int fd = -1;
    OK(f_ring_consumer_doorbell(c, &fd, NULL));
    CHECK(readable_within(fd, 2000));
    OK(f_ring_consumer_disarm(c));
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 0);
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_END_OF_STREAM);
    /* An armed consumer freed: the count leaves with it. */
    ring_producer_t *p2 = NULL;
    OK(f_ring_producer_open(r, &p2));
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 1);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 1);
    f_ring_consumer_free(c);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 0);
    f_ring_producer_free(p2);
    f_ring_producer_free(p);
    f_ring_free(r);
}

/* With nobody writing, an armed descriptor turns readable after one slice (SPEC.md §21.1). */
static void test_bounded_slice(void) {
    ring_t *r = make_ring("slice", 4096, RING_REJECT_WHEN_FULL);
    ring_consumer_t *c = NULL;
    if (!r) return;
    OK(f_ring_consumer_open(r, &c));
    int fd = -1, kind = 0, armed = 0;
    OK(f_ring_consumer_doorbell(c, &fd, &kind));
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 1);
    double t0 = now();
    CHECK(readable_within(fd, 1000));
    double t = now() - t0;
    printf("     idle armed doorbell readable after %.1f ms\n", t * 1000);
    CHECK(t < 0.5);
    if (kind == RING_DOORBELL_FUTEX) CHECK(t >= 0.09);
    OK(f_ring_consumer_disarm(c));
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* A hostile peer stores 0 into readerWaiters while the consumer is armed, so the writer skips
 * its wake-up: the doorbell still turns readable within one slice, and the message is read. */
static void test_hostile_waiter_count(void) {
    const char *path = path_of("hostile");
    ring_t *r = make_ring("hostile", 4096, RING_REJECT_WHEN_FULL);
    ring_consumer_t *c = NULL;
    if (!r) return;
    OK(f_ring_consumer_open(r, &c));
    int fd = -1, armed = 0;
    OK(f_ring_consumer_doorbell(c, &fd, NULL));
    OK(f_ring_consumer_arm(c, &armed));
    CHECK(armed == 1);
    int wfd = open(path, O_WRONLY);
    uint32_t zero = 0;
    CHECK(wfd >= 0 && pwrite(wfd, &zero, 4, READER_WAITERS_OFFSET) == 4);
    close(wfd);
    double t0 = now();
    pid_t pid = fork_child(10);
    if (pid == 0) child_writes(path, 20000, 0, 1, 0);
    int got = 0;
    while (!got && now() - t0 < 3) {
        CHECK(readable_within(fd, 3000));
        OK(f_ring_consumer_disarm(c));
        uint8_t buf[300];
        size_t len = 0;
        int rc = f_ring_read_timeout(c, buf, sizeof buf, &len, 0);
        if (rc == RING_OK) { CHECK(message_ok(buf, len, 0)); got = 1; break; }
        RC(rc, RING_ERR_EMPTY);
        OK(f_ring_consumer_arm(c, &armed));
    }
    double t = now() - t0;
    printf("     waiter count zeroed by a peer: the message read after %.1f ms (a slice is 100 ms)\n", t * 1000);
    CHECK(got);
    CHECK(t < 0.5);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* The racing test of the file's comment. */
static void test_race_epoll_consumer(void) {
    const char *path = path_of("race");
    ring_t *r = make_ring("race", 16384, RING_REJECT_WHEN_FULL);
    ring_consumer_t *c = NULL;
    if (!r) return;
    OK(f_ring_consumer_open(r, &c));
    uint64_t total = long_mode ? 400000 : 40000;
    pid_t pid = fork_child(long_mode ? 600 : 120);
    if (pid == 0) {
        ring_t *w = NULL;
        ring_producer_t *p = NULL;
        OK(f_ring_open(path, &w));
        if (w) OK(f_ring_producer_open(w, &p));
        uint8_t buf[300];
        uint64_t state = 12345;
        for (uint64_t i = 0; p && i < total; i++) {
            size_t n = message_fill(buf, i);
            int rc;
            while ((rc = f_ring_write(p, buf, n)) == RING_ERR_FULL) pause_us(20);
            RC(rc, RING_OK);
            state = mix(state);
            if (state % 64 == 0) pause_us((unsigned)(state >> 40) % 400);  /* a pause: the consumer sleeps */
        }
        if (p) OK(f_ring_producer_close_writer(p));
        f_ring_producer_free(p);
        f_ring_free(w);
        child_end();
    }
    int fd = -1;
    OK(f_ring_consumer_doorbell(c, &fd, NULL));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    uint64_t received = 0, wakeups = 0, torn = 0;
    uint8_t buf[300];
    for (;;) {
        size_t len = 0;
        int rc = f_ring_read_timeout(c, buf, sizeof buf, &len, 0);
        if (rc == RING_OK) {
            if (!message_ok(buf, len, received)) torn++;
            received++;
            continue;
        }
        if (rc == RING_ERR_END_OF_STREAM) break;
        RC(rc, RING_ERR_EMPTY);
        if (rc != RING_ERR_EMPTY) break;
        int armed = 0;
        OK(f_ring_consumer_arm(c, &armed));
        if (!armed) continue;
        struct epoll_event out;
        int n;
        do { n = epoll_wait(ep, &out, 1, 5000); } while (n < 0 && errno == EINTR);
        CHECK(n == 1);
        OK(f_ring_consumer_disarm(c));
        wakeups++;
        if (n != 1) break;
    }
    close(ep);
    int status;
    waitpid(pid, &status, 0);
    printf("     %llu messages received of %llu, %llu torn or out of order, %llu doorbell wake-ups\n",
           (unsigned long long)received, (unsigned long long)total, (unsigned long long)torn,
           (unsigned long long)wakeups);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(received == total);
    CHECK(torn == 0);
    CHECK(wakeups > 0 && wakeups < total);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 0);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* The producer's doorbell: armed on a full ring, readable once a consumer in another process
 * frees room; a write then fits. Under overwrite-oldest it never arms. */
static void test_producer_doorbell(void) {
    const char *path = path_of("room");
    ring_t *r = make_ring("room", 4096, RING_REJECT_WHEN_FULL);
    ring_producer_t *p = NULL;
    if (!r) return;
    OK(f_ring_producer_open(r, &p));
    char big[1000];
    memset(big, 7, sizeof big);
    while (f_ring_write(p, big, sizeof big) == RING_OK) {}
    int fd = -1, armed = 0;
    OK(f_ring_producer_doorbell(p, &fd, NULL));
    OK(f_ring_producer_arm(p, sizeof big, &armed));
    CHECK(armed == 1);
    CHECK(file_u32(path, WRITER_WAITERS_OFFSET) == 1);
    RC(f_ring_producer_arm(p, 1u << 30, &armed), RING_ERR_INVALID_SIZE);
    CHECK(file_u32(path, WRITER_WAITERS_OFFSET) == 0);
    OK(f_ring_producer_arm(p, sizeof big, &armed));
    CHECK(armed == 1);
    pid_t pid = fork_child(10);
    if (pid == 0) {
        ring_t *o = NULL;
        ring_consumer_t *c = NULL;
        OK(f_ring_open(path, &o));
        if (o) OK(f_ring_consumer_open(o, &c));
        pause_us(100000);
        char buf[1000];
        size_t len;
        if (c) OK(f_ring_read(c, buf, sizeof buf, &len));
        f_ring_consumer_free(c);
        f_ring_free(o);
        child_end();
    }
    int got_room = 0;
    double t0 = now();
    while (!got_room && now() - t0 < 3) {
        CHECK(readable_within(fd, 3000));
        OK(f_ring_producer_disarm(p));
        int rc = f_ring_write(p, big, sizeof big);
        if (rc == RING_OK) { got_room = 1; break; }
        RC(rc, RING_ERR_FULL);
        OK(f_ring_producer_arm(p, sizeof big, &armed));
    }
    CHECK(got_room);
    CHECK(now() - t0 >= 0.09);
    CHECK(file_u32(path, WRITER_WAITERS_OFFSET) == 0);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    f_ring_producer_free(p);
    f_ring_free(r);

    ring_t *o = make_ring("overwrite", 4096, RING_OVERWRITE_OLDEST);
    ring_producer_t *op = NULL;
    if (!o) return;
    OK(f_ring_producer_open(o, &op));
    while (f_ring_write(op, big, sizeof big) == RING_OK && now() - t0 < 4) {
        OK(f_ring_producer_arm(op, sizeof big, &armed));
        CHECK(armed == 0);
        break;
    }
    f_ring_producer_free(op);
    f_ring_free(o);
}

/* A typed ring's consumer and producer doorbells. */
static void test_typed_doorbells(void) {
    const char *path = path_of("items");
    unlink(path);
    ring_t *r = NULL;
    OK(f_ring_create_items(path, "<u8", 0, 64, RING_REJECT_WHEN_FULL, 0600, 0, 0, &r));
    if (!r) return;
    ring_item_consumer_t *c = NULL;
    OK(f_ring_item_consumer_open(r, &c));
    int fd = -1, armed = 0;
    OK(f_ring_item_consumer_doorbell(c, &fd, NULL));
    OK(f_ring_item_consumer_arm(c, &armed));
    CHECK(armed == 1);
    pid_t pid = fork_child(10);
    if (pid == 0) {
        ring_t *o = NULL;
        ring_item_producer_t *p = NULL;
        OK(f_ring_open(path, &o));
        if (o) OK(f_ring_item_producer_open(o, &p));
        pause_us(100000);
        uint64_t items[3] = { 11, 22, 33 };
        if (p) OK(f_ring_write_items(p, items, 3, 0));
        f_ring_item_producer_free(p);
        f_ring_free(o);
        child_end();
    }
    uint64_t got[8];
    size_t n = 0;
    double t0 = now();
    while (n == 0 && now() - t0 < 3) {
        CHECK(readable_within(fd, 3000));
        OK(f_ring_item_consumer_disarm(c));
        size_t k = 0;
        int rc = f_ring_read_items(c, got, 8, &k, 0);
        if (rc == RING_OK && k > 0) { n = k; break; }
        OK(f_ring_item_consumer_arm(c, &armed));
    }
    CHECK(n == 3 && got[0] == 11 && got[1] == 22 && got[2] == 33);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(file_u32(path, READER_WAITERS_OFFSET) == 0);
    /* The producer's: a full typed ring arms, count 0 is INVALID_SIZE. */
    ring_item_producer_t *p = NULL;
    OK(f_ring_item_producer_open(r, &p));
    uint64_t many[1] = { 0 };
    size_t room = 0;
    while (f_ring_write_items(p, many, 1, 0) == RING_OK) room++;
    CHECK(room >= 64);  /* 64 asked for, rounded up to a 4096-byte region */
    OK(f_ring_item_producer_doorbell(p, &fd, NULL));
    OK(f_ring_item_producer_arm(p, 1, &armed));
    CHECK(armed == 1);
    CHECK(file_u32(path, WRITER_WAITERS_OFFSET) == 1);
    OK(f_ring_item_producer_disarm(p));
    CHECK(file_u32(path, WRITER_WAITERS_OFFSET) == 0);
    RC(f_ring_item_producer_arm(p, 0, &armed), RING_ERR_INVALID_SIZE);
    f_ring_item_producer_free(p);
    f_ring_item_consumer_free(c);
    f_ring_free(r);
}

/* RINGFORMAT_DOORBELL=poll: the poll kind, which still delivers the message. */
static void test_poll_kind(void) {
    setenv("RINGFORMAT_DOORBELL", "poll", 1);
    ring_t *r = make_ring("poll", 4096, RING_REJECT_WHEN_FULL);
    ring_consumer_t *c = NULL;
    if (!r) return;
    OK(f_ring_consumer_open(r, &c));
    int fd = -1, kind = 0;
    OK(f_ring_consumer_doorbell(c, &fd, &kind));
    CHECK(kind == RING_DOORBELL_POLL);
    f_ring_consumer_free(c);
    f_ring_free(r);
    test_wakes_across_processes();
}

/* Bad arguments and states: NULL pointers, a closed handle, a peek open, an inherited handle. */
static void test_errors(void) {
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    ring_consumer_t *c = NULL;
    if (!open_roles("errors", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) { free_roles(r, p, c); return; }
    int fd = 0, armed = 0;
    RC(f_ring_consumer_doorbell(NULL, &fd, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_doorbell(c, NULL, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_arm(c, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_arm(NULL, &armed), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_producer_arm(p, 1, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_producer_disarm(NULL), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_write(p, "abc", 3));
    const void *data;
    size_t len;
    OK(f_ring_peek(c, &data, &len, 0));
    RC(f_ring_consumer_arm(c, &armed), RING_ERR_BUSY);
    OK(f_ring_release_cancel(c));
    pid_t pid = fork_child(10);
    if (pid == 0) {
        RC(f_ring_consumer_arm(c, &armed), RING_ERR_FORKED);
        RC(f_ring_consumer_doorbell(c, &fd, NULL), RING_ERR_FORKED);
        child_end();
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    OK(f_ring_consumer_close(c));
    RC(f_ring_consumer_arm(c, &armed), RING_ERR_CLOSED);
    RC(f_ring_consumer_doorbell(c, &fd, NULL), RING_ERR_CLOSED);
    free_roles(r, p, c);
}

int main(int argc, char **argv) {
    const char *only;
    if (suite_setup(argc, argv, "doorbell", &long_mode, &only) != 0) return 2;
    test_case tests[] = {
        { "wakes_across_processes_waiter_count_in_the_file", test_wakes_across_processes, 20 },
        { "arm_when_ready_arms_nothing_free_takes_the_count", test_arm_when_ready, 20 },
        { "idle_armed_doorbell_readable_after_one_slice", test_bounded_slice, 20 },
        { "hostile_peer_zeroes_the_waiter_count", test_hostile_waiter_count, 20 },
        { "race_epoll_consumer_every_message_once", test_race_epoll_consumer, long_mode ? 700 : 150 },
        { "producer_doorbell_full_ring_and_overwrite", test_producer_doorbell, 20 },
        { "typed_ring_doorbells", test_typed_doorbells, 20 },
        { "poll_kind_by_environment", test_poll_kind, 20 },
        { "errors_null_closed_busy_forked", test_errors, 20 },
    };
    return RUN_TESTS(tests, only, "doorbell");
}
