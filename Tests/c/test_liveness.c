/*
 * test_liveness.c - liveness and message counts of the C ABI (SPEC.md §22):
 * ring_producer_alive / ring_consumer_alive across a forked producer process that
 * is killed; a consumer that stops when the producer is gone reads every message
 * the killed producer committed (each one checked), then gets RING_ERR_PRODUCER_GONE
 * within a second; ring_message_count and ring_consumer_pending with and without
 * counts, with readers and in a typed ring; NULL arguments.
 *
 *   test_liveness [LIBRARY] [--only NAME]      (or $RINGFORMAT_LIB)
 */
#define _GNU_SOURCE
#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_create_readers) X(ring_create_items) \
    X(ring_open) X(ring_info) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_producer_close_writer) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_reader_open) X(ring_read) X(ring_read_timeout) X(ring_consumer_free) \
    X(ring_item_producer_open) X(ring_write_items) X(ring_item_producer_free) \
    X(ring_item_consumer_open) X(ring_read_items) X(ring_item_consumer_free) \
    X(ring_producer_alive) X(ring_consumer_alive) X(ring_consumer_stop_when_producer_gone) \
    X(ring_item_consumer_stop_when_producer_gone) X(ring_message_count) X(ring_consumer_pending)
#include "test_harness.h"

/* Message i: 8 bytes of i, then (i * 31 + j) & 255 up to its size 8 + i % 57. */
static size_t make_message(uint64_t i, uint8_t *buf) {
    size_t size = 8 + (size_t)(i % 57);
    memcpy(buf, &i, 8);
    for (size_t j = 8; j < size; j++) buf[j] = (uint8_t)((i * 31 + j) & 255);
    return size;
}

/* A child that opens the ring itself (never the parent's inherited handle, SPEC.md §11.3), takes
 * the producer role, says so on `ready`, then writes messages 0.. (waiting for room) until killed. */
static pid_t start_producer(const char *path, int *ready_fd) {
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); return -1; }
    pid_t pid = fork_flushed();
    if (pid == 0) {
        close(fds[0]);
        ring_t *r = NULL;
        ring_producer_t *p = NULL;
        if (f_ring_open(path, &r) || f_ring_producer_open(r, &p)) _exit(3);
        uint8_t one = 1, buf[64];
        if (write_full(fds[1], &one, 1) != 0) _exit(4);
        for (uint64_t i = 0;; i++) {
            size_t n = make_message(i, buf);
            if (f_ring_write_timeout(p, buf, n, RING_WAIT_FOREVER) != RING_OK) _exit(5);
        }
    }
    close(fds[1]);
    *ready_fd = fds[0];
    return pid;
}

/* ---------------------------------------------------------------------- */

static void test_producer_alive_across_a_killed_process(void) {
    ring_t *r = make_ring("alive", 4096, RING_REJECT_WHEN_FULL);
    if (!r) return;
    int alive = -1;
    OK(f_ring_producer_alive(r, &alive));
    CHECK(alive == 0);
    OK(f_ring_consumer_alive(r, &alive));
    CHECK(alive == 0);
    int ready = -1;
    pid_t pid = start_producer(path_of("alive"), &ready);
    CHECK(pid > 0 && read_byte_within(ready, 10) == 1);
    OK(f_ring_producer_alive(r, &alive));
    CHECK(alive == 1);
    ring_consumer_t *c = NULL;
    OK(f_ring_consumer_open(r, &c));
    OK(f_ring_consumer_alive(r, &alive));
    CHECK(alive == 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    OK(f_ring_producer_alive(r, &alive));
    CHECK(alive == 0);
    f_ring_consumer_free(c);
    OK(f_ring_consumer_alive(r, &alive));
    CHECK(alive == 0);
    close(ready);
    f_ring_free(r);
}

/* The producer process is killed mid-stream: every committed message comes, checked, then PRODUCER_GONE. */
static void test_producer_gone_after_draining(void) {
    ring_t *r = make_ring("gone", 65536, RING_REJECT_WHEN_FULL);
    if (!r) return;
    ring_consumer_t *c = NULL;
    OK(f_ring_consumer_open(r, &c));
    OK(f_ring_consumer_stop_when_producer_gone(c, 1));
    int ready = -1;
    pid_t pid = start_producer(path_of("gone"), &ready);
    CHECK(pid > 0 && read_byte_within(ready, 10) == 1);
    uint8_t buf[128], want[128];
    size_t len = 0;
    uint64_t received = 0;
    double killed_at = 0;
    int rc;
    while ((rc = f_ring_read_timeout(c, buf, sizeof buf, &len, 5000000000LL)) == RING_OK) {
        size_t n = make_message(received, want);
        if (len != n || memcmp(buf, want, n) != 0) { FAILF("message %llu is not the one written", (unsigned long long)received); break; }
        if (++received == 20000) { kill(pid, SIGKILL); killed_at = now(); }
    }
    double delay = now() - killed_at;
    RC(rc, RING_ERR_PRODUCER_GONE);
    CHECK(received >= 20000 && killed_at > 0 && delay < 1.0);
    printf("     %llu messages, then RING_ERR_PRODUCER_GONE %.0f ms after the kill\n", (unsigned long long)received, delay * 1000);
    waitpid(pid, NULL, 0);
    /* Every committed message was read: the consumer stands at producerPosition. */
    ring_info_t info;
    OK(f_ring_info(r, &info));
    CHECK(info.producer_position == info.consumer_position && info.message_count == 0);
    uint64_t count = 99;
    OK(f_ring_message_count(r, &count));
    CHECK(count == 0);
    /* Without the option a timed read waits and reports EMPTY; with it a non-blocking one is PRODUCER_GONE. */
    OK(f_ring_consumer_stop_when_producer_gone(c, 0));
    RC(f_ring_read_timeout(c, buf, sizeof buf, &len, 200000000LL), RING_ERR_EMPTY);
    OK(f_ring_consumer_stop_when_producer_gone(c, 1));
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_PRODUCER_GONE);
    CHECK(strstr(f_ring_strerror(RING_ERR_PRODUCER_GONE), "producer gone") != NULL);
    close(ready);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

static void test_typed_ring_consumer_stops_too(void) {
    ring_t *r = NULL;
    OK(f_ring_create_items(path_of("items"), "<u8", 0, 512, RING_REJECT_WHEN_FULL, 0600, 0, 0, &r));
    if (!r) return;
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    OK(f_ring_item_producer_open(r, &p));
    OK(f_ring_item_consumer_open(r, &c));
    OK(f_ring_item_consumer_stop_when_producer_gone(c, 1));
    uint64_t items[3] = { 7, 8, 9 }, out[8];
    OK(f_ring_write_items(p, items, 3, 0));
    uint64_t count = 0;
    OK(f_ring_message_count(r, &count));
    CHECK(count == 3);
    f_ring_item_producer_free(p);
    size_t got = 0;
    OK(f_ring_read_items(c, out, 8, &got, 1000000000LL));
    CHECK(got == 3 && out[0] == 7 && out[2] == 9);
    double t0 = now();
    RC(f_ring_read_items(c, out, 8, &got, 5000000000LL), RING_ERR_PRODUCER_GONE);
    CHECK(now() - t0 < 1.0);
    f_ring_item_consumer_free(c);
    f_ring_free(r);
}

static void test_message_count_and_pending(void) {
    for (int counts = 1; counts >= 0; counts--) {
        ring_t *r = NULL;
        unlink(path_of("count"));
        OK(f_ring_create(path_of("count"), 4096, RING_OVERWRITE_OLDEST, 0600, counts ? 0 : RING_CREATE_NO_COUNTS, &r));
        if (!r) return;
        ring_producer_t *p = NULL;
        ring_consumer_t *c = NULL;
        OK(f_ring_producer_open(r, &p));
        OK(f_ring_consumer_open(r, &c));
        uint8_t buf[128];
        size_t len;
        for (uint64_t i = 0; i < 10; i++) OK(f_ring_write(p, buf, make_message(i, buf)));
        for (int i = 0; i < 3; i++) OK(f_ring_read(c, buf, sizeof buf, &len));
        uint64_t count = 0, pending = 0;
        OK(f_ring_message_count(r, &count));
        OK(f_ring_consumer_pending(c, &pending));
        CHECK(count == 7 && pending == 7);
        /* Overwrite-oldest: 200 more drop the oldest; the count is what the walk finds. */
        for (uint64_t i = 0; i < 200; i++) OK(f_ring_write(p, buf, make_message(i, buf)));
        ring_info_t info;
        OK(f_ring_info(r, &info));
        OK(f_ring_message_count(r, &count));
        CHECK(count == info.message_count && count > 0 && count < 200 && info.dropped_count > 0);
        CHECK(count == 210 - info.dropped_count - 3);
        f_ring_producer_free(p);
        f_ring_consumer_free(c);
        f_ring_free(r);
    }
    /* A reader's pending count comes from the indexes. */
    ring_t *r = NULL;
    OK(f_ring_create_readers(path_of("readers"), 4096, RING_REJECT_WHEN_FULL, 0600, 0, 2, 0, &r));
    if (!r) return;
    ring_producer_t *p = NULL;
    ring_consumer_t *a = NULL;
    ring_reader_options_t options = RING_READER_OPTIONS_INIT;
    OK(f_ring_reader_open(r, &options, &a));
    OK(f_ring_producer_open(r, &p));
    uint8_t buf[128];
    size_t len;
    for (uint64_t i = 0; i < 12; i++) OK(f_ring_write(p, buf, make_message(i, buf)));
    for (int i = 0; i < 5; i++) OK(f_ring_read(a, buf, sizeof buf, &len));
    uint64_t pending = 0, count = 0;
    OK(f_ring_consumer_pending(a, &pending));
    OK(f_ring_message_count(r, &count));
    CHECK(pending == 7 && count == 12);
    f_ring_producer_free(p);
    f_ring_consumer_free(a);
    f_ring_free(r);
}

static void test_null_arguments(void) {
    ring_t *r = make_ring("null", 4096, RING_REJECT_WHEN_FULL);
    if (!r) return;
    ring_consumer_t *c = NULL;
    OK(f_ring_consumer_open(r, &c));
    int alive;
    uint64_t count;
    RC(f_ring_producer_alive(NULL, &alive), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_producer_alive(r, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_alive(NULL, &alive), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_alive(r, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_stop_when_producer_gone(NULL, 1), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_item_consumer_stop_when_producer_gone(NULL, 1), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_message_count(NULL, &count), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_message_count(r, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_pending(NULL, &count), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consumer_pending(c, NULL), RING_ERR_INVALID_ARGUMENT);
    /* An unknown create flag is still refused; RING_CREATE_NO_COUNTS is known. */
    ring_t *bad = NULL;
    RC(f_ring_create(path_of("bad"), 4096, RING_REJECT_WHEN_FULL, 0600, 256, &bad), RING_ERR_INVALID_ARGUMENT);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    int long_mode = 0;
    const char *only = NULL;
    if (suite_setup(argc, argv, "liveness", &long_mode, &only) != 0) return 2;
    test_case tests[] = {
        { "producer_alive_across_a_killed_process", test_producer_alive_across_a_killed_process, 30 },
        { "producer_gone_after_draining_a_killed_producer", test_producer_gone_after_draining, 60 },
        { "typed_ring_consumer_stops_too", test_typed_ring_consumer_stops_too, 20 },
        { "message_count_and_pending", test_message_count_and_pending, 20 },
        { "null_arguments_are_invalid", test_null_arguments, 20 },
    };
    return RUN_TESTS(tests, only, "liveness");
}
