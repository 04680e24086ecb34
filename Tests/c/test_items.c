/*
 * test_items.c - typed rings (format 1.1, SPEC.md §19), double mapping and
 * rings without a file (§20) through the C ABI: ring_create_items,
 * ring_item_info, the item producer and consumer (copies and spans),
 * ring_open_flags, ring_open_fd, ring_fd, ring_is_double_mapped and
 * ring_committed_spans.
 *
 *   test_items [LIBRARY] [--long] [--only NAME]
 *
 * The library is dlopened (argv[1], else $RINGFORMAT_LIB). Each test runs in
 * its own forked process with an alarm and a wall-clock limit in the parent.
 * RING_RACE_LONG=1 (or --long) writes ten times as many items in the races.
 *
 * Items are `record`s, the C struct of RECORD_TYPE: item `id` holds id, a
 * value and a check derived from id, and zero padding; an item is intact iff
 * all 24 bytes are those of its id. Positions count items (§19.3), so with a
 * 24-byte item in a 4096-byte region items straddle the region's end.
 *
 * Racing tests: a producer THREAD writes N records in random batches (some
 * larger than the ring) while the consumer reads with one API until
 * END_OF_STREAM. Checked: no torn item, ids strictly increase, received +
 * ring_items_missed == N, the gaps between ids == missed == dropped_count
 * (overwrite-oldest) or no gap at all (reject-when-full).
 *
 * Role locks: a new open of the ring ("/proc/self/fd/N") looks at the role
 * bytes with F_OFD_GETLK, so a test sees whether a handle holds, or dropped,
 * the kernel lock of its role (SPEC.md §11.1).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stddef.h>
#include <sys/stat.h>

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_open) X(ring_open_flags) X(ring_open_fd) \
    X(ring_fd) X(ring_is_double_mapped) X(ring_info) X(ring_close) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_peek) X(ring_release_cancel) X(ring_consumer_free) \
    X(ring_create_items) X(ring_item_info) X(ring_item_producer_open) X(ring_write_items) X(ring_items_writable) \
    X(ring_items_commit) X(ring_item_producer_close_writer) X(ring_item_producer_close) X(ring_item_producer_free) \
    X(ring_item_consumer_open) X(ring_read_items) X(ring_items_readable) X(ring_items_consume) X(ring_items_missed) \
    X(ring_item_consumer_close) X(ring_item_consumer_free) X(ring_committed_spans)
#include "test_harness.h"

static int long_mode;

#define SECOND 1000000000LL
#define MS 1000000LL
#define TWO_32 4294967296ULL

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---------------------------------------------------------------------- */
/* The record: a structured item and its C struct                          */

#define RECORD_TYPE "{id:<u8@0,value:<f8@8,check:<u4@16}24"
typedef struct record { uint64_t id; double value; uint32_t check; } record;
_Static_assert(sizeof(record) == 24, "RECORD_TYPE's size");
_Static_assert(alignof(record) == 8, "RECORD_TYPE's alignment");
_Static_assert(offsetof(record, id) == 0 && offsetof(record, value) == 8 && offsetof(record, check) == 16,
               "RECORD_TYPE's offsets");
#define RECORD_SIZE sizeof(record)
/* A ring asked for 100 records: 2400 bytes -> a 4096-byte region -> floor(4096 / 24) = 170 records. */
#define SMALL_ITEMS 100
#define SMALL_CAPACITY 170

/* Writes record `id` at r: its fields and zero padding. */
static void record_fill(record *r, uint64_t id) {
    memset(r, 0, sizeof *r);
    r->id = id;
    r->value = (double)(splitmix64(id) >> 11) * 0x1p-53;
    r->check = (uint32_t)(splitmix64(id ^ 0x5BD1E9955BD1E995ULL) >> 32);
}

/* 1 if the 24 bytes at p are exactly record `*id` (its id field, stored in *id). */
static int record_intact(const void *p, uint64_t *id) {
    memcpy(id, p, 8);
    record want;
    record_fill(&want, *id);
    return memcmp(p, &want, sizeof want) == 0;
}

/* Records first..first+n-1 into buf. */
static void records_fill(record *buf, uint64_t first, size_t n) {
    for (size_t i = 0; i < n; i++) record_fill(&buf[i], first + i);
}

/* Checks that buf holds records first..first+n-1: how many do not (the first few reported). */
static size_t records_check(const void *buf, uint64_t first, size_t n, const char *what) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        if (!record_intact((const uint8_t *)buf + i * RECORD_SIZE, &id) || id != first + i) {
            if (bad++ < 3) FAILF("%s: item %zu is id 0x%llx (%s), expected %llu", what, i, (unsigned long long)id,
                                 record_intact((const uint8_t *)buf + i * RECORD_SIZE, &id) ? "intact" : "torn",
                                 (unsigned long long)(first + i));
        }
    }
    return bad;
}

/* 1 if the item at position `position` of a RECORD_TYPE ring with a 4096-byte region straddles its end. */
static int straddles(uint64_t position) {
    uint64_t offset = (position * RECORD_SIZE) & 4095;
    return offset + RECORD_SIZE > 4096;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

/* A new typed ring dir/name (an old file removed first; with RING_CREATE_ANONYMOUS `name` is
 * only its name), or NULL with the failure counted. */
static ring_t *make_items(const char *name, const char *type, uint64_t item_capacity, int policy, uint32_t flags,
                          uint64_t initial_position) {
    char path[512];
    snprintf(path, sizeof path, "%s", flags & RING_CREATE_ANONYMOUS ? name : path_of(name));
    if (!(flags & RING_CREATE_ANONYMOUS)) unlink(path);
    ring_t *r = NULL;
    OK(f_ring_create_items(path, type, 0, item_capacity, policy, 0600, flags, initial_position, &r));
    return r;
}

/* The item producer and consumer of r: 1 if both opened (failures counted). */
static int item_roles(ring_t *r, ring_item_producer_t **p, ring_item_consumer_t **c) {
    *p = NULL; *c = NULL;
    if (!r) return 0;
    OK(f_ring_item_producer_open(r, p));
    OK(f_ring_item_consumer_open(r, c));
    return *p && *c;
}

static void free_item_roles(ring_t *r, ring_item_producer_t *p, ring_item_consumer_t *c) {
    f_ring_item_producer_free(p);
    f_ring_item_consumer_free(c);
    f_ring_free(r);
}

/* ring_is_double_mapped: 0 or 1, or -1 with the failure counted. */
static int double_mapped(ring_t *r) {
    int yes = -1;
    OK(f_ring_is_double_mapped(r, &yes));
    return yes;
}

/* The item info of r (zeroed with the failure counted). */
static ring_item_info_t item_info(ring_t *r) {
    ring_item_info_t i;
    memset(&i, 0xA5, sizeof i);
    int rc = f_ring_item_info(r, &i);
    if (rc != RING_OK) { RC(rc, RING_OK); memset(&i, 0, sizeof i); i.item_type = ""; }
    return i;
}

/* The ring info of r (zeroed with the failure counted). */
static ring_info_t info_of(ring_t *r) {
    ring_info_t i;
    memset(&i, 0, sizeof i);
    OK(f_ring_info(r, &i));
    return i;
}

/* The call returned `code` and the last error message contains `words`. */
#define RC_SAYS(expr, code, words) do { \
    int rc_s = (expr); \
    RC(rc_s, (code)); \
    if (rc_s == (code) && !strstr(f_ring_last_error_message(), (words))) \
        FAILF("%s: the message \"%s\" does not say \"%s\"", #expr, f_ring_last_error_message(), (words)); } while (0)

/* The bytes of the two spans, concatenated into out (room for len0 + len1). */
static size_t spans_copy(const ring_span_t spans[2], void *out) {
    if (spans[0].len) memcpy(out, spans[0].data, spans[0].len);
    if (spans[1].len) memcpy((uint8_t *)out + spans[0].len, spans[1].data, spans[1].len);
    return spans[0].len + spans[1].len;
}

/* Copies n bytes from src into the two spans, in order. */
static void spans_fill(const ring_span_t spans[2], const void *src, size_t n) {
    size_t first = n < spans[0].len ? n : spans[0].len;
    memcpy(spans[0].data, src, first);
    if (n > first) memcpy(spans[1].data, (const uint8_t *)src + first, n - first);
}

/* The file's data-region bytes [offset, offset + n) (wrapping at capacity) into out, by pread. */
static void pread_region(const char *path, uint64_t header_size, uint64_t capacity, uint64_t offset, size_t n, void *out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { FAILF("open %s: %s", path, strerror(errno)); return; }
    size_t done = 0;
    while (done < n) {
        uint64_t at = (offset + done) % capacity;
        size_t k = n - done < capacity - at ? n - done : (size_t)(capacity - at);
        CHECK(pread(fd, (uint8_t *)out + done, k, (off_t)(header_size + at)) == (ssize_t)k);
        done += k;
    }
    close(fd);
}

/* ---------------------------------------------------------------------- */
/* 1. Creation, ring_item_info, the roles, bad descriptions               */

/* A "<f8" ring for 1000 items: 8000 bytes -> 8192 -> 1024 items; checks it (at path, or anonymous). */
static void check_f8_ring(ring_t *r, const char *what) {
    ring_item_info_t ii = item_info(r);
    if (ii.item_size != 8 || ii.item_alignment != 8 || ii.item_capacity != 1024 || strcmp(ii.item_type, "<f8") != 0
        || ii.reserved[0] != 0 || ii.reserved[1] != 0)
        FAILF("%s: ring_item_info says size %u, alignment %u, capacity %llu, type \"%s\", reserved %llx %llx; expected 8, 8, 1024, \"<f8\", 0 0",
              what, ii.item_size, ii.item_alignment, (unsigned long long)ii.item_capacity, ii.item_type,
              (unsigned long long)ii.reserved[0], (unsigned long long)ii.reserved[1]);
    ring_info_t info = info_of(r);
    CHECK(info.capacity == 8192 && info.version_major == 1 && info.version_minor == 1 && info.policy == RING_REJECT_WHEN_FULL);
    CHECK(info.producer_position == 0 && info.consumer_position == 0 && info.message_count == 0 && info.writer_closed == 0);
    /* A typed ring is not a byte ring: its producer and consumer are the item ones. */
    ring_producer_t *bp = NULL;
    ring_consumer_t *bc = NULL;
    RC_SAYS(f_ring_producer_open(r, &bp), RING_ERR_INVALID_ARGUMENT, "typed ring");
    RC_SAYS(f_ring_consumer_open(r, &bc), RING_ERR_INVALID_ARGUMENT, "typed ring");
    CHECK(bp == NULL && bc == NULL);
    /* The refusals took no role. */
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    OK(f_ring_item_producer_open(r, &p));
    OK(f_ring_item_consumer_open(r, &c));
    if (!p || !c) { f_ring_item_producer_free(p); f_ring_item_consumer_free(c); return; }
    ring_item_producer_t *p2 = NULL;
    ring_item_consumer_t *c2 = NULL;
    RC(f_ring_item_producer_open(r, &p2), RING_ERR_BUSY);
    RC(f_ring_item_consumer_open(r, &c2), RING_ERR_BUSY);
    CHECK(p2 == NULL && c2 == NULL);
    /* message_count counts items: 5 written, 2 read -> 3; the positions count items too. */
    double values[5] = { 0.5, -1.25, 3e300, 0.0, 42.0 }, got[5] = { 0 };
    OK(f_ring_write_items(p, values, 5, 0));
    info = info_of(r);
    CHECK(info.message_count == 5 && info.producer_position == 5 && info.consumer_position == 0);
    CHECK(info.used_bytes == info.producer_position - info.consumer_position);
    size_t n = 0;
    OK(f_ring_read_items(c, got, 2, &n, 0));
    CHECK(n == 2 && got[0] == 0.5 && got[1] == -1.25);
    info = info_of(r);
    CHECK(info.message_count == 3 && info.producer_position == 5 && info.consumer_position == 2 && info.dropped_count == 0);
    OK(f_ring_read_items(c, got, 5, &n, 0));
    CHECK(n == 3 && got[0] == 3e300 && got[1] == 0.0 && got[2] == 42.0);
    RC(f_ring_read_items(c, got, 5, &n, 0), RING_ERR_EMPTY);
    CHECK(n == 0);
    /* count 0 writes and reads nothing. */
    OK(f_ring_write_items(p, NULL, 0, 0));
    OK(f_ring_read_items(c, got, 0, &n, 0));
    CHECK(n == 0);
    uint64_t missed = 99;
    OK(f_ring_items_missed(c, &missed));
    CHECK(missed == 0);
    free_item_roles(NULL, p, c);
}

static void test_create_and_info(void) {
    /* In a file. */
    ring_t *r = make_items("f8", "<f8", 1000, RING_REJECT_WHEN_FULL, 0, 0);
    if (!r) return;
    check_f8_ring(r, "file");
    CHECK(double_mapped(r) == 1); /* a typed ring is double-mapped by default (4 KiB pages) */
    f_ring_free(r);
    /* Reopened: the same type, read from the file; open-or-create with the same type opens it, another is refused. */
    char path[512];
    snprintf(path, sizeof path, "%s", path_of("f8"));
    r = NULL;
    OK(f_ring_open(path, &r));
    if (r) {
        ring_item_info_t ii = item_info(r);
        CHECK(ii.item_size == 8 && ii.item_alignment == 8 && ii.item_capacity == 1024 && !strcmp(ii.item_type, "<f8"));
        CHECK(info_of(r).producer_position == 5);
        f_ring_free(r);
        r = NULL;
    }
    OK(f_ring_create_items(path, "<f8", 0, 1000, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, 0, &r));
    f_ring_free(r);
    r = NULL;
    RC_SAYS(f_ring_create_items(path, "<f4", 0, 1000, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, 0, &r),
            RING_ERR_INVALID_ARGUMENT, "<f8");
    CHECK(r == NULL);
    RC(f_ring_create_items(path, "<f8", 0, 1000, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, 8, &r),
       RING_ERR_INVALID_ARGUMENT); /* an initial position only for a new ring */
    /* A byte ring asked for where a typed ring is, and the reverse. */
    RC_SAYS(f_ring_create(path, 8192, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING, &r), RING_ERR_INVALID_ARGUMENT,
            "<f8");
    ring_t *b = make_ring("bytes-existing", 8192, RING_REJECT_WHEN_FULL);
    f_ring_free(b);
    RC_SAYS(f_ring_create_items(path_of("bytes-existing"), "<f8", 0, 1024, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_OPEN_EXISTING,
                                0, &r), RING_ERR_INVALID_ARGUMENT, "byte records");
    CHECK(r == NULL);

    /* Without a file: the path is only a name, nothing appears there. */
    char anon[512];
    snprintf(anon, sizeof anon, "%s", path_of("anonymous"));
    r = NULL;
    OK(f_ring_create_items(anon, "<f8", 0, 1000, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_ANONYMOUS, 0, &r));
    if (r) {
        check_f8_ring(r, "anonymous");
        CHECK(double_mapped(r) == 1);
        int fd = -1;
        OK(f_ring_fd(r, &fd));
        char proc[64], link[600] = "", want[600];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t k = fd >= 0 ? readlink(proc, link, sizeof link - 1) : -1;
        if (k > 0) link[k] = 0;
        snprintf(want, sizeof want, "/memfd:%s", anon);
        if (strncmp(link, want, strlen(want)) != 0) FAILF("ring_fd %d is \"%s\", expected \"%s (deleted)\"", fd, link, want);
        f_ring_free(r);
    }
    struct stat st;
    CHECK(stat(anon, &st) != 0 && errno == ENOENT);
    r = NULL;
    OK(f_ring_create_items(NULL, "<f8", 0, 16, RING_OVERWRITE_OLDEST, 0600, RING_CREATE_ANONYMOUS, 0, &r));
    f_ring_free(r);
    r = NULL;
    RC(f_ring_create_items(anon, "<f8", 0, 16, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_ANONYMOUS | RING_CREATE_REPLACE, 0, &r),
       RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_items(anon, "<f8", 0, 16, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_ANONYMOUS | RING_CREATE_OPEN_EXISTING, 0, &r),
       RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_items(anon, "<f8", 0, 16, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_DOUBLE_MAP | RING_CREATE_SINGLE_MAP, 0, &r),
       RING_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);

    /* A byte ring is not a typed ring. */
    r = make_ring("bytes", 4096, RING_REJECT_WHEN_FULL);
    if (r) {
        ring_item_info_t ii = item_info(r);
        CHECK(ii.item_size == 0 && ii.item_type && !strcmp(ii.item_type, ""));
        CHECK(double_mapped(r) == 0); /* byte rings are mapped once by default */
        ring_item_producer_t *ip = NULL;
        ring_item_consumer_t *ic = NULL;
        RC_SAYS(f_ring_item_producer_open(r, &ip), RING_ERR_INVALID_ARGUMENT, "not a typed ring");
        RC_SAYS(f_ring_item_consumer_open(r, &ic), RING_ERR_INVALID_ARGUMENT, "not a typed ring");
        CHECK(ip == NULL && ic == NULL);
        ring_producer_t *bp = NULL;
        OK(f_ring_producer_open(r, &bp)); /* the refusal took no role */
        f_ring_producer_free(bp);
        f_ring_free(r);
    }

    /* Bad descriptions, alignments and counts: INVALID_ARGUMENT (INVALID_SIZE), the problem named, no file left. */
    static const struct { const char *type; uint32_t alignment; uint64_t count; int code; const char *says; } bad[] = {
        { "<u1", 0, 16, RING_ERR_INVALID_ARGUMENT, "use \"|\"" },
        { "{a:<f8@0}4", 0, 16, RING_ERR_INVALID_ARGUMENT, "past the struct's size 4" },
        { NULL, 0, 16, RING_ERR_INVALID_ARGUMENT, "item_type is NULL" },
        { "", 0, 16, RING_ERR_INVALID_ARGUMENT, "empty" },
        { "<f3", 0, 16, RING_ERR_INVALID_ARGUMENT, "no size 3" },
        { "<f8 ", 0, 16, RING_ERR_INVALID_ARGUMENT, "unexpected text" },
        { "{a:<f8@0,a:<f8@8}16", 0, 16, RING_ERR_INVALID_ARGUMENT, "repeated" },
        { "{a:<f8@8,b:<f8@0}16", 0, 16, RING_ERR_INVALID_ARGUMENT, "increasing offset" },
        { "<f8", 3, 16, RING_ERR_INVALID_ARGUMENT, "item alignment 3" },
        { "<f8", 16, 16, RING_ERR_INVALID_ARGUMENT, "item alignment 16" },
        { "<f8", 128, 16, RING_ERR_INVALID_ARGUMENT, "item alignment 128" },
        { RECORD_TYPE, 16, 16, RING_ERR_INVALID_ARGUMENT, "item alignment 16" },
        { "<f8", 0, 0, RING_ERR_INVALID_SIZE, "" },
        { "<f8", 0, 1ULL << 62, RING_ERR_INVALID_SIZE, "" },
    };
    snprintf(path, sizeof path, "%s", path_of("bad"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int anonymous = 0; anonymous < 2; anonymous++) {
            unlink(path);
            r = NULL;
            int rc = f_ring_create_items(path, bad[i].type, bad[i].alignment, bad[i].count, RING_REJECT_WHEN_FULL, 0600,
                                         anonymous ? RING_CREATE_ANONYMOUS : 0, 0, &r);
            const char *message = f_ring_last_error_message();
            if (rc != bad[i].code || !strstr(message, bad[i].says) || r != NULL)
                FAILF("ring_create_items(\"%s\", alignment %u, count %llu%s) returned %d (%s) \"%s\", expected %d (%s) saying \"%s\"",
                      bad[i].type ? bad[i].type : "NULL", bad[i].alignment, (unsigned long long)bad[i].count,
                      anonymous ? ", anonymous" : "", rc, f_ring_strerror(rc), message, bad[i].code,
                      f_ring_strerror(bad[i].code), bad[i].says);
            CHECK(stat(path, &st) != 0 && errno == ENOENT);
            f_ring_free(r);
        }
    }
    /* Good ones of §19.2: their sizes and default alignments. */
    static const struct { const char *type; uint32_t size, alignment; } good[] = {
        { "|u1", 1, 1 }, { "<c16", 16, 8 }, { "(3)<f4", 12, 4 }, { "|V6", 6, 2 },
        { "{ts:<i8@0,px:<f8@8,qty:<i4@16}20", 20, 4 }, { RECORD_TYPE, 24, 8 }, { "(2)(3)<f4", 24, 8 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        r = NULL;
        OK(f_ring_create_items("good", good[i].type, 0, 100, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_ANONYMOUS, 0, &r));
        if (!r) continue;
        ring_item_info_t ii = item_info(r);
        if (ii.item_size != good[i].size || ii.item_alignment != good[i].alignment || strcmp(ii.item_type, good[i].type) != 0
            || ii.item_capacity != info_of(r).capacity / good[i].size || ii.item_capacity < 100)
            FAILF("\"%s\": size %u alignment %u capacity %llu type \"%s\", expected %u %u", good[i].type, ii.item_size,
                  ii.item_alignment, (unsigned long long)ii.item_capacity, ii.item_type, good[i].size, good[i].alignment);
        f_ring_free(r);
    }
    /* NULL arguments. */
    ring_item_info_t ii;
    RC(f_ring_item_info(NULL, &ii), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_items(path, "<f8", 0, 16, RING_REJECT_WHEN_FULL, 0600, 0, 0, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create_items(NULL, "<f8", 0, 16, RING_REJECT_WHEN_FULL, 0600, 0, 0, &r), RING_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------------------- */
/* 2. Records across the wrap, both mappings, both policies               */

static const char *map_name(int doubled) { return doubled ? "double" : "single"; }

/* n records through a 170-record ring from position `start`: written by a producer on a handle
 * mapped one way, read in random batches by a consumer on a handle mapped the other (or the
 * same) way; then the policy's full-ring behaviour with exact counts. */
static void wrap_run(uint64_t start, const char *start_name, int policy, int produce_doubled, int consume_doubled) {
    char path[512];
    snprintf(path, sizeof path, "%s", path_of("wrap"));
    unlink(path);
    ring_t *r1 = NULL, *r2 = NULL;
    OK(f_ring_create_items(path, RECORD_TYPE, 8, SMALL_ITEMS, policy, 0600,
                           produce_doubled ? RING_CREATE_DOUBLE_MAP : RING_CREATE_SINGLE_MAP, start, &r1));
    if (r1) OK(f_ring_open_flags(path, consume_doubled ? RING_OPEN_DOUBLE_MAP : RING_OPEN_SINGLE_MAP, &r2));
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    if (r1) OK(f_ring_item_producer_open(r1, &p));
    if (r2) OK(f_ring_item_consumer_open(r2, &c));
    if (!p || !c) goto done;
    ring_item_info_t ii = item_info(r2);
    CHECK(ii.item_size == 24 && ii.item_alignment == 8 && ii.item_capacity == SMALL_CAPACITY && !strcmp(ii.item_type, RECORD_TYPE));
    CHECK(double_mapped(r1) == produce_doubled && double_mapped(r2) == consume_doubled);
    ring_info_t info = info_of(r2);
    CHECK(info.producer_position == start && info.consumer_position == start && info.capacity == 4096);

    const uint64_t n = 3000;
    uint64_t written = 0, read = 0, straddled = 0, reads = 0, empties = 0;
    size_t bad = 0;
    static record buf[256];
    while (read < n && bad < 3) {
        uint64_t used = written - read;
        if (written < n && used < SMALL_CAPACITY && (used == 0 || rnd() & 1)) {
            size_t k = 1 + (size_t)(rnd() % (SMALL_CAPACITY - used));
            if (k > n - written) k = (size_t)(n - written);
            records_fill(buf, written, k);
            for (size_t i = 0; i < k; i++) straddled += straddles(start + written + i);
            OK(f_ring_write_items(p, buf, k, 0));
            written += k;
        } else {
            size_t want = 1 + (size_t)(rnd() % 200), got = 99;
            int rc = f_ring_read_items(c, buf, want, &got, 0);
            reads++;
            if (used == 0) { RC(rc, RING_ERR_EMPTY); CHECK(got == 0); empties++; continue; }
            RC(rc, RING_OK);
            if (got != (want < used ? want : used)) {
                FAILF("ring_read_items(%zu) with %llu unread gave %zu", want, (unsigned long long)used, got);
                bad++;
                if (got > want) break;
            }
            bad += records_check(buf, read, got, "ring_read_items");
            read += got;
        }
    }
    info = info_of(r1);
    CHECK(info.producer_position == start + n && info.consumer_position == start + n && info.message_count == 0
          && info.dropped_count == 0);
    CHECK(straddled >= 10); /* the run made items straddle the region's end */

    /* A full ring: reject-when-full refuses, overwrite-oldest drops the oldest (deque(maxlen)). */
    uint64_t missed = 99, base = start + n;
    if (policy == RING_REJECT_WHEN_FULL) {
        records_fill(buf, n, SMALL_CAPACITY + 1);
        RC(f_ring_write_items(p, buf, SMALL_CAPACITY + 1, 0), RING_ERR_INVALID_SIZE);
        OK(f_ring_write_items(p, buf, SMALL_CAPACITY, 0));
        RC(f_ring_write_items(p, buf + SMALL_CAPACITY, 1, 0), RING_ERR_FULL);
        info = info_of(r1);
        CHECK(info.message_count == SMALL_CAPACITY && info.producer_position == base + SMALL_CAPACITY);
        size_t got = 0;
        OK(f_ring_read_items(c, buf, 256, &got, 0));
        CHECK(got == SMALL_CAPACITY);
        records_check(buf, n, got, "a full ring read at once");
        OK(f_ring_items_missed(c, &missed));
        CHECK(missed == 0);
    } else {
        /* 200 records into the empty ring: the last 170 stay, 30 dropped; 10 more drop 10 more. */
        records_fill(buf, n, 210);
        OK(f_ring_write_items(p, buf, 200, 0));
        info = info_of(r1);
        CHECK(info.dropped_count == 30 && info.message_count == SMALL_CAPACITY && info.producer_position == base + 200
              && info.consumer_position == base + 30);
        OK(f_ring_write_items(p, buf + 200, 10, RING_WAIT_FOREVER)); /* never waits */
        info = info_of(r1);
        CHECK(info.dropped_count == 40 && info.message_count == SMALL_CAPACITY && info.producer_position == base + 210
              && info.consumer_position == base + 40);
        size_t got = 0;
        OK(f_ring_read_items(c, buf, 256, &got, 0));
        CHECK(got == SMALL_CAPACITY);
        records_check(buf, n + 40, got, "what overwrite-oldest kept");
        OK(f_ring_items_missed(c, &missed));
        CHECK(missed == 40);
    }
    printf("     from %s, %s, producer %s-mapped, consumer %s-mapped: %llu records, %llu straddling the end, %llu reads (%llu empty)\n",
           start_name, policy == RING_REJECT_WHEN_FULL ? "reject-when-full" : "overwrite-oldest", map_name(produce_doubled),
           map_name(consume_doubled), (unsigned long long)n, (unsigned long long)straddled, (unsigned long long)reads,
           (unsigned long long)empties);
done:
    f_ring_item_producer_free(p);
    f_ring_item_consumer_free(c);
    f_ring_free(r1);
    f_ring_free(r2);
}

static void test_records_across_wrap(void) {
    static const struct { uint64_t start; const char *name; } starts[] = {
        { TWO_32 - 50, "2^32 - 50" }, { 0 - 100ULL, "2^64 - 100" },
    };
    for (size_t s = 0; s < 2; s++)
        for (int policy = RING_REJECT_WHEN_FULL; policy <= RING_OVERWRITE_OLDEST; policy++)
            for (int m = 0; m < 4; m++) wrap_run(starts[s].start, starts[s].name, policy, m & 1, m >> 1);
}

/* ---------------------------------------------------------------------- */
/* 3. Spans: one across the end when double-mapped, two when mapped once    */

static void test_spans(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", path_of("spans"));
    ring_t *r = make_items("spans", RECORD_TYPE, SMALL_ITEMS, RING_REJECT_WHEN_FULL, RING_CREATE_DOUBLE_MAP, 0);
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
    CHECK(double_mapped(r) == 1);
    static record buf[256];
    static uint8_t lent[2][SMALL_CAPACITY * sizeof(record)];
    ring_span_t spans[2];
    size_t count = 0, got = 0;
    /* To position 160 (data offset 3840): the next run crosses the end of the 4096-byte region. */
    records_fill(buf, 0, 160);
    OK(f_ring_write_items(p, buf, 160, 0));
    OK(f_ring_read_items(c, buf, 160, &got, 0));
    CHECK(got == 160);

    /* Writable in place, double-mapped: every free slot in one span across the end. */
    memset(spans, 0xEE, sizeof spans);
    OK(f_ring_items_writable(p, spans, &count, 0));
    CHECK(count == SMALL_CAPACITY && spans[0].len == SMALL_CAPACITY * RECORD_SIZE && spans[1].len == 0 && spans[1].data == NULL);
    /* While the span is out the producer refuses other writes. */
    ring_span_t again[2];
    size_t count2 = 0;
    RC(f_ring_write_items(p, buf, 1, 0), RING_ERR_BUSY);
    RC(f_ring_items_writable(p, again, &count2, 0), RING_ERR_BUSY);
    RC(f_ring_items_commit(p, count + 1), RING_ERR_INVALID_SIZE);
    records_fill(buf, 160, 100);
    spans_fill(spans, buf, 100 * RECORD_SIZE);
    OK(f_ring_items_commit(p, 100));
    RC(f_ring_items_commit(p, 0), RING_ERR_INVALID_SIZE); /* no span is out */
    ring_info_t info = info_of(r);
    CHECK(info.producer_position == 260 && info.message_count == 100);

    /* Readable in place, double-mapped: the 100 records from 3840 over the end in one span. */
    memset(spans, 0xEE, sizeof spans);
    OK(f_ring_items_readable(c, spans, &count, 0));
    CHECK(count == 100 && spans[0].len == 100 * RECORD_SIZE && spans[1].len == 0 && spans[1].data == NULL);
    size_t len_double = spans_copy(spans, lent[0]);
    records_check(lent[0], 160, 100, "the double-mapped span");
    /* The span is the file's bytes: 256 from data offset 3840, then 2144 from offset 0. */
    static uint8_t file[SMALL_CAPACITY * sizeof(record)];
    pread_region(path, info.header_size, 4096, 3840, len_double, file);
    CHECK(memcmp(file, lent[0], len_double) == 0);
    /* While the lend is out the consumer refuses other reads; consuming more than lent is INVALID_SIZE. */
    RC(f_ring_read_items(c, buf, 1, &got, 0), RING_ERR_BUSY);
    RC(f_ring_items_readable(c, again, &count2, 0), RING_ERR_BUSY);
    RC(f_ring_items_consume(c, 101), RING_ERR_INVALID_SIZE);
    RC(f_ring_read_items(c, buf, 1, &got, 0), RING_ERR_BUSY); /* still lent */
    OK(f_ring_items_consume(c, 0));                           /* ends the lend, consumes nothing */
    RC(f_ring_items_consume(c, 0), RING_ERR_INVALID_SIZE);    /* no lend */
    CHECK(info_of(r).message_count == 100);

    /* The same file mapped once: the consumer role is still taken until c goes. */
    ring_t *r1 = NULL;
    OK(f_ring_open_flags(path, RING_OPEN_SINGLE_MAP, &r1));
    if (!r1) { free_item_roles(r, p, c); return; }
    CHECK(double_mapped(r1) == 0);
    ring_item_consumer_t *c1 = NULL;
    ring_item_producer_t *p1 = NULL;
    RC(f_ring_item_consumer_open(r1, &c1), RING_ERR_BUSY);
    f_ring_item_consumer_free(c);
    c = NULL;
    OK(f_ring_item_consumer_open(r1, &c1));
    if (!c1) { free_item_roles(r, p, c); f_ring_free(r1); return; }
    /* Two spans: 256 bytes to the end (10 records and 16 bytes of the 11th, which straddles), then 2144. */
    memset(spans, 0xEE, sizeof spans);
    OK(f_ring_items_readable(c1, spans, &count, 0));
    CHECK(count == 100 && spans[0].len == 256 && spans[1].len == 100 * RECORD_SIZE - 256);
    CHECK(spans[1].data != NULL && (uint8_t *)spans[1].data == (uint8_t *)spans[0].data + 256 - 4096);
    size_t len_single = spans_copy(spans, lent[1]);
    CHECK(len_single == len_double && memcmp(lent[0], lent[1], len_double) == 0);
    OK(f_ring_items_consume(c1, 37));
    OK(f_ring_items_readable(c1, spans, &count, 0));
    CHECK(count == 63 && spans[0].len + spans[1].len == 63 * RECORD_SIZE);
    spans_copy(spans, lent[1]);
    records_check(lent[1], 197, 63, "the rest after consuming 37");
    OK(f_ring_items_consume(c1, 63));
    RC(f_ring_items_readable(c1, spans, &count, 0), RING_ERR_EMPTY);
    CHECK(count == 0);

    /* The writer mapped once: fill a run across the end through two spans (one record straddles). */
    f_ring_item_producer_free(p);
    p = NULL;
    OK(f_ring_item_producer_open(r1, &p1));
    if (p1) {
        /* Position 260 (offset 6240 mod 4096 = 2144): 170 free from there; the end is 1952 bytes on. */
        OK(f_ring_items_writable(p1, spans, &count, 0));
        CHECK(count == SMALL_CAPACITY && spans[0].len == 4096 - 2144 && spans[1].len == SMALL_CAPACITY * RECORD_SIZE - 1952);
        records_fill(buf, 260, SMALL_CAPACITY);
        spans_fill(spans, buf, SMALL_CAPACITY * RECORD_SIZE);
        OK(f_ring_items_commit(p1, SMALL_CAPACITY));
        /* Full: reject-when-full has no free slot, now or within 20 ms. */
        double t0 = now();
        RC(f_ring_items_writable(p1, spans, &count, 20 * MS), RING_ERR_FULL);
        CHECK(now() - t0 >= 0.020 && count == 0);
        OK(f_ring_read_items(c1, buf, 256, &got, 0));
        CHECK(got == SMALL_CAPACITY);
        records_check(buf, 260, got, "records written through two spans");
    }
    f_ring_item_producer_free(p1);
    f_ring_item_consumer_free(c1);
    f_ring_free(r1);
    free_item_roles(r, p, NULL);

    /* Overwrite-oldest: the free slots are those holding no unread item; on a full ring the
     * oldest item is dropped to free one (a writer of an overwrite-oldest ring never waits). */
    r = make_items("spans-overwrite", RECORD_TYPE, SMALL_ITEMS, RING_OVERWRITE_OLDEST, 0, 0);
    if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
    records_fill(buf, 0, SMALL_CAPACITY);
    OK(f_ring_write_items(p, buf, 100, 0));
    OK(f_ring_items_writable(p, spans, &count, 0));
    CHECK(count == SMALL_CAPACITY - 100 && spans[0].len + spans[1].len == (SMALL_CAPACITY - 100) * RECORD_SIZE);
    OK(f_ring_items_commit(p, 0));
    OK(f_ring_write_items(p, buf + 100, SMALL_CAPACITY - 100, 0));
    memset(spans, 0xEE, sizeof spans);
    OK(f_ring_items_writable(p, spans, &count, RING_WAIT_FOREVER));
    CHECK(count == 1 && spans[0].len + spans[1].len == RECORD_SIZE && info_of(r).dropped_count == 1);
    OK(f_ring_items_commit(p, 0));
    /* A lend the producer drops from: consume says OVERWRITTEN, what was dropped is missed,
     * and the rest of what was given back is consumed. The lend is items 1..CAPACITY-1; the
     * producer's 5 items drop 1..4; of the 10 given back (1..10), 5..10 are consumed. */
    OK(f_ring_items_readable(c, spans, &count, 0));
    CHECK(count == SMALL_CAPACITY - 1);
    records_fill(buf, SMALL_CAPACITY, 5);
    OK(f_ring_write_items(p, buf, 5, 0));
    RC(f_ring_items_consume(c, 10), RING_ERR_OVERWRITTEN);
    uint64_t missed = 0;
    OK(f_ring_items_missed(c, &missed));
    CHECK(missed == 5 && info_of(r).dropped_count == 5);
    OK(f_ring_read_items(c, buf, 256, &got, 0));
    CHECK(got == SMALL_CAPACITY - 6);
    records_check(buf, 11, got, "after an OVERWRITTEN lend");
    /* A lend of 0 consumed after a drop tells too. */
    records_fill(buf, SMALL_CAPACITY + 5, 3);
    OK(f_ring_write_items(p, buf, 3, 0));
    OK(f_ring_items_readable(c, spans, &count, 0));
    CHECK(count == 3);
    records_fill(buf, SMALL_CAPACITY + 8, SMALL_CAPACITY);
    OK(f_ring_write_items(p, buf, SMALL_CAPACITY, 0));
    RC(f_ring_items_consume(c, 0), RING_ERR_OVERWRITTEN);
    OK(f_ring_read_items(c, buf, 256, &got, 0));
    CHECK(got == SMALL_CAPACITY);
    records_check(buf, SMALL_CAPACITY + 8, got, "after a dropped lend of 0");
    OK(f_ring_items_missed(c, &missed));
    CHECK(missed == 8 && info_of(r).dropped_count == 8);
    /* NULL arguments. */
    RC(f_ring_items_readable(c, NULL, &count, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_items_readable(c, spans, NULL, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_items_writable(p, NULL, &count, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_items_writable(NULL, spans, &count, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_items_consume(NULL, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_read_items(c, NULL, 1, &got, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_read_items(c, buf, 1, NULL, 0), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_write_items(p, NULL, 1, 0), RING_ERR_INVALID_ARGUMENT);
    free_item_roles(r, p, c);
}

/* ---------------------------------------------------------------------- */
/* 4. A racing producer thread, both policies, copies and lends             */

/* The ring of the races: 1000 records asked -> 24000 bytes -> 32768 -> 1365 records. */
#define RACE_ITEMS 1000
#define RACE_CAPACITY 1365
#define RACE_MAX_BATCH (2 * RACE_CAPACITY)
/* The races' counters wrap from 2^64 - 300000 to small numbers mid-run. */
#define RACE_START (0 - 300000ULL)

typedef struct racer {
    ring_item_producer_t *p;
    int policy;
    uint64_t count, seed;
    uint64_t batches, larger_than_ring, invalid_size;
    int failed;
} racer;

/* The producer thread: records 0..count-1 in random batches (one in 16 larger than the ring),
 * then the end of the stream. Under reject-when-full a batch larger than the ring is first
 * checked to be INVALID_SIZE, then written in pieces. */
static void *race_producer(void *arg) {
    racer *k = arg;
    uint64_t s = k->seed;
    record *buf = malloc(RACE_MAX_BATCH * sizeof *buf);
    for (uint64_t id = 0; id < k->count && !k->failed;) {
        s = splitmix64(s);
        size_t n = s % 16 == 0 ? RACE_CAPACITY + 1 + (size_t)((s >> 8) % RACE_CAPACITY) : 1 + (size_t)((s >> 8) % 64);
        if (n > k->count - id) n = (size_t)(k->count - id);
        records_fill(buf, id, n);
        k->batches++;
        if (n > RACE_CAPACITY) k->larger_than_ring++;
        int rc;
        if (k->policy == RING_REJECT_WHEN_FULL && n > RACE_CAPACITY) {
            if ((rc = f_ring_write_items(k->p, buf, n, 0)) == RING_ERR_INVALID_SIZE) k->invalid_size++;
            else { fprintf(stderr, "    producer: %zu records: %s, expected INVALID_SIZE\n", n, f_ring_strerror(rc)); k->failed = 1; }
            for (size_t done = 0; done < n && !k->failed; done += RACE_CAPACITY) {
                size_t piece = n - done < RACE_CAPACITY ? n - done : RACE_CAPACITY;
                if ((rc = f_ring_write_items(k->p, buf + done, piece, 30 * SECOND)) != RING_OK) {
                    fprintf(stderr, "    producer: record %llu: %s (%s)\n", (unsigned long long)(id + done), f_ring_strerror(rc),
                            f_ring_last_error_message());
                    k->failed = 1;
                }
            }
        } else if ((rc = f_ring_write_items(k->p, buf, n, 30 * SECOND)) != RING_OK) {
            fprintf(stderr, "    producer: record %llu (%zu): %s (%s)\n", (unsigned long long)id, n, f_ring_strerror(rc),
                    f_ring_last_error_message());
            k->failed = 1;
        }
        id += n;
        if ((s >> 20) % 8 == 0) pause_us((unsigned)((s >> 24) % 50));
    }
    int rc = f_ring_item_producer_close_writer(k->p);
    if (rc != RING_OK) { fprintf(stderr, "    producer: close_writer: %s\n", f_ring_strerror(rc)); k->failed = 1; }
    free(buf);
    return NULL;
}

/* What the consumer received. */
typedef struct race_tally {
    uint64_t produced, expected, received, gaps, torn, out_of_order;
    uint64_t calls, lends, split_lends, overwritten, empty;
} race_tally;

/* Takes n records the consumer read (copies, or lends it consumed). */
static void race_deliver(race_tally *t, const record *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        if (!record_intact(&buf[i], &id) || id >= t->produced) {
            if (t->torn++ < 5) FAILF("record %llu received is torn (id field 0x%llx)", (unsigned long long)t->received,
                                     (unsigned long long)id);
            continue;
        }
        if (id < t->expected) {
            if (t->out_of_order++ < 5) FAILF("record %llu after %llu", (unsigned long long)id, (unsigned long long)t->expected - 1);
            continue;
        }
        t->gaps += id - t->expected;
        t->expected = id + 1;
        t->received++;
    }
}

enum race_api { RACE_READ_ITEMS, RACE_LENDS };

static void run_race(int policy, enum race_api api, int doubled) {
    const char *api_name = api == RACE_READ_ITEMS ? "ring_read_items" : "ring_items_readable+consume";
    const char *policy_name = policy == RING_REJECT_WHEN_FULL ? "reject-when-full" : "overwrite-oldest";
    uint64_t count = long_mode ? 10000000 : 1000000;
    ring_t *r = make_items("race", RECORD_TYPE, RACE_ITEMS, policy, doubled ? RING_CREATE_DOUBLE_MAP : RING_CREATE_SINGLE_MAP,
                           RACE_START);
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
    CHECK(item_info(r).item_capacity == RACE_CAPACITY && double_mapped(r) == doubled);
    racer k = { p, policy, count, 0x1234567 + (uint64_t)policy * 7 + (uint64_t)api * 131 + (uint64_t)doubled, 0, 0, 0, 0 };
    race_tally t = { 0 };
    t.produced = count;
    record *buf = malloc(RACE_CAPACITY * 2 * sizeof *buf);
    pthread_t thread;
    double t0 = now(), last = t0;
    pthread_create(&thread, NULL, race_producer, &k);
    for (;;) {
        int rc;
        size_t got = 0;
        ring_span_t spans[2];
        t.calls++;
        if (api == RACE_READ_ITEMS) {
            rc = f_ring_read_items(c, buf, 1 + (size_t)(rnd() % (RACE_CAPACITY + 100)), &got, SECOND / 10);
        } else {
            rc = f_ring_items_readable(c, spans, &got, SECOND / 10);
        }
        double at = now();
        if (rc == RING_ERR_END_OF_STREAM) break;
        if (rc == RING_ERR_EMPTY) {
            t.empty++;
            if (at - last > 30) { FAILF("nothing for 30 s after %llu records", (unsigned long long)t.received); break; }
            continue;
        }
        if (rc != RING_OK) { RC(rc, RING_OK); break; }
        last = at;
        if (api == RACE_LENDS) {
            t.lends++;
            if (got == 0 || got > RACE_CAPACITY || spans[0].len + spans[1].len != got * RECORD_SIZE) {
                FAILF("a lend of %zu records in spans of %zu + %zu bytes", got, spans[0].len, spans[1].len);
                break;
            }
            if (spans[1].len) t.split_lends++;
            if (doubled) CHECK(spans[1].len == 0);
            size_t take = 1 + (size_t)(rnd() % got);
            spans_copy(spans, buf);
            /* A reader that looks at what it was lent before it gives it back widens the window. */
            if (rnd() % 8 == 0) pause_us((unsigned)(rnd() % 50));
            uint64_t missed_before = 0, missed_after = 0;
            OK(f_ring_items_missed(c, &missed_before));
            rc = f_ring_items_consume(c, take);
            if (rc == RING_ERR_OVERWRITTEN) {
                /* The first d were dropped while lent (missed grew by d); the rest were consumed intact. */
                t.overwritten++;
                OK(f_ring_items_missed(c, &missed_after));
                uint64_t d = missed_after - missed_before;
                if (d >= take) continue;
                memmove(buf, buf + d, (take - (size_t)d) * sizeof *buf);
                rc = RING_OK;
                take -= (size_t)d;
            }
            if (rc != RING_OK) { RC(rc, RING_OK); break; }
            got = take;
        }
        race_deliver(&t, buf, got);
        if (rnd() % 16 == 0) pause_us((unsigned)(rnd() % 200));
    }
    double seconds = now() - t0;
    pthread_join(thread, NULL);
    CHECK(!k.failed);
    uint64_t missed = 0;
    OK(f_ring_items_missed(c, &missed));
    ring_info_t info = info_of(r);
    printf("     %s, %s, %s-mapped: %llu produced in %llu batches (%llu larger than the ring's %d), %llu received, "
           "%llu missed, dropped_count %llu, %llu torn, %llu out of order; %llu lends (%llu in two spans), "
           "%llu OVERWRITTEN; %.2f s\n",
           policy_name, api_name, map_name(doubled), (unsigned long long)count, (unsigned long long)k.batches,
           (unsigned long long)k.larger_than_ring, RACE_CAPACITY, (unsigned long long)t.received, (unsigned long long)missed,
           (unsigned long long)info.dropped_count, (unsigned long long)t.torn, (unsigned long long)t.out_of_order,
           (unsigned long long)t.lends, (unsigned long long)t.split_lends, (unsigned long long)t.overwritten, seconds);
    CHECK(t.torn == 0 && t.out_of_order == 0);
    CHECK(t.received + missed == count);
    CHECK(t.gaps == missed && missed == info.dropped_count);
    CHECK(info.producer_position == RACE_START + count && info.consumer_position == info.producer_position);
    CHECK(info.writer_closed == 1 && info.message_count == 0);
    if (policy == RING_REJECT_WHEN_FULL) {
        CHECK(t.received == count && missed == 0 && t.overwritten == 0);
        CHECK(k.invalid_size == k.larger_than_ring);
    }
    CHECK(k.larger_than_ring > 0);
    if (!doubled && api == RACE_LENDS && policy == RING_REJECT_WHEN_FULL) CHECK(t.split_lends > 0);
    RC(f_ring_read_items(c, buf, 1, NULL, 0), RING_ERR_INVALID_ARGUMENT);
    size_t got = 0;
    RC(f_ring_read_items(c, buf, 1, &got, 0), RING_ERR_END_OF_STREAM);
    RC(f_ring_items_readable(c, (ring_span_t[2]){ { 0 } }, &got, 0), RING_ERR_END_OF_STREAM);
    free(buf);
    free_item_roles(r, p, c);
}

static void test_race_overwrite_read_double(void) { run_race(RING_OVERWRITE_OLDEST, RACE_READ_ITEMS, 1); }
static void test_race_overwrite_read_single(void) { run_race(RING_OVERWRITE_OLDEST, RACE_READ_ITEMS, 0); }
static void test_race_overwrite_lend_double(void) { run_race(RING_OVERWRITE_OLDEST, RACE_LENDS, 1); }
static void test_race_overwrite_lend_single(void) { run_race(RING_OVERWRITE_OLDEST, RACE_LENDS, 0); }
static void test_race_reject_read_double(void) { run_race(RING_REJECT_WHEN_FULL, RACE_READ_ITEMS, 1); }
static void test_race_reject_lend_single(void) { run_race(RING_REJECT_WHEN_FULL, RACE_LENDS, 0); }

/* ---------------------------------------------------------------------- */
/* 5. A ring without a file shared across fork()                           */

/* Descriptors and mappings of this process whose name is "/memfd:NAME (deleted)". */
static void memfd_references(const char *name, int *fds, int *maps) {
    char needle[300];
    snprintf(needle, sizeof needle, "/memfd:%s (deleted)", name);
    *fds = 0; *maps = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) { FAILF("opendir /proc/self/fd: %s", strerror(errno)); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char link[512], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0) continue;
        target[k] = 0;
        if (!strcmp(target, needle)) (*fds)++;
    }
    closedir(d);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) { FAILF("fopen /proc/self/maps: %s", strerror(errno)); return; }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        size_t n = strlen(line), m = strlen(needle);
        if (n >= m && !strcmp(line + n - m, needle)) (*maps)++;
    }
    fclose(f);
}

static void test_fork_without_file(void) {
    char name[64];
    snprintf(name, sizeof name, "items-fork-%d", (int)getpid());
    ring_t *r = make_items(name, RECORD_TYPE, SMALL_ITEMS, RING_REJECT_WHEN_FULL, RING_CREATE_ANONYMOUS, TWO_32 - 7);
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
    static record buf[256];
    records_fill(buf, 0, 5);
    OK(f_ring_write_items(p, buf, 5, 0));
    int fd = -1, fds = 0, maps = 0;
    OK(f_ring_fd(r, &fd));
    memfd_references(name, &fds, &maps);
    CHECK(fds == 1 && maps >= 2); /* double-mapped: the whole file, then the data region again */
    CHECK(double_mapped(r) == 1);
    const uint64_t n = long_mode ? 2000000 : 200000;
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) { FAILF("pipe: %s", strerror(errno)); return; }
    signal(SIGPIPE, SIG_IGN); /* a child that died early fails the test, not the parent's write to it */
    pid_t pid = fork_child(60);
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        /* The inherited handles are the parent's: FORKED at once, even for calls that would wait. */
        ring_span_t spans[2];
        size_t count = 0;
        uint64_t missed = 0;
        int x = 0;
        ring_item_info_t ii;
        ring_item_producer_t *p2 = NULL;
        double t0 = now();
        RC(f_ring_write_items(p, buf, 1, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_items_writable(p, spans, &count, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_items_commit(p, 0), RING_ERR_FORKED);
        RC(f_ring_item_producer_close_writer(p), RING_ERR_FORKED); /* and the stream stays open */
        RC(f_ring_read_items(c, buf, 1, &count, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_items_readable(c, spans, &count, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_items_consume(c, 0), RING_ERR_FORKED);
        RC(f_ring_items_missed(c, &missed), RING_ERR_FORKED);
        RC(f_ring_item_info(r, &ii), RING_ERR_FORKED);
        RC(f_ring_fd(r, &x), RING_ERR_FORKED);
        RC(f_ring_is_double_mapped(r, &x), RING_ERR_FORKED);
        RC(f_ring_item_producer_open(r, &p2), RING_ERR_FORKED);
        CHECK(now() - t0 < 1);
        /* The ring again from the inherited descriptor, which it duplicates. */
        ring_t *mine = NULL;
        OK(f_ring_open_fd(fd, 0, &mine));
        if (!mine) child_end();
        /* Freeing the inherited handles releases memory (and the child's copy of fd), never the
         * parent's roles: they stay taken. */
        f_ring_item_producer_free(p);
        f_ring_item_consumer_free(c);
        f_ring_free(r);
        ring_item_info_t mi = item_info(mine);
        CHECK(mi.item_size == 24 && mi.item_capacity == SMALL_CAPACITY && !strcmp(mi.item_type, RECORD_TYPE));
        CHECK(double_mapped(mine) == 1);
        ring_item_consumer_t *c2 = NULL;
        RC(f_ring_item_consumer_open(mine, &c2), RING_ERR_BUSY);
        RC(f_ring_item_producer_open(mine, &p2), RING_ERR_BUSY);
        (void)write_full(to_parent[1], "b", 1);
        /* The parent gives the producer role up, then says so. */
        if (read_byte_within(to_child[0], 30) != 'g') { FAILF("child: no 'g' from the parent"); child_end(); }
        OK(f_ring_item_producer_open(mine, &p2));
        if (!p2) child_end();
        for (uint64_t id = 5; id < 5 + n;) {
            size_t k = 1 + (size_t)(rnd() % SMALL_CAPACITY);
            if (k > 5 + n - id) k = (size_t)(5 + n - id);
            records_fill(buf, id, k);
            int rc = f_ring_write_items(p2, buf, k, 30 * SECOND);
            if (rc != RING_OK) { RC(rc, RING_OK); break; }
            id += k;
        }
        OK(f_ring_item_producer_close_writer(p2));
        f_ring_item_producer_free(p2);
        f_ring_free(mine);
        child_end();
    }
    close(to_child[0]);
    close(to_parent[1]);
    if (read_byte_within(to_parent[0], 30) != 'b') FAILF("no word from the child");
    /* The child's close_writer on an inherited handle did not end the stream. */
    CHECK(info_of(r).writer_closed == 0);
    f_ring_item_producer_free(p);
    p = NULL;
    (void)write_full(to_child[1], "g", 1);
    /* The ring handle may go: the consumer keeps the mapping. */
    f_ring_free(r);
    r = NULL;
    uint64_t next = 0, rounds = 0;
    int rc;
    size_t got = 0;
    while ((rc = f_ring_read_items(c, buf, 1 + (size_t)(rnd() % 256), &got, 10 * SECOND)) == RING_OK) {
        rounds++;
        if (records_check(buf, next, got, "from the child")) break;
        next += got;
    }
    RC(rc, RING_ERR_END_OF_STREAM);
    RC(f_ring_read_items(c, buf, 1, &got, RING_WAIT_FOREVER), RING_ERR_END_OF_STREAM);
    CHECK(next == 5 + n);
    int status = 0;
    if (wait_or_kill(pid, 60, &status) != 0) FAILF("the child had to be killed");
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAILF("the child failed: status 0x%x", status);
    memfd_references(name, &fds, &maps);
    CHECK(fds == 1 && maps >= 2);
    f_ring_item_consumer_free(c);
    memfd_references(name, &fds, &maps);
    printf("     %llu records from the child through memfd:%s, read in %llu calls; after freeing: %d descriptors, %d mappings\n",
           (unsigned long long)next, name, (unsigned long long)rounds, fds, maps);
    CHECK(fds == 0 && maps == 0);
    close(to_child[1]);
    close(to_parent[0]);
}

/* ---------------------------------------------------------------------- */
/* 6. ring_committed_spans of a byte ring                                  */

static void test_committed_spans(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", path_of("committed"));
    unlink(path);
    ring_t *r = NULL;
    OK(f_ring_create(path, 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_DOUBLE_MAP, &r));
    ring_producer_t *p = NULL;
    ring_consumer_t *c = NULL;
    if (r) { OK(f_ring_producer_open(r, &p)); OK(f_ring_consumer_open(r, &c)); }
    if (!p || !c) { free_roles(r, p, c); return; }
    CHECK(double_mapped(r) == 1);
    ring_span_t spans[2];
    memset(spans, 0xEE, sizeof spans);
    OK(f_ring_committed_spans(c, spans));
    CHECK(spans[0].len == 0 && spans[1].len == 0);
    /* 30 messages of 100 bytes written and read: the positions stand 3360 bytes in (30 records of 112). */
    char msg[200], got[200];
    size_t len = 0;
    for (int i = 0; i < 30; i++) {
        memset(msg, 'A' + i % 26, 100);
        OK(f_ring_write(p, msg, 100));
        OK(f_ring_read(c, got, sizeof got, &len));
    }
    ring_info_t info = info_of(r);
    uint64_t at = info.consumer_position % 4096;
    CHECK(at > 4096 - 1000);
    /* 20 more: the run passes the end (a padding record, then records from offset 0). */
    for (int i = 0; i < 20; i++) {
        memset(msg, 'a' + i % 26, 60 + i);
        OK(f_ring_write(p, msg, 60 + (size_t)i));
    }
    info = info_of(r);
    CHECK(info.message_count == 20 && info.used_bytes > 4096 - at);
    memset(spans, 0xEE, sizeof spans);
    OK(f_ring_committed_spans(c, spans));
    CHECK(spans[0].len == info.used_bytes && spans[1].len == 0 && spans[1].data == NULL);
    static uint8_t doubled[4096], single[4096], file[4096];
    size_t n_double = spans_copy(spans, doubled);
    pread_region(path, info.header_size, 4096, at, n_double, file);
    CHECK(memcmp(file, doubled, n_double) == 0);
    /* A peek owns the consumer. */
    const void *data = NULL;
    OK(f_ring_peek(c, &data, &len, 0));
    CHECK(len == 60);
    RC(f_ring_committed_spans(c, spans), RING_ERR_BUSY);
    OK(f_ring_release_cancel(c));
    RC(f_ring_committed_spans(c, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_committed_spans(NULL, spans), RING_ERR_INVALID_ARGUMENT);
    f_ring_consumer_free(c);
    c = NULL;

    /* The same file mapped once, as a byte ring is by default: two spans, the same bytes. */
    ring_t *r1 = NULL;
    OK(f_ring_open(path, &r1));
    if (r1) { CHECK(double_mapped(r1) == 0); f_ring_free(r1); r1 = NULL; }
    RC(f_ring_open_flags(path, RING_OPEN_SINGLE_MAP | RING_OPEN_DOUBLE_MAP, &r1), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_open_flags(path, 1, &r1), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_open_flags(path, RING_OPEN_SINGLE_MAP, &r1));
    if (r1) OK(f_ring_consumer_open(r1, &c));
    if (c) {
        CHECK(double_mapped(r1) == 0);
        memset(spans, 0xEE, sizeof spans);
        OK(f_ring_committed_spans(c, spans));
        CHECK(spans[0].len == 4096 - at && spans[1].len == info.used_bytes - (4096 - at) && spans[1].len > 0);
        size_t n_single = spans_copy(spans, single);
        CHECK(n_single == n_double && memcmp(single, doubled, n_double) == 0);
        /* And the records read through it are the 20 written. */
        for (int i = 0; i < 20; i++) {
            memset(msg, 'a' + i % 26, 60 + i);
            OK(f_ring_read(c, got, sizeof got, &len));
            CHECK(len == 60 + (size_t)i && memcmp(got, msg, len) == 0);
        }
        OK(f_ring_committed_spans(c, spans));
        CHECK(spans[0].len == 0 && spans[1].len == 0);
    }
    /* Double-mapped by the open flag too. */
    ring_t *r2 = NULL;
    OK(f_ring_open_flags(path, RING_OPEN_DOUBLE_MAP, &r2));
    if (r2) { CHECK(double_mapped(r2) == 1); f_ring_free(r2); }
    f_ring_consumer_free(c);
    f_ring_free(r1);
    free_roles(r, p, NULL);
}

/* ---------------------------------------------------------------------- */
/* 7. Timeouts, wake-ups, close from another thread                         */

/* A thread blocked in an item call; its result in rc, done once it returned. */
typedef struct blocked_call {
    ring_item_consumer_t *c;
    ring_item_producer_t *p;
    enum { CALL_READ_ITEMS, CALL_READABLE, CALL_WRITE_ITEMS } call;
    _Atomic int rc, done;
    size_t count;
    uint64_t items[8];
    pthread_t thread;
} blocked_call;

static void *blocked_caller(void *arg) {
    blocked_call *b = arg;
    ring_span_t spans[2];
    uint64_t one = 77;
    switch (b->call) {
    case CALL_READ_ITEMS: b->rc = f_ring_read_items(b->c, b->items, 8, &b->count, RING_WAIT_FOREVER); break;
    case CALL_READABLE: b->rc = f_ring_items_readable(b->c, spans, &b->count, RING_WAIT_FOREVER); break;
    case CALL_WRITE_ITEMS: b->rc = f_ring_write_items(b->p, &one, 1, RING_WAIT_FOREVER); break;
    }
    b->done = 1;
    return NULL;
}

/* Starts the call in a thread and checks that it still blocks 200 ms later. */
static void start_blocked(blocked_call *b) {
    b->rc = 1;
    b->done = 0;
    pthread_create(&b->thread, NULL, blocked_caller, b);
    pause_us(200000);
    CHECK(!b->done);
}

/* Waits up to 2 s for the call to return: 1 and joined if it did (then how long it took from t0 in *took). */
static int finish_blocked(blocked_call *b, double t0, double *took) {
    while (!b->done && now() - t0 < 2) pause_us(1000);
    *took = now() - t0;
    if (!b->done) { FAILF("the blocked call did not return within 2 s"); return 0; }
    pthread_join(b->thread, NULL);
    return 1;
}

static void test_timeouts_and_wakeups(void) {
    ring_t *r = make_items("timeouts", "<u8", 512, RING_REJECT_WHEN_FULL, 0, 0);
    ring_item_producer_t *p = NULL;
    ring_item_consumer_t *c = NULL;
    if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
    CHECK(item_info(r).item_capacity == 512);
    uint64_t items[512], got[8];
    size_t n = 99;
    ring_span_t spans[2];
    /* An empty ring: EMPTY at once, or after 20 ms. */
    double t0 = now();
    RC(f_ring_read_items(c, got, 8, &n, 0), RING_ERR_EMPTY);
    CHECK(n == 0 && now() - t0 < 0.5);
    t0 = now();
    RC(f_ring_read_items(c, got, 8, &n, 20 * MS), RING_ERR_EMPTY);
    double waited_read = now() - t0;
    CHECK(n == 0 && waited_read >= 0.020 && waited_read < 2);
    t0 = now();
    RC(f_ring_items_readable(c, spans, &n, 20 * MS), RING_ERR_EMPTY);
    CHECK(now() - t0 >= 0.020);
    /* A full reject-when-full ring: FULL at once, or after 20 ms; nothing written. */
    for (int i = 0; i < 512; i++) items[i] = 1000 + (uint64_t)i;
    OK(f_ring_write_items(p, items, 512, 0));
    t0 = now();
    RC(f_ring_write_items(p, items, 1, 0), RING_ERR_FULL);
    CHECK(now() - t0 < 0.5);
    t0 = now();
    RC(f_ring_write_items(p, items, 1, 20 * MS), RING_ERR_FULL);
    double waited_write = now() - t0;
    CHECK(waited_write >= 0.020 && waited_write < 2);
    CHECK(info_of(r).producer_position == 512);
    /* A writer blocked on the full ring is woken by a read. */
    blocked_call w = { .p = p, .call = CALL_WRITE_ITEMS };
    start_blocked(&w);
    OK(f_ring_read_items(c, got, 1, &n, 0));
    CHECK(n == 1 && got[0] == 1000);
    double took_write = 0;
    if (finish_blocked(&w, now(), &took_write)) RC(w.rc, RING_OK);
    /* Drain: 511 left, then the 77 the blocked writer wrote. */
    uint64_t next = 1001, total = 0;
    while (f_ring_read_items(c, got, 8, &n, 0) == RING_OK) {
        for (size_t i = 0; i < n; i++, total++) {
            uint64_t want = total < 511 ? next++ : 77;
            if (got[i] != want) { FAILF("read %llu, expected %llu", (unsigned long long)got[i], (unsigned long long)want); break; }
        }
    }
    CHECK(total == 512);
    /* A reader blocked forever is woken by another thread's write. */
    blocked_call b = { .c = c, .call = CALL_READ_ITEMS };
    start_blocked(&b);
    uint64_t three[3] = { 5, 6, 7 };
    t0 = now();
    OK(f_ring_write_items(p, three, 3, 0));
    double took_read = 0;
    if (finish_blocked(&b, t0, &took_read)) {
        RC(b.rc, RING_OK);
        CHECK(b.count == 3 && b.items[0] == 5 && b.items[1] == 6 && b.items[2] == 7);
    }
    /* A lend waiting forever is woken too. */
    blocked_call l = { .c = c, .call = CALL_READABLE };
    start_blocked(&l);
    OK(f_ring_write_items(p, three, 2, 0));
    double took_lend = 0;
    if (finish_blocked(&l, now(), &took_lend)) { RC(l.rc, RING_OK); CHECK(l.count == 2); OK(f_ring_items_consume(c, 2)); }
    /* The end of the stream wakes a reader waiting forever. */
    blocked_call e = { .c = c, .call = CALL_READ_ITEMS };
    start_blocked(&e);
    OK(f_ring_item_producer_close_writer(p));
    double took_end = 0;
    if (finish_blocked(&e, now(), &took_end)) RC(e.rc, RING_ERR_END_OF_STREAM);
    RC(f_ring_write_items(p, three, 1, 0), RING_ERR_CLOSED);
    printf("     EMPTY after %.1f ms, FULL after %.1f ms (20 ms asked); woken: writer %.1f ms, reader %.1f ms, lend %.1f ms, "
           "end of stream %.1f ms\n", waited_read * 1000, waited_write * 1000, took_write * 1000, took_read * 1000,
           took_lend * 1000, took_end * 1000);
    free_item_roles(r, p, c);

    /* ring_item_consumer_close from another thread ends a blocked read (and a blocked lend) with CLOSED. */
    for (int call = CALL_READ_ITEMS; call <= CALL_READABLE; call++) {
        r = make_items("close", "<u8", 512, RING_REJECT_WHEN_FULL, 0, 0);
        if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
        blocked_call k = { .c = c, .call = call };
        start_blocked(&k);
        t0 = now();
        OK(f_ring_item_consumer_close(c));
        double took = 0;
        if (!finish_blocked(&k, t0, &took)) { fflush(NULL); _exit(1); } /* the thread still holds the handle: leave */
        printf("     %s blocked forever: %s %.1f ms after ring_item_consumer_close\n",
               call == CALL_READ_ITEMS ? "ring_read_items" : "ring_items_readable", f_ring_strerror(k.rc), took * 1000);
        RC(k.rc, RING_ERR_CLOSED);
        CHECK(took < 1);
        RC(f_ring_read_items(c, got, 1, &n, 0), RING_ERR_CLOSED);
        OK(f_ring_item_consumer_close(c)); /* idempotent */
        /* The role was given up: a new consumer takes it. */
        ring_item_consumer_t *c2 = NULL;
        OK(f_ring_item_consumer_open(r, &c2));
        f_ring_item_consumer_free(c2);
        free_item_roles(r, p, c);
    }
    /* ring_item_producer_close from another thread ends a write blocked on a full ring. */
    r = make_items("close", "<u8", 512, RING_REJECT_WHEN_FULL, 0, 0);
    if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
    OK(f_ring_write_items(p, items, 512, 0));
    blocked_call k = { .p = p, .call = CALL_WRITE_ITEMS };
    start_blocked(&k);
    t0 = now();
    OK(f_ring_item_producer_close(p));
    double took = 0;
    if (!finish_blocked(&k, t0, &took)) { fflush(NULL); _exit(1); }
    RC(k.rc, RING_ERR_CLOSED);
    CHECK(took < 1);
    CHECK(info_of(r).writer_closed == 0); /* closing is not the end of the stream */
    RC(f_ring_read_items(c, got, 1, &n, 20 * MS), RING_OK);
    free_item_roles(r, p, c);
}

/* ---------------------------------------------------------------------- */
/* 8. ring_open_fd and the role locks (SPEC.md §11.1, §11.3, §20.2)         */

/* The lock on byte `at` of the file behind fd as a new open of it ("/proc/self/fd/N", a new
 * open file description) sees it with F_OFD_GETLK: F_WRLCK, F_RDLCK or F_UNLCK (-1: failed). */
static int lock_seen(int fd, off_t at) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int other = open(proc, O_RDWR | O_CLOEXEC);
    if (other < 0) { FAILF("open %s: %s", proc, strerror(errno)); return -1; }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1 };
    int rc = fcntl(other, F_OFD_GETLK, &fl);
    close(other);
    if (rc != 0) { FAILF("F_OFD_GETLK: %s", strerror(errno)); return -1; }
    return fl.l_type;
}

static const char *lock_name(int type) {
    return type == F_WRLCK ? "write-locked" : type == F_RDLCK ? "read-locked" : type == F_UNLCK ? "unlocked" : "?";
}

/* The role bytes as a new open sees them must be `producer` and `consumer`. */
#define LOCKS_ARE(fd, producer, consumer, when) do { \
    int lp_ = lock_seen((fd), RING_PRODUCER_LOCK_OFFSET), lc_ = lock_seen((fd), RING_CONSUMER_LOCK_OFFSET); \
    if (lp_ != (producer) || lc_ != (consumer)) \
        FAILF("%s:%d: %s: the producer byte is %s, the consumer byte %s; expected %s and %s", __FILE__, __LINE__, (when), \
              lock_name(lp_), lock_name(lc_), lock_name(producer), lock_name(consumer)); } while (0)

/* A handle from ring_open_fd(ring_fd(r)) is another taker of the roles: refused while they are
 * held, and its refusal leaves the holders' locks alone; a child that took a role through it
 * and was killed leaves no stale role (SPEC.md §11.1: the kernel drops the lock at exit). */
static void test_open_fd_role_locks(void) {
    for (int anonymous = 0; anonymous < 2; anonymous++) {
        const char *what = anonymous ? "ring without a file, after BUSY through ring_open_fd's handle"
                                     : "ring file, after BUSY through ring_open_fd's handle";
        char name[64];
        snprintf(name, sizeof name, "items-locks-%d", (int)getpid());
        ring_t *r = make_items(anonymous ? name : "locks", "<f8", 512, RING_REJECT_WHEN_FULL,
                               anonymous ? RING_CREATE_ANONYMOUS : 0, 0);
        ring_item_producer_t *p = NULL, *p2 = NULL;
        ring_item_consumer_t *c = NULL, *c2 = NULL;
        if (!item_roles(r, &p, &c)) { free_item_roles(r, p, c); return; }
        int fd = -1;
        OK(f_ring_fd(r, &fd));
        LOCKS_ARE(fd, F_WRLCK, F_WRLCK, "both roles taken");
        ring_t *r2 = NULL;
        OK(f_ring_open_fd(fd, 0, &r2));
        if (!r2) { free_item_roles(r, p, c); return; }
        RC(f_ring_item_producer_open(r2, &p2), RING_ERR_BUSY);
        RC(f_ring_item_consumer_open(r2, &c2), RING_ERR_BUSY);
        LOCKS_ARE(fd, F_WRLCK, F_WRLCK, what);
        /* Given up, a role is taken through the other handle, and given up again. */
        f_ring_item_producer_free(p);
        p = NULL;
        LOCKS_ARE(fd, F_UNLCK, F_WRLCK, "the producer given up");
        OK(f_ring_item_producer_open(r2, &p2));
        LOCKS_ARE(fd, F_WRLCK, F_WRLCK, "the producer taken through ring_open_fd's handle");
        f_ring_item_producer_free(p2);
        p2 = NULL;
        LOCKS_ARE(fd, F_UNLCK, F_WRLCK, "that producer given up");
        f_ring_free(r2);
        free_item_roles(r, p, c);
    }

    /* A child takes the producer role through ring_open_fd and is killed with it. */
    ring_t *r = make_items("stale", "<f8", 512, RING_REJECT_WHEN_FULL, 0, 0);
    if (!r) return;
    char path[512];
    snprintf(path, sizeof path, "%s", path_of("stale"));
    int fd = -1;
    OK(f_ring_fd(r, &fd));
    int ready[2];
    if (pipe(ready)) { FAILF("pipe: %s", strerror(errno)); return; }
    pid_t pid = fork_child(30);
    if (pid == 0) {
        close(ready[0]);
        ring_t *mine = NULL;
        ring_item_producer_t *p = NULL;
        OK(f_ring_open_fd(fd, 0, &mine));
        if (mine) OK(f_ring_item_producer_open(mine, &p));
        (void)write_full(ready[1], p ? "p" : "x", 1);
        for (;;) pause();
    }
    close(ready[1]);
    int word = read_byte_within(ready[0], 20);
    CHECK(word == 'p');
    LOCKS_ARE(fd, F_WRLCK, F_UNLCK, "the child holds the producer role");
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(ready[0]);
    int after = lock_seen(fd, RING_PRODUCER_LOCK_OFFSET);
    ring_t *other = NULL;
    ring_item_producer_t *p = NULL;
    OK(f_ring_open(path, &other));
    int rc = other ? f_ring_item_producer_open(other, &p) : RING_ERR_CLOSED;
    printf("     a child killed holding the producer role taken through ring_open_fd: the byte is %s, a new open's "
           "ring_item_producer_open: %s\n", lock_name(after), f_ring_strerror(rc));
    CHECK(after == F_UNLCK);
    RC(rc, RING_OK);
    f_ring_item_producer_free(p);
    f_ring_free(other);
    f_ring_free(r);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *only;
    if (suite_setup(argc, argv, "items", &long_mode, &only) != 0) return 2;
    int race_seconds = long_mode ? 900 : 120;

    test_case tests[] = {
        { "create_info_roles_bad_descriptions", test_create_and_info, 20 },
        { "records_across_2_32_and_2_64_both_mappings_both_policies", test_records_across_wrap, 30 },
        { "spans_double_one_single_two_busy_invalid_size", test_spans, 20 },
        { "race_overwrite_read_items_double_mapped", test_race_overwrite_read_double, race_seconds },
        { "race_overwrite_read_items_single_mapped", test_race_overwrite_read_single, race_seconds },
        { "race_overwrite_lends_double_mapped", test_race_overwrite_lend_double, race_seconds },
        { "race_overwrite_lends_single_mapped", test_race_overwrite_lend_single, race_seconds },
        { "race_reject_read_items_double_mapped", test_race_reject_read_double, race_seconds },
        { "race_reject_lends_single_mapped", test_race_reject_lend_single, race_seconds },
        { "ring_without_file_across_fork", test_fork_without_file, 60 },
        { "committed_spans_byte_ring_double_equals_single", test_committed_spans, 20 },
        { "timeouts_wakeups_close_from_another_thread", test_timeouts_and_wakeups, 30 },
        { "open_fd_role_locks_refusal_and_killed_child", test_open_fd_role_locks, 30 },
    };
    return RUN_TESTS(tests, only, "items");
}
