/*
 * ring_peer.c - the C producer and consumer of the interop tests: the same
 * command line and output as `ringctl produce` / `ringctl consume`, through
 * the public C header only. The library is loaded with dlopen (the way an FFI
 * would): RINGFORMAT_LIB names it, else "libringformat.so" on the search path.
 *
 *   ring_peer produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--close] [--batch N]
 *   ring_peer consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringformat.h"
#include "workload.h"

#define FN(name) static __typeof__(name) *p_##name
FN(ring_open); FN(ring_free); FN(ring_info); FN(ring_strerror); FN(ring_last_error_message);
FN(ring_producer_open); FN(ring_write_timeout); FN(ring_write_batch); FN(ring_producer_close_writer);
FN(ring_producer_free); FN(ring_consumer_open); FN(ring_read_timeout); FN(ring_consumer_free);

static void load(void) {
    const char *lib = getenv("RINGFORMAT_LIB");
    void *h = dlopen(lib ? lib : "libringformat.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "ring_peer: %s\n", dlerror()); exit(2); }
#define LOAD(name) if (!(p_##name = (__typeof__(name) *)dlsym(h, #name))) { fprintf(stderr, "ring_peer: no %s\n", #name); exit(2); }
    LOAD(ring_open); LOAD(ring_free); LOAD(ring_info); LOAD(ring_strerror); LOAD(ring_last_error_message);
    LOAD(ring_producer_open); LOAD(ring_write_timeout); LOAD(ring_write_batch); LOAD(ring_producer_close_writer);
    LOAD(ring_producer_free); LOAD(ring_consumer_open); LOAD(ring_read_timeout); LOAD(ring_consumer_free);
}

static void die(const char *what, int rc) {
    fprintf(stderr, "ring_peer: %s: %s (%s)\n", what, p_ring_strerror(rc), p_ring_last_error_message());
    exit(1);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: ring_peer produce|consume PATH [options]\n"); return 2; }
    const char *command = argv[1], *path = argv[2];
    long long count = 1000, timeout_ms = -1, batch = 1;
    int close_writer = 0, until_end = 0;
    wl_workload w = { 1, 0, 256 };
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--close")) { close_writer = 1; continue; }
        if (!strcmp(a, "--until-end")) { until_end = 1; continue; }
        if (!v) { fprintf(stderr, "ring_peer: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--count")) count = atoll(v);
        else if (!strcmp(a, "--seed")) w.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--min-size")) w.min_size = (size_t)atoll(v);
        else if (!strcmp(a, "--max-size")) w.max_size = (size_t)atoll(v);
        else if (!strcmp(a, "--timeout-ms")) timeout_ms = atoll(v);
        else if (!strcmp(a, "--batch")) batch = atoll(v);
        else { fprintf(stderr, "ring_peer: unknown option %s\n", a); return 2; }
        i++;
    }
    load();
    ring_t *ring;
    int rc = p_ring_open(path, &ring);
    if (rc) die("ring_open", rc);
    ring_info_t info;
    if ((rc = p_ring_info(ring, &info))) die("ring_info", rc);
    if (w.max_size > info.max_message_size) w.max_size = (size_t)info.max_message_size;
    int64_t timeout_ns = timeout_ms < 0 ? RING_WAIT_FOREVER : (int64_t)timeout_ms * 1000000;
    uint8_t *buf = malloc(w.max_size + 1);
    long long start = now_ms();

    if (!strcmp(command, "produce")) {
        ring_producer_t *p;
        if ((rc = p_ring_producer_open(ring, &p))) die("ring_producer_open", rc);
        if (batch < 1) batch = 1;
        uint8_t *space = malloc((w.max_size + 1) * (size_t)batch);
        ring_message_t *msgs = malloc(sizeof *msgs * (size_t)batch);
        for (long long i = 0; i < count;) {
            long long n = count - i < batch ? count - i : batch;
            for (long long k = 0; k < n; k++) {
                uint8_t *m = space + (w.max_size + 1) * (size_t)k;
                msgs[k].data = m;
                msgs[k].len = wl_fill(&w, (uint64_t)(i + k), m);
            }
            size_t done = 0;
            while (done < (size_t)n) {
                size_t written = 0;
                if ((rc = p_ring_write_batch(p, msgs + done, (size_t)n - done, &written))) die("ring_write_batch", rc);
                if (written == 0) {
                    if ((rc = p_ring_write_timeout(p, msgs[done].data, msgs[done].len, timeout_ns))) die("ring_write_timeout", rc);
                    written = 1;
                }
                done += written;
            }
            i += n;
        }
        if (close_writer && (rc = p_ring_producer_close_writer(p))) die("ring_producer_close_writer", rc);
        p_ring_producer_free(p);
        printf("produced %lld messages in %lld ms\n", count, now_ms() - start);
        free(space);
        free(msgs);
    } else if (!strcmp(command, "consume")) {
        ring_consumer_t *c;
        if ((rc = p_ring_consumer_open(ring, &c))) die("ring_consumer_open", rc);
        int overwrite = info.policy == RING_OVERWRITE_OLDEST;
        wl_checksum sum;
        wl_checksum_init(&sum);
        long long received = 0, bytes = 0;
        uint64_t expected = 0, skipped = 0;
        while (until_end || received < count) {
            size_t len = 0;
            rc = p_ring_read_timeout(c, buf, w.max_size + 1, &len, timeout_ns);
            if (rc == RING_ERR_END_OF_STREAM) break;
            if (rc) die("ring_read_timeout", rc);
            uint64_t index = expected;
            if (overwrite) {
                if (wl_index(buf, len, &index) || index < expected) {
                    fprintf(stderr, "ring_peer: message %lld carries no valid index\n", received);
                    return 1;
                }
                skipped += index - expected;
            }
            if (!wl_matches(&w, index, buf, len)) {
                fprintf(stderr, "ring_peer: message %lld (expected index %llu, %zu bytes) is wrong\n",
                        received, (unsigned long long)index, len);
                return 1;
            }
            wl_checksum_add(&sum, buf, len);
            expected = index + 1;
            received++;
            bytes += (long long)len;
        }
        p_ring_consumer_free(c);
        printf("consumed %lld messages %lld bytes checksum 0x%llx overwritten %llu in %lld ms\n", received, bytes,
               (unsigned long long)sum.value, (unsigned long long)skipped, now_ms() - start);
    } else {
        fprintf(stderr, "ring_peer: unknown command %s\n", command);
        return 2;
    }
    free(buf);
    p_ring_free(ring);
    return 0;
}
