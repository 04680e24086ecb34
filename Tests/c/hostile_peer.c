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
 *
 * Typed rings (SPEC.md §19, §20): an item producer and an item consumer, each on
 * its own handle of the ring mapped once or twice (RING_OPEN_SINGLE_MAP /
 * RING_OPEN_DOUBLE_MAP, with PROT_NONE pages placed right before and after each
 * mapping), exchange 24-byte self-checking items (they straddle the end of every
 * data region; positions start at 0, 2^32 - 300, 2^64 - 500) under both policies,
 * with copies and in-place spans, while the hostile process scribbles one class
 * of words per episode. Wait words with live garbage over the identity line and
 * the type description (read once at open), writerState and droppedCount, or the
 * item bytes: the stream is then closed and drained, and every item is accounted
 * for (exact and in order; with item bytes scribbled, exact + failed self-check +
 * replayed + missed = written; missed == gaps == dropped_count). Positions (in
 * range and out, transient and left) and everything at once: counted, with every
 * CORRUPT naming a position or writerState reason and every span inside the data
 * region. A file truncated while both sides run: CORRUPT(truncated) from then on
 * (SPEC.md §12), never a crash, never an item that is not one. One call at a time:
 * out-of-range positions and bad writerState (their CORRUPT reason, per call),
 * lies that are taken back (the ring works again, nothing counted missed or read
 * twice), shrunk files, and the identity of a closed typed ring (item fields, type
 * description, flags and file size, with and without fixed checksums, and fuzzed).
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
    X(ring_create_readers) X(ring_reader_open) X(ring_reader_missed) X(ring_readers) \
    X(ring_create_items) X(ring_open_flags) X(ring_is_double_mapped) X(ring_item_info) X(ring_item_producer_open) \
    X(ring_write_items) X(ring_items_writable) X(ring_items_commit) X(ring_item_producer_close_writer) X(ring_item_producer_free) \
    X(ring_item_consumer_open) X(ring_read_items) X(ring_items_readable) X(ring_items_consume) X(ring_items_missed) \
    X(ring_item_consumer_free)
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
/* Typed rings (SPEC.md §19, §20): items straddle the end, both mappings    */

/* The item: 24 self-checking bytes (so items straddle the end of every data region). Item `seq`
 * of an episode holds seq, then words derived from seq and the episode's seed: a zero, torn or
 * half-scribbled item fails the check; only a whole item the producer wrote passes it. */
#define ITEM_TYPE "{seq:<u8@0,mix:<u8@8,tag:<u4@16,sum:<u4@20}24"
#define ITEM_SIZE 24
typedef struct item { uint64_t seq, mix; uint32_t tag, sum; } item;
_Static_assert(sizeof(item) == ITEM_SIZE, "ITEM_TYPE's size");
/* The host's page size: the unit of guard pages, of double mapping (SPEC.md §20.1) and of what truncate(2) takes away. */
static size_t page_size_bytes(void) {
    static size_t page;
    if (!page) { long p = sysconf(_SC_PAGESIZE); page = p > 0 ? (size_t)p : 4096; }
    return page;
}
#define PAGE page_size_bytes()

static void item_fill(item *it, uint64_t seed, uint64_t seq) {
    it->seq = seq;
    it->mix = wl_splitmix64(seq ^ seed);
    it->tag = (uint32_t)(seq * 0x9E3779B1ULL) ^ (uint32_t)(seed >> 32);
    it->sum = (uint32_t)(it->mix >> 32) ^ (uint32_t)seq ^ 0xA5A5A5A5u;
}

/* 0 and *seq if the 24 bytes at p are exactly an item of this seed, else -1. */
static int item_check(const void *p, uint64_t seed, uint64_t *seq) {
    item got, want;
    memcpy(&got, p, sizeof got);
    item_fill(&want, seed, got.seq);
    if (memcmp(&got, &want, sizeof got) != 0) return -1;
    *seq = got.seq;
    return 0;
}

/* CRC-32/ISO-HDLC (headerChecksum, typeChecksum: SPEC.md §3.1). */
static uint32_t crc32_iso(const uint8_t *buf, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t j = 0; j < len; j++) {
        crc ^= buf[j];
        for (int k = 0; k < 8; k++) crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

/* The library's mapping of one ring handle: the file once or its data region twice after it. */
typedef struct item_map {
    uintptr_t start, end;          /* the whole mapping */
    uintptr_t data, data_end;      /* the data region: capacity bytes, twice that when doubled */
    uint64_t capacity;             /* bytes of the data region */
    int doubled;                   /* ring_is_double_mapped */
    uintptr_t guard_lo, guard_hi;  /* PROT_NONE pages we placed right before and after it, or 0 */
} item_map;

/* The address ranges /proc/self/maps gives for `path` (up to max): how many. */
static int file_ranges(const char *path, uintptr_t ranges[][2], int max) {
    char real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        unsigned long a, b;
        char *name = strchr(line, '/');
        if (!name) continue;
        name[strcspn(name, "\n")] = 0;
        if (strcmp(name, real) != 0 || sscanf(line, "%lx-%lx", &a, &b) != 2) continue;
        ranges[n][0] = a; ranges[n][1] = b; n++;
    }
    fclose(f);
    return n;
}

/* A PROT_NONE page at addr if that page is free: 1 if placed. */
static int guard_page_at(uintptr_t addr) {
    void *g = mmap((void *)addr, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (g == (void *)addr) return 1;
    if (g != MAP_FAILED) munmap(g, PAGE);
    return 0;
}

static void unguard(item_map *m) {
    if (m->guard_lo) munmap((void *)m->guard_lo, PAGE);
    if (m->guard_hi) munmap((void *)m->guard_hi, PAGE);
    m->guard_lo = m->guard_hi = 0;
}

/* Opens the typed ring at path with RING_OPEN_* flags and finds its new mapping (the ranges of the
 * file that were not mapped before), with a PROT_NONE page right before and right after it when
 * those addresses can be had: a hole of mapping + 2 pages is reserved and its middle freed, so the
 * library's mmap lands between the two guard pages. */
static int open_items_guarded(const char *path, uint32_t flags, ring_t **r, item_map *m) {
    memset(m, 0, sizeof *m);
    uint8_t head[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return RING_ERR_SYSTEM;
    ssize_t got = pread(fd, head, sizeof head, 0);
    close(fd);
    if (got != (ssize_t)sizeof head) return RING_ERR_SYSTEM;
    uint32_t header_size;
    memcpy(&header_size, head + RING_OFFSET_HEADER_SIZE, 4);
    memcpy(&m->capacity, head + RING_OFFSET_CAPACITY, 8);
    size_t total = header_size + (size_t)m->capacity * (flags & RING_OPEN_DOUBLE_MAP ? 2 : 1);
    for (int attempt = 0; attempt < 6; attempt++) {
        uintptr_t before[16][2], after[16][2];
        int nb = file_ranges(path, before, 16);
        uint8_t *hole = mmap(NULL, total + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (hole != MAP_FAILED) munmap(hole + PAGE, total);
        int rc = f_ring_open_flags(path, flags, r);
        if (rc != RING_OK) {
            if (hole != MAP_FAILED) { munmap(hole, PAGE); munmap(hole + PAGE + total, PAGE); }
            return rc;
        }
        int na = file_ranges(path, after, 16);
        m->start = UINTPTR_MAX; m->end = 0;
        for (int i = 0; i < na; i++) {
            int old = 0;
            for (int j = 0; j < nb; j++) if (after[i][0] == before[j][0]) old = 1;
            if (old) continue;
            if (after[i][0] < m->start) m->start = after[i][0];
            if (after[i][1] > m->end) m->end = after[i][1];
        }
        int yes = 0;
        OK(f_ring_is_double_mapped(*r, &yes));
        m->doubled = yes;
        if (m->end == 0) { m->start = 0; m->data = m->data_end = 0; }
        else { m->data = m->start + header_size; m->data_end = m->data + (size_t)m->capacity * (m->doubled ? 2 : 1); }
        if (m->end && m->end != m->data_end)
            FAILF("the mapping of %s is %#lx-%#lx: not header + %s data region (%s mapping)", path, (unsigned long)m->start,
                  (unsigned long)m->end, m->doubled ? "twice the" : "the", m->doubled ? "double" : "single");
        if (hole != MAP_FAILED && m->start == (uintptr_t)hole + PAGE && m->end == m->start + total) {
            m->guard_lo = (uintptr_t)hole;
            m->guard_hi = m->end;
            return RING_OK;
        }
        if (hole != MAP_FAILED) { munmap(hole, PAGE); munmap(hole + PAGE + total, PAGE); }
        if (m->end) {
            if (guard_page_at(m->start - PAGE)) m->guard_lo = m->start - PAGE;
            if (guard_page_at(m->end)) m->guard_hi = m->end;
            if (m->guard_lo && m->guard_hi) return RING_OK;
            unguard(m);
        }
        if (attempt == 5) return RING_OK; /* unguarded, but mapped and located */
        f_ring_free(*r);
        *r = NULL;
    }
    return RING_OK;
}

/* Checks the spans a typed ring lent (ring_items_readable / ring_items_writable): *count whole items
 * of the ring, inside the data region of the handle's mapping, one span when double-mapped, else the
 * second span at the region's start. NULL if they are fine, else why not. */
static const char *spans_wrong(const item_map *m, const ring_span_t s[2], size_t count, uint64_t item_capacity) {
    if (count > item_capacity) return "more items than the ring holds";
    if (s[0].len + s[1].len != count * ITEM_SIZE) return "span lengths are not count * item size";
    if (count == 0 || !m->data) return NULL;
    uintptr_t d0 = (uintptr_t)s[0].data, d1 = (uintptr_t)s[1].data;
    if (s[0].len && (d0 < m->data || d0 + s[0].len > m->data_end)) return "the first span lies outside the data region";
    if (m->doubled && s[1].len) return "a second span although the region is mapped twice";
    if (!m->doubled && s[1].len && d1 != m->data) return "the second span does not start at the data region";
    return NULL;
}

static void spans_put(const ring_span_t s[2], const void *src, size_t bytes) {
    size_t a = bytes < s[0].len ? bytes : s[0].len;
    if (a) memcpy(s[0].data, src, a);
    if (bytes > a) memcpy(s[1].data, (const uint8_t *)src + a, bytes - a);
}

static void spans_get(const ring_span_t s[2], void *dst, size_t bytes) {
    size_t a = bytes < s[0].len ? bytes : s[0].len;
    if (a) memcpy(dst, s[0].data, a);
    if (bytes > a) memcpy((uint8_t *)dst + a, s[1].data, bytes - a);
}

/* What a hostile peer scribbles in an episode on a typed ring. The first three keep the
 * delivery exact enough to account for every item (strict); the last two are counted only. */
enum {
    ITEMS_WAITS,      /* the wait words, and live garbage over the identity line and the type description */
    ITEMS_WRITER,     /* writerState, droppedCount (and the wait words) */
    ITEMS_DATA,       /* the item bytes: random bytes, zeros, bit flips, a consumed item replayed (and the wait words) */
    ITEMS_POSITIONS,  /* producerPosition, consumerPosition (in range and out), writerState, droppedCount, wait words */
    ITEMS_ALL,        /* all of it */
    ITEMS_TRUNCATE,   /* no scribbles: the file is truncated under both mappings */
    ITEMS_MODES
};
static const char *const items_mode_name[ITEMS_MODES] = {
    "wait words + live identity/type garbage", "writerState + droppedCount", "data region (item bytes)",
    "positions", "everything", "file truncated while open",
};
static int items_strict(int mode) { return mode <= ITEMS_DATA || mode == ITEMS_TRUNCATE; }

/* The scribbler's view of the ring, cached when it maps the file (it scribbles the identity line itself). */
typedef struct items_target { file_map m; uint64_t header_size, item_capacity; } items_target;

static void poke(items_target *t, uint64_t data_offset, uint8_t b) {
    __atomic_store_n(t->m.base + t->header_size + (data_offset & (t->m.capacity - 1)), b, __ATOMIC_RELAXED);
}
static uint8_t peek_byte(items_target *t, uint64_t data_offset) {
    return __atomic_load_n(t->m.base + t->header_size + (data_offset & (t->m.capacity - 1)), __ATOMIC_RELAXED);
}
static uint64_t item_offset(uint64_t position) { return position * ITEM_SIZE; /* masked by poke */ }

/* A position word's hostile value: near the real one, just out of range of the other side's, or wild. */
static uint64_t hostile_item_position(uint64_t real, uint64_t other, uint64_t n) {
    switch (rnd() % 10) {
    case 0: return real + 1 + rnd() % n;               /* ahead, maybe in range */
    case 1: return real - 1 - rnd() % n;               /* behind */
    case 2: return other + n + 1 + rnd() % 4;          /* just out of range of the other side */
    case 3: return other - n - 1 - rnd() % 4;
    case 4: return other - 1;                          /* one before the other side */
    case 5: return rnd();
    case 6: return 0;
    case 7: return UINT64_MAX - rnd() % 16;
    case 8: return real + ((uint64_t)1 << 63);
    default: return other + rnd() % (n + 1);           /* anywhere in range of the other side */
    }
}

static void scribble_item_positions(items_target *t, char *what, size_t what_size) {
    _Atomic uint64_t *cp = word64(&t->m, RING_OFFSET_CONSUMER_POSITION), *pp = word64(&t->m, RING_OFFSET_PRODUCER_POSITION);
    if (rnd() % 10 == 0) {
        /* A storm: consumerPosition rewritten as fast as this process can for a few ms, to its value and the next
         * 7, then put back: every retry loop that reads it must give up (positionsUnstable), not spin. */
        uint64_t old = atomic_load(cp), v = old, i = 0;
        double until = now() + 0.002 + (double)(rnd() % 4) / 1000.0;
        while (now() < until)
            for (int k = 0; k < 256; k++) { v = old + (i++ & 7); atomic_store(cp, v); }
        atomic_compare_exchange_strong(cp, &v, old);
        snprintf(what, what_size, "consumerPosition storm around %llu", (unsigned long long)old);
        return;
    }
    int producer = rnd() % 2;
    _Atomic uint64_t *w = producer ? pp : cp;
    uint64_t old = atomic_load(w), v = hostile_item_position(old, atomic_load(producer ? cp : pp), t->item_capacity);
    atomic_store(w, v);
    int transient = rnd() % 3 != 0;
    snprintf(what, what_size, "%s=%llu (%s)", producer ? "producerPosition" : "consumerPosition", (unsigned long long)v,
             transient ? "transient" : "left");
    if (transient) { /* put the old value back soon, unless an honest side stored a new one meanwhile */
        pause_us((unsigned)(rnd() % 2000));
        atomic_compare_exchange_strong(w, &v, old);
    }
}

static void scribble_item_writer(items_target *t, char *what, size_t what_size) {
    if (rnd() % 3) {
        uint32_t v = rnd() % 4 ? (uint32_t)(rnd() % 3) : (uint32_t)rnd();
        atomic_store(word32(&t->m, RING_OFFSET_WRITER_STATE), v);
        snprintf(what, what_size, "writerState=%u", v);
    } else {
        uint64_t v = rnd() % 2 ? rnd() : atomic_load(word64(&t->m, RING_OFFSET_DROPPED_COUNT)) + rnd() % 1000;
        atomic_store(word64(&t->m, RING_OFFSET_DROPPED_COUNT), v);
        snprintf(what, what_size, "droppedCount=%llu", (unsigned long long)v);
    }
}

/* Garbage in the identity line or the type description while the ring is open: both sides read
 * them once at open (SPEC.md §13, §19.5), so nothing may change for them. */
static void scribble_item_identity(items_target *t, char *what, size_t what_size) {
    static const size_t fields[] = { RING_OFFSET_ITEM_SIZE, RING_OFFSET_ITEM_ALIGNMENT, RING_OFFSET_TYPE_LENGTH,
                                     RING_OFFSET_TYPE_CHECKSUM, RING_OFFSET_CAPACITY, RING_OFFSET_HEADER_SIZE,
                                     RING_OFFSET_POLICY, RING_OFFSET_INCOMPAT_FLAGS, RING_OFFSET_HEADER_CHECKSUM };
    switch (rnd() % 3) {
    case 0: {
        size_t off = fields[rnd() % (sizeof fields / sizeof fields[0])];
        uint32_t v = rnd() % 2 ? (uint32_t)rnd() : (uint32_t)(rnd() % 100);
        atomic_store(word32(&t->m, off), v);
        snprintf(what, what_size, "identity word @%zu=%u", off, v);
        break;
    }
    case 1: {
        size_t off = rnd() % RING_CHECKSUM_COVERED_BYTES;
        __atomic_store_n(t->m.base + off, (uint8_t)rnd(), __ATOMIC_RELAXED);
        snprintf(what, what_size, "identity byte @%zu", off);
        break;
    }
    default: {
        size_t off = RING_ITEM_TYPE_OFFSET + rnd() % RING_MAX_TYPE_LENGTH;
        __atomic_store_n(t->m.base + off, (uint8_t)(rnd() % 2 ? ' ' + rnd() % 95 : rnd()), __ATOMIC_RELAXED);
        snprintf(what, what_size, "type description byte @%zu", off);
        break;
    }
    }
}

/* Item bytes: over an unread item (so the consumer meets it), an item straddling the end, or anywhere. */
static void scribble_item_data(items_target *t, char *what, size_t what_size) {
    uint64_t cp = atomic_load(word64(&t->m, RING_OFFSET_CONSUMER_POSITION)), pp = atomic_load(word64(&t->m, RING_OFFSET_PRODUCER_POSITION));
    uint64_t used = pp - cp, n = t->item_capacity;
    if (used > n) used = 0;
    uint64_t pos = used ? cp + rnd() % used : pp + rnd() % n;
    if (rnd() % 5 == 0) { /* the item that straddles the end nearest ahead of pos */
        for (uint64_t k = 0; k < n; k++) {
            uint64_t off = item_offset(pos + k) & (t->m.capacity - 1);
            if (off + ITEM_SIZE > t->m.capacity) { pos += k; break; }
        }
    }
    uint64_t at = item_offset(pos);
    switch (rnd() % 6) {
    case 0: { /* random bytes over part of it */
        unsigned from = (unsigned)(rnd() % ITEM_SIZE), len = 1 + (unsigned)(rnd() % (ITEM_SIZE - from));
        for (unsigned k = 0; k < len; k++) poke(t, at + from + k, (uint8_t)rnd());
        snprintf(what, what_size, "item %llu: %u random bytes at %u", (unsigned long long)pos, len, from);
        break;
    }
    case 1:
        for (unsigned k = 0; k < ITEM_SIZE; k++) poke(t, at + k, 0);
        snprintf(what, what_size, "item %llu zeroed", (unsigned long long)pos);
        break;
    case 2: {
        unsigned bit = (unsigned)(rnd() % (8 * ITEM_SIZE));
        poke(t, at + bit / 8, (uint8_t)(peek_byte(t, at + bit / 8) ^ (1u << (bit % 8))));
        snprintf(what, what_size, "item %llu: bit %u flipped", (unsigned long long)pos, bit);
        break;
    }
    case 3: { /* replay: a consumed item (still in the region) copied over an unread one */
        uint64_t room = n - used, from = cp - 1 - (room ? rnd() % room : 0);
        uint8_t copy[ITEM_SIZE];
        for (unsigned k = 0; k < ITEM_SIZE; k++) copy[k] = peek_byte(t, item_offset(from) + k);
        for (unsigned k = 0; k < ITEM_SIZE; k++) poke(t, at + k, copy[k]);
        snprintf(what, what_size, "item %llu := item %llu (replay)", (unsigned long long)pos, (unsigned long long)from);
        break;
    }
    default: { /* anywhere in the region */
        uint64_t off = rnd() % t->m.capacity;
        unsigned len = 1 + (unsigned)(rnd() % 64);
        for (unsigned k = 0; k < len; k++) poke(t, off + k, (uint8_t)rnd());
        snprintf(what, what_size, "%u random bytes at data offset %llu", len, (unsigned long long)off);
        break;
    }
    }
}

static void scribble_item_once(items_target *t, int mode, char *what, size_t what_size) {
    unsigned r = (unsigned)(rnd() % 100);
    switch (mode) {
    case ITEMS_WAITS: if (r < 60) scribble_once(&t->m, SCRIBBLE_WAITERS, what, what_size); else scribble_item_identity(t, what, what_size); break;
    case ITEMS_WRITER: if (r < 60) scribble_item_writer(t, what, what_size); else scribble_once(&t->m, SCRIBBLE_WAITERS, what, what_size); break;
    case ITEMS_DATA: if (r < 75) scribble_item_data(t, what, what_size); else scribble_once(&t->m, SCRIBBLE_WAITERS, what, what_size); break;
    case ITEMS_POSITIONS:
        if (r < 60) scribble_item_positions(t, what, what_size);
        else if (r < 80) scribble_item_writer(t, what, what_size);
        else scribble_once(&t->m, SCRIBBLE_WAITERS, what, what_size);
        break;
    default:
        if (r < 30) scribble_item_positions(t, what, what_size);
        else if (r < 60) scribble_item_data(t, what, what_size);
        else if (r < 75) scribble_item_writer(t, what, what_size);
        else if (r < 90) scribble_once(&t->m, SCRIBBLE_WAITERS, what, what_size);
        else scribble_item_identity(t, what, what_size);
        break;
    }
}

/* The hostile process of a typed-ring episode: its own MAP_SHARED mapping, no library. */
static _Noreturn void items_scribbler_main(const char *path, int mode, double seconds, double mean_gap_ms, uint64_t seed,
                                           uint64_t item_capacity) {
    rng_state ^= seed * 0x9E3779B97F4A7C15ULL;
    items_target t;
    if (map_file(path, &t.m) != 0) _exit(3);
    uint32_t hs;
    memcpy(&hs, t.m.base + RING_OFFSET_HEADER_SIZE, 4);
    t.header_size = hs;
    t.item_capacity = item_capacity;
    double end = now() + seconds;
    while (now() < end) {
        pause_us((unsigned)(rnd() % (uint64_t)(2000 * mean_gap_ms + 1)));
        char what[128];
        scribble_item_once(&t, mode, what, sizeof what);
    }
    _exit(0);
}

/* The truncating process: waits, then shrinks the file to `size` bytes. */
static _Noreturn void truncator_main(const char *path, double after_seconds, off_t size) {
    pause_us((unsigned)(after_seconds * 1e6));
    _exit(truncate(path, size) == 0 ? 0 : 4);
}

/* ---------------------------------------------------------------------- */
/* The honest item producer and consumer                                    */

enum { REASON_ORDER, REASON_UNSTABLE, REASON_WRITER_STATE, REASON_TRUNCATED, REASON_OTHER, REASONS };
static const char *const reason_name[REASONS] = { "positionsOutOfOrder", "positionsUnstable", "badWriterState", "truncated", "other" };

static int corrupt_reason(const char *message) {
    if (strstr(message, "truncated")) return REASON_TRUNCATED;
    if (strstr(message, "out of order")) return REASON_ORDER;
    if (strstr(message, "changed on every")) return REASON_UNSTABLE;
    if (strstr(message, "writerState")) return REASON_WRITER_STATE;
    return REASON_OTHER;
}

typedef struct item_side {
    int policy, mode, strict;
    int zeroing;                         /* truncated to a size inside a page: truncate(2) zeroes the rest of that page */
    uint64_t seed, item_capacity;
    ring_t *pring, *cring;               /* each side's own handle: its own mapping (single or double) */
    item_map pm, cm;
    ring_item_producer_t *p;
    ring_item_consumer_t *c;
    double produce_until;
    _Atomic int stop_producer, stop_consumer, finishing, producer_done;
    _Atomic uint64_t filled;             /* items the producer has filled so far (no item of a higher seq exists) */
    /* producer */
    uint64_t produced, p_codes[16];
    _Atomic int p_truncated;             /* it has seen CORRUPT(truncated): every later call must say so */
    /* consumer */
    uint64_t next, in_order, gaps, stale, bad, lends, partial, c_codes[16];
    _Atomic int c_truncated;
    int eos_final;
    /* both */
    _Atomic uint64_t reasons[REASONS];
    _Atomic int bad_results;             /* untyped or unexpected results, bad spans, slow calls */
    char last_call[2][128];
    _Atomic double call_started[2];
} item_side;

#define ITEM_BAD(h, ...) do { if (atomic_fetch_add(&(h)->bad_results, 1) < 12) fprintf(stderr, "    " __VA_ARGS__); } while (0)

static int64_t item_timeout(item_side *h) {
    switch (rnd() % 8) {
    case 0: case 1: case 2: return 0;
    case 3: case 4: return 1000000;
    case 5: case 6: return 10000000;
    default: return h->strict && h->mode != ITEMS_TRUNCATE && rnd() % 3 == 0 ? RING_WAIT_FOREVER : 30000000;
    }
}

/* Checks one result of side 0 (producer) or 1 (consumer): its time, and a CORRUPT's reason against the mode. */
static void item_result(item_side *h, int side, const char *call, int rc, double t0, int64_t timeout) {
    double took = now() - t0;
    if (timeout >= 0 && took > (double)timeout / 1e9 + 1.5)
        ITEM_BAD(h, "%s: %s took %.2f s (timeout %.3f s)\n", side ? "consumer" : "producer", call, took, (double)timeout / 1e9);
    (side ? h->c_codes : h->p_codes)[code_index(rc)]++;
    _Atomic int *truncated = side ? &h->c_truncated : &h->p_truncated;
    if (rc == RING_ERR_CORRUPT) {
        const char *message = f_ring_last_error_message();
        int reason = corrupt_reason(message);
        h->reasons[reason]++;
        int allowed = 0;
        switch (reason) {
        case REASON_TRUNCATED: allowed = h->mode == ITEMS_TRUNCATE; break;
        case REASON_ORDER: case REASON_UNSTABLE: allowed = h->mode == ITEMS_POSITIONS || h->mode == ITEMS_ALL; break;
        case REASON_WRITER_STATE: allowed = side == 1 && (h->mode == ITEMS_WRITER || h->mode == ITEMS_POSITIONS || h->mode == ITEMS_ALL); break;
        default: break;
        }
        if (!allowed) ITEM_BAD(h, "%s: %s returned CORRUPT (%s) in an episode of %s\n", side ? "consumer" : "producer", call, message,
                               items_mode_name[h->mode]);
        if (*truncated && reason != REASON_TRUNCATED)
            ITEM_BAD(h, "%s: %s returned CORRUPT (%s) after CORRUPT(truncated)\n", side ? "consumer" : "producer", call, message);
        if (reason == REASON_TRUNCATED) *truncated = 1;
    } else if (*truncated) {
        /* SPEC.md §12: every later operation on a ring whose mapping faulted fails with CORRUPT(truncated). */
        ITEM_BAD(h, "%s: %s returned %s after CORRUPT(truncated) (SPEC.md §12: every later operation fails so)\n",
                 side ? "consumer" : "producer", call, f_ring_strerror(rc));
    }
}

static void *item_producer_thread(void *arg) {
    item_side *h = arg;
    rng_state ^= 0x1234567ULL ^ h->seed;
    size_t cap = (size_t)h->item_capacity;
    item *buf = malloc(sizeof(item) * (3 * cap + 8));
    while (!h->stop_producer && (!h->strict || now() < h->produce_until) && h->bad_results <= 20) {
        int64_t timeout = item_timeout(h);
        int rc;
        const char *call;
        double t0 = now();
        if (rnd() % 3 != 2) {
            size_t n;
            switch (rnd() % 16) {
            case 10: case 11: case 12: n = 1 + (size_t)(rnd() % cap); break;
            case 13: n = cap; break;
            case 14: n = cap + 1 + (size_t)(rnd() % (h->policy == RING_OVERWRITE_OLDEST ? 2 * cap : 4)); break;
            default: n = 1 + (size_t)(rnd() % 8); break;
            }
            for (size_t i = 0; i < n; i++) item_fill(&buf[i], h->seed, h->produced + i);
            if (h->produced + n > h->filled) h->filled = h->produced + n;
            call = "ring_write_items";
            snprintf(h->last_call[0], sizeof h->last_call[0], "ring_write_items(%zu items from %llu, timeout %lld)", n,
                     (unsigned long long)h->produced, (long long)timeout);
            h->call_started[0] = t0;
            rc = f_ring_write_items(h->p, buf, n, timeout);
            h->call_started[0] = 0;
            item_result(h, 0, call, rc, t0, timeout);
            int too_many = h->policy == RING_REJECT_WHEN_FULL && n > cap;
            if (rc == RING_OK && !too_many) h->produced += n;
            else if (too_many && rc != RING_ERR_INVALID_SIZE && rc != RING_ERR_CORRUPT)
                ITEM_BAD(h, "producer: %zu items into a ring of %zu (reject-when-full): %s, not INVALID_SIZE\n", n, cap, f_ring_strerror(rc));
            else if (rc == RING_ERR_INVALID_SIZE && !too_many)
                ITEM_BAD(h, "producer: ring_write_items of %zu items (ring of %zu) returned INVALID_SIZE\n", n, cap);
            else if (rc == RING_ERR_FULL && h->policy == RING_OVERWRITE_OLDEST)
                ITEM_BAD(h, "producer: ring_write_items returned FULL under overwrite-oldest\n");
            else if (rc != RING_OK && rc != RING_ERR_FULL && rc != RING_ERR_INVALID_SIZE && rc != RING_ERR_CORRUPT)
                ITEM_BAD(h, "producer: ring_write_items returned %d %s (%s)\n", rc, f_ring_strerror(rc), f_ring_last_error_message());
        } else {
            ring_span_t spans[2] = { { NULL, 0 }, { NULL, 0 } };
            size_t count = 0;
            call = "ring_items_writable";
            snprintf(h->last_call[0], sizeof h->last_call[0], "ring_items_writable(timeout %lld)", (long long)timeout);
            h->call_started[0] = t0;
            rc = f_ring_items_writable(h->p, spans, &count, timeout);
            h->call_started[0] = 0;
            item_result(h, 0, call, rc, t0, timeout);
            if (rc == RING_OK) {
                const char *wrong = spans_wrong(&h->pm, spans, count, h->item_capacity);
                if (wrong) {
                    ITEM_BAD(h, "producer: ring_items_writable lent %zu items as %p+%zu, %p+%zu: %s\n", count, spans[0].data, spans[0].len,
                             spans[1].data, spans[1].len, wrong);
                    count = 0;
                }
                size_t k = count == 0 ? 0 : rnd() % 4 == 0 ? (size_t)(rnd() % (count + 1)) : count;
                for (size_t i = 0; i < k; i++) item_fill(&buf[i], h->seed, h->produced + i);
                if (h->produced + k > h->filled) h->filled = h->produced + k;
                spans_put(spans, buf, k * ITEM_SIZE);
                t0 = now();
                int rc2 = f_ring_items_commit(h->p, k);
                item_result(h, 0, "ring_items_commit", rc2, t0, 0);
                if (rc2 == RING_OK) h->produced += k;
                else if (rc2 != RING_ERR_CORRUPT || h->mode != ITEMS_TRUNCATE)
                    ITEM_BAD(h, "producer: ring_items_commit(%zu of %zu) returned %d %s (%s)\n", k, count, rc2, f_ring_strerror(rc2),
                             f_ring_last_error_message());
            } else if (rc == RING_ERR_FULL ? h->policy == RING_OVERWRITE_OLDEST : rc != RING_ERR_CORRUPT) {
                ITEM_BAD(h, "producer: ring_items_writable returned %d %s (%s)\n", rc, f_ring_strerror(rc), f_ring_last_error_message());
            }
        }
        if (rc == RING_ERR_CORRUPT) pause_us(500);
        if (rnd() % 8 == 0) pause_us((unsigned)(rnd() % 300));
    }
    h->producer_done = 1;
    free(buf);
    return NULL;
}

/* One item the consumer got: exact and in order (a gap counted), a valid item out of order (stale:
 * replayed or read from a lap the positions lied about), or bad (fails its self-check). */
static void item_deliver(item_side *h, const uint8_t *p) {
    uint64_t seq = 0;
    int lenient = h->mode == ITEMS_DATA || !items_strict(h->mode) || h->zeroing;
    if (item_check(p, h->seed, &seq) != 0) {
        h->bad++;
        if (!lenient) ITEM_BAD(h, "consumer: an item fails its self-check (expected seq %llu)\n", (unsigned long long)h->next);
        return;
    }
    if (seq >= h->filled) ITEM_BAD(h, "consumer: item %llu, which the producer has not written (it filled %llu)\n",
                                   (unsigned long long)seq, (unsigned long long)h->filled);
    if (seq < h->next) {
        h->stale++;
        if (!lenient || h->zeroing) ITEM_BAD(h, "consumer: item %llu again or out of order (expected %llu)\n", (unsigned long long)seq, (unsigned long long)h->next);
        return;
    }
    if (seq > h->next) {
        if (!lenient && h->policy == RING_REJECT_WHEN_FULL)
            ITEM_BAD(h, "consumer: items %llu..%llu lost under reject-when-full\n", (unsigned long long)h->next, (unsigned long long)seq - 1);
        h->gaps += seq - h->next;
    }
    h->next = seq + 1;
    h->in_order++;
}

static int consumer_done(item_side *h) {
    if (h->stop_consumer || h->bad_results > 20) return 1;
    return h->strict ? h->eos_final : 0;
}

/* END_OF_STREAM: the end once the producer closed the stream; before that only a hostile writerState (or a
 * truncated file's zero page) says so. */
static void item_end_of_stream(item_side *h, const char *call) {
    if (h->finishing) { h->eos_final = 1; return; }
    if (h->mode == ITEMS_WAITS || h->mode == ITEMS_DATA)
        ITEM_BAD(h, "consumer: %s returned END_OF_STREAM before the producer closed the stream\n", call);
    pause_us(300);
}

static void *item_consumer_thread(void *arg) {
    item_side *h = arg;
    rng_state ^= 0x7654321ULL ^ h->seed;
    size_t cap = (size_t)h->item_capacity;
    uint8_t *buf = malloc(ITEM_SIZE * (cap + 8));
    while (!consumer_done(h)) {
        int64_t timeout = item_timeout(h);
        int api = (int)(rnd() % 16);
        size_t count = 0;
        int rc;
        const char *call;
        double t0 = now();
        if (api < 8) {
            size_t max = 1 + (size_t)(rnd() % (rnd() % 4 == 0 ? cap + 4 : 16));
            call = "ring_read_items";
            snprintf(h->last_call[1], sizeof h->last_call[1], "ring_read_items(max %zu, timeout %lld)", max, (long long)timeout);
            h->call_started[1] = t0;
            rc = f_ring_read_items(h->c, buf, max, &count, timeout);
            h->call_started[1] = 0;
            item_result(h, 1, call, rc, t0, timeout);
            if (rc == RING_OK) {
                if (count == 0 || count > max || count > cap) {
                    ITEM_BAD(h, "consumer: ring_read_items(max %zu) gave %zu items (ring of %zu)\n", max, count, cap);
                    count = 0;
                }
                for (size_t k = 0; k < count; k++) item_deliver(h, buf + k * ITEM_SIZE);
            }
        } else if (api < 15) {
            ring_span_t spans[2] = { { NULL, 0 }, { NULL, 0 } };
            call = "ring_items_readable";
            snprintf(h->last_call[1], sizeof h->last_call[1], "ring_items_readable(timeout %lld)", (long long)timeout);
            h->call_started[1] = t0;
            rc = f_ring_items_readable(h->c, spans, &count, timeout);
            h->call_started[1] = 0;
            item_result(h, 1, call, rc, t0, timeout);
            if (rc == RING_OK) {
                h->lends++;
                const char *wrong = count == 0 ? "no item" : spans_wrong(&h->cm, spans, count, h->item_capacity);
                if (wrong) {
                    ITEM_BAD(h, "consumer: ring_items_readable lent %zu items as %p+%zu, %p+%zu: %s\n", count, spans[0].data, spans[0].len,
                             spans[1].data, spans[1].len, wrong);
                    count = 0;
                }
                spans_get(spans, buf, count * ITEM_SIZE);
                size_t k = rnd() % 4 == 0 ? (size_t)(rnd() % (count + 1)) : count;
                uint64_t missed_before = 0, missed_after = 0;
                f_ring_items_missed(h->c, &missed_before);
                t0 = now();
                int rc2 = f_ring_items_consume(h->c, k);
                item_result(h, 1, "ring_items_consume", rc2, t0, 0);
                /* OVERWRITTEN: the producer dropped the first d of the k given back (ring_items_missed grew by d); the
                 * other k - d were consumed intact. */
                size_t intact_from = 0;
                if (rc2 == RING_ERR_OVERWRITTEN) {
                    f_ring_items_missed(h->c, &missed_after);
                    uint64_t d = missed_after - missed_before;
                    intact_from = d < k ? (size_t)d : k;
                }
                if (rc2 == RING_OK || (rc2 == RING_ERR_OVERWRITTEN && h->policy == RING_OVERWRITE_OLDEST))
                    for (size_t i = intact_from; i < k; i++) item_deliver(h, buf + i * ITEM_SIZE);
                if (rc2 == RING_OK || rc2 == RING_ERR_OVERWRITTEN) h->partial += intact_from > 0 && intact_from < k;
                if (rc2 != RING_OK && (rc2 == RING_ERR_OVERWRITTEN ? h->policy != RING_OVERWRITE_OLDEST : rc2 != RING_ERR_CORRUPT))
                    ITEM_BAD(h, "consumer: ring_items_consume(%zu of %zu) returned %d %s (%s)\n", k, count, rc2, f_ring_strerror(rc2),
                             f_ring_last_error_message());
            }
        } else {
            ring_info_t info;
            call = "ring_info";
            snprintf(h->last_call[1], sizeof h->last_call[1], "ring_info");
            rc = f_ring_info(h->cring, &info);
            item_result(h, 1, call, rc, t0, 0);
            if (rc == RING_OK && (info.used_bytes > h->item_capacity || info.message_count != info.used_bytes))
                ITEM_BAD(h, "consumer: ring_info says %llu unread items (%llu counted) in a ring of %llu\n", (unsigned long long)info.used_bytes,
                         (unsigned long long)info.message_count, (unsigned long long)h->item_capacity);
        }
        if (rc == RING_OK || rc == RING_ERR_EMPTY) continue;
        if (rc == RING_ERR_END_OF_STREAM) item_end_of_stream(h, call);
        else if (rc == RING_ERR_CORRUPT) pause_us(500);
        else ITEM_BAD(h, "consumer: %s returned %d %s (%s)\n", call, rc, f_ring_strerror(rc), f_ring_last_error_message());
    }
    free(buf);
    return NULL;
}

/* Joins t within `seconds`; 0 (reported) if it did not finish. */
static int item_join_within(pthread_t t, double seconds, item_side *h, int side) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)seconds;
    if (pthread_timedjoin_np(t, NULL, &ts) == 0) return 1;
    double started = h->call_started[side];
    fprintf(stderr, "    %s hangs in %s (for %.1f s)\n", side ? "consumer" : "producer", h->last_call[side], started ? now() - started : -1.0);
    return 0;
}

/* What the typed-ring episodes of one mode and policy add up to. */
typedef struct item_totals {
    int episodes, guarded, maps[4], truncated_seen;
    uint64_t produced, in_order, gaps, stale, bad, missed, lends, partial, p_codes[16], c_codes[16], reasons[REASONS];
} item_totals;

static const uint64_t item_initial_positions[] = { 0, 4294967296ULL - 300, 0ULL - 500, 12345 };

/* One episode: a fresh typed ring; the producer's and the consumer's handles each map it once or twice
 * (with guard pages around); both honest threads; the hostile process for `seconds`. Strict modes then
 * stop the producer and the scribbler, close the stream and drain it, and account for every item. */
static void item_episode(int policy, int mode, double seconds, uint64_t seed, item_totals *t) {
    char name[64];
    snprintf(name, sizeof name, "items-%d-%d-%d", mode, policy, t->episodes);
    char path[512];
    snprintf(path, sizeof path, "%s", path_of(name));
    unlink(path);
    static const uint64_t asks[] = { 100, 600, 2000 };
    uint64_t ask = asks[rnd() % 3], initial = item_initial_positions[rnd() % 4];
    uint32_t pmap = rnd() % 2 ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP, cmap = rnd() % 2 ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP;
    ring_t *r = NULL;
    int rc = f_ring_create_items(path, ITEM_TYPE, 8, ask, policy, 0600, rnd() % 2 ? RING_CREATE_SINGLE_MAP : RING_CREATE_DOUBLE_MAP,
                                 initial, &r);
    if (rc != RING_OK) { FAILF("ring_create_items: %s (%s)", f_ring_strerror(rc), f_ring_last_error_message()); return; }
    ring_item_info_t ii;
    OK(f_ring_item_info(r, &ii));
    CHECK(ii.item_size == ITEM_SIZE && ii.item_capacity >= ask && strcmp(ii.item_type, ITEM_TYPE) == 0);
    f_ring_free(r);
    item_side *h = calloc(1, sizeof *h);
    h->policy = policy; h->mode = mode; h->strict = items_strict(mode); h->seed = seed; h->item_capacity = ii.item_capacity;
    if (open_items_guarded(path, pmap, &h->pring, &h->pm) != RING_OK || open_items_guarded(path, cmap, &h->cring, &h->cm) != RING_OK) {
        FAILF("open: %s", f_ring_last_error_message());
        f_ring_free(h->pring); unguard(&h->pm); free(h);
        return;
    }
    t->episodes++;
    if (h->pm.guard_lo && h->cm.guard_lo) t->guarded++;
    t->maps[2 * h->pm.doubled + h->cm.doubled]++;
    /* Mapped twice where asked and possible (SPEC.md §20.1: header and region whole pages). */
    int can_double = RING_DEFAULT_HEADER_SIZE % PAGE == 0 && h->pm.capacity % PAGE == 0;
    CHECK(h->pm.doubled == (pmap == RING_OPEN_DOUBLE_MAP && can_double) && h->cm.doubled == (cmap == RING_OPEN_DOUBLE_MAP && can_double));
    OK(f_ring_item_producer_open(h->pring, &h->p));
    OK(f_ring_item_consumer_open(h->cring, &h->c));
    if (!h->p || !h->c) {
        f_ring_item_producer_free(h->p); f_ring_item_consumer_free(h->c); f_ring_free(h->pring); f_ring_free(h->cring);
        unguard(&h->pm); unguard(&h->cm); free(h); unlink(path);
        return;
    }
    h->produce_until = now() + seconds;
    static const double truncate_after[] = { 0.01, 0.02, 0.04 };
    off_t full = (off_t)(RING_DEFAULT_HEADER_SIZE + h->pm.capacity);
    const off_t sizes[] = { 0, 100, RING_DEFAULT_HEADER_SIZE, RING_DEFAULT_HEADER_SIZE + (off_t)h->pm.capacity / 2, full - (off_t)PAGE, full - 1 };
    off_t truncated_to = mode == ITEMS_TRUNCATE ? sizes[(t->episodes - 1) % 6] : full;
    h->zeroing = truncated_to % (off_t)PAGE != 0;
    pid_t pid = fork_flushed();
    if (pid == 0) {
        if (mode == ITEMS_TRUNCATE) truncator_main(path, truncate_after[rnd() % 3], truncated_to);
        items_scribbler_main(path, mode, h->strict ? 3600 : seconds, h->strict ? 1.0 : seconds * 250, seed, h->item_capacity);
    }
    pthread_t pt, ct;
    pthread_create(&pt, NULL, item_producer_thread, h);
    pthread_create(&ct, NULL, item_consumer_thread, h);
    pause_us((unsigned)(seconds * 1e6));
    if (mode == ITEMS_TRUNCATE && truncated_to <= full - (off_t)PAGE) {
        /* Pages are gone: give the sides up to a second more to touch one (or to wait and fstat). */
        double until = now() + 1.0;
        while (!h->p_truncated && !h->c_truncated && now() < until) pause_us(5000);
        pause_us(20000);
    }
    int hung = 0;
    if (h->strict && mode != ITEMS_TRUNCATE) {
        /* Stop the producer and the hostile peer, then end the stream: the consumer drains it to END_OF_STREAM. */
        h->stop_producer = 1;
        if (!item_join_within(pt, 5, h, 0)) hung = 1;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (!hung) {
            h->finishing = 1;
            OK(f_ring_item_producer_close_writer(h->p));
            if (!item_join_within(ct, 5, h, 1)) hung = 1;
        }
    } else {
        h->stop_producer = 1;
        h->stop_consumer = 1;
        if (!item_join_within(pt, 5, h, 0)) hung = 1;
        if (!hung && !item_join_within(ct, 5, h, 1)) hung = 1;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (hung) {
        FAILF("typed-ring episode %d (%s, policy %d) hung", t->episodes, items_mode_name[mode], policy);
        fflush(NULL);
        _exit(1); /* threads still inside the library: leave without cleaning up */
    }
    uint64_t missed = 0;
    rc = f_ring_items_missed(h->c, &missed);
    if (rc != RING_OK) FAILF("ring_items_missed: %s", f_ring_strerror(rc));
    if (h->bad_results) FAILF("typed-ring episode %d (%s, policy %s, maps %s/%s): %d bad results", t->episodes, items_mode_name[mode],
                              policy ? "overwrite" : "reject", h->pm.doubled ? "double" : "single", h->cm.doubled ? "double" : "single",
                              (int)h->bad_results);
    if (h->strict && mode != ITEMS_TRUNCATE) {
        ring_info_t end;
        rc = f_ring_info(h->cring, &end);
        if (rc != RING_OK) FAILF("ring_info after the drain: %s (%s)", f_ring_strerror(rc), f_ring_last_error_message());
        if (!h->eos_final) FAILF("episode %d: the consumer stopped before END_OF_STREAM", t->episodes);
        uint64_t delivered = h->in_order + h->bad + h->stale + missed;
        if (mode != ITEMS_DATA && (h->bad || h->stale)) FAILF("episode %d (%s): %llu bad and %llu stale items, with the item bytes and positions untouched",
                                                              t->episodes, items_mode_name[mode], (unsigned long long)h->bad, (unsigned long long)h->stale);
        if (delivered != h->produced)
            FAILF("episode %d (%s, %s): produced %llu, but received %llu exact + %llu bad + %llu stale + %llu missed", t->episodes,
                  items_mode_name[mode], policy ? "overwrite" : "reject", (unsigned long long)h->produced, (unsigned long long)h->in_order,
                  (unsigned long long)h->bad, (unsigned long long)h->stale, (unsigned long long)missed);
        if (policy == RING_REJECT_WHEN_FULL && missed) FAILF("episode %d: %llu items missed under reject-when-full", t->episodes, (unsigned long long)missed);
        if (mode != ITEMS_DATA && h->gaps != missed)
            FAILF("episode %d (%s): gaps in the seqs %llu, ring_items_missed %llu", t->episodes, items_mode_name[mode],
                  (unsigned long long)h->gaps, (unsigned long long)missed);
        if (mode != ITEMS_WRITER && rc == RING_OK && end.dropped_count != missed)
            FAILF("episode %d (%s): dropped_count %llu, ring_items_missed %llu", t->episodes, items_mode_name[mode],
                  (unsigned long long)end.dropped_count, (unsigned long long)missed);
        if (rc == RING_OK && (end.used_bytes != 0 || !end.writer_closed))
            FAILF("episode %d: after the drain %llu items unread, writer closed %u", t->episodes, (unsigned long long)end.used_bytes, end.writer_closed);
    }
    if (mode == ITEMS_TRUNCATE) {
        /* Positions and item bytes are the producer's own until the file shrinks: nothing torn, nothing lost under
         * reject-when-full; a shrink that takes pages away is seen by a side that touches them. A shrink to a size
         * inside a page zeroes the rest of that page, which no fault reports: items there may come out zeroed
         * (counted, as scribbled item bytes are), never an item read twice. */
        if ((h->bad && !h->zeroing) || h->stale)
            FAILF("truncation episode %d (to %lld of %lld bytes): %llu bad and %llu stale items", t->episodes, (long long)truncated_to,
                  (long long)full, (unsigned long long)h->bad, (unsigned long long)h->stale);
        if (policy == RING_REJECT_WHEN_FULL && h->gaps && !h->zeroing)
            FAILF("truncation episode %d: %llu items lost", t->episodes, (unsigned long long)h->gaps);
        if (h->p_truncated || h->c_truncated) t->truncated_seen++;
        else if (truncated_to <= full - (off_t)PAGE)
            FAILF("truncation episode %d: the file was cut to %lld of %lld bytes and neither side saw CORRUPT(truncated)", t->episodes,
                  (long long)truncated_to, (long long)full);
    }
    t->produced += h->produced; t->in_order += h->in_order; t->gaps += h->gaps; t->stale += h->stale; t->bad += h->bad;
    t->missed += missed; t->lends += h->lends; t->partial += h->partial;
    for (int k = 0; k < 16; k++) { t->p_codes[k] += h->p_codes[k]; t->c_codes[k] += h->c_codes[k]; }
    for (int k = 0; k < REASONS; k++) t->reasons[k] += h->reasons[k];
    f_ring_item_producer_free(h->p);
    f_ring_item_consumer_free(h->c);
    f_ring_free(h->pring);
    f_ring_free(h->cring);
    unguard(&h->pm);
    unguard(&h->cm);
    unlink(path);
    free(h);
}

static void print_item_totals(int mode, int policy, const item_totals *t) {
    printf("     %s, %s: %d episodes (maps producer/consumer: single/single %d, single/double %d, double/single %d, double/double %d; "
           "%d with guard pages around both)\n",
           items_mode_name[mode], policy ? "overwrite" : "reject", t->episodes, t->maps[0], t->maps[1], t->maps[2], t->maps[3], t->guarded);
    printf("       %llu items written, %llu received exact and in order (%llu lends, %llu given back partly overwritten), %llu missed (== gaps%s)",
           (unsigned long long)t->produced, (unsigned long long)t->in_order, (unsigned long long)t->lends, (unsigned long long)t->partial,
           (unsigned long long)t->missed,
           items_strict(mode) && mode != ITEMS_DATA && mode != ITEMS_TRUNCATE ? ", checked" : ": not checked");
    if (mode == ITEMS_DATA || mode == ITEMS_TRUNCATE || !items_strict(mode))
        printf(", %llu failed their self-check%s, %llu valid but out of order (replayed or stale)", (unsigned long long)t->bad,
               mode == ITEMS_TRUNCATE ? " (zeroed by a shrink inside a page)" : "", (unsigned long long)t->stale);
    if (mode == ITEMS_TRUNCATE) printf(", CORRUPT(truncated) seen in %d episodes", t->truncated_seen);
    printf("\n");
    print_codes("  producer results", t->p_codes);
    print_codes("  consumer results", t->c_codes);
    int any = 0;
    for (int k = 0; k < REASONS; k++) any |= t->reasons[k] != 0;
    if (any) {
        printf("       CORRUPT reasons:");
        for (int k = 0; k < REASONS; k++) if (t->reasons[k]) printf(" %s=%llu", reason_name[k], (unsigned long long)t->reasons[k]);
        printf("\n");
    }
}

/* Episodes of the given modes, both policies in turn, for `seconds` in all and at least `at_least` of them. */
static void items_run(const int *modes, int nmodes, double seconds, int at_least) {
    item_totals totals[ITEMS_MODES][2];
    memset(totals, 0, sizeof totals);
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
    printf("     seed %llu\n", (unsigned long long)seed);
    rng_state ^= wl_splitmix64(seed); /* the rings' sizes, positions and mappings too */
    double end = now() + seconds;
    int k = 0;
    do {
        int mode = modes[k % nmodes], policy = (k / nmodes) % 2;
        double len = mode == ITEMS_TRUNCATE ? 0.1 : 0.03 + (double)(rnd() % 120) / 1000.0;
        item_episode(policy, mode, len, seed + (uint64_t)k * 0x10001, &totals[mode][policy]);
        k++;
        if (failures_in_test) break;
    } while (now() < end || k < at_least);
    for (int i = 0; i < nmodes; i++)
        for (int policy = 0; policy < 2; policy++) print_item_totals(modes[i], policy, &totals[modes[i]][policy]);
}

static void test_items_strict(void) {
    static const int modes[] = { ITEMS_WAITS, ITEMS_WRITER, ITEMS_DATA };
    items_run(modes, 3, scribble_seconds * 0.35, 6);
}
static void test_items_positions(void) {
    static const int modes[] = { ITEMS_POSITIONS, ITEMS_ALL };
    items_run(modes, 2, scribble_seconds * 0.35, 4);
}
static void test_items_truncated(void) {
    static const int modes[] = { ITEMS_TRUNCATE };
    items_run(modes, 1, scribble_seconds * 0.25, 12); /* each of the 6 sizes under both policies */
}

/* ---------------------------------------------------------------------- */
/* Out-of-range positions and bad writerState, one call each: CORRUPT with its reason */

/* A new typed ring file of ITEM_TYPE at path (100 items asked: 170 held in a 4096-byte region), a copy of one
 * ring_create_items made the first time for this policy and initial position (creating syncs the file and its
 * directory; a copy is only a write): 0, or -1 with the failure counted. */
static int typed_ring_file(const char *path, int policy, uint64_t initial) {
    static struct { int policy; uint64_t initial; uint8_t *bytes; size_t size; } made[8];
    static int count;
    int i = 0;
    while (i < count && (made[i].policy != policy || made[i].initial != initial)) i++;
    if (i == count) {
        if (count == 8) i = count = 0;
        char tpath[600];
        snprintf(tpath, sizeof tpath, "%s.template", path);
        unlink(tpath);
        ring_t *r = NULL;
        int rc = f_ring_create_items(tpath, ITEM_TYPE, 8, 100, policy, 0600, 0, initial, &r);
        if (rc) { FAILF("ring_create_items: %s (%s)", f_ring_strerror(rc), f_ring_last_error_message()); return -1; }
        f_ring_free(r);
        struct stat st;
        int fd = open(tpath, O_RDONLY);
        if (fd < 0 || fstat(fd, &st) != 0) { FAILF("open %s: %s", tpath, strerror(errno)); if (fd >= 0) close(fd); return -1; }
        free(made[i].bytes);
        made[i].bytes = malloc((size_t)st.st_size);
        made[i].size = (size_t)st.st_size;
        made[i].policy = policy;
        made[i].initial = initial;
        if (pread(fd, made[i].bytes, made[i].size, 0) != (ssize_t)made[i].size) { FAILF("read %s", tpath); close(fd); return -1; }
        close(fd);
        unlink(tpath);
        count++;
    }
    unlink(path);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0 || write_full(fd, made[i].bytes, made[i].size) != 0) { FAILF("write %s: %s", path, strerror(errno)); if (fd >= 0) close(fd); return -1; }
    close(fd);
    return 0;
}

/* A hostile value of one header word, set after the ring holds 100 items of which 10 were read. */
typedef struct position_case { const char *name; int word; int empty; } position_case;
enum { W_PP_AHEAD, W_PP_BEHIND, W_PP_FAR, W_CP_AHEAD, W_CP_BEHIND, W_CP_WILD, W_STATE_FULL, W_STATE_EMPTY, W_STATE_CLOSED, W_DROPPED };
static const position_case position_cases[] = {
    { "producerPosition = consumer + itemCapacity + 1", W_PP_AHEAD, 0 },
    { "producerPosition = consumer - 1", W_PP_BEHIND, 0 },
    { "producerPosition = consumer + 2^63", W_PP_FAR, 0 },
    { "consumerPosition = producer + 1", W_CP_AHEAD, 0 },
    { "consumerPosition = producer - itemCapacity - 1", W_CP_BEHIND, 0 },
    { "consumerPosition = producer + 2^62 + 5", W_CP_WILD, 0 },
    { "writerState = 2, items unread", W_STATE_FULL, 0 },
    { "writerState = 0xDEADBEEF, ring empty", W_STATE_EMPTY, 1 },
    { "writerState = 1 (closed), ring empty", W_STATE_CLOSED, 1 },
    { "droppedCount = 0xFEEDFACE12345678", W_DROPPED, 0 },
};
enum { C_READ, C_READ_WAIT, C_READABLE, C_READABLE_WAIT, C_INFO, C_CONSUMER_OPEN, C_WRITE, C_WRITE_WAIT, C_WRITABLE, C_WRITE_BIG,
       C_PRODUCER_OPEN, C_CALLS };
static const char *const position_calls[C_CALLS] = {
    "ring_read_items", "ring_read_items (10 ms)", "ring_items_readable", "ring_items_readable (10 ms)", "ring_info",
    "ring_item_consumer_open", "ring_write_items", "ring_write_items (10 ms)", "ring_items_writable",
    "ring_write_items (itemCapacity + 5)", "ring_item_producer_open",
};

/* What the call must return (and the CORRUPT reason) for that word under that policy (SPEC.md §13, §19.3-§19.5). */
static int position_expect(int word, int call, int policy, int *reason) {
    int consumer = call <= C_CONSUMER_OPEN, open = call == C_CONSUMER_OPEN || call == C_PRODUCER_OPEN, overwrite = policy == RING_OVERWRITE_OLDEST;
    *reason = REASON_ORDER;
    switch (word) {
    case W_PP_AHEAD: case W_PP_BEHIND: case W_PP_FAR:
        /* The consumer judges producerPosition; the producer never loads it; a snapshot (role, inspection) judges the pair. */
        if (consumer || open) return RING_ERR_CORRUPT;
        return call == C_WRITE_BIG && !overwrite ? RING_ERR_INVALID_SIZE : RING_OK;
    case W_CP_AHEAD: case W_CP_BEHIND: case W_CP_WILD:
        if (!consumer || open || call == C_INFO || overwrite) return call == C_WRITE_BIG && !overwrite ? RING_ERR_INVALID_SIZE : RING_ERR_CORRUPT;
        return RING_OK; /* reject-when-full: the consumer keeps its own position */
    case W_STATE_FULL:
        *reason = REASON_WRITER_STATE;
        if (call == C_INFO) return RING_ERR_CORRUPT; /* an inspection judges writerState; a read with items does not */
        return call == C_WRITE_BIG && !overwrite ? RING_ERR_INVALID_SIZE : RING_OK;
    case W_STATE_EMPTY:
        /* A consumer that finds the ring empty judges writerState, and so does an inspection; taking a role does not. */
        *reason = REASON_WRITER_STATE;
        if (consumer && !open) return RING_ERR_CORRUPT;
        return call == C_WRITE_BIG && !overwrite ? RING_ERR_INVALID_SIZE : RING_OK;
    case W_STATE_CLOSED:
        if (call <= C_READABLE_WAIT) return RING_ERR_END_OF_STREAM;
        return call == C_WRITE_BIG && !overwrite ? RING_ERR_INVALID_SIZE : RING_OK;
    default:
        return call == C_WRITE_BIG && !overwrite ? RING_ERR_INVALID_SIZE : RING_OK;
    }
}

/* Runs every case of every call on fresh rings of one policy and mapping, in this process (a child of the test). */
static void position_cases_run(int policy, uint32_t map, int progress) {
    const uint64_t seed = 0x5EED;
    item buf[200];
    for (size_t w = 0; w < sizeof position_cases / sizeof position_cases[0]; w++) {
        for (int call = 0; call < C_CALLS; call++) {
            int index = (int)(w * C_CALLS + (size_t)call);
            if (write(progress, &index, sizeof index) != (ssize_t)sizeof index) _exit(97);
            const position_case *pc = &position_cases[w];
            const char *path = path_of("positions");
            /* 100 items from position 2^64 - 60: they cross 2^64, and some straddle the end of the 4096-byte region. */
            if (typed_ring_file(path, policy, 0ULL - 60) != 0) return;
            item_map m;
            ring_t *ring = NULL;
            ring_item_producer_t *p = NULL;
            ring_item_consumer_t *c = NULL;
            if (open_items_guarded(path, map, &ring, &m) != RING_OK) { FAILF("open: %s", f_ring_last_error_message()); return; }
            OK(f_ring_item_producer_open(ring, &p));
            OK(f_ring_item_consumer_open(ring, &c));
            ring_item_info_t ii;
            OK(f_ring_item_info(ring, &ii));
            uint64_t n = ii.item_capacity;
            for (int i = 0; i < 100; i++) item_fill(&buf[i], seed, (uint64_t)i);
            OK(f_ring_write_items(p, buf, 100, 0));
            size_t count = 0;
            OK(f_ring_read_items(c, buf, pc->empty ? 100 : 10, &count, 0));
            uint64_t first = count; /* the seq the next read starts at */
            file_map fm;
            if (map_file(path, &fm) != 0) { FAILF("map"); return; }
            uint64_t pp = atomic_load(word64(&fm, RING_OFFSET_PRODUCER_POSITION)), cp = atomic_load(word64(&fm, RING_OFFSET_CONSUMER_POSITION));
            if (call == C_CONSUMER_OPEN) { f_ring_item_consumer_free(c); c = NULL; }
            if (call == C_PRODUCER_OPEN) { f_ring_item_producer_free(p); p = NULL; }
            switch (pc->word) {
            case W_PP_AHEAD: atomic_store(word64(&fm, RING_OFFSET_PRODUCER_POSITION), cp + n + 1); break;
            case W_PP_BEHIND: atomic_store(word64(&fm, RING_OFFSET_PRODUCER_POSITION), cp - 1); break;
            case W_PP_FAR: atomic_store(word64(&fm, RING_OFFSET_PRODUCER_POSITION), cp + ((uint64_t)1 << 63)); break;
            case W_CP_AHEAD: atomic_store(word64(&fm, RING_OFFSET_CONSUMER_POSITION), pp + 1); break;
            case W_CP_BEHIND: atomic_store(word64(&fm, RING_OFFSET_CONSUMER_POSITION), pp - n - 1); break;
            case W_CP_WILD: atomic_store(word64(&fm, RING_OFFSET_CONSUMER_POSITION), pp + ((uint64_t)1 << 62) + 5); break;
            case W_STATE_FULL: atomic_store(word32(&fm, RING_OFFSET_WRITER_STATE), 2); break;
            case W_STATE_EMPTY: atomic_store(word32(&fm, RING_OFFSET_WRITER_STATE), 0xDEADBEEFu); break;
            case W_STATE_CLOSED: atomic_store(word32(&fm, RING_OFFSET_WRITER_STATE), 1); break;
            default: atomic_store(word64(&fm, RING_OFFSET_DROPPED_COUNT), 0xFEEDFACE12345678ULL); break;
            }
            ring_span_t spans[2] = { { NULL, 0 }, { NULL, 0 } };
            ring_info_t info;
            const char *wrong = NULL;
            int rc;
            count = 0;
            double t0 = now();
            switch (call) {
            case C_READ: case C_READ_WAIT:
                rc = f_ring_read_items(c, buf, 200, &count, call == C_READ ? 0 : 10000000);
                break;
            case C_READABLE: case C_READABLE_WAIT:
                rc = f_ring_items_readable(c, spans, &count, call == C_READABLE ? 0 : 10000000);
                if (rc == RING_OK) {
                    wrong = spans_wrong(&m, spans, count, n);
                    if (!wrong) spans_get(spans, buf, count * ITEM_SIZE);
                    f_ring_items_consume(c, 0);
                }
                break;
            case C_INFO:
                rc = f_ring_info(ring, &info);
                if (rc == RING_OK && pc->word == W_DROPPED && info.dropped_count != 0xFEEDFACE12345678ULL) wrong = "dropped_count is not the file's";
                if (rc == RING_OK && pc->word == W_STATE_CLOSED && !info.writer_closed) wrong = "writer_closed is 0";
                break;
            case C_CONSUMER_OPEN: rc = f_ring_item_consumer_open(ring, &c); break;
            case C_PRODUCER_OPEN: rc = f_ring_item_producer_open(ring, &p); break;
            case C_WRITABLE:
                rc = f_ring_items_writable(p, spans, &count, 0);
                if (rc == RING_OK) { wrong = spans_wrong(&m, spans, count, n); f_ring_items_commit(p, 0); }
                break;
            case C_WRITE_BIG:
                for (uint64_t i = 0; i < n + 5 && i < 200; i++) item_fill(&buf[i], seed, 100 + i);
                rc = f_ring_write_items(p, buf, (size_t)(n + 5 < 200 ? n + 5 : 200), 0);
                break;
            default:
                item_fill(&buf[0], seed, 100);
                rc = f_ring_write_items(p, buf, 1, call == C_WRITE ? 0 : 10000000);
                break;
            }
            double took = now() - t0;
            const char *message = f_ring_last_error_message();
            int reason = REASON_ORDER, want = position_expect(pc->word, call, policy, &reason);
            if (rc != want || (rc == RING_ERR_CORRUPT && corrupt_reason(message) != reason))
                FAILF("%s, %s, %s mapping: %s returned %s (%s), expected %s%s%s", position_cases[w].name, policy ? "overwrite" : "reject",
                      m.doubled ? "double" : "single", position_calls[call], f_ring_strerror(rc), rc ? message : "", f_ring_strerror(want),
                      want == RING_ERR_CORRUPT ? " " : "", want == RING_ERR_CORRUPT ? reason_name[reason] : "");
            if (wrong) FAILF("%s, %s: %s: %s", position_cases[w].name, policy ? "overwrite" : "reject", position_calls[call], wrong);
            if (took > 1.5) FAILF("%s: %s took %.2f s", position_cases[w].name, position_calls[call], took);
            /* Items the consumer got must be the items written, in order, from where it stood. */
            if (rc == RING_OK && (call <= C_READABLE_WAIT)) {
                for (size_t i = 0; i < count; i++) {
                    uint64_t seq = 0;
                    if (item_check(&buf[i], seed, &seq) != 0 || seq != first + i) {
                        FAILF("%s: %s gave item %zu = seq %llu (%s), expected %llu", position_cases[w].name, position_calls[call], i,
                              (unsigned long long)seq, item_check(&buf[i], seed, &seq) ? "torn" : "intact", (unsigned long long)(first + i));
                        break;
                    }
                }
            }
            munmap(fm.base, fm.size);
            f_ring_item_producer_free(p);
            f_ring_item_consumer_free(c);
            f_ring_free(ring);
            unguard(&m);
        }
    }
}

static void test_items_out_of_range_positions(void) {
    int cases = 0, clean = 0;
    for (int policy = 0; policy < 2; policy++) {
        for (int doubled = 0; doubled < 2; doubled++) {
            int progress[2];
            if (pipe(progress) != 0) { FAILF("pipe"); return; }
            pid_t pid = fork_child(30);
            if (pid == 0) {
                close(progress[0]);
                position_cases_run(policy, doubled ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP, progress[1]);
                child_end();
            }
            close(progress[1]);
            int index = -1, last = -1;
            while (read_full(progress[0], &index, sizeof index) == 0) { last = index; cases++; }
            close(progress[0]);
            int status = 0;
            waitpid(pid, &status, 0);
            if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
                FAILF("%s, %s mapping: checks failed (above)", policy ? "overwrite" : "reject", doubled ? "double" : "single");
            } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                int w = last < 0 ? 0 : last / C_CALLS, call = last < 0 ? 0 : last % C_CALLS;
                FAILF("%s, %s mapping: the child %s in case \"%s\", %s", policy ? "overwrite" : "reject", doubled ? "double" : "single",
                      WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : WEXITSTATUS(status) == ASAN_EXIT ? "was stopped by ASan" : "failed",
                      position_cases[w].name, position_calls[call]);
            } else {
                clean++;
            }
        }
    }
    printf("     %d calls (%zu hostile words x %d calls x 2 policies x 2 mappings), each on a fresh ring: CORRUPT with its reason, or the "
           "items written; %d of 4 runs clean\n", cases, sizeof position_cases / sizeof position_cases[0], C_CALLS, clean);
}

/* ---------------------------------------------------------------------- */
/* Step by step: a lie that is taken back, and a file that shrinks          */

/* A fresh typed ring of 100 requested items (170 held: items straddle the end of the 4096-byte region) at
 * positions from `initial`, opened with `map`, its producer and consumer on that one handle; `written`
 * items written and `read` of them read. 0 on success. */
typedef struct item_fixture {
    ring_t *ring;
    item_map m;
    ring_item_producer_t *p;
    ring_item_consumer_t *c;
    file_map fm;            /* the hostile view of the file */
    uint64_t n, seed, next; /* itemCapacity, the items' seed, the seq the consumer reads next */
    char path[512];
} item_fixture;

static int fixture_open(item_fixture *f, const char *name, int policy, uint32_t map, uint64_t initial, int written, int read) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path_of(name));
    unlink(f->path);
    f->seed = 0xF1F1;
    if (typed_ring_file(f->path, policy, initial) != 0) return -1;
    if (open_items_guarded(f->path, map, &f->ring, &f->m) != RING_OK) { FAILF("open: %s", f_ring_last_error_message()); return -1; }
    OK(f_ring_item_producer_open(f->ring, &f->p));
    OK(f_ring_item_consumer_open(f->ring, &f->c));
    ring_item_info_t ii;
    OK(f_ring_item_info(f->ring, &ii));
    f->n = ii.item_capacity;
    if (!f->p || !f->c || map_file(f->path, &f->fm) != 0) return -1;
    item buf[200];
    for (int i = 0; i < written; i++) item_fill(&buf[i], f->seed, (uint64_t)i);
    size_t count = 0;
    if (written) OK(f_ring_write_items(f->p, buf, (size_t)written, 0));
    if (read) OK(f_ring_read_items(f->c, buf, (size_t)read, &count, 0));
    f->next = count;
    return 0;
}

static void fixture_close(item_fixture *f) {
    if (f->fm.base) munmap(f->fm.base, f->fm.size);
    f_ring_item_producer_free(f->p);
    f_ring_item_consumer_free(f->c);
    f_ring_free(f->ring);
    unguard(&f->m);
    unlink(f->path);
}

/* The result of one call, checked: its code, and for CORRUPT the reason (0: any). */
static void expect_rc(const char *what, const char *call, int rc, int want, int reason) {
    const char *message = rc ? f_ring_last_error_message() : "";
    if (rc != want || (rc == RING_ERR_CORRUPT && reason >= 0 && corrupt_reason(message) != reason))
        FAILF("%s: %s returned %s%s%s%s, expected %s%s%s", what, call, f_ring_strerror(rc), rc ? " (" : "", message, rc ? ")" : "",
              f_ring_strerror(want), want == RING_ERR_CORRUPT && reason >= 0 ? " " : "", want == RING_ERR_CORRUPT && reason >= 0 ? reason_name[reason] : "");
}

/* Reads what is unread and checks it is items f->next.. in order: the count read, or -1 (reported). */
static int fixture_read_all(item_fixture *f, const char *what) {
    item buf[200];
    size_t count = 0;
    int rc = f_ring_read_items(f->c, buf, 200, &count, 0);
    expect_rc(what, "ring_read_items after the lie was taken back", rc, RING_OK, -1);
    if (rc) return -1;
    for (size_t i = 0; i < count; i++) {
        uint64_t seq = 0;
        if (item_check(&buf[i], f->seed, &seq) != 0 || seq != f->next + i) {
            FAILF("%s: item %zu is %llu, expected %llu", what, i, (unsigned long long)seq, (unsigned long long)(f->next + i));
            return -1;
        }
    }
    f->next += count;
    return (int)count;
}

/* A hostile position word set to a value out of range and, after one call saw CORRUPT, put back: the
 * ring is valid again, so the honest side must work again, and a consumer must not have counted the lie
 * as missed items (SPEC.md §13: every value read from the mapping is checked before it is used). */
static void transient_lie(int policy, uint32_t map, int producer_word, uint64_t offset, const char *lie) {
    item_fixture f;
    char what[160];
    snprintf(what, sizeof what, "%s, %s, %s mapping", lie, policy ? "overwrite" : "reject", map == RING_OPEN_DOUBLE_MAP ? "double" : "single");
    if (fixture_open(&f, "lie", policy, map, 0ULL - 60, 100, 10) != 0) { fixture_close(&f); return; }
    _Atomic uint64_t *w = word64(&f.fm, producer_word ? RING_OFFSET_PRODUCER_POSITION : RING_OFFSET_CONSUMER_POSITION);
    uint64_t pp = atomic_load(word64(&f.fm, RING_OFFSET_PRODUCER_POSITION)), real = atomic_load(w);
    atomic_store(w, pp + offset);
    item one[1];
    size_t count = 0;
    item_fill(&one[0], f.seed, 100);
    int consumer_sees = producer_word || policy == RING_OVERWRITE_OLDEST;
    if (consumer_sees) expect_rc(what, "ring_read_items during the lie", f_ring_read_items(f.c, one, 1, &count, 0), RING_ERR_CORRUPT, REASON_ORDER);
    else expect_rc(what, "ring_write_items during the lie", f_ring_write_items(f.p, one, 1, 0), RING_ERR_CORRUPT, REASON_ORDER);
    atomic_store(w, real);
    uint64_t missed = 0;
    OK(f_ring_items_missed(f.c, &missed));
    if (missed) FAILF("%s: ring_items_missed is %llu after the lie, expected 0 (the lie was counted as dropped items)", what, (unsigned long long)missed);
    if (fixture_read_all(&f, what) == 90) {
        expect_rc(what, "ring_write_items after the lie was taken back", f_ring_write_items(f.p, one, 1, 0), RING_OK, -1);
        if (fixture_read_all(&f, what) != 1) FAILF("%s: the item written after the lie did not come back", what);
    }
    fixture_close(&f);
}

/* Both positions moved back behind the consumer (pp = cp = its position - 50: "empty"), then producerPosition put
 * back (the producer's next commit does that), then consumerPosition: consumerPosition never returns to an
 * earlier value (SPEC.md §13), so a consumer that took the lie would read its own 50 items again as new ones. */
static void backwards_lie(int policy, uint32_t map) {
    item_fixture f;
    char what[160];
    snprintf(what, sizeof what, "both positions = consumerPosition - 50, then put back one by one, %s, %s mapping", policy ? "overwrite" : "reject",
             map == RING_OPEN_DOUBLE_MAP ? "double" : "single");
    if (fixture_open(&f, "lie", policy, map, 0ULL - 60, 100, 10) != 0) { fixture_close(&f); return; }
    _Atomic uint64_t *pw = word64(&f.fm, RING_OFFSET_PRODUCER_POSITION), *cw = word64(&f.fm, RING_OFFSET_CONSUMER_POSITION);
    uint64_t pp = atomic_load(pw), cp = atomic_load(cw);
    item buf[200];
    size_t count = 0;
    atomic_store(cw, cp - 50);
    atomic_store(pw, cp - 50);
    expect_rc(what, "ring_read_items during the lie", f_ring_read_items(f.c, buf, 200, &count, 0), RING_ERR_CORRUPT, REASON_ORDER);
    atomic_store(pw, pp);
    if (policy == RING_OVERWRITE_OLDEST) {
        int rc = f_ring_read_items(f.c, buf, 200, &count, 0);
        expect_rc(what, "ring_read_items with consumerPosition still 50 behind", rc, RING_ERR_CORRUPT, REASON_ORDER);
        size_t again = 0, junk = 0;
        for (size_t i = 0; rc == RING_OK && i < count; i++) {
            uint64_t seq = 0;
            if (item_check(&buf[i], f.seed, &seq) != 0) junk++;
            else if (seq < f.next) again++;
        }
        if (again || junk)
            FAILF("%s: RING_OK with %zu items, %zu of them read before (the consumer had read 0..%llu) and %zu never written", what, count,
                  again, (unsigned long long)f.next - 1, junk);
        if (rc == RING_OK) { fixture_close(&f); return; }
    }
    atomic_store(cw, cp);
    uint64_t missed = 0;
    OK(f_ring_items_missed(f.c, &missed));
    if (missed) FAILF("%s: ring_items_missed is %llu, expected 0", what, (unsigned long long)missed);
    if (fixture_read_all(&f, what) != 90) FAILF("%s: not the 90 unread items after the lie", what);
    fixture_close(&f);
}

static void test_items_transient_lies(void) {
    static const struct { int producer_word; uint64_t offset; const char *lie; } lies[] = {
        { 0, 1000, "consumerPosition = producerPosition + 1000, then put back" },
        { 0, (uint64_t)1 << 62, "consumerPosition = producerPosition + 2^62, then put back" },
        { 0, 0ULL - 500, "consumerPosition = producerPosition - 500, then put back" },
        { 1, 1000, "producerPosition + 1000, then put back" },
        { 1, 0ULL - 200, "producerPosition - 200 (behind the consumer), then put back" },
    };
    int runs = 0;
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++)
        for (int policy = 0; policy < 2; policy++)
            for (int doubled = 0; doubled < 2; doubled++, runs++)
                transient_lie(policy, doubled ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP, lies[i].producer_word, lies[i].offset, lies[i].lie);
    for (int policy = 0; policy < 2; policy++)
        for (int doubled = 0; doubled < 2; doubled++, runs++) backwards_lie(policy, doubled ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP);
    printf("     %d lies taken back (6 lies x 2 policies x 2 mappings), each checked for: CORRUPT during the lie, then the items as "
           "written, none read twice, none counted missed\n", runs);
}

/* The file shrinks under the ring; then every call on that ring must say CORRUPT(truncated) (SPEC.md §12,
 * §13: the size check comes before the position checks), never EMPTY, never a lend of zero pages, never
 * another reason. */
static void truncated_sequence(int policy, uint32_t map, int which) {
    item_fixture f;
    static const char *const names[] = {
        "cut to the header, empty ring, the producer's write faults",
        "cut to the header, 15 items unread, the producer's write faults",
        "cut to half, empty ring, a timed read notices (fstat)",
        "cut inside the header page (100 bytes), no wait",
    };
    char what[200];
    snprintf(what, sizeof what, "%s (%s, %s mapping)", names[which], policy ? "overwrite" : "reject", map == RING_OPEN_DOUBLE_MAP ? "double" : "single");
    int unread = which == 1 ? 15 : 0;
    if (fixture_open(&f, "shrunk", policy, map, which == 3 ? 1000 : 0ULL - 60, 20, 20 - unread) != 0) { fixture_close(&f); return; }
    off_t size = which == 3 ? 100 : which == 2 ? RING_DEFAULT_HEADER_SIZE + 2048 : RING_DEFAULT_HEADER_SIZE;
    if (truncate(f.path, size) != 0) { FAILF("truncate: %s", strerror(errno)); fixture_close(&f); return; }
    item buf[200];
    ring_span_t spans[2];
    ring_info_t info;
    size_t count = 0;
    item_fill(&buf[0], f.seed, 20);
    if (which <= 1) {
        /* The write touches a page past the new end: the SIGBUS guard records the truncation. */
        int rc = f_ring_write_items(f.p, buf, 1, 0);
        expect_rc(what, "ring_write_items (its item lands on a lost page)", rc, RING_ERR_CORRUPT, REASON_TRUNCATED);
    } else if (which == 2) {
        expect_rc(what, "ring_read_items (10 ms, empty)", f_ring_read_items(f.c, buf, 10, &count, 10000000), RING_ERR_CORRUPT, REASON_TRUNCATED);
    }
    expect_rc(what, "ring_read_items", f_ring_read_items(f.c, buf, 10, &count, 0), RING_ERR_CORRUPT, REASON_TRUNCATED);
    int rc = f_ring_items_readable(f.c, spans, &count, 0);
    expect_rc(what, "ring_items_readable", rc, RING_ERR_CORRUPT, REASON_TRUNCATED);
    if (rc == RING_OK) {
        size_t zeros = 0;
        spans_get(spans, buf, count * ITEM_SIZE < sizeof buf ? count * ITEM_SIZE : sizeof buf);
        for (size_t i = 0; i < count && i < 200; i++) { uint64_t seq; if (item_check(&buf[i], f.seed, &seq) != 0) zeros++; }
        if (zeros) FAILF("%s: ring_items_readable lent %zu items, %zu of them not items (zero pages)", what, count, zeros);
        f_ring_items_consume(f.c, 0);
    }
    expect_rc(what, "ring_info", f_ring_info(f.ring, &info), RING_ERR_CORRUPT, REASON_TRUNCATED);
    expect_rc(what, "ring_write_items", f_ring_write_items(f.p, buf, 1, 0), RING_ERR_CORRUPT, REASON_TRUNCATED);
    expect_rc(what, "ring_items_writable", f_ring_items_writable(f.p, spans, &count, 0), RING_ERR_CORRUPT, REASON_TRUNCATED);
    expect_rc(what, "ring_read_items (10 ms)", f_ring_read_items(f.c, buf, 10, &count, 10000000), RING_ERR_CORRUPT, REASON_TRUNCATED);
    fixture_close(&f);
}

static void test_items_truncated_sequences(void) {
    int runs = 0;
    for (int which = 0; which < 4; which++)
        for (int policy = 0; policy < 2; policy++)
            for (int doubled = 0; doubled < 2; doubled++, runs++) {
                /* In a child: a fault the guard misses ends only that run. */
                pid_t pid = fork_child(20);
                if (pid == 0) { truncated_sequence(policy, doubled ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP, which); child_end(); }
                int status = 0;
                waitpid(pid, &status, 0);
                if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == ASAN_EXIT))
                    FAILF("truncation sequence %d (%s, %s): the process %s", which, policy ? "overwrite" : "reject", doubled ? "double" : "single",
                          WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "was stopped by ASan");
                else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures_in_test++;
            }
    printf("     %d shrunk files (4 sequences x 2 policies x 2 mappings), 7 calls after each shrink, each checked for CORRUPT(truncated)\n", runs);
}

/* ---------------------------------------------------------------------- */
/* The identity of a closed typed ring: item fields, type description, flags, size */

enum { FIX_NONE, FIX_HEADER, FIX_TYPE };  /* leave the checksums; fix headerChecksum; fix typeChecksum, then headerChecksum */

static void fix_checksums(uint8_t *header, int fix) {
    if (fix == FIX_TYPE) {
        uint32_t length;
        memcpy(&length, header + RING_OFFSET_TYPE_LENGTH, 4);
        if (length > RING_MAX_TYPE_LENGTH) length = RING_MAX_TYPE_LENGTH;
        uint32_t crc = crc32_iso(header + RING_ITEM_TYPE_OFFSET, length);
        memcpy(header + RING_OFFSET_TYPE_CHECKSUM, &crc, 4);
    }
    if (fix != FIX_NONE) {
        uint32_t crc = crc32_iso(header, RING_CHECKSUM_COVERED_BYTES);
        memcpy(header + RING_OFFSET_HEADER_CHECKSUM, &crc, 4);
    }
}

static void put32(uint8_t *header, size_t off, uint32_t v) { memcpy(header + off, &v, 4); }
static uint32_t get32(const uint8_t *header, size_t off) { uint32_t v; memcpy(&v, header + off, 4); return v; }

/* One identity case: what is changed in the template's header, and what opening must say. */
typedef struct identity_case { const char *name; int fix; int want; const char *reason; } identity_case;

/* Applies case i to header (RING_DEFAULT_HEADER_SIZE bytes); returns 0 past the last case. */
static int identity_apply(int i, uint8_t *header, identity_case *ic, off_t *size) {
    uint32_t length = get32(header, RING_OFFSET_TYPE_LENGTH);
    char *type = (char *)header + RING_ITEM_TYPE_OFFSET;
    static const int fixes[] = { FIX_HEADER, FIX_NONE };
    int variant = i % 2;
    static const char automatic[] = "";  /* the reason by the checksums left: a changed identity line fails headerChecksum */
    *ic = (identity_case){ "", fixes[variant], RING_ERR_CORRUPT, automatic };
    switch (i / 2) {
    case 0: ic->name = "itemSize 0"; put32(header, RING_OFFSET_ITEM_SIZE, 0); break;
    case 1: ic->name = "itemSize 65537"; put32(header, RING_OFFSET_ITEM_SIZE, 65537); break;
    case 2: ic->name = "itemSize 8192 (> capacity 4096)"; put32(header, RING_OFFSET_ITEM_SIZE, 8192); break;
    case 3: ic->name = "itemSize 16 (the description is 24)"; put32(header, RING_OFFSET_ITEM_SIZE, 16); break;
    case 4: ic->name = "itemSize 23 (alignment 8 does not divide it)"; put32(header, RING_OFFSET_ITEM_SIZE, 23); break;
    case 5: ic->name = "itemAlignment 0"; put32(header, RING_OFFSET_ITEM_ALIGNMENT, 0); break;
    case 6: ic->name = "itemAlignment 3"; put32(header, RING_OFFSET_ITEM_ALIGNMENT, 3); break;
    case 7: ic->name = "itemAlignment 128"; put32(header, RING_OFFSET_ITEM_ALIGNMENT, 128); break;
    case 8: ic->name = "itemAlignment 16 (does not divide 24)"; put32(header, RING_OFFSET_ITEM_ALIGNMENT, 16); break;
    case 9: ic->name = "typeLength 0"; put32(header, RING_OFFSET_TYPE_LENGTH, 0); break;
    case 10: ic->name = "typeLength 513"; put32(header, RING_OFFSET_TYPE_LENGTH, 513); break;
    case 11: ic->name = "typeLength one short (typeChecksum kept)"; put32(header, RING_OFFSET_TYPE_LENGTH, length - 1); break;
    case 12: ic->name = "typeLength one long (typeChecksum kept)"; put32(header, RING_OFFSET_TYPE_LENGTH, length + 1); break;
    case 13: ic->name = "typeChecksum ^ 1"; put32(header, RING_OFFSET_TYPE_CHECKSUM, get32(header, RING_OFFSET_TYPE_CHECKSUM) ^ 1); break;
    /* The description itself (not under headerChecksum): without a new typeChecksum, then with one. */
    case 14: ic->name = variant ? "typeLength 1 ('{'), typeChecksum fixed" : "typeLength one short, typeChecksum fixed";
        put32(header, RING_OFFSET_TYPE_LENGTH, variant ? 1 : length - 1); ic->fix = FIX_TYPE; break;
    case 15: ic->name = variant ? "typeLength 512 (NULs in it), typeChecksum fixed" : "typeLength one long (a NUL in it), typeChecksum fixed";
        put32(header, RING_OFFSET_TYPE_LENGTH, variant ? RING_MAX_TYPE_LENGTH : length + 1); ic->fix = FIX_TYPE; break;
    case 16: ic->name = variant ? "description '}24' -> '}34', typeChecksum kept" : "description '}24' -> '}34', typeChecksum fixed";
        type[length - 2] = '3'; ic->fix = variant ? FIX_NONE : FIX_TYPE; ic->reason = "item type"; break;
    case 17: ic->name = variant ? "a space in the description, typeChecksum kept" : "a space in the description, typeChecksum fixed";
        type[4] = ' '; ic->fix = variant ? FIX_NONE : FIX_TYPE; ic->reason = "item type"; break;
    case 18: ic->name = variant ? "byte 0x80 in the description" : "byte 0x07 in the description";
        type[1] = variant ? (char)0x80 : 0x07; ic->fix = FIX_TYPE; ic->reason = "item type"; break;
    case 19: ic->name = variant ? "a non-zero byte at header offset 1023" : "a non-zero byte right after the description";
        header[variant ? 1023 : RING_ITEM_TYPE_OFFSET + length] = 'x'; ic->fix = FIX_NONE; ic->reason = "item type"; break;
    case 20: ic->name = variant ? "two fields named seq" : "overlapping fields (mix@4)";
        if (variant) memcpy(type + 11, "seq", 3); else memcpy(strstr(type, "@8"), "@4", 2);
        ic->fix = FIX_TYPE; ic->reason = "item type"; break;
    case 21: ic->name = variant ? "not a type ('{' -> '[')" : "a field past the struct ('@20' -> '@21')";
        if (variant) type[0] = '['; else memcpy(strstr(type, "@20"), "@21", 3);
        ic->fix = FIX_TYPE; ic->reason = "item type"; break;
    case 22: ic->name = variant ? "'<u8@0' -> '>u8@0' (another valid type)" : "'<u4@16' -> '|u4@16' (byte order | on a 4-byte scalar)";
        if (variant) { type[5] = '>'; ic->want = RING_OK; ic->reason = NULL; }
        else memcpy(strstr(type, "<u4@16"), "|u4@16", 6);
        ic->fix = FIX_TYPE; if (!variant) ic->reason = "item type"; break;
    /* Flag combinations (headerChecksum fixed): SPEC.md §19.1, §14. */
    case 23: ic->name = variant ? "INCOMPAT_ITEMS | INCOMPAT_PRODUCERS" : "INCOMPAT_ITEMS | INCOMPAT_READERS";
        put32(header, RING_OFFSET_INCOMPAT_FLAGS, RING_INCOMPAT_ITEMS | (variant ? RING_INCOMPAT_PRODUCERS : RING_INCOMPAT_READERS));
        if (variant) put32(header, RING_OFFSET_PRODUCER_SLOTS, 2); else put32(header, RING_OFFSET_READER_SLOTS, 2);
        ic->fix = FIX_HEADER; ic->want = RING_ERR_UNSUPPORTED_VERSION; ic->reason = NULL; break;
    case 24: ic->name = variant ? "an unknown incompat flag (8)" : "policy 2";
        if (variant) put32(header, RING_OFFSET_INCOMPAT_FLAGS, RING_INCOMPAT_ITEMS | 8); else put32(header, RING_OFFSET_POLICY, 2);
        ic->fix = FIX_HEADER; ic->want = RING_ERR_UNSUPPORTED_VERSION; ic->reason = NULL; break;
    case 25: ic->name = variant ? "INCOMPAT_ITEMS cleared, positions 0: a byte ring (the item fields are then reserved bytes)"
                               : "versionMinor 7";
        if (variant) {
            put32(header, RING_OFFSET_INCOMPAT_FLAGS, 0);
            memset(header + RING_OFFSET_PRODUCER_POSITION, 0, 8);
            memset(header + RING_OFFSET_CONSUMER_POSITION, 0, 8);
        } else {
            uint16_t v = 7;
            memcpy(header + RING_OFFSET_VERSION_MINOR, &v, 2);
        }
        ic->fix = FIX_HEADER; ic->want = RING_OK; ic->reason = NULL; break;
    case 26: ic->name = variant ? "versionMajor 2" : "INCOMPAT_ITEMS cleared, positions 5 (items, not bytes)";
        if (variant) { uint16_t v = 2; memcpy(header + RING_OFFSET_VERSION_MAJOR, &v, 2); ic->want = RING_ERR_UNSUPPORTED_VERSION; ic->reason = NULL; }
        else { put32(header, RING_OFFSET_INCOMPAT_FLAGS, 0); ic->reason = "multiple of 8"; }
        ic->fix = FIX_HEADER; break;
    /* The file's size (SIGBUS guard: never mapped past the end). */
    case 27: case 28: case 29: case 30: {
        static const off_t sizes[] = { 0, 100, 4095, 4096, 4096 + 2048, 8191, 8193, 8192 + 4096 };
        int s = (i / 2 - 27) * 2 + variant;
        *size = sizes[s];
        ic->fix = FIX_NONE;
        ic->name = s < 6 ? "file truncated" : "file longer than its header says";
        ic->reason = s < 6 ? "truncated" : "more than";
        break;
    }
    default: return 0;
    }
    if (ic->reason == automatic) ic->reason = ic->fix == FIX_NONE ? "checksum" : "item type";
    return 1;
}

/* What the child reports of one open. */
typedef struct identity_result { int index, rc, item_size, producer_rc; char message[200]; } identity_result;

static void identity_child(const uint8_t *template_file, size_t template_size, int report, int fuzz, uint64_t seed) {
    uint8_t *file = malloc(template_size + 8192);
    rng_state ^= seed;
    for (int i = 0;; i++) {
        identity_case ic;
        off_t size = (off_t)template_size;
        memcpy(file, template_file, template_size);
        if (!fuzz) {
            if (!identity_apply(i, file, &ic, &size)) break;
        } else {
            if (i == fuzz) break;
            /* 1-4 random bytes in the item fields, the flags or the description; checksums fixed or not. */
            int n = 1 + (int)(rnd() % 4);
            for (int k = 0; k < n; k++) {
                size_t off;
                switch (rnd() % 4) {
                case 0: off = RING_OFFSET_ITEM_SIZE + rnd() % 16; break;
                case 1: off = RING_OFFSET_INCOMPAT_FLAGS + rnd() % 4; break;
                default: off = RING_ITEM_TYPE_OFFSET + rnd() % (get32(template_file, RING_OFFSET_TYPE_LENGTH) + 4); break;
                }
                file[off] = rnd() % 2 ? (uint8_t)rnd() : (uint8_t)("{}<>|:@,0123456789uifVS"[rnd() % 23]);
            }
            ic.fix = (int)(rnd() % 3);
        }
        if (size <= (off_t)template_size) fix_checksums(file, ic.fix);
        const char *path = path_of("identity");
        unlink(path);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        size_t bytes = size < (off_t)template_size ? (size_t)size : template_size;
        if (fd < 0 || write(fd, file, bytes) != (ssize_t)bytes || ftruncate(fd, size) != 0) _exit(98);
        close(fd);
        identity_result res;
        memset(&res, 0, sizeof res);
        res.index = i;
        res.producer_rc = 1;
        res.item_size = -1;
        if (write_full(report, &res, sizeof res) != 0) _exit(97); /* "about to open case i" */
        ring_t *r = NULL;
        res.rc = f_ring_open_flags(path, rnd() % 2 ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP, &r);
        snprintf(res.message, sizeof res.message, "%s", res.rc ? f_ring_last_error_message() : "");
        if (res.rc == RING_OK) {
            ring_item_info_t ii;
            if (f_ring_item_info(r, &ii) == RING_OK) res.item_size = (int)ii.item_size;
            ring_item_producer_t *p = NULL;
            res.producer_rc = f_ring_item_producer_open(r, &p);
            if (p && ii.item_size > 0 && ii.item_size <= 65536) {
                /* A ring that opens works: one item in, one out. */
                uint8_t *one = calloc(2, ii.item_size);
                ring_item_consumer_t *c = NULL;
                size_t count = 0;
                if (f_ring_write_items(p, one, 1, 0) != RING_OK || f_ring_item_consumer_open(r, &c) != RING_OK
                    || f_ring_read_items(c, one + ii.item_size, 1, &count, 0) != RING_OK || count != 1)
                    res.producer_rc = 2;
                f_ring_item_consumer_free(c);
                free(one);
            }
            f_ring_item_producer_free(p);
            f_ring_free(r);
        }
        if (write_full(report, &res, sizeof res) != 0) _exit(97);
    }
    free(file);
    child_end();
}

/* Runs the cases (fuzz 0) or fuzz random ones in a child; checks each result as it comes. */
static void identity_run(const uint8_t *template_file, size_t template_size, int fuzz, int *counts) {
    int report[2];
    if (pipe(report) != 0) { FAILF("pipe"); return; }
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    pid_t pid = fork_child(60);
    if (pid == 0) { close(report[0]); identity_child(template_file, template_size, report[1], fuzz, seed); }
    close(report[1]);
    identity_result res;
    int last = -1, open_case = -1;
    while (read_full(report[0], &res, sizeof res) == 0) {
        if (res.index != last) { open_case = res.index; last = res.index; continue; } /* the "about to open" record */
        open_case = -1;
        counts[code_index(res.rc)]++;
        if (fuzz) {
            if (res.rc != RING_OK && res.rc != RING_ERR_CORRUPT && res.rc != RING_ERR_UNSUPPORTED_VERSION)
                FAILF("fuzzed identity %d: ring_open returned %s (%s)", res.index, f_ring_strerror(res.rc), res.message);
            if (res.rc == RING_OK && res.item_size > 0 && res.producer_rc != RING_OK)
                FAILF("fuzzed identity %d opened as a typed ring of %d-byte items, but one item did not go through (%d)", res.index,
                      res.item_size, res.producer_rc);
            continue;
        }
        uint8_t scratch[RING_DEFAULT_HEADER_SIZE];
        identity_case ic;
        off_t size = 0;
        memcpy(scratch, template_file, sizeof scratch);
        identity_apply(res.index, scratch, &ic, &size);
        if (res.rc != ic.want || (ic.reason && !strstr(res.message, ic.reason)))
            FAILF("%s (%s): ring_open returned %s (%s), expected %s%s%s", ic.name,
                  ic.fix == FIX_NONE ? "checksums as they were" : ic.fix == FIX_HEADER ? "headerChecksum fixed" : "typeChecksum and headerChecksum fixed",
                  f_ring_strerror(res.rc), res.message, f_ring_strerror(ic.want), ic.reason ? " mentioning " : "", ic.reason ? ic.reason : "");
        if (res.rc == RING_OK && strstr(ic.name, "byte ring") && (res.item_size != 0 || res.producer_rc != RING_ERR_INVALID_ARGUMENT))
            FAILF("%s: item_size %d, ring_item_producer_open %s (expected 0 and INVALID_ARGUMENT)", ic.name, res.item_size, f_ring_strerror(res.producer_rc));
        if (res.rc == RING_OK && !strstr(ic.name, "byte ring") && (res.item_size != ITEM_SIZE || res.producer_rc != RING_OK))
            FAILF("%s: opened, but item_size %d and one item through: %d", ic.name, res.item_size, res.producer_rc);
    }
    close(report[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (open_case >= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        identity_case ic = { "?", 0, 0, NULL };
        uint8_t scratch[RING_DEFAULT_HEADER_SIZE];
        off_t size = 0;
        memcpy(scratch, template_file, sizeof scratch);
        if (!fuzz && open_case >= 0) identity_apply(open_case, scratch, &ic, &size);
        FAILF("the identity child %s%s%s (case %d %s)", WIFSIGNALED(status) ? "died of " : "exited ",
              WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : WEXITSTATUS(status) == ASAN_EXIT ? "stopped by ASan" : "with a failure",
              open_case >= 0 ? " while opening" : "", open_case, ic.name);
    }
}

static void test_items_identity(void) {
    /* The template: a closed typed ring with 5 items written (positions 5: not a multiple of 8). */
    const char *path = path_of("identity-template");
    unlink(path);
    ring_t *r = NULL;
    OK(f_ring_create_items(path, ITEM_TYPE, 8, 100, RING_REJECT_WHEN_FULL, 0600, 0, 0, &r));
    if (!r) return;
    ring_item_producer_t *p = NULL;
    OK(f_ring_item_producer_open(r, &p));
    item five[5];
    for (int i = 0; i < 5; i++) item_fill(&five[i], 1, (uint64_t)i);
    if (p) OK(f_ring_write_items(p, five, 5, 0));
    f_ring_item_producer_free(p);
    f_ring_free(r);
    size_t size = RING_DEFAULT_HEADER_SIZE + 4096;
    uint8_t *template_file = calloc(1, size);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, template_file, size, 0) == (ssize_t)size);
    if (fd >= 0) close(fd);
    CHECK(get32(template_file, RING_OFFSET_ITEM_SIZE) == ITEM_SIZE && get32(template_file, RING_OFFSET_TYPE_LENGTH) == strlen(ITEM_TYPE));
    int counts[16] = { 0 }, fuzz_counts[16] = { 0 };
    identity_run(template_file, size, 0, counts);
    /* The byte-ring case again with positions 0: it must open (as a byte ring). */
    memset(template_file + RING_OFFSET_PRODUCER_POSITION, 0, 8);
    memset(template_file + RING_OFFSET_CONSUMER_POSITION, 0, 8);
    int total = 0;
    for (int k = 0; k < 16; k++) total += counts[k];
    identity_run(template_file, size, long_mode ? 5000 : 300, fuzz_counts);
    printf("     %d identity cases of a closed typed ring (item fields, type description, flags, file size; checksums fixed or not):", total);
    for (int k = 0; k < 16; k++) if (counts[k]) printf(" %s=%d", k == 15 ? "other" : f_ring_strerror(-k), counts[k]);
    printf("\n     fuzzed identities:");
    for (int k = 0; k < 16; k++) if (fuzz_counts[k]) printf(" %s=%d", k == 15 ? "other" : f_ring_strerror(-k), fuzz_counts[k]);
    printf("\n");
    free(template_file);
}

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
        { "items_out_of_range_positions_are_corrupt", test_items_out_of_range_positions, 60 },
        { "items_transient_position_lies_recover", test_items_transient_lies, 30 },
        { "items_truncated_ring_says_truncated", test_items_truncated_sequences, 60 },
        { "items_identity_of_a_closed_file", test_items_identity, 60 },
        { "items_hostile_header_words_and_data", test_items_strict, scribble_limit },
        { "items_hostile_positions_and_everything", test_items_positions, scribble_limit },
        { "items_file_truncated_while_open", test_items_truncated, scribble_limit },
    };
    return RUN_TESTS(tests, only, "hostile");
}
