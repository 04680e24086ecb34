/*
 * epoll_reader.c - a C consumer in an epoll loop, woken by its doorbell (SPEC.md §21), for
 * Tests/python/test_async.py: a Python producer (or any other) writes the seeded interop
 * workload (interop/c/workload.h) into a ring this program opens; it reads until the end of
 * the stream, checking every message's index and bytes, and prints
 *
 *   received N wakeups W checksum 0xFNV
 *
 * (W: epoll_wait calls that returned the doorbell; FNV: the workload's stream checksum).
 * The library is loaded with dlopen, as ring_peer does: RINGFORMAT_LIB names it.
 *
 *   epoll_reader PATH --seed S --min-size N --max-size N [--timeout-ms N]
 *
 * --timeout-ms bounds each wait (default 10000): a doorbell that never rings fails the test
 * instead of hanging it. Exit status 0 only if the stream ended and every message was right.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ringformat.h"
#include "workload.h"

#define FN(name) static __typeof__(name) *p_##name
FN(ring_open); FN(ring_free); FN(ring_strerror); FN(ring_consumer_open); FN(ring_read_timeout);
FN(ring_consumer_free); FN(ring_consumer_doorbell); FN(ring_consumer_arm); FN(ring_consumer_disarm);

static void load(void) {
    const char *lib = getenv("RINGFORMAT_LIB");
    void *h = dlopen(lib ? lib : "libringformat.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "epoll_reader: %s\n", dlerror()); exit(2); }
#define LOAD(name) if (!(p_##name = (__typeof__(name) *)dlsym(h, #name))) { fprintf(stderr, "epoll_reader: no %s\n", #name); exit(2); }
    LOAD(ring_open); LOAD(ring_free); LOAD(ring_strerror); LOAD(ring_consumer_open); LOAD(ring_read_timeout);
    LOAD(ring_consumer_free); LOAD(ring_consumer_doorbell); LOAD(ring_consumer_arm); LOAD(ring_consumer_disarm);
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "epoll_reader: %s: %s\n", what, rc ? p_ring_strerror(rc) : "failed");
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: epoll_reader PATH --seed S --min-size N --max-size N [--timeout-ms N]\n"); return 2; }
    uint64_t seed = 1;
    size_t min_size = 8, max_size = 256;
    int timeout_ms = 10000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--min-size") == 0) min_size = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--max-size") == 0) max_size = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0) timeout_ms = atoi(argv[i + 1]);
        else { fprintf(stderr, "epoll_reader: unknown option %s\n", argv[i]); return 2; }
    }
    if (min_size < 8 || max_size < min_size) { fprintf(stderr, "epoll_reader: need 8 <= min-size <= max-size\n"); return 2; }
    load();
    wl_workload w = {seed, min_size, max_size};
    ring_t *ring = NULL;
    ring_consumer_t *consumer = NULL;
    int rc = p_ring_open(argv[1], &ring);
    if (rc == RING_OK) rc = p_ring_consumer_open(ring, &consumer);
    if (rc != RING_OK) return fail("open", rc);
    int bell = -1, kind = 0;
    if ((rc = p_ring_consumer_doorbell(consumer, &bell, &kind)) != RING_OK) return fail("doorbell", rc);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = bell};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, bell, &ev) < 0) { perror("epoll_reader: epoll"); return 1; }

    uint8_t *buf = malloc(max_size + 1);
    if (buf == NULL) return fail("malloc", 0);
    uint64_t received = 0, wakeups = 0;
    wl_checksum sum;
    wl_checksum_init(&sum);
    for (;;) {
        size_t len = 0;
        rc = p_ring_read_timeout(consumer, buf, max_size + 1, &len, 0); /* never waits */
        if (rc == RING_OK) {
            uint64_t index = 0;
            if (wl_index(buf, len, &index) != 0 || index != received || !wl_matches(&w, index, buf, len)) {
                fprintf(stderr, "epoll_reader: message %llu of %zu bytes is not the workload's (index %llu)\n",
                        (unsigned long long)received, len, (unsigned long long)index);
                return 1;
            }
            wl_checksum_add(&sum, buf, len);
            received++;
            continue;
        }
        if (rc == RING_ERR_END_OF_STREAM) break;
        if (rc != RING_ERR_EMPTY) return fail("read", rc);
        int armed = 0;
        if ((rc = p_ring_consumer_arm(consumer, &armed)) != RING_OK) return fail("arm", rc);
        if (!armed) continue; /* a message (or the end) came meanwhile */
        struct epoll_event out;
        int n;
        while ((n = epoll_wait(epfd, &out, 1, timeout_ms)) < 0 && errno == EINTR) {}
        p_ring_consumer_disarm(consumer); /* at once: the producer stops signalling */
        if (n == 0) {
            fprintf(stderr, "epoll_reader: no doorbell within %d ms after %llu messages\n", timeout_ms,
                    (unsigned long long)received);
            return 1;
        }
        wakeups++;
    }
    printf("received %llu wakeups %llu checksum 0x%016llx\n", (unsigned long long)received,
           (unsigned long long)wakeups, (unsigned long long)sum.value);
    free(buf);
    close(epfd);
    p_ring_consumer_free(consumer);
    p_ring_free(ring);
    return 0;
}
