/*
 * test_fork.c - fork semantics of the C ABI (DECISIONS #2 / SPEC.md): every
 * handle belongs to the process that made it. In a forked child every call on
 * an inherited handle returns RING_ERR_FORKED (never blocks, never writes);
 * close/free in the child free memory but never unlock the parent's roles.
 *
 *   test_fork [LIBRARY]            (or $RINGFORMAT_LIB)
 *   test_fork LIBRARY --try-roles PATH   (helper: exit 0 if both roles are BUSY)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#define RING_FUNCTIONS(X) \
    X(ring_strerror) X(ring_last_error_message) X(ring_create) X(ring_open) X(ring_info) X(ring_flush) X(ring_free) \
    X(ring_producer_open) X(ring_write) X(ring_write_timeout) X(ring_write_batch) X(ring_reserve) \
    X(ring_producer_close_writer) X(ring_producer_free) X(ring_consumer_open) X(ring_read) X(ring_read_timeout) \
    X(ring_read_batch) X(ring_peek_batch) X(ring_consume) X(ring_peek) X(ring_wait) X(ring_consumer_free)
#include "test_harness.h"

static const char *lib_path;

static int visit_any(void *context, size_t index, const void *data, size_t len) {
    (void)index; (void)data; (void)len;
    ++*(int *)context;
    return 0;
}

/* Waits for a child up to `seconds`; kills it after. Returns its exit code, 100 + signal, or -1 on a hang. */
static int wait_child(pid_t pid, double seconds) {
    int status;
    if (wait_or_kill(pid, seconds, &status) != 0) return -1;
    if (WIFSIGNALED(status)) return 100 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* A third process (fork + exec of this program) opens the path itself and tries both roles. */
static void third_process_gets_busy(const char *path) {
    pid_t pid = fork_flushed();
    if (pid == 0) {
        execl("/proc/self/exe", "test_fork", lib_path, "--try-roles", path, (char *)NULL);
        _exit(127);
    }
    int code = wait_child(pid, 10);
    if (code != 0) fprintf(stderr, "    third process: %s\n",
                           code == 1 ? "took the producer role while the parent holds it" :
                           code == 2 ? "took the consumer role while the parent holds it" :
                           code == 3 ? "took both roles while the parent holds them" :
                           code == -1 ? "hung" : "failed to run");
    CHECK(code == 0);
}

static int try_roles(const char *path) {
    alarm(10);
    ring_t *r = NULL;
    ring_producer_t *p = NULL;
    ring_consumer_t *c = NULL;
    int rc = f_ring_open(path, &r);
    if (rc) { fprintf(stderr, "    third process: ring_open: %s\n", f_ring_strerror(rc)); return 4; }
    int prc = f_ring_producer_open(r, &p), crc = f_ring_consumer_open(r, &c);
    int result = (prc != RING_ERR_BUSY ? 1 : 0) | (crc != RING_ERR_BUSY ? 2 : 0);
    if (prc == RING_OK) f_ring_write(p, "intruder", 8); /* what the issue saw: silently overwrites the parent's stream */
    free_roles(r, p, c);
    return result;
}

/* The parent's handles work after the fork: msg written on p is the next and the last message on c. */
static void check_write_read_last(ring_producer_t *p, ring_consumer_t *c, const char *msg) {
    char buf[64];
    size_t n = strlen(msg), len = 0;
    OK(f_ring_write(p, msg, n));
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == n && memcmp(buf, msg, n) == 0);
    RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_EMPTY);
}

/* ---------------------------------------------------------------------- */

/* Every call on inherited handles fails FORKED in the child, promptly, and writes nothing;
 * the child's close/free leaves the parent's roles held. */
static void test_child_calls_fail_forked(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("fork", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) return;
    const char *path = path_of("fork");
    OK(f_ring_write(p, "parent-1", 8));
    OK(f_ring_write(p, "parent-2", 8));
    ring_info_t before;
    OK(f_ring_info(r, &before));
    pid_t pid = fork_child(10);
    if (pid == 0) {
        char buf[64];
        size_t len = 0, lengths[4], count = 0;
        const void *data = NULL;
        void *space = NULL;
        ring_info_t info;
        ring_message_t m = { "child", 5 };
        int visits = 0;
        double t0 = now();
        RC(f_ring_write(p, "child", 5), RING_ERR_FORKED);
        RC(f_ring_write_timeout(p, "child", 5, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_write_batch(p, &m, 1, &count), RING_ERR_FORKED);
        RC(f_ring_reserve(p, 16, &space), RING_ERR_FORKED);
        RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_FORKED);
        RC(f_ring_read_timeout(c, buf, sizeof buf, &len, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_read_batch(c, buf, sizeof buf, lengths, 4, &count, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_peek_batch(c, buf, sizeof buf, lengths, 4, &count), RING_ERR_FORKED);
        RC(f_ring_consume(c, visit_any, &visits, 4, &count), RING_ERR_FORKED);
        CHECK(visits == 0);
        RC(f_ring_peek(c, &data, &len, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_wait(c, RING_WAIT_FOREVER), RING_ERR_FORKED);
        RC(f_ring_info(r, &info), RING_ERR_FORKED);
        RC(f_ring_producer_close_writer(p), RING_ERR_FORKED);
        CHECK(now() - t0 < 2.0);
        /* A fresh open in the child is its own handle: it works (the roles stay the parent's). */
        ring_t *mine = NULL;
        ring_producer_t *p2 = NULL;
        OK(f_ring_open(path, &mine));
        if (mine) {
            OK(f_ring_info(mine, &info));
            CHECK(info.message_count == 2);
            RC(f_ring_producer_open(mine, &p2), RING_ERR_BUSY);
            f_ring_producer_free(p2);
            f_ring_free(mine);
        }
        /* Freeing the inherited handles frees memory, never the parent's locks. */
        free_roles(r, p, c);
        child_end();
    }
    int code = wait_child(pid, 15);
    if (code != 0) fprintf(stderr, "    child: %s\n", code == -1 ? "hung" : code >= 100 ? strsignal(code - 100) : "checks failed");
    CHECK(code == 0);
    /* Nothing the child did reached the file. */
    ring_info_t after;
    OK(f_ring_info(r, &after));
    CHECK(after.producer_position == before.producer_position);
    CHECK(after.message_count == 2);
    CHECK(after.writer_closed == 0);
    /* The parent still holds both roles: a third process gets BUSY for each. */
    third_process_gets_busy(path);
    /* And the parent's handles work, with exactly its own stream. */
    char buf[64];
    size_t len = 0;
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == 8 && memcmp(buf, "parent-1", 8) == 0);
    OK(f_ring_read(c, buf, sizeof buf, &len));
    CHECK(len == 8 && memcmp(buf, "parent-2", 8) == 0);
    check_write_read_last(p, c, "parent-3");
    free_roles(r, p, c);
}

/* The child only frees what it inherited and exits: the parent's roles hold. */
static void test_child_free_keeps_parent_roles(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("fork-free", 4096, RING_OVERWRITE_OLDEST, &r, &p, &c)) return;
    pid_t pid = fork_child(10);
    if (pid == 0) {
        free_roles(r, p, c);
        child_end();
    }
    CHECK(wait_child(pid, 10) == 0);
    third_process_gets_busy(path_of("fork-free"));
    check_write_read_last(p, c, "still mine");
    free_roles(r, p, c);
}

/* fork while another thread is blocked in ring_read_timeout on a consumer: the child's calls
 * on that handle return FORKED promptly (no deadlock on a lock the blocked thread held). */
static void test_fork_while_blocked(void) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    if (!open_roles("fork-blocked", 4096, RING_REJECT_WHEN_FULL, &r, &p, &c)) return;
    blocked_read *b = start_blocked_read(c);
    pid_t pid = fork_child(5);
    if (pid == 0) {
        char buf[64];
        size_t len;
        double t0 = now();
        RC(f_ring_read_timeout(c, buf, sizeof buf, &len, 0), RING_ERR_FORKED);
        RC(f_ring_read(c, buf, sizeof buf, &len), RING_ERR_FORKED);
        RC(f_ring_write(p, "x", 1), RING_ERR_FORKED);
        ring_info_t info;
        RC(f_ring_info(r, &info), RING_ERR_FORKED);
        f_ring_consumer_free(c);
        f_ring_producer_free(p);
        f_ring_free(r);
        double took = now() - t0;
        if (took > 1.0) FAILF("child: calls took %.2f s", took);
        child_end();
    }
    int code = wait_child(pid, 8);
    if (code == -1 || code == 100 + SIGALRM) fprintf(stderr, "    child deadlocked on the inherited consumer\n");
    CHECK(code == 0);
    /* The parent's blocked reader is untouched: a message wakes it. */
    OK(f_ring_write(p, "wake", 4));
    double t0 = now();
    while (!b->done && now() - t0 < 3) pause_us(1000);
    CHECK(b->done && b->rc == RING_OK);
    if (!b->done) { fflush(NULL); _exit(1); }
    join_blocked_read(b);
    free_roles(r, p, c);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    lib_path = getenv("RINGFORMAT_LIB");
    const char *roles_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--try-roles") && i + 1 < argc) roles_path = argv[++i];
        else lib_path = argv[i];
    }
    if (!lib_path) { fprintf(stderr, "usage: test_fork LIBRARY (or set RINGFORMAT_LIB)\n"); return 2; }
    if (load_library(lib_path) != 0) return 2;
    if (roles_path) return try_roles(roles_path);
    if (make_test_dir("fork") != 0) return 2;
    test_case tests[] = {
        { "child_calls_on_inherited_handles_fail_forked", test_child_calls_fail_forked, 30 },
        { "child_free_keeps_parent_roles", test_child_free_keeps_parent_roles, 20 },
        { "fork_while_a_thread_blocks_in_read", test_fork_while_blocked, 20 },
    };
    return RUN_TESTS(tests, NULL, "fork");
}
