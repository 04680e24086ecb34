/*
 * ring_bench.c - throughput of RingFormat through the C ABI, producer and consumer in
 * two processes (make bench). Prints one JSON object.
 *
 *   ring_bench LIBRARY SIZE COUNT [BATCH]      throughput
 *   ring_bench LIBRARY latency ROUNDS          64 B ping-pong over two rings, spinning
 *                                              readers (ring_consume), one-way p50/p99/p99.9
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "ringformat.h"

#define FN(name) static __typeof__(name) *p_##name
FN(ring_create); FN(ring_open); FN(ring_free); FN(ring_producer_open); FN(ring_write); FN(ring_write_timeout);
FN(ring_write_batch); FN(ring_producer_close_writer); FN(ring_producer_free); FN(ring_consumer_open);
FN(ring_read_batch); FN(ring_read); FN(ring_consumer_free); FN(ring_consume);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ring_visit_fn of the echo: writes the message into the other ring, from the mapping. */
static int echo_visit(void *context, size_t index, const void *data, size_t len) {
    (void)index;
    return p_ring_write((ring_producer_t *)context, data, len) != RING_OK;
}

/* ring_visit_fn of the pinger: takes the message, looks at nothing. */
static int take_visit(void *context, size_t index, const void *data, size_t len) {
    (void)context; (void)index; (void)data; (void)len;
    return 0;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Spins until one message is consumed; END_OF_STREAM or an error ends it (returns rc). */
static int spin_consume(ring_consumer_t *c, ring_visit_fn visit, void *context) {
    for (;;) {
        size_t n = 0;
        int rc = p_ring_consume(c, visit, context, 1, &n);
        if (rc == RING_OK && n == 1) return RING_OK;
        if (rc != RING_OK && rc != RING_ERR_EMPTY) return rc;
    }
}

static int latency(long rounds) {
    char ping[128], pong[128];
    snprintf(ping, sizeof ping, "/dev/shm/ring-bench-c-%d-ping", (int)getpid());
    snprintf(pong, sizeof pong, "/dev/shm/ring-bench-c-%d-pong", (int)getpid());
    ring_t *a, *b;
    if (p_ring_create(ping, 1 << 16, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &a)) return 1;
    if (p_ring_create(pong, 1 << 16, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &b)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        ring_consumer_t *c; ring_producer_t *p;
        if (p_ring_consumer_open(a, &c) || p_ring_producer_open(b, &p)) _exit(1);
        while (spin_consume(c, echo_visit, p) == RING_OK) {}
        _exit(0);
    }
    ring_producer_t *p; ring_consumer_t *c;
    if (p_ring_producer_open(a, &p) || p_ring_consumer_open(b, &c)) return 1;
    char message[64] = {1};
    uint64_t *samples = malloc(sizeof *samples * (size_t)rounds);
    for (long i = 0; i < rounds + 1000; i++) {
        uint64_t t0 = now_ns();
        if (p_ring_write(p, message, sizeof message) || spin_consume(c, take_visit, NULL)) return 1;
        if (i >= 1000) samples[i - 1000] = now_ns() - t0;
    }
    p_ring_producer_close_writer(p);
    int status;
    waitpid(pid, &status, 0);
    unlink(ping); unlink(pong);
    qsort(samples, (size_t)rounds, sizeof *samples, compare_u64);
#define PCT(q) ((double)samples[(size_t)((double)rounds * (q)) < (size_t)rounds ? (size_t)((double)rounds * (q)) : (size_t)rounds - 1] / 2000.0)
    printf("{\"impl\": \"c-spin\", \"size\": 64, \"rounds\": %ld, \"p50_us\": %.4f, \"p99_us\": %.4f, \"p999_us\": %.4f}\n",
           rounds, PCT(0.5), PCT(0.99), PCT(0.999));
    return 0;
}

/* One process, no waiting: count single writes into a ring large enough for all of
 * them, then (unless write_only) count single reads into a buffer. Run under callgrind
 * with count 0 and N to get instructions per call (ring_bench LIB calls SIZE COUNT [write]). */
static int calls(size_t size, long count, int write_only) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/ring-bench-c-calls-%d", (int)getpid());
    size_t record = (size + 8 + 7) & ~(size_t)7;
    size_t capacity = record * (size_t)(count + 1);
    if (capacity < 4096) capacity = 4096;
    ring_t *ring; ring_producer_t *p; ring_consumer_t *c;
    if (p_ring_create(path, capacity, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &ring)) return 1;
    if (p_ring_producer_open(ring, &p) || p_ring_consumer_open(ring, &c)) return 1;
    char *payload = calloc(1, size + 1), *buf = malloc(size + 1);
    for (long i = 0; i < count; i++) if (p_ring_write(p, payload, size)) return 1;
    size_t bytes = 0, len = 0;
    if (!write_only) {
        for (long i = 0; i < count; i++) {
            if (p_ring_read(c, buf, size + 1, &len)) return 1;
            bytes += len;
        }
    }
    p_ring_producer_free(p); p_ring_consumer_free(c); p_ring_free(ring);
    unlink(path);
    printf("{\"impl\": \"c\", \"mode\": \"calls\", \"size\": %zu, \"count\": %ld, \"bytes\": %zu}\n", size, count, bytes);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: ring_bench LIBRARY SIZE COUNT [BATCH]\n"); return 2; }
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 2; }
#define LOAD(name) p_##name = (__typeof__(name) *)dlsym(h, #name)
    LOAD(ring_create); LOAD(ring_open); LOAD(ring_free); LOAD(ring_producer_open); LOAD(ring_write);
    LOAD(ring_write_timeout); LOAD(ring_write_batch); LOAD(ring_producer_close_writer); LOAD(ring_producer_free);
    LOAD(ring_consumer_open); LOAD(ring_read_batch); LOAD(ring_consumer_free); LOAD(ring_consume);
    LOAD(ring_read);
    if (strcmp(argv[2], "latency") == 0) return latency(atol(argv[3]));
    if (strcmp(argv[2], "calls") == 0) return calls((size_t)atol(argv[3]), argc > 4 ? atol(argv[4]) : 100000,
                                                   argc > 5 && strcmp(argv[5], "write") == 0);
    size_t size = (size_t)atol(argv[2]);
    long count = atol(argv[3]), batch = argc > 4 ? atol(argv[4]) : 1;
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/ring-bench-c-%d", (int)getpid());
    size_t capacity = size * 64 > (1u << 22) ? size * 64 : (1u << 22);
    ring_t *ring;
    if (p_ring_create(path, capacity, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &ring)) return 1;
    int fds[2];
    if (pipe(fds)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        ring_t *r; ring_consumer_t *c;
        if (p_ring_open(path, &r) || p_ring_consumer_open(r, &c)) _exit(1);
        size_t cap = size * (size_t)(batch > 1 ? batch : 1) + 64;
        char *buf = malloc(cap);
        size_t *lengths = malloc(sizeof *lengths * (size_t)(batch > 1 ? batch : 1));
        long got = 0;
        for (;;) {
            size_t n = 0;
            int rc = p_ring_read_batch(c, buf, cap, lengths, (size_t)(batch > 1 ? batch : 1), &n, RING_WAIT_FOREVER);
            if (rc == RING_ERR_END_OF_STREAM) break;
            if (rc) _exit(1);
            got += (long)n;
        }
        double end = now();
        if (write(fds[1], &end, sizeof end) != sizeof end) _exit(1);
        _exit(got == count ? 0 : 1);
    }
    ring_producer_t *p;
    if (p_ring_producer_open(ring, &p)) return 1;
    char *payload = calloc(1, size + 1);
    ring_message_t *msgs = malloc(sizeof *msgs * (size_t)(batch > 1 ? batch : 1));
    for (long k = 0; k < (batch > 1 ? batch : 1); k++) { msgs[k].data = payload; msgs[k].len = size; }
    double start = now();
    if (batch <= 1) {
        for (long i = 0; i < count; i++) {
            if (p_ring_write(p, payload, size) && p_ring_write_timeout(p, payload, size, RING_WAIT_FOREVER)) return 1;
        }
    } else {
        for (long i = 0; i < count;) {
            size_t want = (size_t)(count - i < batch ? count - i : batch), written = 0;
            if (p_ring_write_batch(p, msgs, want, &written)) return 1;
            if (written == 0) { if (p_ring_write_timeout(p, payload, size, RING_WAIT_FOREVER)) return 1; written = 1; }
            i += (long)written;
        }
    }
    p_ring_producer_close_writer(p);
    double end = 0;
    if (read(fds[0], &end, sizeof end) != sizeof end) return 1;
    int status;
    waitpid(pid, &status, 0);
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) { fprintf(stderr, "consumer failed\n"); return 1; }
    double seconds = end - start;
    printf("{\"impl\": \"c\", \"mode\": \"%s\", \"size\": %zu, \"count\": %ld, \"msgs_per_s\": %.1f, \"mb_per_s\": %.1f}\n",
           batch > 1 ? "batch" : "single", size, count, count / seconds, (double)count * (double)size / seconds / 1e6);
    return 0;
}
