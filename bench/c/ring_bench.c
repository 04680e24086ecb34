/*
 * ring_bench.c - throughput of RingFormat through the C ABI, producer and consumer in
 * two processes (make bench). Prints one JSON object.
 *
 *   ring_bench LIBRARY SIZE COUNT [BATCH]      throughput
 *   ring_bench LIBRARY latency ROUNDS          64 B ping-pong over two rings, spinning
 *                                              readers (ring_consume), one-way p50/p99/p99.9
 *   ring_bench LIBRARY fanout READERS SIZE COUNT [GAP_NS]
 *                                              one producer, READERS reader processes of one
 *                                              ring (format 1.1; 0: a 1.0 ring and its consumer),
 *                                              as ring-bench fanout: per-reader messages/s and
 *                                              one-way latency (GAP_NS paces the producer)
 *   ring_bench LIBRARY mpsc PRODUCERS SIZE COUNT [BATCH]
 *                                              PRODUCERS producer processes (forked, each
 *                                              opening the ring) into one ring with that many
 *                                              producer slots (format 1.1), one consumer here:
 *                                              aggregate messages/s, COUNT per producer
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
FN(ring_create_readers); FN(ring_reader_open); FN(ring_read_timeout); FN(ring_create_shared);

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
        /* The parent's handles are FORKED here: open both rings again. */
        ring_t *ca, *cb; ring_consumer_t *c; ring_producer_t *p;
        if (p_ring_open(ping, &ca) || p_ring_open(pong, &cb)) _exit(1);
        if (p_ring_consumer_open(ca, &c) || p_ring_producer_open(cb, &p)) _exit(1);
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

/* What a reader of fanout reports to the producer's process through its pipe. */
typedef struct { long got; uint64_t end_ns; double p50_us, p99_us; } fanout_report;

/* One reader of fanout (a 1.0 consumer when readers is 0): blocking reads
 * (ring_read_timeout, RING_WAIT_FOREVER: spin, then the futex) into a buffer until the end
 * of the stream; each message's delay is now minus the send time in its bytes 8..15. */
static int fanout_reader(const char *path, int readers, size_t size, long count, int ready, int out) {
    ring_t *r; ring_consumer_t *c;
    ring_reader_options_t options = RING_READER_OPTIONS_INIT;
    if (p_ring_open(path, &r)) return 1;
    if (readers > 0 ? p_ring_reader_open(r, &options, &c) : p_ring_consumer_open(r, &c)) return 1;
    if (write(ready, "r", 1) != 1) return 1;
    size_t cap = size + 64, len = 0;
    char *buf = malloc(cap);
    uint64_t *delays = malloc(sizeof *delays * (size_t)(count > 0 ? count : 1));
    fanout_report rep = {0, 0, 0, 0};
    for (;;) {
        int rc = p_ring_read_timeout(c, buf, cap, &len, RING_WAIT_FOREVER);
        if (rc == RING_ERR_END_OF_STREAM) break;
        if (rc || rep.got >= count) return 1;
        uint64_t sent;
        memcpy(&sent, buf + 8, sizeof sent);
        delays[rep.got++] = now_ns() - sent;
    }
    rep.end_ns = now_ns();
    if (rep.got) {
        qsort(delays, (size_t)rep.got, sizeof *delays, compare_u64);
        size_t i50 = (size_t)((double)rep.got * 0.5), i99 = (size_t)((double)rep.got * 0.99);
        rep.p50_us = (double)delays[i50 < (size_t)rep.got ? i50 : (size_t)rep.got - 1] / 1000.0;
        rep.p99_us = (double)delays[i99 < (size_t)rep.got ? i99 : (size_t)rep.got - 1] / 1000.0;
    }
    return write(out, &rep, sizeof rep) == sizeof rep ? 0 : 1;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One producer and `readers` reader processes (forked) on one ring, as ring-bench fanout:
 * the producer starts once every reader has joined, stamps each message with its index
 * (bytes 0..7) and send time (8..15), waits gap_ns between messages if not 0; each reader's
 * rate is count over the time from the first write to its end of the stream. */
static int fanout(int readers, size_t size, long count, uint64_t gap_ns) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/ring-bench-c-%d-fanout", (int)getpid());
    size_t capacity = size * 64 > (1u << 22) ? size * 64 : (1u << 22);
    size_t message = size < 16 ? 16 : size;   /* room for the index and the send time */
    ring_t *ring;
    int rc = readers > 0
        ? p_ring_create_readers(path, capacity, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, (uint32_t)readers, 0, &ring)
        : p_ring_create(path, capacity, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &ring);
    if (rc) { fprintf(stderr, "ring_create: %d\n", rc); return 1; }
    int n = readers > 0 ? readers : 1, ready[2];
    if (pipe(ready)) return 1;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int *outs = calloc((size_t)n, sizeof *outs);
    for (int k = 0; k < n; k++) {
        int fds[2];
        if (pipe(fds)) return 1;
        pids[k] = fork();
        if (pids[k] == 0) {
            close(fds[0]); close(ready[0]);
            _exit(fanout_reader(path, readers, message, count, ready[1], fds[1]));
        }
        close(fds[1]);
        outs[k] = fds[0];
    }
    close(ready[1]);
    for (int k = 0; k < n; k++) {   /* every reader has joined */
        char b;
        if (read(ready[0], &b, 1) != 1) { fprintf(stderr, "a reader failed to join\n"); return 1; }
    }
    ring_producer_t *p;
    if (p_ring_producer_open(ring, &p)) return 1;
    char *payload = calloc(1, message);
    uint64_t start = now_ns(), next = start;
    for (long i = 0; i < count; i++) {
        if (gap_ns) { while (now_ns() < next) {} next += gap_ns; }
        uint64_t index = (uint64_t)i, t = now_ns();
        memcpy(payload, &index, 8);
        memcpy(payload + 8, &t, 8);
        if (p_ring_write(p, payload, message) && p_ring_write_timeout(p, payload, message, RING_WAIT_FOREVER)) return 1;
    }
    p_ring_producer_close_writer(p);
    double *rates = calloc((size_t)n, sizeof *rates), *p50 = calloc((size_t)n, sizeof *p50), *p99 = calloc((size_t)n, sizeof *p99);
    int failed = 0;
    for (int k = 0; k < n; k++) {
        fanout_report rep;
        int status;
        ssize_t got = read(outs[k], &rep, sizeof rep);
        waitpid(pids[k], &status, 0);
        if (got != (ssize_t)sizeof rep || !WIFEXITED(status) || WEXITSTATUS(status) || rep.got != count) {
            fprintf(stderr, "reader %d failed (%ld of %ld messages)\n", k, got == (ssize_t)sizeof rep ? rep.got : -1L, count);
            failed = 1;
            continue;
        }
        rates[k] = (double)count / ((double)(rep.end_ns - start) / 1e9);
        p50[k] = rep.p50_us; p99[k] = rep.p99_us;
    }
    unlink(path);
    if (failed) return 1;
    qsort(rates, (size_t)n, sizeof *rates, compare_double);
    qsort(p50, (size_t)n, sizeof *p50, compare_double);
    qsort(p99, (size_t)n, sizeof *p99, compare_double);
    /* The median as ring-bench computes it: the element at n / 2 of the sorted values. */
    printf("{\"impl\": \"c\", \"mode\": \"%s\", \"readers\": %d, \"size\": %zu, \"count\": %ld, \"processes\": %d, "
           "\"per_reader_msgs_per_s_min\": %.1f, \"per_reader_msgs_per_s_median\": %.1f, \"p50_us\": %.4f, "
           "\"p99_us\": %.4f, \"readers_block\": true}\n",
           gap_ns ? "paced" : "saturated", readers, size, count, n + 1, rates[0], rates[n / 2], p50[n / 2], p99[n / 2]);
    return 0;
}

/* PRODUCERS forked producer processes into one shared-producer ring, the consumer in this
 * process (batch reads of up to 256): aggregate messages/s from the first message read to the
 * last, as ring-bench mpsc. */
static int mpsc(int producers, size_t size, long count, long batch) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/ring-bench-c-%d-mpsc", (int)getpid());
    ring_t *ring;
    if (!p_ring_create_shared) { fprintf(stderr, "usage: the library has no ring_create_shared (RINGFORMAT_1.2)\n"); return 2; }
    if (p_ring_create_shared(path, 1u << 23, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, 0,
                             (uint32_t)producers, 0, &ring)) return 1;
    ring_consumer_t *c;
    if (p_ring_consumer_open(ring, &c)) return 1;
    pid_t pids[16];
    for (int k = 0; k < producers && k < 16; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            ring_t *r; ring_producer_t *p;
            if (p_ring_open(path, &r) || p_ring_producer_open(r, &p)) _exit(1);
            char *payload = calloc(1, size + 1);
            ring_message_t msgs[256];
            long per = batch > 256 ? 256 : batch;
            for (long j = 0; j < per; j++) { msgs[j].data = payload; msgs[j].len = size; }
            for (long i = 0; i < count;) {
                size_t written = 1;
                if (per <= 1) {
                    if (p_ring_write(p, payload, size) && p_ring_write_timeout(p, payload, size, RING_WAIT_FOREVER)) _exit(1);
                } else {
                    size_t want = (size_t)(count - i < per ? count - i : per);
                    if (p_ring_write_batch(p, msgs, want, &written)) _exit(1);
                    if (written == 0) { if (p_ring_write_timeout(p, payload, size, RING_WAIT_FOREVER)) _exit(1); written = 1; }
                }
                i += (long)written;
            }
            p_ring_producer_free(p);
            p_ring_free(r);
            _exit(0);
        }
    }
    size_t cap = (size + 64) * 256;
    char *buf = malloc(cap);
    size_t lengths[256];
    long got = 0, total = count * producers;
    double first = 0;
    while (got < total) {
        size_t n = 0;
        int rc = p_ring_read_batch(c, buf, cap, lengths, 256, &n, 30 * 1000000000LL);
        if (rc) { fprintf(stderr, "read failed %d after %ld of %ld\n", rc, got, total); return 1; }
        if (first == 0) first = now();
        got += (long)n;
    }
    double end = now();
    for (int k = 0; k < producers && k < 16; k++) {
        int status;
        waitpid(pids[k], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) { fprintf(stderr, "producer failed\n"); return 1; }
    }
    unlink(path);
    printf("{\"impl\": \"c\", \"mode\": \"%s\", \"producers\": %d, \"size\": %zu, \"count\": %ld, "
           "\"messages_per_s\": %.1f}\n", batch > 1 ? "batch" : "single", producers, size, count,
           (double)total / (end - first));
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
    LOAD(ring_read); LOAD(ring_create_readers); LOAD(ring_reader_open); LOAD(ring_read_timeout);
    LOAD(ring_create_shared);
    if (strcmp(argv[2], "mpsc") == 0) {
        if (argc < 6) { fprintf(stderr, "usage: ring_bench LIBRARY mpsc PRODUCERS SIZE COUNT [BATCH]\n"); return 2; }
        return mpsc(atoi(argv[3]), (size_t)atol(argv[4]), atol(argv[5]), argc > 6 ? atol(argv[6]) : 1);
    }
    if (strcmp(argv[2], "fanout") == 0) {
        if (argc < 6) { fprintf(stderr, "usage: ring_bench LIBRARY fanout READERS SIZE COUNT [GAP_NS]\n"); return 2; }
        return fanout(atoi(argv[3]), (size_t)atol(argv[4]), atol(argv[5]), argc > 6 ? (uint64_t)atoll(argv[6]) : 0);
    }
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
