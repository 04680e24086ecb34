/*
 * ring_peer.c - the C producer and consumer of the interop tests: the same
 * command line and output as `ring-workload produce` / `ring-workload consume`, through
 * the public C header only. The library is loaded with dlopen (the way an FFI
 * would): RINGFORMAT_LIB names it, else "libringformat.so.1" (its SONAME) on the search path.
 *
 *   ring_peer produce PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--close] [--batch N]
 *   ring_peer consume PATH --count N [--seed S] [--min-size N] [--max-size N] [--timeout-ms N] [--until-end]
 *   ring_peer reader PATH --count N [consume's options] [--lapping] [--newest] [--name NAME] [--gate-timeout-ms N]
 *                                 as ring-workload reader: joins a ring with reader slots (format 1.1) with
 *                                 ring_reader_open (gating unless --lapping, from the oldest message unless
 *                                 --newest, durable if named) and reads as consume does, on its own cursor.
 *                                 Each message's index comes from its first 8 bytes (use --min-size 8 or
 *                                 more); "overwritten K" counts the gaps between them from index 0 (not
 *                                 before the first message with --newest) and the line adds "missed M",
 *                                 the library's ring_reader_missed. Nothing else goes to stdout.
 *   ring_peer produce-items PATH --count N [--batch N] [--timeout-ms N] [--close]
 *   ring_peer consume-items PATH --count N [--max-items N] [--timeout-ms N] [--until-end]
 *                                 as ring-workload produce-items / consume-items: items 0..N-1 of the item
 *                                 workload (workload.h, wl_item_fill) through a typed ring of its type, in
 *                                 batches of ring_write_items / ring_read_items; the consumer checks each item
 *                                 and prints "consumed R items missed M library-missed L dropped D checksum
 *                                 0xCRC in T ms" (M: the gaps in seq, with --until-end up to N-1; L:
 *                                 ring_items_missed; D: the ring's droppedCount; CRC: zlib's CRC-32 of the items).
 *   ring_peer script OPS PATH     run a golden vector's operations (interop/vectors, .ops files) to make PATH
 *                                 (a typed ring, created with create-items, is mapped once)
 *   ring_peer expect PATH         print PATH's state, reader table and unread messages (or items) in the .expect
 *                                 format (a ring with readers: the messages through a lapping reader it joins, so
 *                                 PATH needs a free slot; run it on a copy)
 */
#define _GNU_SOURCE
#include <ctype.h>
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
FN(ring_reader_open); FN(ring_reader_missed); FN(ring_readers); FN(ring_create_readers); FN(ring_geometry);
FN(ring_reserve); FN(ring_commit); FN(ring_abort);
FN(ring_create_shared); FN(ring_producer_slots); FN(ring_settle_claims);
FN(ring_create_items); FN(ring_open_flags); FN(ring_item_info); FN(ring_item_producer_open); FN(ring_write_items);
FN(ring_item_producer_close_writer); FN(ring_item_producer_free); FN(ring_item_consumer_open); FN(ring_read_items);
FN(ring_items_readable); FN(ring_items_consume); FN(ring_items_missed); FN(ring_item_consumer_free);

static void load(void) {
    const char *lib = getenv("RINGFORMAT_LIB");
    void *h = dlopen(lib ? lib : "libringformat.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "ring_peer: %s\n", dlerror()); exit(2); }
#define LOAD(name) if (!(p_##name = (__typeof__(name) *)dlsym(h, #name))) { fprintf(stderr, "ring_peer: no %s\n", #name); exit(2); }
    LOAD(ring_open); LOAD(ring_free); LOAD(ring_info); LOAD(ring_strerror); LOAD(ring_last_error_message);
    LOAD(ring_producer_open); LOAD(ring_write_timeout); LOAD(ring_write_batch); LOAD(ring_producer_close_writer);
    LOAD(ring_producer_free); LOAD(ring_consumer_open); LOAD(ring_read_timeout); LOAD(ring_consumer_free);
    LOAD(ring_create_at_position); LOAD(ring_write); LOAD(ring_read); LOAD(ring_peek_batch); LOAD(ring_flush);
    LOAD(ring_reserve); LOAD(ring_commit); LOAD(ring_abort);
    /* RINGFORMAT_1.2: only rings with producers need them. */
    p_ring_create_shared = (__typeof__(ring_create_shared) *)dlsym(h, "ring_create_shared");
    p_ring_producer_slots = (__typeof__(ring_producer_slots) *)dlsym(h, "ring_producer_slots");
    p_ring_settle_claims = (__typeof__(ring_settle_claims) *)dlsym(h, "ring_settle_claims");
    /* RINGFORMAT_1.1: only rings with readers need them (need_readers says so if the library lacks them). */
    p_ring_reader_open = (__typeof__(ring_reader_open) *)dlsym(h, "ring_reader_open");
    p_ring_reader_missed = (__typeof__(ring_reader_missed) *)dlsym(h, "ring_reader_missed");
    p_ring_readers = (__typeof__(ring_readers) *)dlsym(h, "ring_readers");
    p_ring_create_readers = (__typeof__(ring_create_readers) *)dlsym(h, "ring_create_readers");
    p_ring_geometry = (__typeof__(ring_geometry) *)dlsym(h, "ring_geometry");
    /* RINGFORMAT_1.3: only typed rings need them (need_items says so if the library lacks them). */
#define LOAD_OPTIONAL(name) p_##name = (__typeof__(name) *)dlsym(h, #name)
    LOAD_OPTIONAL(ring_create_items); LOAD_OPTIONAL(ring_open_flags); LOAD_OPTIONAL(ring_item_info);
    LOAD_OPTIONAL(ring_item_producer_open); LOAD_OPTIONAL(ring_write_items); LOAD_OPTIONAL(ring_item_producer_close_writer);
    LOAD_OPTIONAL(ring_item_producer_free); LOAD_OPTIONAL(ring_item_consumer_open); LOAD_OPTIONAL(ring_read_items);
    LOAD_OPTIONAL(ring_items_readable); LOAD_OPTIONAL(ring_items_consume); LOAD_OPTIONAL(ring_items_missed);
    LOAD_OPTIONAL(ring_item_consumer_free);
}

/* Exits 2 unless the library has the typed-ring functions (RINGFORMAT_1.3). */
static void need_items(void) {
    if (p_ring_create_items && p_ring_open_flags && p_ring_item_info && p_ring_item_producer_open && p_ring_write_items
        && p_ring_item_producer_close_writer && p_ring_item_producer_free && p_ring_item_consumer_open && p_ring_read_items
        && p_ring_items_readable && p_ring_items_consume && p_ring_items_missed && p_ring_item_consumer_free) return;
    fprintf(stderr, "ring_peer: the library has no ring_create_items (RINGFORMAT_1.3)\n");
    exit(2);
}

/* Exits 2 unless the library has the several-readers functions (RINGFORMAT_1.1). */
static void need_readers(void) {
    if (p_ring_reader_open && p_ring_reader_missed && p_ring_readers && p_ring_create_readers && p_ring_geometry) return;
    fprintf(stderr, "ring_peer: the library has no ring_reader_open (RINGFORMAT_1.1)\n");
    exit(2);
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
    /* A typed ring (SPEC.md §19): its item size, its one producer and one consumer. */
    ring_item_producer_t *ip = NULL; ring_item_consumer_t *ic = NULL;
    size_t item_size = 0;
    /* The readers of join .. leave, by their ids. */
    enum { MAX_READERS = 496 };
    static char ids[MAX_READERS][64];
    static ring_consumer_t *readers[MAX_READERS];
    int nreaders = 0;
    /* The producers of producer .. write-as / reserve / commit / abandon, by their ids; a
     * reservation's text waits in reserved[k] until its commit. */
    enum { MAX_PRODUCERS = 16 };
    static char pids[MAX_PRODUCERS][64];
    static ring_producer_t *producers[MAX_PRODUCERS];
    static size_t reserved[MAX_PRODUCERS];
    int nproducers = 0;
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
        if (strcmp(line, "create") && strcmp(line, "create-items") && !ring) {
            fprintf(stderr, "%s:%d: no create before %s\n", ops, number, line); return 2;
        }
        int item_write = !strcmp(line, "write-items") || !strcmp(line, "write-items-fill"), item_read = !strcmp(line, "read-items");
        if ((item_write || item_read) && !item_size) { fprintf(stderr, "%s:%d: %s needs a ring made by create-items\n", ops, number, line); return 2; }
        if (item_write && !ip && (rc = p_ring_item_producer_open(ring, &ip))) die("ring_item_producer_open", rc);
        if (item_read && !ic && (rc = p_ring_item_consumer_open(ring, &ic))) die("ring_item_consumer_open", rc);
        int plain_write = !strcmp(line, "write") || !strcmp(line, "write-hex") || !strcmp(line, "write-fill");
        if (plain_write && !p && (rc = p_ring_producer_open(ring, &p))) die("ring_producer_open", rc);
        if (!strcmp(line, "create")) {
            /* create CAPACITY POLICY [POSITION] [readers N] [producers N] [counts]: without `counts` the
             * ring keeps no message counts (RING_CREATE_NO_COUNTS), as every vector made before them. */
            unsigned long long capacity = 0, position = 0, slots = 0, pslots = 0; char policy[32] = "";
            if (sscanf(rest, "%llu %31s %llu", &capacity, policy, &position) < 2) { fprintf(stderr, "%s:%d: bad create\n", ops, number); return 2; }
            const char *r = strstr(rest, "readers ");
            if (r && sscanf(r, "readers %llu", &slots) != 1) { fprintf(stderr, "%s:%d: bad create\n", ops, number); return 2; }
            const char *ps = strstr(rest, "producers ");
            if (ps && sscanf(ps, "producers %llu", &pslots) != 1) { fprintf(stderr, "%s:%d: bad create\n", ops, number); return 2; }
            int pol = strcmp(policy, "overwrite") ? RING_REJECT_WHEN_FULL : RING_OVERWRITE_OLDEST;
            size_t rest_len = strlen(rest);
            unsigned create_flags = RING_CREATE_REPLACE
                | (rest_len >= 6 && !strcmp(rest + rest_len - 6, "counts") ? 0u : (unsigned)RING_CREATE_NO_COUNTS);
            if (pslots) {
                if (!p_ring_create_shared) { fprintf(stderr, "ring_peer: the library has no ring_create_shared\n"); return 2; }
                if ((rc = p_ring_create_shared(path, capacity, pol, 0600, create_flags, (uint32_t)slots,
                                               (uint32_t)pslots, position, &ring))) die("ring_create_shared", rc);
            } else if (slots) {
                need_readers();
                if ((rc = p_ring_create_readers(path, capacity, pol, 0600, create_flags, (uint32_t)slots, position, &ring))) die("ring_create_readers", rc);
            } else if ((rc = p_ring_create_at_position(path, capacity, pol, 0600, create_flags, position, &ring))) {
                die("ring_create_at_position", rc);
            }
        } else if (!strcmp(line, "create-items")) {
            /* create-items CAPACITY POLICY TYPE [POSITION] [align N]; mapped once, so that a straddling
             * item is written in two pieces (the Swift writer maps twice: the files must not differ). */
            unsigned long long capacity = 0, position = 0, alignment = 0;
            char policy[32] = "", type[520] = "", word[32] = "";
            int got = sscanf(rest, "%llu %31s %519s %31s", &capacity, policy, type, word);
            const char *a = strstr(rest, " align ");
            if (a && sscanf(a, " align %llu", &alignment) != 1) got = 0;
            if (got >= 4 && strcmp(word, "align") && sscanf(word, "%llu", &position) != 1) got = 0;
            if (got < 3 || (strcmp(policy, "reject") && strcmp(policy, "overwrite"))) {
                fprintf(stderr, "%s:%d: bad create-items\n", ops, number); return 2;
            }
            need_items();
            int pol = strcmp(policy, "overwrite") ? RING_REJECT_WHEN_FULL : RING_OVERWRITE_OLDEST;
            if ((rc = p_ring_create_items(path, type, (uint32_t)alignment, capacity, pol, 0600,
                                          RING_CREATE_REPLACE | RING_CREATE_SINGLE_MAP, position, &ring))) die("ring_create_items", rc);
            ring_item_info_t info;
            if ((rc = p_ring_item_info(ring, &info))) die("ring_item_info", rc);
            item_size = info.item_size;
        } else if (!strcmp(line, "write-items")) {
            /* write-items HEX: one commit of whole items; spaces between the digits are ignored. */
            size_t len = 0, digits = 0;
            for (const char *h = rest; *h; h++) {
                if (*h == ' ') continue;
                if (!isxdigit((unsigned char)*h) || len == sizeof msg) { fprintf(stderr, "%s:%d: bad write-items\n", ops, number); return 2; }
                if (digits++ % 2) msg[len++] |= (uint8_t)hexval(*h); else msg[len] = (uint8_t)(hexval(*h) << 4);
            }
            if (digits % 2 || len == 0 || len % item_size) { fprintf(stderr, "%s:%d: write-items: not whole items\n", ops, number); return 2; }
            if ((rc = p_ring_write_items(ip, msg, len / item_size, 0))) die("ring_write_items", rc);
        } else if (!strcmp(line, "write-items-fill")) {
            /* write-items-fill COUNT BYTE: byte j of the batch's item k is (BYTE + k + j) mod 256. */
            unsigned long count = 0, byte = 0;
            if (sscanf(rest, "%lu %lu", &count, &byte) != 2 || !count || byte > 255) { fprintf(stderr, "%s:%d: bad write-items-fill\n", ops, number); return 2; }
            uint8_t *items = malloc(count * item_size);
            for (size_t k = 0; k < count; k++)
                for (size_t j = 0; j < item_size; j++) items[k * item_size + j] = (uint8_t)(byte + k + j);
            if ((rc = p_ring_write_items(ip, items, count, 0))) die("ring_write_items", rc);
            free(items);
        } else if (!strcmp(line, "read-items")) {
            /* read-items [COUNT]: one read of COUNT items, which must all be there. */
            long count = *rest ? atol(rest) : 1;
            size_t got = 0;
            if (count < 1) { fprintf(stderr, "%s:%d: bad read-items\n", ops, number); return 2; }
            uint8_t *items = malloc((size_t)count * item_size);
            if ((rc = p_ring_read_items(ic, items, (size_t)count, &got, 0))) die("ring_read_items", rc);
            if (got != (size_t)count) { fprintf(stderr, "%s:%d: read-items %ld found %zu\n", ops, number, count, got); return 2; }
            free(items);
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
        } else if (!strcmp(line, "join")) {
            /* join ID [lapping] [newest] [durable] */
            char id[64] = "";
            if (sscanf(rest, "%63s", id) != 1 || nreaders == MAX_READERS) { fprintf(stderr, "%s:%d: bad join\n", ops, number); return 2; }
            need_readers();
            ring_reader_options_t options = RING_READER_OPTIONS_INIT;
            options.flags = (strstr(rest, " lapping") ? RING_READER_LAPPING : 0) | (strstr(rest, " newest") ? RING_READER_NEWEST : 0);
            options.name = strstr(rest, " durable") ? id : NULL;
            snprintf(ids[nreaders], sizeof ids[nreaders], "%s", id);
            if ((rc = p_ring_reader_open(ring, &options, &readers[nreaders]))) die("ring_reader_open", rc);
            nreaders++;
        } else if (!strcmp(line, "reader-read") || !strcmp(line, "leave")) {
            /* reader-read ID [N], leave ID */
            char id[64] = "";
            long n = 1;
            if (sscanf(rest, "%63s %ld", id, &n) < 1) { fprintf(stderr, "%s:%d: bad %s\n", ops, number, line); return 2; }
            int k = 0;
            while (k < nreaders && strcmp(ids[k], id)) k++;
            if (k == nreaders) { fprintf(stderr, "%s:%d: %s of a reader that did not join: %s\n", ops, number, line, id); return 2; }
            if (!strcmp(line, "leave")) {
                p_ring_consumer_free(readers[k]);
                readers[k] = readers[nreaders - 1];
                memcpy(ids[k], ids[nreaders - 1], sizeof ids[k]);
                nreaders--;
            } else {
                for (long i = 0; i < n; i++) {
                    size_t len;
                    if ((rc = p_ring_read(readers[k], msg, sizeof msg, &len))) die("ring_read (reader)", rc);
                }
            }
        } else if (!strcmp(line, "producer")) {
            /* producer ID */
            if (nproducers == MAX_PRODUCERS || sscanf(rest, "%63s", pids[nproducers]) != 1) { fprintf(stderr, "%s:%d: bad producer\n", ops, number); return 2; }
            if ((rc = p_ring_producer_open(ring, &producers[nproducers]))) die("ring_producer_open", rc);
            reserved[nproducers++] = 0;
        } else if (!strcmp(line, "write-as") || !strcmp(line, "write-batch-as") || !strcmp(line, "reserve")
                   || !strcmp(line, "commit") || !strcmp(line, "abandon") || !strcmp(line, "crash")) {
            /* write-as ID [TEXT], write-batch-as ID WORD..., reserve ID [TEXT], commit ID, abandon ID, crash ID */
            char id[64] = "";
            if (sscanf(rest, "%63s", id) != 1) { fprintf(stderr, "%s:%d: bad %s\n", ops, number, line); return 2; }
            int k = 0;
            while (k < nproducers && strcmp(pids[k], id)) k++;
            if (k == nproducers) { fprintf(stderr, "%s:%d: %s of a producer not opened: %s\n", ops, number, line, id); return 2; }
            const char *text = rest + strlen(id);
            if (*text == ' ') text++;
            if (!strcmp(line, "write-as")) {
                if ((rc = p_ring_write(producers[k], text, strlen(text)))) die("ring_write", rc);
            } else if (!strcmp(line, "write-batch-as")) {
                ring_message_t words[256];
                size_t count = 0, written = 0;
                static char copy[65536];
                snprintf(copy, sizeof copy, "%s", text);
                for (char *w = strtok(copy, " "); w && count < 256; w = strtok(NULL, " ")) {
                    words[count].data = w; words[count].len = strlen(w); count++;
                }
                if ((rc = p_ring_write_batch(producers[k], words, count, &written))) die("ring_write_batch", rc);
                if (written != count) { fprintf(stderr, "%s:%d: the batch did not fit\n", ops, number); return 2; }
            } else if (!strcmp(line, "reserve")) {
                void *buffer = NULL;
                if ((rc = p_ring_reserve(producers[k], strlen(text), &buffer))) die("ring_reserve", rc);
                memcpy(buffer, text, strlen(text));
                reserved[k] = strlen(text);
            } else if (!strcmp(line, "commit")) {
                if ((rc = p_ring_commit(producers[k], reserved[k]))) die("ring_commit", rc);
            } else if (!strcmp(line, "abandon")) {
                if ((rc = p_ring_abort(producers[k]))) die("ring_abort", rc);
            } else {
                /* The C ABI cannot drop a producer without closing it (SPEC.md §16.5): this writer
                 * makes no vector that uses crash (it still reads them). */
                fclose(f);
                return 77;
            }
        } else if (!strcmp(line, "close-writer") && item_size) {
            if (!ip && (rc = p_ring_item_producer_open(ring, &ip))) die("ring_item_producer_open", rc);
            if ((rc = p_ring_item_producer_close_writer(ip))) die("ring_item_producer_close_writer", rc);
            p_ring_item_producer_free(ip); ip = NULL;
        } else if (!strcmp(line, "close-writer")) {
            if (!p && (rc = p_ring_producer_open(ring, &p))) die("ring_producer_open", rc);
            if ((rc = p_ring_producer_close_writer(p))) die("ring_producer_close_writer", rc);
            p_ring_producer_free(p); p = NULL;
        } else { fprintf(stderr, "%s:%d: unknown operation %s\n", ops, number, line); return 2; }
    }
    fclose(f);
    for (int k = 0; k < nreaders; k++) p_ring_consumer_free(readers[k]);
    for (int k = 0; k < nproducers; k++) p_ring_producer_free(producers[k]);
    if (ring && (rc = p_ring_flush(ring))) die("ring_flush", rc);
    if (item_size) { p_ring_item_producer_free(ip); p_ring_item_consumer_free(ic); }
    p_ring_producer_free(p); p_ring_consumer_free(c); p_ring_free(ring);
    return 0;
}

/* The .expect text of a typed ring (SPEC.md §16.5, §19): the state, the item type, then the
 * unread items lent in place (two spans: the ring is mapped once) and given back unconsumed. */
static int print_item_expect(ring_t *ring, const ring_info_t *i, const ring_item_info_t *t) {
    printf("capacity %llu\npolicy %s\nproducerPosition %llu\nconsumerPosition %llu\ndroppedCount %llu\n"
           "writerClosed %u\nmessageCount %llu\nitemType %s\nitemSize %u\nitemAlignment %u\nitemCapacity %llu\n",
           (unsigned long long)i->capacity, i->policy == RING_OVERWRITE_OLDEST ? "overwrite" : "reject",
           (unsigned long long)i->producer_position, (unsigned long long)i->consumer_position,
           (unsigned long long)i->dropped_count, i->writer_closed, (unsigned long long)i->message_count, t->item_type,
           t->item_size, t->item_alignment, (unsigned long long)t->item_capacity);
    ring_item_consumer_t *c;
    int rc = p_ring_item_consumer_open(ring, &c);
    if (rc) die("ring_item_consumer_open", rc);
    ring_span_t spans[2];
    size_t count = 0;
    rc = p_ring_items_readable(c, spans, &count, 0);
    if (rc && rc != RING_ERR_EMPTY && rc != RING_ERR_END_OF_STREAM) die("ring_items_readable", rc);
    if (!rc) {
        /* The run is spans[0] then spans[1]; an item may straddle them. */
        for (size_t k = 0; k < count * t->item_size; k++) {
            size_t at = k < spans[0].len ? k : k - spans[0].len;
            const uint8_t *b = k < spans[0].len ? spans[0].data : spans[1].data;
            if (k % t->item_size == 0) printf("item ");
            printf("%02x", b[at]);
            if (k % t->item_size == t->item_size - 1) printf("\n");
        }
        if ((rc = p_ring_items_consume(c, 0))) die("ring_items_consume", rc);
    }
    p_ring_item_consumer_free(c);
    p_ring_free(ring);
    return 0;
}

static int print_expect(const char *path) {
    ring_t *ring; ring_consumer_t *c; ring_info_t i;
    /* Mapped once (RINGFORMAT_1.3 libraries map a typed ring twice by default). */
    int rc = p_ring_open_flags ? p_ring_open_flags(path, RING_OPEN_SINGLE_MAP, &ring) : p_ring_open(path, &ring);
    if (rc) die("ring_open", rc);
    ring_item_info_t t = { 0 };
    if (p_ring_item_info && (rc = p_ring_item_info(ring, &t))) die("ring_item_info", rc);
    if (t.item_size) {
        need_items();
        if ((rc = p_ring_info(ring, &i))) die("ring_info", rc);
        return print_item_expect(ring, &i, &t);
    }
    uint32_t pslots = 0;
    if (p_ring_producer_slots && (rc = p_ring_producer_slots(ring, &pslots))) die("ring_producer_slots", rc);
    /* A ring with producers: the claims of producers that are gone are settled first, as a reader would. */
    if (pslots && (rc = p_ring_settle_claims(ring))) die("ring_settle_claims", rc);
    if ((rc = p_ring_info(ring, &i))) die("ring_info", rc);
    printf("capacity %llu\npolicy %s\nproducerPosition %llu\nconsumerPosition %llu\ndroppedCount %llu\n"
           "writerClosed %u\nmessageCount %llu\n", (unsigned long long)i.capacity,
           i.policy == RING_OVERWRITE_OLDEST ? "overwrite" : "reject", (unsigned long long)i.producer_position,
           (unsigned long long)i.consumer_position, (unsigned long long)i.dropped_count, i.writer_closed,
           (unsigned long long)i.message_count);
    if (pslots) printf("producerSlots %u\n", pslots);
    ring_geometry_t g = { 0 };
    if (p_ring_geometry && (rc = p_ring_geometry(ring, &g))) die("ring_geometry", rc);
    if (g.reader_slots) {
        /* A ring with readers (SPEC.md §16.5): the table, then the messages through a lapping reader
         * of our own, from tailPosition (there is no consumer role and no observer in the C ABI). */
        need_readers();
        printf("readerSlots %u\n", g.reader_slots);
        size_t n = 0;
        ring_reader_info_t *infos = malloc(sizeof *infos * g.reader_slots);
        if ((rc = p_ring_readers(ring, infos, g.reader_slots, &n))) die("ring_readers", rc);
        for (size_t k = 0; k < n && k < g.reader_slots; k++) {
            printf("reader %u %s %s cursor %llu missed %llu name ", infos[k].slot,
                   infos[k].flags & RING_READER_INFO_GATING ? "gating" : "lapping",
                   infos[k].flags & RING_READER_INFO_DURABLE ? "durable" : "anonymous", (unsigned long long)infos[k].cursor,
                   (unsigned long long)infos[k].missed_count);
            for (const char *b = infos[k].name; *b; b++) printf("%02x", (unsigned char)*b);
            printf("\n");
        }
        free(infos);
        ring_reader_options_t options = RING_READER_OPTIONS_INIT;
        options.flags = RING_READER_LAPPING;
        if ((rc = p_ring_reader_open(ring, &options, &c))) die("ring_reader_open (to read the messages)", rc);
    } else if ((rc = p_ring_consumer_open(ring, &c))) die("ring_consumer_open", rc);
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

/* ---- typed rings: produce-items, consume-items (interop/run_typed_matrix.py) ---- */

static int run_items(const char *command, const char *path, long long count, long long batch, long long max_items,
                     int64_t timeout_ns, int close_writer, int until_end) {
    need_items();
    ring_t *ring;
    int rc = p_ring_open_flags(path, 0, &ring);
    if (rc) die("ring_open_flags", rc);
    ring_item_info_t t;
    if ((rc = p_ring_item_info(ring, &t))) die("ring_item_info", rc);
    if (strcmp(t.item_type, WL_ITEM_TYPE)) {
        fprintf(stderr, "ring_peer: %s holds items \"%s\", not items \"%s\"\n", path, t.item_type, WL_ITEM_TYPE);
        return 2;
    }
    long long start = now_ms();
    if (!strcmp(command, "produce-items")) {
        ring_item_producer_t *p;
        if ((rc = p_ring_item_producer_open(ring, &p))) die("ring_item_producer_open", rc);
        if (batch < 1) batch = 1;
        uint8_t *items = malloc((size_t)batch * WL_ITEM_SIZE);
        for (long long seq = 0; seq < count;) {
            long long n = count - seq < batch ? count - seq : batch;
            for (long long k = 0; k < n; k++) wl_item_fill((uint64_t)(seq + k), items + k * WL_ITEM_SIZE);
            if ((rc = p_ring_write_items(p, items, (size_t)n, timeout_ns))) die("ring_write_items", rc);
            seq += n;
        }
        if (close_writer && (rc = p_ring_item_producer_close_writer(p))) die("ring_item_producer_close_writer", rc);
        p_ring_item_producer_free(p);
        free(items);
        printf("produced %lld items in %lld ms\n", count, now_ms() - start);
    } else {
        ring_item_consumer_t *c;
        if ((rc = p_ring_item_consumer_open(ring, &c))) die("ring_item_consumer_open", rc);
        ring_info_t info;
        if ((rc = p_ring_info(ring, &info))) die("ring_info", rc);
        /* Under overwrite-oldest the items that arrive are an in-order subsequence. */
        int overwrite = info.policy == RING_OVERWRITE_OLDEST;
        if (max_items < 1) max_items = 1;
        uint8_t *items = malloc((size_t)max_items * WL_ITEM_SIZE);
        long long received = 0;
        uint64_t expected = 0, missed = 0;
        uint32_t crc = 0;
        while (until_end || received < count) {
            size_t wanted = until_end || count - received > max_items ? (size_t)max_items : (size_t)(count - received), n = 0;
            rc = p_ring_read_items(c, items, wanted, &n, timeout_ns);
            if (rc == RING_ERR_END_OF_STREAM) break;
            if (rc) die("ring_read_items", rc);
            for (size_t k = 0; k < n; k++) {
                uint64_t seq = 0;
                if (wl_item_check(items + k * WL_ITEM_SIZE, &seq) || seq < expected || (!overwrite && seq != expected)) {
                    fprintf(stderr, "ring_peer: item %lld (expected seq %llu%s) is wrong\n", received,
                            (unsigned long long)expected, overwrite ? " or later" : "");
                    return 1;
                }
                missed += seq - expected;
                expected = seq + 1;
                received++;
            }
            crc = wl_crc32(crc, items, n * WL_ITEM_SIZE);
        }
        /* The items after the last one received that never came (none once the stream ended). */
        if (until_end && (uint64_t)count > expected) missed += (uint64_t)count - expected;
        uint64_t library_missed = 0;
        if ((rc = p_ring_items_missed(c, &library_missed))) die("ring_items_missed", rc);
        if ((rc = p_ring_info(ring, &info))) die("ring_info", rc);
        printf("consumed %lld items missed %llu library-missed %llu dropped %llu checksum 0x%x in %lld ms\n", received,
               (unsigned long long)missed, (unsigned long long)library_missed, (unsigned long long)info.dropped_count,
               crc, now_ms() - start);
        p_ring_item_consumer_free(c);
        free(items);
    }
    p_ring_free(ring);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: ring_peer produce|consume|reader PATH [options]\n"); return 2; }
    const char *command = argv[1], *path = argv[2];
    if (!strcmp(command, "script")) { if (argc < 4) return 2; load(); return run_script(argv[2], argv[3]); }
    if (!strcmp(command, "expect")) { load(); return print_expect(argv[2]); }
    long long count = 1000, timeout_ms = -1, batch = 1, gate_timeout_ms = 10000, producer_id = 0, producers = 0, max_items = 64;
    int close_writer = 0, until_end = 0, lapping = 0, newest = 0;
    const char *name = NULL;
    wl_workload w = { 1, 0, 256 };
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--close")) { close_writer = 1; continue; }
        if (!strcmp(a, "--until-end")) { until_end = 1; continue; }
        if (!strcmp(a, "--lapping")) { lapping = 1; continue; }
        if (!strcmp(a, "--newest")) { newest = 1; continue; }
        if (!v) { fprintf(stderr, "ring_peer: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--count")) count = atoll(v);
        else if (!strcmp(a, "--seed")) w.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--min-size")) w.min_size = (size_t)atoll(v);
        else if (!strcmp(a, "--max-size")) w.max_size = (size_t)atoll(v);
        else if (!strcmp(a, "--timeout-ms")) timeout_ms = atoll(v);
        else if (!strcmp(a, "--batch")) batch = atoll(v);
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--gate-timeout-ms")) gate_timeout_ms = atoll(v);
        else if (!strcmp(a, "--producer-id")) producer_id = atoll(v);
        else if (!strcmp(a, "--producers")) producers = atoll(v);
        else if (!strcmp(a, "--max-items")) max_items = atoll(v);
        else { fprintf(stderr, "ring_peer: unknown option %s\n", a); return 2; }
        i++;
    }
    load();
    if (!strcmp(command, "produce-items") || !strcmp(command, "consume-items"))
        return run_items(command, path, count, batch, max_items,
                         timeout_ms < 0 ? RING_WAIT_FOREVER : (int64_t)timeout_ms * 1000000, close_writer, until_end);
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
                msgs[k].len = wl_fill(&w, ((uint64_t)producer_id << 32) + (uint64_t)(i + k), m);
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
    } else if (!strcmp(command, "consume") || !strcmp(command, "reader")) {
        int reader = !strcmp(command, "reader");
        ring_consumer_t *c;
        if (reader) {
            need_readers();
            ring_reader_options_t options = RING_READER_OPTIONS_INIT;
            options.flags = (lapping ? RING_READER_LAPPING : 0) | (newest ? RING_READER_NEWEST : 0);
            options.name = name;
            options.gate_timeout_ms = gate_timeout_ms < 0 ? 0 : gate_timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)gate_timeout_ms;
            if ((rc = p_ring_reader_open(ring, &options, &c))) die("ring_reader_open", rc);
        } else if ((rc = p_ring_consumer_open(ring, &c))) die("ring_consumer_open", rc);
        /* Messages may be missing: an overwrite-oldest ring, or a reader (it starts at the oldest message
         * still in the ring, or the newest, and a lapping one may be lapped): take each one's index from
         * its bytes. A reader that joined at the newest starts counting at its first message. */
        int indexed = info.policy == RING_OVERWRITE_OLDEST || reader;
        int first_unknown = reader && newest;
        /* Several producers (SPEC.md §18): producer p's i-th message has index p << 32 | i; each
         * producer's arrive in order, and the gaps are counted per producer. */
        uint64_t *next_of = producers > 0 ? calloc((size_t)producers, sizeof *next_of) : NULL;
        char *seen_of = producers > 0 ? calloc((size_t)producers, 1) : NULL;
        for (long long p = 0; p < producers; p++) next_of[p] = (uint64_t)p << 32;
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
            if (producers > 0) {
                uint64_t p = 0;
                int valid = wl_index(buf, len, &index) == 0 && (p = index >> 32) < (uint64_t)producers
                    && index >= next_of[p];
                if (!valid) {
                    fprintf(stderr, "ring_peer: message %lld carries no valid index of %lld producers\n", received, producers);
                    return 1;
                }
                if (!(first_unknown && !seen_of[p])) skipped += index - next_of[p];
                seen_of[p] = 1;
                next_of[p] = index + 1;
            } else if (indexed) {
                int valid = wl_index(buf, len, &index) == 0;
                if (valid && first_unknown && received == 0) expected = index;
                if (!valid || index < expected) {
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
        uint64_t missed = 0;
        if (reader && (rc = p_ring_reader_missed(c, &missed))) die("ring_reader_missed", rc);
        p_ring_consumer_free(c);
        char missed_text[40] = "";
        if (reader) snprintf(missed_text, sizeof missed_text, " missed %llu", (unsigned long long)missed);
        printf("consumed %lld messages %lld bytes checksum 0x%llx overwritten %llu%s in %lld ms\n", received, bytes,
               (unsigned long long)sum.value, (unsigned long long)skipped, missed_text, now_ms() - start);
    } else {
        fprintf(stderr, "ring_peer: unknown command %s\n", command);
        return 2;
    }
    free(buf);
    p_ring_free(ring);
    return 0;
}
