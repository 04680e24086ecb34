/*
 * ring_peer.c - the C producer and consumer of the interop tests: the same
 * command line and output as `ring-workload produce` / `ring-workload consume`, through
 * the public C header only. The library is loaded with dlopen (the way an FFI
 * would): RINGFORMAT_LIB names it, else "libringformat.so.1" (its SONAME) on the search path.
 *
 *   ring_peer produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--close] [--batch N]
 *   ring_peer consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end]
 *   ring_peer script OPS PATH     run a golden vector's operations (interop/vectors, .ops files) to make PATH
 *   ring_peer expect PATH         print PATH's state and unread messages in the .expect format
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
FN(ring_create_at_position); FN(ring_write); FN(ring_read); FN(ring_peek_batch); FN(ring_flush);

static void load(void) {
    const char *lib = getenv("RINGFORMAT_LIB");
    void *h = dlopen(lib ? lib : "libringformat.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "ring_peer: %s\n", dlerror()); exit(2); }
#define LOAD(name) if (!(p_##name = (__typeof__(name) *)dlsym(h, #name))) { fprintf(stderr, "ring_peer: no %s\n", #name); exit(2); }
    LOAD(ring_open); LOAD(ring_free); LOAD(ring_info); LOAD(ring_strerror); LOAD(ring_last_error_message);
    LOAD(ring_producer_open); LOAD(ring_write_timeout); LOAD(ring_write_batch); LOAD(ring_producer_close_writer);
    LOAD(ring_producer_free); LOAD(ring_consumer_open); LOAD(ring_read_timeout); LOAD(ring_consumer_free);
    LOAD(ring_create_at_position); LOAD(ring_write); LOAD(ring_read); LOAD(ring_peek_batch); LOAD(ring_flush);
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

/* ---- golden vectors (SPEC.md §16.5) ---- */

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static int run_script(const char *ops, const char *path) {
    FILE *f = fopen(ops, "r");
    if (!f) { perror(ops); return 2; }
    ring_t *ring = NULL; ring_producer_t *p = NULL; ring_consumer_t *c = NULL;
    static char line[65536];
    static uint8_t msg[65536];
    int rc = 0, number = 0;
    while (fgets(line, sizeof line, f)) {
        number++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
        if (!n || line[0] == '#') continue;
        char *rest = strchr(line, ' ');
        if (rest) *rest++ = 0; else rest = line + n;
        if ((!strncmp(line, "write", 5) || !strcmp(line, "read") || !strcmp(line, "close-writer")) && !ring) {
            fprintf(stderr, "%s:%d: no create before %s\n", ops, number, line); return 2;
        }
        if (!strncmp(line, "write", 5) && !p && (rc = p_ring_producer_open(ring, &p))) die("ring_producer_open", rc);
        if (!strcmp(line, "create")) {
            unsigned long long capacity = 0, position = 0; char policy[32] = "";
            if (sscanf(rest, "%llu %31s %llu", &capacity, policy, &position) < 2) { fprintf(stderr, "%s:%d: bad create\n", ops, number); return 2; }
            if ((rc = p_ring_create_at_position(path, capacity, strcmp(policy, "overwrite") ? RING_REJECT_WHEN_FULL : RING_OVERWRITE_OLDEST,
                                                0600, RING_CREATE_REPLACE, position, &ring))) die("ring_create_at_position", rc);
        } else if (!strcmp(line, "write")) {
            if ((rc = p_ring_write(p, rest, strlen(rest)))) die("ring_write", rc);
        } else if (!strcmp(line, "write-hex")) {
            size_t len = strlen(rest) / 2;
            for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)(hexval(rest[2 * i]) * 16 + hexval(rest[2 * i + 1]));
            if ((rc = p_ring_write(p, msg, len))) die("ring_write", rc);
        } else if (!strcmp(line, "write-fill")) {
            unsigned long len = 0, byte = 0;
            if (sscanf(rest, "%lu %lu", &len, &byte) != 2 || len > sizeof msg) { fprintf(stderr, "%s:%d: bad write-fill\n", ops, number); return 2; }
            memset(msg, (int)byte, len);
            if ((rc = p_ring_write(p, msg, len))) die("ring_write", rc);
        } else if (!strcmp(line, "read")) {
            long count = *rest ? atol(rest) : 1;
            if (!c && (rc = p_ring_consumer_open(ring, &c))) die("ring_consumer_open", rc);
            for (long i = 0; i < count; i++) {
                size_t len;
                if ((rc = p_ring_read(c, msg, sizeof msg, &len))) die("ring_read", rc);
            }
        } else if (!strcmp(line, "close-writer")) {
            if (!p && (rc = p_ring_producer_open(ring, &p))) die("ring_producer_open", rc);
            if ((rc = p_ring_producer_close_writer(p))) die("ring_producer_close_writer", rc);
            p_ring_producer_free(p); p = NULL;
        } else { fprintf(stderr, "%s:%d: unknown operation %s\n", ops, number, line); return 2; }
    }
    fclose(f);
    if (ring && (rc = p_ring_flush(ring))) die("ring_flush", rc);
    p_ring_producer_free(p); p_ring_consumer_free(c); p_ring_free(ring);
    return 0;
}

static int print_expect(const char *path) {
    ring_t *ring; ring_consumer_t *c; ring_info_t i;
    int rc = p_ring_open(path, &ring);
    if (rc) die("ring_open", rc);
    if ((rc = p_ring_info(ring, &i))) die("ring_info", rc);
    printf("capacity %llu\npolicy %s\nproducerPosition %llu\nconsumerPosition %llu\ndroppedCount %llu\n"
           "writerClosed %u\nmessageCount %llu\n", (unsigned long long)i.capacity,
           i.policy == RING_OVERWRITE_OLDEST ? "overwrite" : "reject", (unsigned long long)i.producer_position,
           (unsigned long long)i.consumer_position, (unsigned long long)i.dropped_count, i.writer_closed,
           (unsigned long long)i.message_count);
    if ((rc = p_ring_consumer_open(ring, &c))) die("ring_consumer_open", rc);
    size_t cap = (size_t)i.used_bytes + 1, max = (size_t)i.message_count + 1, count = 0;
    uint8_t *buf = malloc(cap);
    size_t *lengths = malloc(max * sizeof *lengths);
    if ((rc = p_ring_peek_batch(c, buf, cap, lengths, max, &count))) die("ring_peek_batch", rc);
    size_t offset = 0;
    for (size_t k = 0; k < count; k++) {
        printf("message ");
        for (size_t j = 0; j < lengths[k]; j++) printf("%02x", buf[offset + j]);
        printf("\n");
        offset += lengths[k];
    }
    free(buf); free(lengths);
    p_ring_consumer_free(c); p_ring_free(ring);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: ring_peer produce|consume PATH [options]\n"); return 2; }
    const char *command = argv[1], *path = argv[2];
    if (!strcmp(command, "script")) { if (argc < 4) return 2; load(); return run_script(argv[2], argv[3]); }
    if (!strcmp(command, "expect")) { load(); return print_expect(argv[2]); }
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
