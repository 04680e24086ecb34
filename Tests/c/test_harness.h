/*
 * test_harness.h - what the dlopen tests in Tests/c share: the library loaded
 * with dlopen + dlsym, the CHECK/RC/OK macros, a temporary directory, forked
 * children with a watchdog, and the test table with its closing
 * "[SUITE: ]N passed, M failed" line (scripts/test_c.sh reads the names and it).
 *
 * Before including it, define _GNU_SOURCE (ahead of every include) and
 * RING_FUNCTIONS(X): X(name) for every ringformat.h function the test calls,
 * at least those this file calls: ring_strerror, ring_last_error_message,
 * ring_create, ring_write, ring_read, ring_read_timeout, ring_producer_open,
 * ring_consumer_open, ring_producer_free, ring_consumer_free and ring_free.
 * The test calls `name` as f_name.
 * Everything here is static: each test is one translation unit.
 */
#ifndef RINGFORMAT_TEST_HARNESS_H
#define RINGFORMAT_TEST_HARNESS_H

#ifndef RING_FUNCTIONS
#error "define RING_FUNCTIONS(X) before including test_harness.h"
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>
#include <poll.h>

#include "ringformat.h"

/* Reads exactly n bytes from fd (EINTR retried): 0, or -1 at EOF or on an error. */
static inline int read_full(int fd, void *buf, size_t n) {
    uint8_t *p = buf;
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k; n -= (size_t)k;
    }
    return 0;
}

/* Writes exactly n bytes to fd (EINTR retried): 0, or -1 on an error. */
static inline int write_full(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k; n -= (size_t)k;
    }
    return 0;
}

/* Waits up to `seconds` for one byte on fd: the byte, or -1 (EOF or timeout). */
static inline int read_byte_within(int fd, double seconds) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    if (poll(&pfd, 1, (int)(seconds * 1000)) != 1) return -1;
    uint8_t b;
    return read_full(fd, &b, 1) == 0 ? b : -1;
}

/* f_<name>: the library's <name>, set by load_library(). */
#define HARNESS_DECLARE(name) static __typeof__(name) *f_##name;
RING_FUNCTIONS(HARNESS_DECLARE)
#undef HARNESS_DECLARE

/* Failed checks in the running test: it passes if this is 0 at its end. */
static int failures_in_test;
/* The suite's temporary directory (make_test_dir). */
static char dir[256];

/* The exit code of a child that AddressSanitizer stopped (hostile_peer.c sets it); 1 is a failed test. */
#define ASAN_EXIT 111

/* Reports a failure on stderr, indented under the test's line, and counts it (printf format, a literal). */
#define FAILF(...) HARNESS_FAILF(__VA_ARGS__, "")
#define HARNESS_FAILF(format, ...) (fprintf(stderr, "    " format "%s\n", __VA_ARGS__), failures_in_test++)
/* A condition that must hold. */
#define CHECK(cond) do { if (!(cond)) \
    FAILF("%s:%d: CHECK(%s) failed (last error: %s)", __FILE__, __LINE__, #cond, f_ring_last_error_message()); } while (0)
/* A call that must return `code`. */
#define RC(expr, code) do { int rc_ = (expr); if (rc_ != (code)) \
    FAILF("%s:%d: %s returned %d (%s), expected %d (%s); last error: %s", __FILE__, __LINE__, #expr, \
          rc_, f_ring_strerror(rc_), (code), f_ring_strerror(code), f_ring_last_error_message()); } while (0)
/* A call that must return RING_OK. */
#define OK(expr) RC(expr, RING_OK)

/* dlopens `library` and sets every f_<name>, printing what fails: -1 if dlopen fails, else how many symbols are missing. */
static inline int load_library(const char *library) {
    void *h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return -1; }
    int missing = 0;
#define HARNESS_LOOKUP(name) if (!(f_##name = (__typeof__(name) *)dlsym(h, #name))) { fprintf(stderr, "missing symbol %s\n", #name); missing++; }
    RING_FUNCTIONS(HARNESS_LOOKUP)
#undef HARNESS_LOOKUP
    return missing;
}

/* 1 if $RING_RACE_LONG asks for the long versions (set, not empty, not "0"). */
static inline int env_long_mode(void) {
    const char *v = getenv("RING_RACE_LONG");
    return v && *v && strcmp(v, "0") != 0;
}

/* Makes dir: a new directory ringformat-TAG-XXXXXX in $TMPDIR (else /tmp); 0, or -1 after perror. */
static inline int make_test_dir(const char *tag) {
    snprintf(dir, sizeof dir, "%s/ringformat-%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag);
    if (!mkdtemp(dir)) { perror("mkdtemp"); return -1; }
    return 0;
}

/* The start of a suite's main (test_SUITE LIBRARY [--long] [--only NAME]): the library from
 * the arguments or $RINGFORMAT_LIB, the long versions from --long or $RING_RACE_LONG, one test
 * from --only; loads the library and makes the suite's directory. 0, or -1 after saying why
 * (main then exits 2). */
static inline int suite_setup(int argc, char **argv, const char *suite, int *long_mode, const char **only) {
    const char *lib = getenv("RINGFORMAT_LIB");
    *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--long")) *long_mode = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) *only = argv[++i];
        else lib = argv[i];
    }
    if (env_long_mode()) *long_mode = 1;
    if (!lib) {
        fprintf(stderr, "usage: test_%s LIBRARY [--long] [--only NAME] (or set RINGFORMAT_LIB)\n", suite);
        return -1;
    }
    return load_library(lib) != 0 || make_test_dir(suite) != 0 ? -1 : 0;
}

/* Removes dir and all in it. */
static inline void remove_test_dir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* dir/name, in a static buffer that the next call overwrites. */
static inline const char *path_of(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Seconds on the monotonic clock. */
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps `us` microseconds (0: not at all). */
static inline void pause_us(unsigned us) {
    if (us == 0) return;
    struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

/* A new ring dir/name (an old file of that name removed first), or NULL with the failure counted. */
static inline ring_t *make_ring(const char *name, uint64_t capacity, int policy) {
    ring_t *r = NULL;
    unlink(path_of(name));
    OK(f_ring_create(path_of(name), capacity, policy, 0600, 0, &r));
    return r;
}

/* make_ring, then its producer and consumer: 1 if all three opened; whatever failed is NULL, with the failure counted. */
static inline int open_roles(const char *name, uint64_t capacity, int policy, ring_t **r, ring_producer_t **p,
                             ring_consumer_t **c) {
    *p = NULL; *c = NULL;
    *r = make_ring(name, capacity, policy);
    if (*r) { OK(f_ring_producer_open(*r, p)); OK(f_ring_consumer_open(*r, c)); }
    return *r && *p && *c;
}

/* Frees what open_roles made (NULLs are fine). */
static inline void free_roles(ring_t *r, ring_producer_t *p, ring_consumer_t *c) {
    f_ring_producer_free(p);
    f_ring_consumer_free(c);
    f_ring_free(r);
}

/* A thread blocked in ring_read_timeout(FOREVER) on a consumer: its result in rc, done once it returned. */
typedef struct blocked_read { ring_consumer_t *c; _Atomic int rc; _Atomic int done; pthread_t thread; } blocked_read;

/* The blocked_read thread. */
static inline void *blocked_reader(void *arg) {
    blocked_read *b = arg;
    char buf[64];
    size_t len;
    b->rc = f_ring_read_timeout(b->c, buf, sizeof buf, &len, RING_WAIT_FOREVER);
    b->done = 1;
    return NULL;
}

/* Starts a blocked_read thread on c and checks that it still blocks 200 ms later; join_blocked_read ends it. */
static inline blocked_read *start_blocked_read(ring_consumer_t *c) {
    blocked_read *b = calloc(1, sizeof *b);
    b->c = c;
    b->rc = 1;
    pthread_create(&b->thread, NULL, blocked_reader, b);
    pause_us(200000);
    CHECK(!b->done);
    return b;
}

/* Joins b's thread, which has returned, and frees b. */
static inline void join_blocked_read(blocked_read *b) {
    pthread_join(b->thread, NULL);
    free(b);
}

/* A check two suites make: ring_read and ring_read_timeout with a NULL len are INVALID_ARGUMENT and leave msg to be read. */
static inline void check_null_len_keeps_message(ring_producer_t *p, ring_consumer_t *c, const char *msg) {
    char buf[64];
    size_t n = strlen(msg), len = 0;
    OK(f_ring_write(p, msg, n));
    RC(f_ring_read(c, buf, sizeof buf, NULL), RING_ERR_INVALID_ARGUMENT);
    RC(f_ring_read_timeout(c, buf, sizeof buf, NULL, 0), RING_ERR_INVALID_ARGUMENT);
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == n && memcmp(buf, msg, n) == 0);
}

/* fork() after flushing stdio, so the child does not print the parent's buffered output again. */
static inline pid_t fork_flushed(void) {
    fflush(NULL);
    return fork();
}

/* fork_flushed; the child counts its checks afresh, under alarm(seconds), and ends with child_end. */
static inline pid_t fork_child(unsigned seconds) {
    pid_t pid = fork_flushed();
    if (pid == 0) { alarm(seconds); failures_in_test = 0; }
    return pid;
}

/* In a forked child: flushes and exits 1 if a check failed, else 0. */
static inline _Noreturn void child_end(void) {
    fflush(NULL);
    _exit(failures_in_test ? 1 : 0);
}

/* Waits up to `seconds` for the child pid, its wait status in *status; kills it after: 0, or -1 if it was killed. */
static inline int wait_or_kill(pid_t pid, double seconds, int *status) {
    double t0 = now();
    *status = 0;
    while (waitpid(pid, status, WNOHANG) == 0) {
        if (now() - t0 > seconds) { kill(pid, SIGKILL); waitpid(pid, status, 0); return -1; }
        pause_us(2000);
    }
    return 0;
}

/* Runs fn in a forked child under alarm(seconds), killed 5 s later; prints why it failed, then "ok  |FAIL NAME (T s)". 1 if it passed. */
static inline int run_isolated(const char *name, void (*fn)(void), int seconds) {
    double t0 = now();
    pid_t pid = fork_child((unsigned)seconds);
    if (pid == 0) { fn(); child_end(); }
    int status = 0, timed_out = wait_or_kill(pid, seconds + 5, &status) != 0;
    int ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (timed_out) printf("     (killed: still running after %d s)\n", seconds + 5);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == ASAN_EXIT) printf("     (AddressSanitizer reported a fault or memory error: see above)\n");
    else if (WIFSIGNALED(status))
        printf("     (died of signal %d %s%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)),
               WTERMSIG(status) == SIGALRM ? ": hung past its alarm" : "");
    printf("%s %s (%.1f s)\n", ok ? "ok  " : "FAIL", name, now() - t0);
    fflush(NULL);
    return ok;
}

/* A test: its name as printed, its function, and its time limit in seconds (run_isolated) or IN_PROCESS. */
typedef struct test_case { const char *name; void (*run)(void); int seconds; } test_case;
/* A test_case time limit: run in this process, without a child or a watchdog. */
#define IN_PROCESS 0

/* Runs the tests whose name contains `only` (all if NULL), removes dir, prints "[SUITE: ]N passed, M failed"; main's exit code. */
static inline int run_tests(const test_case *tests, size_t count, const char *only, const char *suite) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < count; i++) {
        if (only && !strstr(tests[i].name, only)) continue;
        int ok;
        if (tests[i].seconds > 0) ok = run_isolated(tests[i].name, tests[i].run, tests[i].seconds);
        else {
            failures_in_test = 0;
            tests[i].run();
            ok = failures_in_test == 0;
            printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        }
        if (ok) passed++; else failed++;
    }
    remove_test_dir();
    if (suite) printf("%s: ", suite);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* run_tests over a whole array. */
#define RUN_TESTS(tests, only, suite) run_tests((tests), sizeof (tests) / sizeof (tests)[0], (only), (suite))

#endif
