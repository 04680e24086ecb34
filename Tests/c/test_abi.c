/*
 * test_abi.c - tests of the C ABI through dlopen + dlsym, the way a plugin
 * host or another language's FFI loads it. Of the library's headers it includes
 * only ringformat.h (through test_harness.h).
 *
 *   test_abi /path/to/libringformat.so interop/bad_inputs.tsv
 *
 * Prints one line per test and a closing "N passed, N failed" line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

/* Every exported function, looked up by name. */
#define RING_FUNCTIONS(X) \
    X(ring_abi_version) X(ring_format_version) X(ring_strerror) X(ring_last_error_message) X(ring_last_errno) \
    X(ring_create) X(ring_create_at_position) X(ring_open) X(ring_info) X(ring_flush) X(ring_close) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_write_batch) X(ring_reserve) X(ring_commit) \
    X(ring_abort) X(ring_producer_close_writer) X(ring_producer_flush) X(ring_producer_close) X(ring_producer_free) \
    X(ring_consumer_open) X(ring_read) X(ring_read_timeout) X(ring_read_batch) X(ring_peek_batch) X(ring_consume) X(ring_peek) X(ring_release) \
    X(ring_release_cancel) X(ring_wait) X(ring_consumer_flush) X(ring_consumer_close) X(ring_consumer_free)
#include "test_harness.h"

/* ---------------------------------------------------------------------- */

static void test_versions_and_errors(void) {
    CHECK(f_ring_abi_version() == RING_ABI_VERSION);
    uint16_t major = 0, minor = 99;
    f_ring_format_version(&major, &minor);
    CHECK(major == RING_VERSION_MAJOR && minor == RING_VERSION_MINOR_READERS);
    for (int code = 0; code >= RING_ERR_OVERWRITTEN; code--) {
        const char *text = f_ring_strerror(code);
        CHECK(text != NULL && text[0] != '\0' && strcmp(text, "unknown error code") != 0);
        for (int other = code - 1; other >= RING_ERR_OVERWRITTEN; other--) CHECK(strcmp(text, f_ring_strerror(other)) != 0);
    }
    CHECK(strcmp(f_ring_strerror(-1000), "unknown error code") == 0);
}

static void test_create_open_info(void) {
    ring_t *r = make_ring("info", 5000, RING_REJECT_WHEN_FULL);
    ring_info_t info;
    OK(f_ring_info(r, &info));
    CHECK(info.capacity == 8192 && info.max_message_size == 8192 / 2 - 8);
    CHECK(info.producer_position == 0 && info.consumer_position == 0 && info.message_count == 0);
    CHECK(info.policy == RING_REJECT_WHEN_FULL && info.writer_closed == 0);
    CHECK(info.version_major == 1 && info.version_minor == 0 && info.header_size == RING_DEFAULT_HEADER_SIZE);
    /* The file is what SPEC.md says, byte for byte at the start. */
    int fd = open(path_of("info"), O_RDONLY);
    unsigned char head[RING_LINE_SIZE];
    CHECK(pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head);
    uint64_t magic = 0;
    memcpy(&magic, head + RING_OFFSET_MAGIC, 8);
    CHECK(magic == RING_MAGIC);
    uint64_t capacity = 0;
    memcpy(&capacity, head + RING_OFFSET_CAPACITY, 8);
    CHECK(capacity == 8192);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == RING_DEFAULT_HEADER_SIZE + 8192);
    close(fd);
    OK(f_ring_flush(r));
    ring_t *again = NULL;
    OK(f_ring_open(path_of("info"), &again));
    OK(f_ring_info(again, &info));
    CHECK(info.capacity == 8192);
    f_ring_free(again);
    /* Close, then every call says CLOSED; close twice is fine. */
    OK(f_ring_close(r));
    OK(f_ring_close(r));
    RC(f_ring_info(r, &info), RING_ERR_CLOSED);
    RC(f_ring_flush(r), RING_ERR_CLOSED);
    ring_producer_t *p = NULL;
    RC(f_ring_producer_open(r, &p), RING_ERR_CLOSED);
    CHECK(p == NULL);
    f_ring_free(r);
    f_ring_free(NULL);
}

static void test_bad_arguments_and_files(void) {
    ring_t *r = (ring_t *)0x1;
    RC(f_ring_create(NULL, 4096, 0, 0600, 0, &r), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create(path_of("x"), 4096, 0, 0600, 0, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create(path_of("x"), 4096, 7, 0600, 0, &r), RING_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);
    RC(f_ring_create(path_of("x"), 4096, 0, 0600, 0x100, &r), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_create(path_of("x"), 0, 0, 0600, 0, &r), RING_ERR_INVALID_SIZE);
    RC(f_ring_create(path_of("x"), (uint64_t)1 << 41, 0, 0600, 0, &r), RING_ERR_INVALID_SIZE);
    RC(f_ring_create(path_of("x"), UINT64_MAX, 0, 0600, 0, &r), RING_ERR_INVALID_SIZE);
    RC(f_ring_create_at_position(path_of("x"), 4096, 0, 0600, 0, 12, &r), RING_ERR_INVALID_SIZE);
    RC(f_ring_create_at_position(path_of("x"), 4096, 0, 0600, RING_CREATE_OPEN_EXISTING, 0, &r), RING_ERR_INVALID_ARGUMENT);
    CHECK(access(path_of("x"), F_OK) != 0);
    RC(f_ring_open(NULL, &r), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_open(path_of("missing"), &r), RING_ERR_SYSTEM);
    CHECK(f_ring_last_errno() == ENOENT);
    RC(f_ring_open(dir, &r), RING_ERR_SYSTEM);
    CHECK(f_ring_last_errno() == EISDIR);
    RC(f_ring_info(NULL, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_write(NULL, "x", 1), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_read(NULL, NULL, 0, NULL), RING_ERR_INVALID_ARGUMENT);

    /* A file that is not a ring, a wrong magic, a version from the future. */
    int fd = open(path_of("junk"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(write(fd, "hello", 5) == 5);
    close(fd);
    RC(f_ring_open(path_of("junk"), &r), RING_ERR_CORRUPT);
    CHECK(strstr(f_ring_last_error_message(), "truncated") != NULL);
    ring_t *good = make_ring("future", 4096, 0);
    f_ring_free(good);
    fd = open(path_of("future"), O_WRONLY);
    uint16_t two = 2;
    CHECK(pwrite(fd, &two, 2, RING_OFFSET_VERSION_MAJOR) == 2);
    RC(f_ring_open(path_of("future"), &r), RING_ERR_UNSUPPORTED_VERSION);
    CHECK(pwrite(fd, "XINGFMT", 7, RING_OFFSET_MAGIC) == 7);
    RC(f_ring_open(path_of("future"), &r), RING_ERR_CORRUPT);
    CHECK(strstr(f_ring_last_error_message(), "bad magic") != NULL);
    close(fd);
}

static void test_create_flags(void) {
    ring_t *a = make_ring("flags", 4096, 0), *b = NULL;
    ring_producer_t *p;
    OK(f_ring_producer_open(a, &p));
    OK(f_ring_write(p, "old", 3));
    RC(f_ring_create(path_of("flags"), 8192, 0, 0600, 0, &b), RING_ERR_SYSTEM);
    CHECK(f_ring_last_errno() == EEXIST && b == NULL);
    ring_info_t info;
    /* Another capacity is said, not hidden; with ANY_GEOMETRY the existing ring is used. */
    RC(f_ring_create(path_of("flags"), 8192, 0, 0600, RING_CREATE_OPEN_EXISTING, &b), RING_ERR_INVALID_ARGUMENT);
    CHECK(b == NULL && strstr(f_ring_last_error_message(), "capacity 4096") != NULL);
    OK(f_ring_create(path_of("flags"), 8192, 0, 0600, RING_CREATE_OPEN_EXISTING | RING_CREATE_ANY_GEOMETRY, &b));
    OK(f_ring_info(b, &info));
    CHECK(info.capacity == 4096 && info.message_count == 1);
    f_ring_free(b);
    OK(f_ring_create(path_of("flags"), 8192, 0, 0600, RING_CREATE_REPLACE, &b));
    OK(f_ring_info(b, &info));
    CHECK(info.capacity == 8192 && info.message_count == 0);
    f_ring_free(b);
    f_ring_producer_free(p);
    f_ring_free(a);
    unlink(path_of("big"));
    OK(f_ring_create_at_position(path_of("big"), 4096, 0, 0600, 0, ((uint64_t)1 << 32) - 8, &b));
    OK(f_ring_producer_open(b, &p));
    for (int i = 0; i < 10; i++) OK(f_ring_write(p, "0123456789", 10));
    OK(f_ring_info(b, &info));
    CHECK(info.consumer_position == ((uint64_t)1 << 32) - 8);
    /* The first record does not fit in the last 8 bytes: an 8-byte padding record comes first. */
    CHECK(info.producer_position == ((uint64_t)1 << 32) - 8 + 8 + 10 * 24);
    f_ring_producer_free(p);
    f_ring_free(b);
}

/* A NULL len is refused before anything is read: the message stays (it was consumed
 * and then reported INVALID_ARGUMENT). */
static void test_read_with_null_len_consumes_nothing(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (open_roles("nulllen", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) check_null_len_keeps_message(p, c, "kept");
    free_roles(r, p, c);
}

static void test_write_and_read(void) {
    ring_t *r = make_ring("rw", 4096, RING_REJECT_WHEN_FULL);
    ring_producer_t *p, *p2 = NULL;
    ring_consumer_t *c, *c2 = NULL;
    OK(f_ring_producer_open(r, &p));
    OK(f_ring_consumer_open(r, &c));
    RC(f_ring_producer_open(r, &p2), RING_ERR_BUSY);
    RC(f_ring_consumer_open(r, &c2), RING_ERR_BUSY);
    ring_t *other;
    OK(f_ring_open(path_of("rw"), &other));
    RC(f_ring_producer_open(other, &p2), RING_ERR_BUSY);
    f_ring_free(other);

    char buf[4096];
    size_t len = 99;
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_EMPTY);
    OK(f_ring_write(p, "hello", 5));
    OK(f_ring_write(p, NULL, 0));
    RC(f_ring_write(p, NULL, 3), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_write(p, buf, 2041), RING_ERR_INVALID_SIZE);
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == 0);
    RC(f_ring_read(c, buf, sizeof buf, NULL), RING_ERR_INVALID_ARGUMENT);

    /* Buffer too small: told the size, message kept. */
    OK(f_ring_write(p, "0123456789", 10));
    RC(f_ring_read(c, buf, 4, &len), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 10);
    RC(f_ring_read(c, NULL, 0, &len), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 10);
    OK(f_ring_read(c, buf, 10, &len));
    CHECK(len == 10 && memcmp(buf, "0123456789", 10) == 0);

    /* Full, then timed write expiring, then a read makes room. Positions are at 48:
     * three 1024-byte records fit; a fourth would also need 976 bytes of padding. */
    char big[1016];
    memset(big, 'b', sizeof big);
    int n = 0;
    while (n < 10 && f_ring_write(p, big, sizeof big) == RING_OK) n++;
    CHECK(n == 3);
    RC(f_ring_write(p, big, sizeof big), RING_ERR_FULL);
    double t0 = now();
    RC(f_ring_write_timeout(p, big, sizeof big, 100 * 1000000LL), RING_ERR_FULL);
    CHECK(now() - t0 >= 0.09);
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == sizeof big);
    OK(f_ring_write_timeout(p, big, sizeof big, RING_WAIT_FOREVER)); /* padding + record at offset 0 */
    ring_info_t info;
    OK(f_ring_info(r, &info));
    CHECK(info.message_count == 3 && info.used_bytes == 2 * 1024 + 976 + 1024);

    size_t lengths[8], count = 9;
    OK(f_ring_read_batch(c, buf, sizeof buf, lengths, 8, &count, 0));
    CHECK(count == 3 && lengths[0] == 1016 && lengths[1] == 1016 && lengths[2] == 1016);
    RC(f_ring_read_batch(c, buf, sizeof buf, lengths, 8, &count, 0), RING_ERR_EMPTY);
    t0 = now();
    RC(f_ring_read_timeout(c, buf, sizeof buf, &len, 100 * 1000000LL), RING_ERR_EMPTY);
    CHECK(now() - t0 >= 0.09);
    RC(f_ring_wait(c, 10 * 1000000LL), RING_ERR_EMPTY);

    /* Close, then CLOSED; a new producer and consumer can take the roles. */
    OK(f_ring_producer_close(p));
    RC(f_ring_write(p, "x", 1), RING_ERR_CLOSED);
    RC(f_ring_producer_flush(p), RING_ERR_CLOSED);
    OK(f_ring_consumer_close(c));
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_CLOSED);
    RC(f_ring_peek(c, (const void **)&t0, &len, 0), RING_ERR_CLOSED);
    OK(f_ring_producer_open(r, &p2));
    OK(f_ring_consumer_open(r, &c2));
    f_ring_producer_free(p2);
    f_ring_consumer_free(c2);
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

static void test_batches(void) {
    ring_t *r = make_ring("batch", 4096, 0);
    ring_producer_t *p;
    ring_consumer_t *c;
    OK(f_ring_producer_open(r, &p));
    OK(f_ring_consumer_open(r, &c));
    char payload[100][56];
    ring_message_t msgs[100];
    for (int i = 0; i < 100; i++) {
        memset(payload[i], i, 56);
        msgs[i].data = payload[i];
        msgs[i].len = 56;
    }
    size_t written = 0;
    OK(f_ring_write_batch(p, msgs, 100, &written));
    CHECK(written == 64); /* 64-byte records fill 4096 exactly */
    OK(f_ring_write_batch(p, msgs, 100, &written));
    CHECK(written == 0);
    ring_message_t bad[2] = { { "a", 1 }, { NULL, 5000 } };
    RC(f_ring_write_batch(p, bad, 2, &written), RING_ERR_INVALID_ARGUMENT);
    /* A negative length cast to size_t is a size no message has, not a NULL pointer. */
    bad[1].data = payload[0];
    bad[1].len = (size_t)-1;
    RC(f_ring_write_batch(p, bad, 2, &written), RING_ERR_INVALID_SIZE);
    RC(f_ring_write(p, payload[0], (size_t)-5), RING_ERR_INVALID_SIZE);
    RC(f_ring_write_timeout(p, payload[0], (size_t)-5, 0), RING_ERR_INVALID_SIZE);
    CHECK(strstr(f_ring_last_error_message(), "SIZE_MAX") != NULL);
    bad[1].data = payload[0];
    RC(f_ring_write_batch(p, bad, 2, &written), RING_ERR_INVALID_SIZE);
    char buf[4096];
    size_t lengths[100], count = 0;
    /* Peeking copies without consuming. */
    OK(f_ring_peek_batch(c, buf, sizeof buf, lengths, 3, &count));
    CHECK(count == 3 && lengths[2] == 56 && buf[0] == 0 && buf[112] == 2);
    RC(f_ring_peek_batch(c, buf, 10, lengths, 3, &count), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 0 && lengths[0] == 56);
    OK(f_ring_peek_batch(c, buf, sizeof buf, lengths, 100, &count));
    CHECK(count == 64);
    /* Room for two and a half messages: two are read, the third waits. */
    OK(f_ring_read_batch(c, buf, 140, lengths, 100, &count, 0));
    CHECK(count == 2 && lengths[0] == 56 && lengths[1] == 56 && buf[0] == 0 && buf[56] == 1);
    RC(f_ring_read_batch(c, buf, 10, lengths, 100, &count, 0), RING_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 0 && lengths[0] == 56);
    RC(f_ring_read_batch(c, buf, sizeof buf, lengths, 0, &count, 0), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_read_batch(c, buf, sizeof buf, lengths, 100, &count, 0));
    CHECK(count == 62 && buf[0] == 2 && buf[61 * 56] == 63);
    OK(f_ring_producer_close_writer(p));
    RC(f_ring_read_batch(c, buf, sizeof buf, lengths, 100, &count, RING_WAIT_FOREVER), RING_ERR_END_OF_STREAM);
    RC(f_ring_write(p, "x", 1), RING_ERR_CLOSED);
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* A ring_visit_fn that records what it sees in a struct visit_log and declines message
 * `stop_at` (or none if negative). */
struct visit_log {
    int stop_at;
    size_t calls;
    size_t lengths[16];
    unsigned char first_bytes[16];
};

static int log_visit(void *context, size_t index, const void *data, size_t len) {
    struct visit_log *log = context;
    log->calls++;
    if (log->stop_at >= 0 && index == (size_t)log->stop_at) return 1;
    if (index < 16) {
        log->lengths[index] = len;
        log->first_bytes[index] = len ? *(const unsigned char *)data : 0;
    }
    return 0;
}

static void test_consume_with_visitor(void) {
    ring_t *r = make_ring("visit", 4096, 0);
    ring_producer_t *p;
    ring_consumer_t *c;
    OK(f_ring_producer_open(r, &p));
    OK(f_ring_consumer_open(r, &c));
    struct visit_log log = { -1, 0, {0}, {0} };
    size_t count = 99;
    /* Empty: EMPTY, the visitor is never called. */
    RC(f_ring_consume(c, log_visit, &log, 4, &count), RING_ERR_EMPTY);
    CHECK(count == 0 && log.calls == 0);
    for (int i = 0; i < 5; i++) {
        char m[10];
        memset(m, 'a' + i, sizeof m);
        OK(f_ring_write(p, m, (size_t)(i + 1)));
    }
    /* max_count bounds the batch; lengths and bytes come straight from the mapping. */
    OK(f_ring_consume(c, log_visit, &log, 2, &count));
    CHECK(count == 2 && log.calls == 2 && log.lengths[0] == 1 && log.lengths[1] == 2);
    CHECK(log.first_bytes[0] == 'a' && log.first_bytes[1] == 'b');
    /* The visitor declines the second message of this batch: only the first is consumed. */
    log = (struct visit_log){ 1, 0, {0}, {0} };
    OK(f_ring_consume(c, log_visit, &log, 8, &count));
    CHECK(count == 1 && log.first_bytes[0] == 'c');
    /* Declining the first message is not EMPTY: OK with nothing consumed. */
    log = (struct visit_log){ 0, 0, {0}, {0} };
    OK(f_ring_consume(c, log_visit, &log, 8, &count));
    CHECK(count == 0 && log.calls == 1);
    log = (struct visit_log){ -1, 0, {0}, {0} };
    OK(f_ring_consume(c, log_visit, &log, 8, &count));
    CHECK(count == 2 && log.first_bytes[0] == 'd' && log.lengths[1] == 5 && log.first_bytes[1] == 'e');
    /* Bad arguments. */
    RC(f_ring_consume(c, NULL, &log, 8, &count), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consume(c, log_visit, &log, 8, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consume(c, log_visit, &log, 0, &count), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_consume(NULL, log_visit, &log, 1, &count), RING_ERR_INVALID_ARGUMENT);
    /* An open peek makes it BUSY; the end of the stream and a closed handle are reported. */
    OK(f_ring_write(p, "z", 1));
    const void *data;
    size_t len;
    OK(f_ring_peek(c, &data, &len, 0));
    RC(f_ring_consume(c, log_visit, &log, 1, &count), RING_ERR_BUSY);
    OK(f_ring_release_cancel(c));
    OK(f_ring_producer_close_writer(p));
    OK(f_ring_consume(c, log_visit, &log, 8, &count));
    CHECK(count == 1);
    RC(f_ring_consume(c, log_visit, &log, 8, &count), RING_ERR_END_OF_STREAM);
    OK(f_ring_consumer_close(c));
    RC(f_ring_consume(c, log_visit, &log, 8, &count), RING_ERR_CLOSED);
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

static void test_zero_copy(void) {
    ring_t *r = make_ring("zero", 4096, 0);
    ring_producer_t *p;
    ring_consumer_t *c;
    OK(f_ring_producer_open(r, &p));
    OK(f_ring_consumer_open(r, &c));
    void *space = NULL;
    OK(f_ring_reserve(p, 64, &space));
    CHECK(space != NULL && ((uintptr_t)space % 8) == 0); /* payloads are 8-byte aligned */
    RC(f_ring_write(p, "x", 1), RING_ERR_BUSY);
    void *again = NULL;
    RC(f_ring_reserve(p, 8, &again), RING_ERR_BUSY);
    memcpy(space, "zero-copy", 9);
    ring_info_t info;
    OK(f_ring_info(r, &info));
    CHECK(info.message_count == 0);
    RC(f_ring_commit(p, 65), RING_ERR_INVALID_SIZE);
    OK(f_ring_commit(p, 9));
    RC(f_ring_commit(p, 9), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_reserve(p, 100, &space));
    OK(f_ring_abort(p));
    RC(f_ring_reserve(p, 5000, &space), RING_ERR_INVALID_SIZE);
    OK(f_ring_info(r, &info));
    CHECK(info.message_count == 1);

    const void *data = NULL;
    size_t len = 0;
    OK(f_ring_peek(c, &data, &len, 0));
    CHECK(len == 9 && memcmp(data, "zero-copy", 9) == 0 && ((uintptr_t)data % 8) == 0);
    char buf[64];
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_BUSY);
    RC(f_ring_peek(c, &data, &len, 0), RING_ERR_BUSY);
    OK(f_ring_release_cancel(c));
    OK(f_ring_peek(c, &data, &len, 0)); /* still there after a cancel */
    CHECK(len == 9);
    OK(f_ring_release(c));
    RC(f_ring_release(c), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_peek(c, &data, &len, 0), RING_ERR_EMPTY);
    OK(f_ring_consumer_flush(c));
    OK(f_ring_producer_flush(p));
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);

    /* Overwrite-oldest: a peeked record reclaimed by the producer is reported. */
    r = make_ring("zero-ow", 4096, RING_OVERWRITE_OLDEST);
    OK(f_ring_producer_open(r, &p));
    OK(f_ring_consumer_open(r, &c));
    char m[1000];
    memset(m, 'm', sizeof m);
    OK(f_ring_write(p, m, sizeof m));
    OK(f_ring_peek(c, &data, &len, 0));
    for (int i = 0; i < 8; i++) OK(f_ring_write(p, m, sizeof m));
    RC(f_ring_release(c), RING_ERR_OVERWRITTEN);
    OK(f_ring_info(r, &info));
    CHECK(info.dropped_count >= 5 && info.message_count >= 3);
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* Two threads share one consumer handle while a third produces. */
struct shared { ring_consumer_t *c; long long got; uint64_t sum; };

static void *shared_reader(void *arg) {
    struct shared *s = arg;
    uint64_t value;
    size_t len;
    for (;;) {
        int rc = f_ring_read_timeout(s->c, &value, sizeof value, &len, 5000 * 1000000LL);
        if (rc != RING_OK) break;
        s->got++;
        s->sum += value;
    }
    return NULL;
}

static void *producer_thread(void *arg) {
    ring_producer_t *p = arg;
    for (uint64_t i = 1; i <= 200000; i++) {
        if (f_ring_write_timeout(p, &i, sizeof i, RING_WAIT_FOREVER) != RING_OK) return (void *)1;
    }
    f_ring_producer_close_writer(p);
    return NULL;
}

static void test_threads_share_handles(void) {
    ring_t *r = make_ring("threads", 4096, 0);
    ring_producer_t *p;
    ring_consumer_t *c;
    OK(f_ring_producer_open(r, &p));
    OK(f_ring_consumer_open(r, &c));
    struct shared a = { c, 0, 0 }, b = { c, 0, 0 };
    pthread_t tp, ta, tb;
    pthread_create(&tp, NULL, producer_thread, p);
    pthread_create(&ta, NULL, shared_reader, &a);
    pthread_create(&tb, NULL, shared_reader, &b);
    void *perr;
    pthread_join(tp, &perr);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(perr == NULL);
    CHECK(a.got + b.got == 200000);
    CHECK(a.sum + b.sum == (uint64_t)200000 * 200001 / 2); /* each message read exactly once */
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* The bad-input table interop/bad_inputs.tsv (argv[2]): every row gives its error. */
static const char *table_path;

static const char *error_name(int rc) {
    static char buf[64];
    switch (rc) {
    case RING_OK: return "OK";
    case RING_ERR_FULL: return "FULL";
    case RING_ERR_EMPTY: return "EMPTY";
    case RING_ERR_INVALID_SIZE: return "INVALID_SIZE";
    case RING_ERR_CLOSED: return "CLOSED";
    case RING_ERR_END_OF_STREAM: return "END_OF_STREAM";
    case RING_ERR_CORRUPT: return "CORRUPT";
    case RING_ERR_UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
    case RING_ERR_BUSY: return "BUSY";
    case RING_ERR_SYSTEM:
        switch (f_ring_last_errno()) {
        case ENOENT: return "SYSTEM:ENOENT";
        case EISDIR: return "SYSTEM:EISDIR";
        case EEXIST: return "SYSTEM:EEXIST";
        default: snprintf(buf, sizeof buf, "SYSTEM:%d", f_ring_last_errno()); return buf;
        }
    default: snprintf(buf, sizeof buf, "code %d", rc); return buf;
    }
}

static uint32_t crc32_ieee(const unsigned char *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static int run_row(const char *policy, char *mutations, const char *action) {
    const char *path = path_of("bad.ring");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) return -100;
    ring_t *r;
    ring_producer_t *p;
    int rc = f_ring_create(path, 4096, strcmp(policy, "overwrite") ? RING_REJECT_WHEN_FULL : RING_OVERWRITE_OLDEST, 0600, 0, &r);
    if (rc) return -100;
    if (f_ring_producer_open(r, &p) || f_ring_write(p, "abcdefghijk", 11)) return -100;
    f_ring_producer_free(p);
    f_ring_free(r);
    for (char *m = strtok(mutations, ";"); m; m = strtok(NULL, ";")) {
        if (!strcmp(m, "none")) continue;
        if (!strcmp(m, "missing")) { unlink(path); continue; }
        if (!strcmp(m, "directory")) { unlink(path); mkdir(path, 0700); continue; }
        if (!strncmp(m, "truncate=", 9)) { if (truncate(path, atol(m + 9))) return -100; continue; }
        int fd = open(path, O_RDWR);
        if (fd < 0) return -100;
        if (!strcmp(m, "fix")) {
            unsigned char head[RING_CHECKSUM_COVERED_BYTES];
            if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head) return -100;
            uint32_t crc = crc32_ieee(head, sizeof head);
            if (pwrite(fd, &crc, 4, RING_OFFSET_HEADER_CHECKSUM) != 4) return -100;
        } else {
            char *at = strchr(m, '@'), *eq = strchr(m, '=');
            if (!at || !eq) return -100;
            long offset = atol(at + 1);
            unsigned long long v = strtoull(eq + 1, NULL, 10);
            unsigned char bytes[64];
            size_t n = 0;
            if (!strncmp(m, "u16", 3)) n = 2;
            else if (!strncmp(m, "u32", 3)) n = 4;
            else if (!strncmp(m, "u64", 3)) n = 8;
            if (n) { for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)(v >> (8 * i)); }
            else {
                const char *hex = eq + 1;
                for (; hex[2 * n] && hex[2 * n + 1]; n++) {
                    char two[3] = { hex[2 * n], hex[2 * n + 1], 0 };
                    bytes[n] = (unsigned char)strtoul(two, NULL, 16);
                }
            }
            if (pwrite(fd, bytes, n, offset) != (ssize_t)n) return -100;
        }
        close(fd);
    }
    r = NULL;
    ring_consumer_t *c = NULL, *c2 = NULL;
    ring_producer_t *p2 = NULL;
    ring_info_t info;
    char buf[4096];
    size_t len;
    if (!strcmp(action, "open")) {
        rc = f_ring_open(path, &r);
        if (!rc) rc = f_ring_info(r, &info);
    } else if (!strcmp(action, "read")) {
        rc = f_ring_open(path, &r);
        if (!rc) rc = f_ring_consumer_open(r, &c);
        if (!rc) rc = f_ring_read(c, buf, sizeof buf, &len);
    } else if (!strcmp(action, "second-producer") || !strcmp(action, "second-consumer")) {
        ring_t *r2 = NULL;
        int producer = !strcmp(action, "second-producer");
        rc = f_ring_open(path, &r);
        if (!rc) rc = f_ring_open(path, &r2);
        if (!rc) rc = producer ? f_ring_producer_open(r, &p) : f_ring_consumer_open(r, &c);
        if (!rc) rc = producer ? f_ring_producer_open(r2, &p2) : f_ring_consumer_open(r2, &c2);
        if (producer && !p2) f_ring_producer_free(p);
        f_ring_free(r2);
    } else if (!strcmp(action, "use-after-close")) {
        rc = f_ring_open(path, &r);
        if (!rc) { f_ring_close(r); rc = f_ring_info(r, &info); }
    } else if (!strncmp(action, "write-", 6)) {
        rc = f_ring_open(path, &r);
        ring_producer_t *w = NULL;
        if (!rc) rc = f_ring_producer_open(r, &w);
        static char big[1 << 16];
        if (!rc) rc = f_ring_write(w, big, (size_t)atol(action + 6));
        f_ring_producer_free(w);
    } else if (!strncmp(action, "create-", 7)) {
        rc = f_ring_create(path, strtoull(action + 7, NULL, 10), 0, 0600, 0, &r);
    } else {
        return -100;
    }
    f_ring_consumer_free(c);
    f_ring_consumer_free(c2);
    f_ring_producer_free(p2);
    f_ring_free(r);
    return rc;
}

static void test_bad_input_table(void) {
    FILE *f = fopen(table_path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[1024];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char *field[5];
        int n = 0;
        for (char *s = line; n < 5; n++) { field[n] = s; s = strchr(s, '\t'); if (!s) { n++; break; } *s++ = 0; }
        if (n != 5) { CHECK(n == 5); continue; }
        char mutations[512];
        snprintf(mutations, sizeof mutations, "%s", field[2]);
        int rc = run_row(field[1], mutations, field[3]);
        const char *got = rc == -100 ? "SETUP FAILED" : error_name(rc);
        if (strcmp(got, field[4]) != 0) {
            FAILF("%s: got %s (%s), expected %s", field[0], got, f_ring_last_error_message(), field[4]);
        }
        rows++;
    }
    fclose(f);
    CHECK(rows >= 25);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: test_abi LIBRARY BAD_INPUTS_TSV\n"); return 2; }
    table_path = argv[2];
    int missing = load_library(argv[1]);
    if (missing < 0) return 2;
    if (missing) return 1;
    if (make_test_dir("c") != 0) return 2;

    test_case tests[] = {
        { "versions_and_errors", test_versions_and_errors, IN_PROCESS },
        { "create_open_info", test_create_open_info, IN_PROCESS },
        { "bad_arguments_and_files", test_bad_arguments_and_files, IN_PROCESS },
        { "create_flags", test_create_flags, IN_PROCESS },
        { "write_and_read", test_write_and_read, IN_PROCESS },
        { "read_with_null_len_consumes_nothing", test_read_with_null_len_consumes_nothing, IN_PROCESS },
        { "batches", test_batches, IN_PROCESS },
        { "consume_with_visitor", test_consume_with_visitor, IN_PROCESS },
        { "zero_copy", test_zero_copy, IN_PROCESS },
        { "threads_share_handles", test_threads_share_handles, IN_PROCESS },
        { "bad_input_table", test_bad_input_table, IN_PROCESS },
    };
    return RUN_TESTS(tests, NULL, NULL);
}
