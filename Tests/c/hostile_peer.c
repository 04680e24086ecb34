/*
 * hostile_peer.c - an honest producer and consumer (through the library)
 * next to a hostile peer that maps the ring file itself (mmap MAP_SHARED, no
 * library) and scribbles random values into the position words, the wait
 * words, writerState and record headers at random moments.
 *
 *   hostile_peer [LIBRARY] [--long] [--seconds S] [--only NAME]
 *
 * Built with -fsanitize=address (the C side; the library stays as built). A
 * PROT_NONE page is placed right after the library's mapping of the ring
 * when the address is free, so a read past the end faults instead of reading
 * a neighbour. Every test runs in a forked process with an alarm; every
 * library call has a timeout and is timed.
 *
 * The honest side may only return valid messages or a typed error (CORRUPT,
 * EMPTY, FULL, OVERWRITTEN, END_OF_STREAM), never crash, never hang, never
 * hand out bytes outside the mapping. (A scribbled record length that stays
 * plausible is undetectable by design - the format has no per-record
 * checksum - so messages that fail their self-check after record or
 * position scribbles are counted, not failed; with only the wait words
 * scribbled every message must be exact and none may be lost.)
 *
 * The reader table of a 1.1 ring (SPEC.md §17.9: slots are untrusted words)
 * is scribbled too: slot states, gating cursors ahead of the producer,
 * misaligned cursors, flags, owners, names, random bytes over the whole table,
 * reclaimSequence and nextIndex, while a producer writes, a reader reads and
 * a third thread lists the table and joins and leaves. The data region and
 * the positions are left alone, so every message a reader gets must be exact
 * and the honest reader's gaps must equal ring_reader_missed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "workload.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_open) X(ring_info) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_producer_close_writer) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_read_batch) X(ring_peek_batch) X(ring_consume) \
    X(ring_peek) X(ring_release) X(ring_release_cancel) X(ring_wait) X(ring_consumer_free) \
    X(ring_create_readers) X(ring_reader_open) X(ring_reader_missed) X(ring_readers)
#include "test_harness.h"

/* ASan reports a fault or a memory error and exits with ASAN_EXIT (111, not 1, which is a test failure). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "exitcode=111:detect_leaks=0"; }

static int long_mode;
static double scribble_seconds = 4;

static _Thread_local uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }

/* ---------------------------------------------------------------------- */
/* Our own view of the file: the hostile peer's and the test's              */

typedef struct file_map { uint8_t *base; size_t size; uint64_t capacity; } file_map;

static int map_file(const char *path, file_map *m) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return -1; }
    m->size = (size_t)st.st_size;
    m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m->base == MAP_FAILED) return -1;
    memcpy(&m->capacity, m->base + RING_OFFSET_CAPACITY, 8);
    return 0;
}

static _Atomic uint64_t *word64(file_map *m, size_t off) { return (_Atomic uint64_t *)(void *)(m->base + off); }
static _Atomic uint32_t *word32(file_map *m, size_t off) { return (_Atomic uint32_t *)(void *)(m->base + off); }

/* The library's own mapping of `path` in this process (from /proc/self/maps), and a
 * PROT_NONE guard page placed right after it if that address is free. */
typedef struct lib_map { uintptr_t start, end; int guarded; } lib_map;

static lib_map find_and_guard(const char *path) {
    lib_map lm = { 0, 0, 0 };
    char real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return lm;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        char *name = strchr(line, '/');
        if (!name) continue;
        name[strcspn(name, "\n")] = 0;
        if (strcmp(name, real) != 0 || sscanf(line, "%lx-%lx", &a, &b) != 2) continue;
        lm.start = a; lm.end = b;
    }
    fclose(f);
    if (lm.end) {
        void *g = mmap((void *)lm.end, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (g == (void *)lm.end) lm.guarded = 1;
        else if (g != MAP_FAILED) munmap(g, 4096);
    }
    return lm;
}

/* Opens the ring with a PROT_NONE page after the library's mapping: reserves a hole
 * (mapping + guard), frees the mapping part so the library's mmap lands in it, and checks. */
static int open_guarded(const char *path, ring_t **r, lib_map *lm) {
    struct stat st;
    if (stat(path, &st) != 0) return RING_ERR_SYSTEM;
    size_t size = (size_t)st.st_size;
    for (int attempt = 0; attempt < 4; attempt++) {
        uint8_t *hole = mmap(NULL, size + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (hole != MAP_FAILED) munmap(hole, size);
        int rc = f_ring_open(path, r);
        if (rc) { if (hole != MAP_FAILED) munmap(hole + size, 4096); return rc; }
        *lm = find_and_guard(path);
        if (hole != MAP_FAILED) {
            if (lm->end == (uintptr_t)(hole + size)) lm->guarded = 1;
            else munmap(hole + size, 4096);
        }
        if (lm->guarded) return RING_OK;
        f_ring_free(*r);
        *r = NULL;
    }
    int rc = f_ring_open(path, r);
    if (!rc) *lm = find_and_guard(path);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The scribbler: a process with its own MAP_SHARED mapping, no library     */

enum { SCRIBBLE_WAITERS = 1, SCRIBBLE_ALL = 2, SCRIBBLE_READERS = 3 };

static uint64_t hostile_position(uint64_t real, uint64_t capacity) {
    switch (rnd() % 13) {
    case 10: case 11: case 12: return (real & ~(capacity - 1)) + (rnd() % 2 ? capacity : 0) - 4; /* offset capacity - 4, this lap or the last */
    case 0: return real + 8 * (rnd() % 64);
    case 1: return real - 8 * (rnd() % 64);
    case 2: return real + 1 + rnd() % 7;                       /* odd / misaligned */
    case 3: return (real & ~(capacity - 1)) + capacity - 4;    /* offset capacity - 4 */
    case 4: return (real & ~(capacity - 1)) + capacity - 8;
    case 5: return rnd();
    case 6: return 0;
    case 7: return UINT64_MAX - rnd() % 16;
    case 8: return real + capacity * (1 + rnd() % 3);
    default: return real - capacity + 8 * (rnd() % 16);
    }
}

/* One scribble over the reader table of a 1.1 ring (or its producer-line words): see the file's comment.
 * Now and then the table is put back as it was when the scribbler started, so the honest side moves on. */
static void scribble_readers(file_map *m, char *what, size_t what_size) {
    static uint8_t snapshot[RING_MAX_HEADER_SIZE];
    static int have_snapshot;
    uint32_t slots;
    memcpy(&slots, m->base + RING_OFFSET_READER_SLOTS, 4);
    if (slots == 0 || slots > (RING_MAX_HEADER_SIZE - 2048) / RING_READER_SLOT_SIZE) slots = 1;
    size_t table = (size_t)slots * RING_READER_SLOT_SIZE;
    if (!have_snapshot) { memcpy(snapshot, m->base + RING_READER_TABLE_OFFSET, table); have_snapshot = 1; }
    uint32_t n = (uint32_t)(rnd() % slots);
    size_t slot = RING_READER_TABLE_OFFSET + (size_t)n * RING_READER_SLOT_SIZE;
    uint64_t head = atomic_load(word64(m, RING_OFFSET_PRODUCER_POSITION));
    _Atomic uint64_t *cursor = word64(m, slot + RING_SLOT_OFFSET_CURSOR);
    switch (rnd() % 16) {
    case 0: { uint32_t v = rnd() % 2 ? 2 + (uint32_t)(rnd() % 8) : (uint32_t)rnd(); atomic_store(word32(m, slot + RING_SLOT_OFFSET_STATE), v); snprintf(what, what_size, "slot %u state=%u", n, v); break; }
    case 1: { uint32_t v = (uint32_t)(rnd() % 2); atomic_store(word32(m, slot + RING_SLOT_OFFSET_STATE), v); snprintf(what, what_size, "slot %u state=%u", n, v); break; }
    case 2: { /* a gating cursor ahead of the producer */
        uint64_t v = head + 8 * (1 + rnd() % 64);
        atomic_store(cursor, v);
        atomic_store(word32(m, slot + RING_SLOT_OFFSET_FLAGS), RING_READER_FLAG_GATING | (uint32_t)(rnd() % 2) * RING_READER_FLAG_DURABLE);
        if (rnd() % 2) atomic_store(word32(m, slot + RING_SLOT_OFFSET_STATE), RING_READER_SLOT_ACTIVE);
        snprintf(what, what_size, "slot %u gating cursor=%llu (head %llu)", n, (unsigned long long)v, (unsigned long long)head);
        break;
    }
    case 3: { uint64_t v = atomic_load(cursor) + 1 + rnd() % 7; atomic_store(cursor, v); snprintf(what, what_size, "slot %u cursor=%llu (misaligned)", n, (unsigned long long)v); break; }
    case 4: { uint64_t v = hostile_position(atomic_load(cursor), m->capacity); atomic_store(cursor, v); snprintf(what, what_size, "slot %u cursor=%llu", n, (unsigned long long)v); break; }
    case 5: { uint64_t v = head - 8 * (rnd() % 256); atomic_store(cursor, v); snprintf(what, what_size, "slot %u cursor=%llu (behind head %llu)", n, (unsigned long long)v, (unsigned long long)head); break; }
    case 6: { uint32_t v = rnd() % 2 ? (uint32_t)(rnd() % 4) : (uint32_t)rnd(); atomic_store(word32(m, slot + RING_SLOT_OFFSET_FLAGS), v); snprintf(what, what_size, "slot %u flags=%u", n, v); break; }
    case 7: { uint64_t v = rnd() % 3 == 0 ? 0 : rnd() % 3 == 0 ? (uint64_t)getppid() : rnd(); atomic_store(word64(m, slot + RING_SLOT_OFFSET_OWNER), v); snprintf(what, what_size, "slot %u owner=%llu", n, (unsigned long long)v); break; }
    case 8: { uint32_t v = rnd() % 2 ? (uint32_t)(rnd() % 2) : (uint32_t)rnd(); atomic_store(word32(m, slot + RING_SLOT_OFFSET_SLEEPING), v); snprintf(what, what_size, "slot %u sleeping=%u", n, v); break; }
    case 9: {
        uint64_t v = rnd();
        atomic_store(word64(m, slot + (rnd() % 2 ? RING_SLOT_OFFSET_MISSED_COUNT : RING_SLOT_OFFSET_RESUME_INDEX)), v);
        atomic_store(word32(m, slot + RING_SLOT_OFFSET_GATE_TIMEOUT_MS), (uint32_t)rnd());
        snprintf(what, what_size, "slot %u missedCount/resumeIndex=%llu, gateTimeoutMs", n, (unsigned long long)v);
        break;
    }
    case 10: { /* the name: random bytes, maybe without a NUL */
        for (size_t i = 0; i < RING_SLOT_SIZE_NAME; i++) {
            uint8_t b = (uint8_t)(rnd() % 4 ? 'a' + rnd() % 3 : rnd());
            __atomic_store_n(m->base + slot + RING_SLOT_OFFSET_NAME + i, b, __ATOMIC_RELAXED);
        }
        snprintf(what, what_size, "slot %u name=random", n);
        break;
    }
    case 11: { /* random bytes over one slot, or over the whole table */
        int all = rnd() % 3 == 0;
        size_t from = all ? RING_READER_TABLE_OFFSET : slot, to = all ? RING_READER_TABLE_OFFSET + table : slot + RING_READER_SLOT_SIZE;
        for (size_t off = from; off < to; off += 8) atomic_store(word64(m, off), rnd());
        snprintf(what, what_size, all ? "random bytes over the whole table" : "random bytes over slot %u", n);
        break;
    }
    case 12: { uint32_t v = rnd() % 2 ? (uint32_t)(rnd() | 1) : (uint32_t)rnd(); atomic_store(word32(m, RING_OFFSET_RECLAIM_SEQUENCE), v); snprintf(what, what_size, "reclaimSequence=%u", v); break; }
    case 13: { uint64_t v = rnd(); atomic_store(word64(m, RING_OFFSET_NEXT_INDEX), v); snprintf(what, what_size, "nextIndex=%llu", (unsigned long long)v); break; }
    default: /* put the table back as it was */
        for (size_t off = 0; off < table; off += 8) {
            uint64_t v;
            memcpy(&v, snapshot + off, 8);
            atomic_store(word64(m, RING_READER_TABLE_OFFSET + off), v);
        }
        if (rnd() % 2) atomic_store(word32(m, RING_OFFSET_RECLAIM_SEQUENCE), 0);
        snprintf(what, what_size, "table restored");
        break;
    }
}

static void scribble_once(file_map *m, int mode, char *what, size_t what_size) {
    if (mode == SCRIBBLE_READERS) { scribble_readers(m, what, what_size); return; }
    uint64_t cap = m->capacity;
    int target = mode == SCRIBBLE_WAITERS ? (int)(rnd() % 4) : (int)(rnd() % 11);
    _Atomic uint64_t *cp = word64(m, RING_OFFSET_CONSUMER_POSITION), *pp = word64(m, RING_OFFSET_PRODUCER_POSITION);
    switch (target) {
    case 0: { uint32_t v = rnd() % 3 ? 0 : (uint32_t)rnd(); atomic_store(word32(m, RING_OFFSET_READER_WAITERS), v); snprintf(what, what_size, "readerWaiters=%u", v); break; }
    case 1: { uint32_t v = rnd() % 3 ? 0 : (uint32_t)rnd(); atomic_store(word32(m, RING_OFFSET_WRITER_WAITERS), v); snprintf(what, what_size, "writerWaiters=%u", v); break; }
    case 2: { uint32_t v = (uint32_t)rnd(); atomic_store(word32(m, RING_OFFSET_DATA_SIGNAL), v); snprintf(what, what_size, "dataSignal=%u", v); break; }
    case 3: { uint32_t v = (uint32_t)rnd(); atomic_store(word32(m, RING_OFFSET_SPACE_SIGNAL), v); snprintf(what, what_size, "spaceSignal=%u", v); break; }
    case 4: case 5: case 6: { uint64_t v = hostile_position(atomic_load(cp), cap); atomic_store(cp, v); snprintf(what, what_size, "consumerPosition=%llu", (unsigned long long)v); break; }
    case 7: { uint64_t v = hostile_position(atomic_load(pp), cap); atomic_store(pp, v); snprintf(what, what_size, "producerPosition=%llu", (unsigned long long)v); break; }
    case 8: { uint32_t v = (uint32_t)(rnd() % 4 ? rnd() % 3 : rnd()); atomic_store(word32(m, RING_OFFSET_WRITER_STATE), v); snprintf(what, what_size, "writerState=%u", v); break; }
    default: {
        /* A record header near the consumer: walk a few records from consumerPosition. */
        uint64_t pos = atomic_load(cp) & ~(uint64_t)7, head = atomic_load(pp);
        int hops = (int)(rnd() % 4);
        for (int i = 0; i < hops && pos < head; i++) {
            uint32_t len = atomic_load(word32(m, RING_DEFAULT_HEADER_SIZE + (pos & (cap - 1))));
            uint32_t kind = atomic_load(word32(m, RING_DEFAULT_HEADER_SIZE + (pos & (cap - 1)) + 4));
            uint64_t step = kind == RING_RECORD_KIND_PADDING ? cap - (pos & (cap - 1)) : ((uint64_t)len + 15) & ~(uint64_t)7;
            if (step == 0 || step > cap) break;
            pos += step;
        }
        size_t off = RING_DEFAULT_HEADER_SIZE + (size_t)(pos & (cap - 1));
        uint32_t v;
        switch (rnd() % 5) {
        case 0: v = (uint32_t)rnd(); break;
        case 1: v = (uint32_t)(cap - rnd() % 64); break;
        case 2: v = (uint32_t)(rnd() % 4); break;
        case 3: v = 0x7FFFFFF8u + (uint32_t)(rnd() % 8); break;
        default: v = (uint32_t)(rnd() % cap); break;
        }
        int field = (int)(rnd() % 2);
        atomic_store(word32(m, off + (size_t)field * 4), v);
        snprintf(what, what_size, "record@%llu.%s=%u", (unsigned long long)pos, field ? "kind" : "length", v);
        break;
    }
    }
}

/* Scribbles at random moments until `seconds` pass; logs the last scribbles to stderr on exit. */
static void scribbler_main(const char *path, int mode, double seconds, double mean_gap_ms, uint64_t seed) {
    rng_state ^= seed * 0x9E3779B97F4A7C15ULL;
    file_map m;
    if (map_file(path, &m) != 0) _exit(3);
    double end = now() + seconds;
    while (now() < end) {
        pause_us((unsigned)(rnd() % (uint64_t)(2000 * mean_gap_ms + 1)));
        char what[128];
        scribble_once(&m, mode, what, sizeof what);
    }
    _exit(0);
}

/* ---------------------------------------------------------------------- */
/* The honest side                                                          */

typedef struct honest {
    ring_t *ring;
    ring_producer_t *p;
    ring_consumer_t *c;
    wl_workload w;
    lib_map lm;
    int strict;               /* only wait words scribbled: every message exact, none lost */
    int forever;              /* blocking calls without a timeout (strict mode) */
    uint64_t produce_count;   /* strict mode: how many the producer writes at most */
    double produce_until;     /* strict mode: and for how long */
    _Atomic int stop;
    _Atomic int producer_done;
    /* results */
    uint64_t produced, produced_errors[16];
    uint64_t received, garbage, gaps, expected, consumed_errors[16];
    int bad;                  /* untyped errors, out-of-bounds views, slow calls */
    char last_call[2][96];
    _Atomic double call_started[2];
} honest;

static int code_index(int rc) { return rc <= 0 && rc >= -15 ? -rc : 15; }

static void note_slow(honest *h, int side, double t0, const char *call, int64_t timeout_ns) {
    double took = now() - t0;
    double limit = (timeout_ns < 0 ? 0.0 : (double)timeout_ns / 1e9) + 1.5;
    if (timeout_ns >= 0 && took > limit) {
        fprintf(stderr, "    %s: %s took %.2f s (timeout %.3f s)\n", side ? "consumer" : "producer", call, took, (double)timeout_ns / 1e9);
        h->bad++;
    }
}

static void *producer_thread(void *arg) {
    honest *h = arg;
    rng_state ^= 0x1234567ULL;
    uint8_t *buf = malloc(h->w.max_size + 1);
    uint64_t i = 0;
    while (!h->stop && (!h->strict || (i < h->produce_count && now() < h->produce_until))) {
        size_t len = wl_fill(&h->w, i, buf);
        int64_t timeout = h->forever ? RING_WAIT_FOREVER : (int64_t)(rnd() % 3) * 10000000;
        snprintf(h->last_call[0], sizeof h->last_call[0], "ring_write_timeout(message %llu, %zu bytes)", (unsigned long long)i, len);
        double t0 = now();
        h->call_started[0] = t0;
        int rc = f_ring_write_timeout(h->p, buf, len, timeout);
        h->call_started[0] = 0;
        note_slow(h, 0, t0, "ring_write_timeout", timeout);
        h->produced_errors[code_index(rc)]++;
        if (rc == RING_OK) { i++; h->produced = i; }
        else if (rc == RING_ERR_FULL || rc == RING_ERR_CORRUPT || rc == RING_ERR_END_OF_STREAM) {
            if (h->strict) { fprintf(stderr, "    producer: %s in strict mode (%s)\n", f_ring_strerror(rc), f_ring_last_error_message()); h->bad++; break; }
            if (rc == RING_ERR_CORRUPT) pause_us(1000);
        } else {
            fprintf(stderr, "    producer: ring_write_timeout returned %d %s (%s)\n", rc, f_ring_strerror(rc), f_ring_last_error_message());
            h->bad++;
            pause_us(1000);
        }
        if (rnd() % 8 == 0) pause_us((unsigned)(rnd() % 300));
    }
    h->producer_done = 1;
    free(buf);
    return NULL;
}

static void receive(honest *h, const uint8_t *buf, size_t len) {
    uint64_t index = 0;
    if (len > h->w.max_size) { fprintf(stderr, "    consumer: a %zu-byte message, over max_message_size\n", len); h->bad++; return; }
    if (wl_index(buf, len, &index) != 0 || index < h->expected || !wl_matches(&h->w, index, buf, len)) {
        h->garbage++;
        if (h->strict && h->garbage <= 3)
            fprintf(stderr, "    consumer: a message fails its check (%zu bytes, index field %llu, expected %llu)\n", len,
                    (unsigned long long)index, (unsigned long long)h->expected);
        return;
    }
    h->gaps += index - h->expected;
    h->expected = index + 1;
    h->received++;
}

typedef struct visit_state { honest *h; uint8_t *copies; size_t lengths[8]; size_t kept; int bad; } visit_state;

static int visit(void *context, size_t index, const void *data, size_t len) {
    visit_state *v = context;
    if (index == 0) v->kept = 0;
    if (index != v->kept || index >= 8 || len > v->h->w.max_size) { v->bad++; return 1; }
    uintptr_t d = (uintptr_t)data;
    if (v->h->lm.end && (d < v->h->lm.start || d + len > v->h->lm.end)) { v->bad++; return 1; }
    memcpy(v->copies + index * v->h->w.max_size, data, len);
    v->lengths[index] = len;
    v->kept = index + 1;
    return 0;
}

static int allowed_read_error(int rc) {
    return rc == RING_ERR_CORRUPT || rc == RING_ERR_EMPTY || rc == RING_ERR_OVERWRITTEN || rc == RING_ERR_END_OF_STREAM;
}

static void *consumer_thread(void *arg) {
    honest *h = arg;
    rng_state ^= 0x7654321ULL;
    size_t max = h->w.max_size, cap = 8 * (max + 8);
    uint8_t *buf = malloc(cap);
    size_t lengths[8];
    visit_state vs = { .h = h, .copies = malloc(8 * max) };
    while (!h->stop || (h->strict && !h->bad)) {
        int api = h->strict ? (int)(rnd() % 4) : (int)(rnd() % 8);
        int64_t timeout = h->forever ? RING_WAIT_FOREVER : (int64_t)(rnd() % 3) * 10000000;
        size_t len = 0, count = 0;
        int rc;
        double t0 = now();
        h->call_started[1] = t0;
        const char *call = "";
        switch (api) {
        case 0:
            call = "ring_read_timeout";
            rc = f_ring_read_timeout(h->c, buf, cap, &len, timeout);
            if (rc == RING_OK) receive(h, buf, len);
            break;
        case 1:
            call = "ring_read_batch";
            rc = f_ring_read_batch(h->c, buf, cap, lengths, 1 + rnd() % 8, &count, timeout);
            if (rc == RING_OK) { size_t off = 0; for (size_t k = 0; k < count; k++) { receive(h, buf + off, lengths[k]); off += lengths[k]; } }
            break;
        case 2: {
            call = "ring_peek+ring_release";
            const void *data = NULL;
            rc = f_ring_peek(h->c, &data, &len, timeout);
            if (rc == RING_OK) {
                uintptr_t d = (uintptr_t)data;
                if (len > max || (h->lm.end && (d < h->lm.start + RING_DEFAULT_HEADER_SIZE || d + len > h->lm.end))) {
                    fprintf(stderr, "    consumer: ring_peek handed out %zu bytes at %p, outside the data region %lx-%lx\n", len, data,
                            (unsigned long)h->lm.start, (unsigned long)h->lm.end);
                    h->bad++;
                    f_ring_release_cancel(h->c);
                    break;
                }
                memcpy(buf, data, len);
                rc = f_ring_release(h->c);
                if (rc == RING_OK) receive(h, buf, len);
            }
            break;
        }
        case 3:
            call = "ring_consume";
            if (h->strict) { /* no consume in strict mode without a wait: poll politely */ }
            vs.kept = 0;
            rc = f_ring_consume(h->c, visit, &vs, 1 + rnd() % 8, &count);
            if (vs.bad) { fprintf(stderr, "    consumer: ring_consume showed a bad index, length or pointer\n"); h->bad++; vs.bad = 0; }
            if (rc == RING_OK) for (size_t k = 0; k < count && k < vs.kept; k++) receive(h, vs.copies + k * max, vs.lengths[k]);
            if (rc == RING_ERR_EMPTY) { if (h->forever) f_ring_wait(h->c, 100000000); else pause_us(200); }
            break;
        case 4:
            call = "ring_peek_batch";
            rc = f_ring_peek_batch(h->c, buf, cap, lengths, 1 + rnd() % 8, &count);
            if (rc == RING_OK) for (size_t k = 0; k < count; k++) if (lengths[k] > max) { fprintf(stderr, "    consumer: peek_batch length %zu\n", lengths[k]); h->bad++; }
            break;
        case 5:
            call = "ring_wait";
            rc = f_ring_wait(h->c, timeout);
            break;
        case 6: {
            call = "ring_info";
            ring_info_t info;
            rc = f_ring_info(h->ring, &info);
            break;
        }
        default:
            call = "ring_read";
            rc = f_ring_read(h->c, buf, cap, &len);
            if (rc == RING_OK) receive(h, buf, len);
            break;
        }
        h->call_started[1] = 0;
        snprintf(h->last_call[1], sizeof h->last_call[1], "%s", call);
        note_slow(h, 1, t0, call, api >= 4 && api != 5 ? 0 : timeout);
        h->consumed_errors[code_index(rc)]++;
        if (rc == RING_OK) continue;
        if (rc == RING_ERR_END_OF_STREAM && h->strict) break;
        if (rc == RING_ERR_BUFFER_TOO_SMALL) {
            fprintf(stderr, "    consumer: %s: BUFFER_TOO_SMALL for a buffer of max_message_size (needs %zu): a bad length should be CORRUPT\n",
                    call, api == 0 || api == 7 ? len : lengths[0]);
            h->bad++;
        } else if (!allowed_read_error(rc)) {
            fprintf(stderr, "    consumer: %s returned %d %s (%s)\n", call, rc, f_ring_strerror(rc), f_ring_last_error_message());
            h->bad++;
        }
        if (h->strict && rc != RING_ERR_EMPTY && rc != RING_ERR_OVERWRITTEN) { h->bad++; break; }
        if (rc == RING_ERR_CORRUPT || rc == RING_ERR_END_OF_STREAM) pause_us(500);
        if (h->bad > 20) break;
    }
    free(buf);
    free(vs.copies);
    return NULL;
}

/* Joins a thread within `seconds`; 0 if it did not finish (a hang: reported). */
static int join_within(pthread_t t, double seconds, honest *h, int side) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)seconds;
    if (pthread_timedjoin_np(t, NULL, &ts) == 0) return 1;
    double started = h->call_started[side];
    fprintf(stderr, "    %s hangs in %s (for %.1f s)\n", side ? "consumer" : "producer",
            side ? "its current call" : h->last_call[0], started ? now() - started : -1.0);
    return 0;
}

/* One episode: a fresh ring, both honest threads, one scribbler process for `seconds`. */
static void episode(int policy, int mode, double seconds, uint64_t seed, honest *total, int *guarded, int *episodes) {
    char name[64];
    snprintf(name, sizeof name, "hostile-%d", *episodes);
    ring_t *r = make_ring(name, mode == SCRIBBLE_WAITERS ? 16384 : 65536, policy);
    if (!r) return;
    f_ring_free(r);
    const char *path = path_of(name);
    honest *h = calloc(1, sizeof *h);
    if (open_guarded(path, &h->ring, &h->lm) != RING_OK) { FAILF("open: %s", f_ring_last_error_message()); free(h); return; }
    (*episodes)++;
    if (h->lm.guarded) (*guarded)++;
    ring_info_t info;
    OK(f_ring_info(h->ring, &info));
    h->w = (wl_workload){ seed, 8, (size_t)info.max_message_size };
    OK(f_ring_producer_open(h->ring, &h->p));
    OK(f_ring_consumer_open(h->ring, &h->c));
    h->strict = mode == SCRIBBLE_WAITERS;
    h->forever = h->strict;
    h->produce_count = long_mode ? 1000000 : 20000;
    h->produce_until = now() + (long_mode ? 60 : 3);
    pid_t pid = fork_flushed();
    if (pid == 0) scribbler_main(path, mode, h->strict ? 3600 : seconds, h->strict ? 2.0 : seconds * 250, seed);
    pthread_t pt, ct;
    pthread_create(&pt, NULL, producer_thread, h);
    pthread_create(&ct, NULL, consumer_thread, h);
    int hung = 0;
    if (h->strict) {
        /* Every message must arrive; the producer closes the stream when done. */
        if (!join_within(pt, long_mode ? 300 : 30, h, 0)) hung = 1;
        else if (!h->bad) OK(f_ring_producer_close_writer(h->p));
        if (!hung && !join_within(ct, 10, h, 1)) hung = 1;
        kill(pid, SIGKILL);
    } else {
        pause_us((unsigned)(seconds * 1e6));
        h->stop = 1;
        if (!join_within(pt, 5, h, 0)) hung = 1;
        if (!hung && !join_within(ct, 5, h, 1)) hung = 1;
        kill(pid, SIGKILL);
    }
    waitpid(pid, NULL, 0);
    if (hung) {
        FAILF("episode %d hung (policy %d)", *episodes, policy);
        fflush(NULL);
        _exit(1); /* threads still inside the library: leave without cleaning up */
    }
    if (h->strict) {
        ring_info_t end;
        int rc = f_ring_info(h->ring, &end);
        if (rc != RING_OK) FAILF("ring_info after a waiters-only scribble run: %s (%s)", f_ring_strerror(rc), f_ring_last_error_message());
        uint64_t tail = h->produced - h->expected;
        printf("     policy %-9s produced %llu received %llu gaps %llu tail %llu dropped %llu garbage %llu\n",
               policy ? "overwrite" : "reject", (unsigned long long)h->produced, (unsigned long long)h->received,
               (unsigned long long)h->gaps, (unsigned long long)tail, (unsigned long long)end.dropped_count, (unsigned long long)h->garbage);
        CHECK(h->produced > 0);
        CHECK(h->garbage == 0);
        CHECK(tail == 0);
        CHECK(h->received + h->gaps == h->produced);
        if (policy == RING_REJECT_WHEN_FULL) CHECK(h->gaps == 0);
        else if (rc == RING_OK) CHECK(h->gaps == end.dropped_count);
    }
    total->produced += h->produced;
    total->received += h->received;
    total->garbage += h->garbage;
    for (int k = 0; k < 16; k++) { total->produced_errors[k] += h->produced_errors[k]; total->consumed_errors[k] += h->consumed_errors[k]; }
    if (h->bad) FAILF("episode %d: %d bad results", *episodes, h->bad);
    f_ring_producer_free(h->p);
    f_ring_consumer_free(h->c);
    f_ring_free(h->ring);
    if (h->lm.guarded) munmap((void *)h->lm.end, 4096);
    unlink(path);
    free(h);
}

/* ---------------------------------------------------------------------- */
/* A scribbled reader table (1.1 rings)                                      */

/* What the third thread does and sees: ring_readers, joins and leaves, a few reads per join. */
typedef struct joiner {
    honest *h;
    /* The joiner's own handle of the ring (a gating join may wait up to 2 s for a hostile "reclaim in
     * progress", holding its ring_t's lock all the while: on the honest sides' handle that would hold
     * up their ring_info), mapped with a guard page as theirs is. */
    ring_t *ring;
    lib_map lm;
    int policy;
    uint64_t listed, list_errors[16], joins, join_errors[16], reads, read_errors[16], exact, garbage;
    int bad;
} joiner;

static void *joiner_thread(void *arg) {
    joiner *j = arg;
    honest *h = j->h;
    rng_state ^= 0x55AA55AAULL;
    size_t max = h->w.max_size;
    uint8_t *buf = malloc(max + 1);
    static const char *names[] = { NULL, NULL, "hostile-a", "hostile-b" };
    while (!h->stop) {
        ring_reader_info_t infos[16];
        size_t count = 0;
        double t0 = now();
        int rc = f_ring_readers(j->ring, infos, 16, &count);
        note_slow(h, 1, t0, "ring_readers", 0);
        j->list_errors[code_index(rc)]++;
        if (rc == RING_OK) {
            j->listed++;
            if (count > 16) { fprintf(stderr, "    ring_readers: %zu readers in a 16-slot table\n", count); j->bad++; }
            for (size_t i = 0; i < count && i < 16; i++) {
                if (infos[i].slot >= 16 || strnlen(infos[i].name, sizeof infos[i].name) >= sizeof infos[i].name
                    || (infos[i].flags & ~7u) || infos[i].lag_bytes > h->lm.end - h->lm.start) {
                    fprintf(stderr, "    ring_readers: a bad entry (slot %u, flags 0x%x, lag %llu, name not NUL-terminated: %d)\n",
                            infos[i].slot, infos[i].flags, (unsigned long long)infos[i].lag_bytes,
                            strnlen(infos[i].name, sizeof infos[i].name) >= sizeof infos[i].name);
                    j->bad++;
                }
            }
        } else if (rc != RING_ERR_CORRUPT) {
            fprintf(stderr, "    ring_readers returned %d %s (%s)\n", rc, f_ring_strerror(rc), f_ring_last_error_message());
            j->bad++;
        }
        ring_reader_options_t o = RING_READER_OPTIONS_INIT;
        o.flags = (j->policy == RING_OVERWRITE_OLDEST || rnd() % 2 ? RING_READER_LAPPING : 0) | (rnd() % 3 == 0 ? RING_READER_NEWEST : 0);
        o.name = names[rnd() % 4];
        o.gate_timeout_ms = (uint32_t)(rnd() % 50);
        ring_consumer_t *c = NULL;
        t0 = now();
        rc = f_ring_reader_open(j->ring, &o, &c);
        /* A gating join waits up to 2 s for a reclaim in progress (a hostile odd
         * reclaimSequence looks like one: SPEC.md §17.5 step 5), then BUSY. */
        note_slow(h, 1, t0, "ring_reader_open", 2000000000LL);
        j->join_errors[code_index(rc)]++;
        if (rc != RING_OK) {
            if (rc != RING_ERR_BUSY && rc != RING_ERR_CORRUPT) {
                fprintf(stderr, "    ring_reader_open(flags %u, name %s) returned %d %s (%s)\n", o.flags, o.name ? o.name : "NULL", rc,
                        f_ring_strerror(rc), f_ring_last_error_message());
                j->bad++;
            }
            pause_us((unsigned)(rnd() % 2000));
            continue;
        }
        j->joins++;
        int reads = (int)(rnd() % 4);
        for (int k = 0; k < reads && !h->stop; k++) {
            size_t len = 0;
            t0 = now();
            rc = f_ring_read_timeout(c, buf, max + 1, &len, 10000000);
            note_slow(h, 1, t0, "ring_read_timeout (joiner)", 10000000);
            j->read_errors[code_index(rc)]++;
            uint64_t index = 0;
            if (rc == RING_OK) {
                j->reads++;
                if (len <= max && wl_index(buf, len, &index) == 0 && wl_matches(&h->w, index, buf, len)) j->exact++;
                else if (j->garbage++ < 3) fprintf(stderr, "    joiner: a message fails its check (%zu bytes, index field %llu)\n", len, (unsigned long long)index);
            } else if (!allowed_read_error(rc)) {
                fprintf(stderr, "    joiner: ring_read_timeout returned %d %s (%s)\n", rc, f_ring_strerror(rc), f_ring_last_error_message());
                j->bad++;
            }
        }
        uint64_t missed = 0;
        rc = f_ring_reader_missed(c, &missed);
        if (rc != RING_OK) { fprintf(stderr, "    joiner: ring_reader_missed returned %s\n", f_ring_strerror(rc)); j->bad++; }
        f_ring_consumer_free(c);
        pause_us((unsigned)(rnd() % 1000));
    }
    free(buf);
    return NULL;
}

/* One episode on a 1.1 ring with 16 slots: a producer, an honest reader (gating or lapping), the joiner
 * thread, and a scribbler process on the reader table for `seconds`. */
static void reader_episode(int policy, double seconds, uint64_t seed, honest *total, joiner *jtotal, int *guarded, int *episodes) {
    char name[64];
    snprintf(name, sizeof name, "hostile-readers-%d", *episodes);
    const char *path = path_of(name);
    unlink(path);
    ring_t *r = NULL;
    OK(f_ring_create_readers(path, 65536, policy, 0600, 0, 16, 0, &r));
    if (!r) return;
    f_ring_free(r);
    honest *h = calloc(1, sizeof *h);
    if (open_guarded(path, &h->ring, &h->lm) != RING_OK) { FAILF("open: %s", f_ring_last_error_message()); free(h); return; }
    (*episodes)++;
    if (h->lm.guarded) (*guarded)++;
    ring_info_t info;
    OK(f_ring_info(h->ring, &info));
    h->w = (wl_workload){ seed, 8, (size_t)info.max_message_size / 4 };
    int gating = policy == RING_REJECT_WHEN_FULL && *episodes % 2 == 0;
    ring_reader_options_t o = RING_READER_OPTIONS_INIT;
    o.flags = gating ? 0 : RING_READER_LAPPING;
    OK(f_ring_producer_open(h->ring, &h->p));
    OK(f_ring_reader_open(h->ring, &o, &h->c));
    if (!h->p || !h->c) { f_ring_producer_free(h->p); f_ring_consumer_free(h->c); f_ring_free(h->ring); free(h); return; }
    joiner *j = calloc(1, sizeof *j);
    j->h = h;
    j->policy = policy;
    if (open_guarded(path, &j->ring, &j->lm) != RING_OK) {
        FAILF("open (joiner): %s", f_ring_last_error_message());
        f_ring_producer_free(h->p); f_ring_consumer_free(h->c); f_ring_free(h->ring); free(h); free(j);
        return;
    }
    pid_t pid = fork_flushed();
    if (pid == 0) scribbler_main(path, SCRIBBLE_READERS, seconds, 1.0, seed);
    pthread_t pt, ct, jt;
    pthread_create(&pt, NULL, producer_thread, h);
    pthread_create(&ct, NULL, consumer_thread, h);
    pthread_create(&jt, NULL, joiner_thread, j);
    pause_us((unsigned)(seconds * 1e6));
    h->stop = 1;
    int hung = 0;
    if (!join_within(pt, 5, h, 0)) hung = 1;
    if (!hung && !join_within(ct, 5, h, 1)) hung = 1;
    if (!hung && !join_within(jt, 5, h, 1)) hung = 1;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (hung) {
        FAILF("reader episode %d hung (policy %d)", *episodes, policy);
        fflush(NULL);
        _exit(1); /* threads still inside the library: leave without cleaning up */
    }
    /* The data region and the positions were never touched: what the reader got is exact, and its
     * gaps are what it missed (a fooled producer may have lapped even a gating reader). */
    uint64_t missed = UINT64_MAX;
    OK(f_ring_reader_missed(h->c, &missed));
    if (h->garbage) FAILF("episode %d: the honest reader got %llu messages that fail their check", *episodes, (unsigned long long)h->garbage);
    if (j->garbage) FAILF("episode %d: joined readers got %llu messages that fail their check", *episodes, (unsigned long long)j->garbage);
    if (h->gaps != missed)
        FAILF("episode %d (%s reader): gaps in the indexes %llu, ring_reader_missed %llu", *episodes, gating ? "gating" : "lapping",
              (unsigned long long)h->gaps, (unsigned long long)missed);
    total->produced += h->produced;
    total->received += h->received;
    total->gaps += h->gaps;
    total->garbage += h->garbage;
    for (int k = 0; k < 16; k++) {
        total->produced_errors[k] += h->produced_errors[k]; total->consumed_errors[k] += h->consumed_errors[k];
        jtotal->list_errors[k] += j->list_errors[k]; jtotal->join_errors[k] += j->join_errors[k]; jtotal->read_errors[k] += j->read_errors[k];
    }
    jtotal->listed += j->listed; jtotal->joins += j->joins; jtotal->reads += j->reads; jtotal->exact += j->exact;
    if (gating && h->gaps) jtotal->garbage++; /* here: episodes where a gating reader was lapped */
    if (h->bad) FAILF("episode %d: %d bad results", *episodes, h->bad);
    if (j->bad) FAILF("episode %d: %d bad results of the joiner thread", *episodes, j->bad);
    f_ring_producer_free(h->p);
    f_ring_consumer_free(h->c);
    f_ring_free(h->ring);
    if (h->lm.guarded) munmap((void *)h->lm.end, 4096);
    f_ring_free(j->ring);
    if (j->lm.guarded) munmap((void *)j->lm.end, 4096);
    unlink(path);
    free(j);
    free(h);
}

static void print_codes(const char *who, const uint64_t *codes);

static void reader_table_run(int policy) {
    honest total;
    joiner jtotal;
    memset(&total, 0, sizeof total);
    memset(&jtotal, 0, sizeof jtotal);
    int guarded = 0, episodes = 0;
    double end = now() + scribble_seconds;
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
    printf("     seed %llu\n", (unsigned long long)seed);
    do {
        reader_episode(policy, 0.05 + (double)(rnd() % 200) / 1000.0, seed + (uint64_t)episodes, &total, &jtotal, &guarded, &episodes);
        if (failures_in_test) break;
    } while (now() < end);
    printf("     %d episodes (%d with a guard page after the mapping), %llu written, %llu received exact, %llu missed (== ring_reader_missed)\n",
           episodes, guarded, (unsigned long long)total.produced, (unsigned long long)total.received, (unsigned long long)total.gaps);
    printf("     joiner: %llu table listings, %llu joins, %llu messages read (%llu exact)%s\n", (unsigned long long)jtotal.listed,
           (unsigned long long)jtotal.joins, (unsigned long long)jtotal.reads, (unsigned long long)jtotal.exact, "");
    if (policy == RING_REJECT_WHEN_FULL)
        printf("     episodes in which the hostile table made the producer lap a gating reader: %llu\n", (unsigned long long)jtotal.garbage);
    print_codes("producer results", total.produced_errors);
    print_codes("reader results", total.consumed_errors);
    print_codes("ring_readers results", jtotal.list_errors);
    print_codes("ring_reader_open results", jtotal.join_errors);
    print_codes("joined readers' read results", jtotal.read_errors);
}
static void test_reader_table_reject(void) { reader_table_run(RING_REJECT_WHEN_FULL); }
static void test_reader_table_overwrite(void) { reader_table_run(RING_OVERWRITE_OLDEST); }

static void print_codes(const char *who, const uint64_t *codes) {
    printf("     %s:", who);
    for (int k = 0; k < 16; k++) if (codes[k]) printf(" %s=%llu", k == 15 ? "other" : f_ring_strerror(-k), (unsigned long long)codes[k]);
    printf("\n");
}

static void scribble_run(int policy, int mode) {
    honest total;
    memset(&total, 0, sizeof total);
    int guarded = 0, episodes = 0;
    double end = now() + (mode == SCRIBBLE_WAITERS ? 0 : scribble_seconds);
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
    printf("     seed %llu\n", (unsigned long long)seed);
    do {
        episode(policy, mode, 0.02 + (double)(rnd() % 150) / 1000.0, seed + (uint64_t)episodes, &total, &guarded, &episodes);
        if (failures_in_test) break;
    } while (now() < end);
    printf("     %d episodes (%d with a guard page after the mapping), %llu written, %llu received exact, %llu failed their self-check\n",
           episodes, guarded, (unsigned long long)total.produced, (unsigned long long)total.received, (unsigned long long)total.garbage);
    print_codes("producer results", total.produced_errors);
    print_codes("consumer results", total.consumed_errors);
}

static void test_scribble_reject(void) { scribble_run(RING_REJECT_WHEN_FULL, SCRIBBLE_ALL); }
static void test_scribble_overwrite(void) { scribble_run(RING_OVERWRITE_OLDEST, SCRIBBLE_ALL); }
static void test_waiters_reject(void) { scribble_run(RING_REJECT_WHEN_FULL, SCRIBBLE_WAITERS); }
static void test_waiters_overwrite(void) { scribble_run(RING_OVERWRITE_OLDEST, SCRIBBLE_WAITERS); }

/* ---------------------------------------------------------------------- */
/* Defect 3: a hostile consumerPosition under overwrite-oldest             */

/* A 4096-byte overwrite-oldest ring with 63 records of 128 bytes (producerPosition
 * 8064), then consumerPosition set to `hostile`; then one call, in a child with a guard
 * page after the mapping. Returns the call's result, or 100 + signal. */
static int hostile_consumer_position_call(uint64_t hostile, int call, int *guarded) {
    const char *path = path_of("defect3");
    unlink(path);
    ring_t *r = NULL;
    if (f_ring_create(path, 4096, RING_OVERWRITE_OLDEST, 0600, 0, &r)) return -100;
    f_ring_free(r);
    int report[2];
    if (pipe(report) != 0) return -100;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        alarm(10);
        close(report[0]);
        lib_map lm;
        ring_t *ring = NULL;
        ring_producer_t *p = NULL;
        ring_consumer_t *c = NULL;
        if (open_guarded(path, &ring, &lm) || f_ring_producer_open(ring, &p) || f_ring_consumer_open(ring, &c)) _exit(99);
        char g = lm.guarded ? 'g' : 'n';
        if (write(report[1], &g, 1) != 1) _exit(99);
        uint8_t msg[120];
        memset(msg, 'm', sizeof msg);
        for (int i = 0; i < 63; i++) if (f_ring_write(p, msg, sizeof msg)) _exit(98);
        file_map m;
        if (map_file(path, &m)) _exit(97);
        atomic_store(word64(&m, RING_OFFSET_CONSUMER_POSITION), hostile);
        uint8_t buf[4096], *copies = malloc(8 * 4096);
        size_t len = 0, lengths[8], count = 0;
        const void *data = NULL;
        ring_info_t info;
        visit_state vs = { 0 };
        honest h = { .w = { 1, 0, 2040 }, .lm = lm };
        vs.h = &h;
        vs.copies = copies;
        int rc;
        switch (call) {
        case 0: rc = f_ring_read(c, buf, sizeof buf, &len); break;
        case 1: rc = f_ring_read_timeout(c, buf, sizeof buf, &len, 100000000); break;
        case 2: rc = f_ring_read_batch(c, buf, sizeof buf, lengths, 8, &count, 0); break;
        case 3: rc = f_ring_consume(c, visit, &vs, 8, &count); break;
        case 4: rc = f_ring_peek(c, &data, &len, 0); if (rc == RING_OK) f_ring_release_cancel(c); break;
        case 5: rc = f_ring_peek_batch(c, buf, sizeof buf, lengths, 8, &count); break;
        case 6: rc = f_ring_info(ring, &info); break;
        default: memset(buf, 'w', 200); rc = f_ring_write(p, buf, 200); break; /* needs a reclaim from consumerPosition */
        }
        _exit(rc < 0 ? -rc : rc);
    }
    close(report[1]);
    char g = 'n';
    if (read(report[0], &g, 1) != 1) g = 'n';
    close(report[0]);
    *guarded = g == 'g';
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return 100 + WTERMSIG(status);
    int code = WEXITSTATUS(status);
    if (code == ASAN_EXIT) return 100 + SIGSEGV; /* ASan caught the fault (its report is above) */
    if (code >= 97 && code <= 99) return -100;
    return -code;
}

static void test_defect3_consumer_position(void) {
    static const char *calls[] = { "ring_read", "ring_read_timeout", "ring_read_batch", "ring_consume", "ring_peek",
                                   "ring_peek_batch", "ring_info", "ring_write (reclaim)" };
    /* producerPosition 8064: offset capacity-4 (in range, and past the producer), odd, 4-aligned. */
    static const uint64_t values[] = { 4092, 8188, 4093, 7999, 8061, 8060, 4100 };
    int guarded_all = 1;
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        for (int call = 0; call < 8; call++) {
            int guarded = 0;
            int rc = hostile_consumer_position_call(values[v], call, &guarded);
            if (!guarded) guarded_all = 0;
            if (rc == -100) { FAILF("setup failed"); continue; }
            if (rc >= 100) {
                FAILF("consumerPosition %llu (offset %llu): %s died of signal %d (%s)", (unsigned long long)values[v],
                      (unsigned long long)(values[v] % 4096), calls[call], rc - 100, strsignal(rc - 100));
            } else if (rc != RING_ERR_CORRUPT) {
                FAILF("consumerPosition %llu (offset %llu): %s returned %s, expected CORRUPT (%s)", (unsigned long long)values[v],
                      (unsigned long long)(values[v] % 4096), calls[call], f_ring_strerror(rc), f_ring_last_error_message());
            }
        }
    }
    printf("     guard page after the mapping: %s\n", guarded_all ? "in every case" : "NOT in every case");
}

/* ---------------------------------------------------------------------- */
/* Defect 10: a hostile 0 in readerWaiters / writerWaiters                  */

struct waiter { ring_consumer_t *c; ring_producer_t *p; _Atomic int rc; _Atomic int done; _Atomic double when; };

static void *wait_reader(void *arg) {
    struct waiter *w = arg;
    uint8_t buf[256];
    size_t len;
    w->rc = f_ring_read_timeout(w->c, buf, sizeof buf, &len, RING_WAIT_FOREVER);
    w->when = now();
    w->done = 1;
    return NULL;
}

static void *wait_writer(void *arg) {
    struct waiter *w = arg;
    uint8_t buf[1000] = { 0 };
    w->rc = f_ring_write_timeout(w->p, buf, sizeof buf, RING_WAIT_FOREVER);
    w->when = now();
    w->done = 1;
    return NULL;
}

static void zeroed_waiters(int reader, int policy) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("defect10", 4096, policy, &r, &p, &c)) return;
    file_map m;
    CHECK(map_file(path_of("defect10"), &m) == 0);
    uint8_t buf[1000] = { 0 };
    size_t len;
    for (int round = 0; round < 3; round++) {
        if (!reader) while (f_ring_write(p, buf, sizeof buf) == RING_OK) {} /* full */
        struct waiter w = { .c = c, .p = p, .rc = 1 };
        pthread_t t;
        pthread_create(&t, NULL, reader ? wait_reader : wait_writer, &w);
        pause_us(300000);
        CHECK(!w.done);
        uint32_t before = atomic_load(word32(&m, reader ? RING_OFFSET_READER_WAITERS : RING_OFFSET_WRITER_WAITERS));
        atomic_store(word32(&m, reader ? RING_OFFSET_READER_WAITERS : RING_OFFSET_WRITER_WAITERS), 0);
        double t0 = now();
        if (reader) OK(f_ring_write(p, "wake up", 7));
        else { uint8_t big[1000]; OK(f_ring_read(c, big, sizeof big, &len)); OK(f_ring_read(c, big, sizeof big, &len)); }
        while (!w.done && now() - t0 < 3) pause_us(1000);
        printf("     %s blocked FOREVER, %s was %u, set to 0, then a %s: %s after %.3f s\n", reader ? "reader" : "writer",
               reader ? "readerWaiters" : "writerWaiters", before, reader ? "commit" : "read",
               w.done ? f_ring_strerror(w.rc) : "still asleep", w.done ? w.when - t0 : now() - t0);
        CHECK(w.done && w.when - t0 < 1.0);
        if (!w.done) { fflush(NULL); _exit(1); }
        CHECK(w.rc == RING_OK);
        pthread_join(t, NULL);
        if (reader) CHECK(f_ring_read(c, buf, sizeof buf, &len) == RING_ERR_EMPTY);
        else while (f_ring_read(c, buf, sizeof buf, &len) == RING_OK) {}
    }
    munmap(m.base, m.size);
    free_roles(r, p, c);
}
static void test_defect10_reader_waiters(void) { zeroed_waiters(1, RING_REJECT_WHEN_FULL); zeroed_waiters(1, RING_OVERWRITE_OLDEST); }
static void test_defect10_writer_waiters(void) { zeroed_waiters(0, RING_REJECT_WHEN_FULL); }

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *lib = getenv("RINGFORMAT_LIB"), *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--long")) long_mode = 1;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) scribble_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else lib = argv[i];
    }
    if (env_long_mode()) long_mode = 1;
    if (long_mode && scribble_seconds == 4) scribble_seconds = 120;
    if (!lib) { fprintf(stderr, "usage: hostile_peer LIBRARY [--long] [--seconds S] [--only NAME]\n"); return 2; }
    if (load_library(lib) != 0 || make_test_dir("hostile") != 0) return 2;
    int scribble_limit = (int)scribble_seconds + 30, waiters_limit = long_mode ? 400 : 60;

    test_case tests[] = {
        { "defect3_hostile_consumer_position_is_corrupt", test_defect3_consumer_position, 60 },
        { "defect10_zeroed_reader_waiters_still_wakes", test_defect10_reader_waiters, 30 },
        { "defect10_zeroed_writer_waiters_still_wakes", test_defect10_writer_waiters, 20 },
        { "hostile_wait_words_reject_forever_waits", test_waiters_reject, waiters_limit },
        { "hostile_wait_words_overwrite_forever_waits", test_waiters_overwrite, waiters_limit },
        { "hostile_scribbler_reject", test_scribble_reject, scribble_limit },
        { "hostile_scribbler_overwrite", test_scribble_overwrite, scribble_limit },
        { "hostile_reader_table_reject", test_reader_table_reject, scribble_limit },
        { "hostile_reader_table_overwrite", test_reader_table_overwrite, scribble_limit },
    };
    return RUN_TESTS(tests, only, "hostile");
}
