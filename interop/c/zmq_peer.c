/*
 * zmq_peer.c - the C producer and consumer of the cross-language transport matrix
 * (interop/run_zmq_matrix.py), over ringformat_zmq.h loaded with dlopen
 * ($RINGFORMAT_ZMQ_LIB, else libringformat_zmq.so.1). The same command line and output as
 * the Swift peer (Sources/RingZmqPeer/main.swift, whose header describes them) and the
 * Python peer (interop/python/zmq_peer.py):
 *
 *   zmq_peer zmq-produce ENDPOINT --topology spsc|mpsc|spmc --count N --seed S
 *            [--min-size 8] [--max-size 256] [--packed K] [--end-frames E] [--timeout-ms T] [--hold-ms H]
 *   zmq_peer zmq-consume ENDPOINT --topology T --seeds S1[,S2...] [--min-size 8] [--max-size 256]
 *            [--packed K] [--producers P] [--idle-ms I] [--subsequence]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringformat_zmq.h"
#include "workload.h"

#define FUNCTIONS(X) \
    X(ring_zmq_last_error_message) X(ring_zmq_options_init) X(ring_zmq_producer_open) X(ring_zmq_put) \
    X(ring_zmq_put_packed) X(ring_zmq_producer_close_writer) X(ring_zmq_producer_free) \
    X(ring_zmq_consumer_open) X(ring_zmq_get) X(ring_zmq_get_many) X(ring_zmq_consumer_free)
#define DECLARE(name) static __typeof__(name) *f_##name;
FUNCTIONS(DECLARE)
#undef DECLARE

#define MAX_SEEDS 8
#define MAX_PACKED 4096

/* Prints "zmq_peer: TEXT" on stderr and exits 1. */
static _Noreturn void die(const char *what, const char *detail) {
    fprintf(stderr, "zmq_peer: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* A failed library call: its code's detail, then exit 1. */
static void check(int rc, const char *call, const char *endpoint) {
    if (rc == RING_OK) return;
    char text[600];
    snprintf(text, sizeof text, "%s %s returned %d: %s", call, endpoint, rc, f_ring_zmq_last_error_message());
    die(text, NULL);
}

/* The value of option `name` in argv, or NULL. */
static const char *option(int argc, char **argv, const char *name) {
    for (int i = 3; i + 1 < argc; i++) if (!strcmp(argv[i], name)) return argv[i + 1];
    return NULL;
}

static int has_flag(int argc, char **argv, const char *name) {
    for (int i = 3; i < argc; i++) if (!strcmp(argv[i], name)) return 1;
    return 0;
}

/* The unsigned number of option `name`, `fallback` if absent (-1: required). */
static uint64_t number(int argc, char **argv, const char *name, long long fallback) {
    const char *text = option(argc, argv, name);
    if (!text) {
        if (fallback < 0) die(name, "is required");
        return (uint64_t)fallback;
    }
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end) die(name, "is not a number");
    return v;
}

static ring_zmq_topology_t topology(int argc, char **argv) {
    const char *t = option(argc, argv, "--topology");
    if (t && !strcmp(t, "spsc")) return RING_ZMQ_SPSC;
    if (t && !strcmp(t, "mpsc")) return RING_ZMQ_MPSC;
    if (t && !strcmp(t, "spmc")) return RING_ZMQ_SPMC;
    die("--topology", "spsc, mpsc or spmc");
}

static long long ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* zmq-produce: messages 0..count-1 of the workload, one per put or `packed` per put_packed, then END. */
static int produce(int argc, char **argv) {
    const char *endpoint = argv[2];
    uint64_t count = number(argc, argv, "--count", -1);
    wl_workload w = { number(argc, argv, "--seed", -1), (size_t)number(argc, argv, "--min-size", 8),
                      (size_t)number(argc, argv, "--max-size", 256) };
    size_t packed = (size_t)number(argc, argv, "--packed", 0);
    if (packed > MAX_PACKED) die("--packed", "at most 4096");
    int64_t timeout = (int64_t)number(argc, argv, "--timeout-ms", 60000) * 1000000LL;
    ring_zmq_options_t o;
    f_ring_zmq_options_init(&o);
    o.linger_ns = 5000000000LL;
    ring_zmq_producer_t *p = NULL;
    check(f_ring_zmq_producer_open(endpoint, topology(argc, argv), &o, &p), "ring_zmq_producer_open", endpoint);
    size_t slots = packed ? packed : 1;
    uint8_t *bufs = malloc(slots * w.max_size);
    const void **ptrs = malloc(slots * sizeof *ptrs);
    size_t *sizes = malloc(slots * sizeof *sizes);
    if (!bufs || !ptrs || !sizes) die("out of memory", NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long long bytes = 0;
    for (uint64_t i = 0; i < count;) {
        size_t n = packed ? (size_t)(count - i < packed ? count - i : packed) : 1;
        for (size_t k = 0; k < n; k++) {
            ptrs[k] = bufs + k * w.max_size;
            sizes[k] = wl_fill(&w, i + k, bufs + k * w.max_size);
            bytes += sizes[k];
        }
        if (packed) {
            size_t sent = 0;
            check(f_ring_zmq_put_packed(p, ptrs, sizes, n, timeout, &sent), "ring_zmq_put_packed", endpoint);
        } else {
            check(f_ring_zmq_put(p, bufs, sizes[0], timeout), "ring_zmq_put", endpoint);
        }
        i += n;
    }
    check(f_ring_zmq_producer_close_writer(p, (uint32_t)number(argc, argv, "--end-frames", 1), timeout),
          "ring_zmq_producer_close_writer", endpoint);
    printf("produced %llu messages %llu bytes in %lld ms\n", (unsigned long long)count, bytes, ms_since(&t0));
    fflush(stdout);
    /* The socket stays open --hold-ms after END: frames still queued for a slow consumer can
     * be lost at close even within linger (SPEC.md §23.8, the close caveat). */
    uint64_t hold = number(argc, argv, "--hold-ms", 0);
    struct timespec ts = { (time_t)(hold / 1000), (long)(hold % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    f_ring_zmq_producer_free(p);  /* waits up to the linger for the last frames to leave */
    free(bufs); free(ptrs); free(sizes);
    return 0;
}

/* What zmq-consume tracks: per seed the last index, the count and the index sum. */
typedef struct consumer_state {
    wl_workload w[MAX_SEEDS];
    int seeds, subsequence;
    long long last[MAX_SEEDS];
    unsigned long long per_seed[MAX_SEEDS], sums[MAX_SEEDS], received, bytes;
    wl_checksum sum;
} consumer_state;

/* One message: the next of some seed (in order, or later with --subsequence), else exit 1. */
static void check_message(consumer_state *s, const uint8_t *m, size_t len) {
    uint64_t index = 0;
    if (wl_index(m, len, &index) != 0) die("a message is shorter than the 8 bytes of its index", NULL);
    for (int k = 0; k < s->seeds; k++) {
        int next = s->subsequence ? (long long)index > s->last[k] : (long long)index == s->last[k] + 1;
        if (!next || !wl_matches(&s->w[k], index, m, len)) continue;
        s->last[k] = (long long)index;
        s->per_seed[k]++;
        s->sums[k] += index;
        wl_checksum_add(&s->sum, m, len);
        s->received++;
        s->bytes += len;
        return;
    }
    char text[200];
    snprintf(text, sizeof text, "message %llu (%zu bytes, index %" PRIu64 ") is not the next message of any seed",
             s->received, len, index);
    die(text, NULL);
}

/* zmq-consume: every message checked against the seeds' workloads, until END or idle. */
static int consume(int argc, char **argv) {
    const char *endpoint = argv[2];
    consumer_state s;
    memset(&s, 0, sizeof s);
    size_t min_size = (size_t)number(argc, argv, "--min-size", 8), max_size = (size_t)number(argc, argv, "--max-size", 256);
    const char *seeds = option(argc, argv, "--seeds");
    if (!seeds) die("--seeds", "is required");
    for (const char *c = seeds; *c && s.seeds < MAX_SEEDS;) {
        char *end = NULL;
        s.w[s.seeds] = (wl_workload){ strtoull(c, &end, 10), min_size, max_size };
        s.last[s.seeds++] = -1;
        c = *end == ',' ? end + 1 : end;
        if (end && *end && *end != ',') die("--seeds", "numbers separated by commas");
    }
    s.subsequence = has_flag(argc, argv, "--subsequence");
    wl_checksum_init(&s.sum);
    size_t packed = (size_t)number(argc, argv, "--packed", 0);
    if (packed > MAX_PACKED) die("--packed", "at most 4096");
    int64_t idle = (int64_t)number(argc, argv, "--idle-ms", 10000) * 1000000LL;
    ring_zmq_options_t o;
    f_ring_zmq_options_init(&o);
    o.producers = (uint32_t)number(argc, argv, "--producers", 1);
    ring_zmq_consumer_t *c = NULL;
    check(f_ring_zmq_consumer_open(endpoint, topology(argc, argv), &o, &c), "ring_zmq_consumer_open", endpoint);
    size_t cap = (packed ? packed : 1) * max_size;
    uint8_t *buf = malloc(cap);
    size_t *sizes = malloc((packed ? packed : 1) * sizeof *sizes);
    if (!buf || !sizes) die("out of memory", NULL);
    int ended = 0;
    for (;;) {
        size_t count = 0;
        int rc = packed ? f_ring_zmq_get_many(c, buf, cap, sizes, packed, &count, idle)
                        : f_ring_zmq_get(c, buf, cap, &sizes[0], idle);
        if (rc == RING_ERR_END_OF_STREAM) { ended = 1; break; }
        if (rc == RING_ERR_EMPTY) break;
        check(rc, packed ? "ring_zmq_get_many" : "ring_zmq_get", endpoint);
        if (!packed) count = 1;
        size_t offset = 0;
        for (size_t k = 0; k < count; k++) { check_message(&s, buf + offset, sizes[k]); offset += sizes[k]; }
    }
    printf("consumed %llu messages %llu bytes checksum 0x%llx ended %d per-seed ", s.received, s.bytes,
           (unsigned long long)s.sum.value, ended);
    for (int k = 0; k < s.seeds; k++) printf("%s%llu", k ? "," : "", s.per_seed[k]);
    printf(" indices ");
    for (int k = 0; k < s.seeds; k++) printf("%s%llu", k ? "," : "", s.sums[k]);
    printf("\n");
    f_ring_zmq_consumer_free(c);
    free(buf); free(sizes);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) die("usage: zmq_peer zmq-produce|zmq-consume ENDPOINT [options] (see the source's header)", NULL);
    const char *lib = getenv("RINGFORMAT_ZMQ_LIB");
    void *h = dlopen(lib ? lib : "libringformat_zmq.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) die("dlopen", dlerror());
#define LOOKUP(name) if (!(f_##name = (__typeof__(name) *)dlsym(h, #name))) die("missing symbol", #name);
    FUNCTIONS(LOOKUP)
#undef LOOKUP
    if (!strcmp(argv[1], "zmq-produce")) return produce(argc, argv);
    if (!strcmp(argv[1], "zmq-consume")) return consume(argc, argv);
    die("unknown command (zmq-produce or zmq-consume)", argv[1]);
}
