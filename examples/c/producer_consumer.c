/*
 * producer_consumer.c - a producer and a consumer of one ring file, in two processes.
 *
 * The parent creates a small ring (4 KiB, reject-when-full) and forks; the child opens the
 * same file and consumes while the parent produces COUNT messages of varying sizes, waiting
 * for room whenever the ring is full, then ends the stream. The child checks every message it
 * reads (its number, its length, every byte) and stops at the end of the stream.
 *
 *   producer_consumer [RING_PATH] [COUNT]
 *
 * Build it against an installed RingFormat (examples/c/CMakeLists.txt does the same with
 * find_package(ringformat)):
 *   cc -o producer_consumer producer_consumer.c $(pkg-config --cflags --libs ringformat)
 *   cc -static -o producer_consumer producer_consumer.c $(pkg-config --static --cflags --libs ringformat)
 *
 * README.md quotes the parts between the example-begin and example-end lines (checked by
 * scripts/check_readme_examples.py); test-c and test-examples build and run it.
 */
#define _POSIX_C_SOURCE 200809L
#include <ringformat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_NS (10LL * 1000 * 1000 * 1000) /* 10 s: a peer that stops is an error, not a hang */
#define MAX_LEN 300

/* Message i: its number (4 bytes), then bytes (i + j) & 0xff, 4 to MAX_LEN bytes in all. */
static size_t make_message(uint32_t i, unsigned char *buf) {
    size_t len = 4 + (i * 7919u) % (MAX_LEN - 3);
    memcpy(buf, &i, 4);
    for (size_t j = 4; j < len; j++) buf[j] = (unsigned char)(i + j);
    return len;
}

static int fail(const char *who, const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s (%s)\n", who, what, ring_strerror(rc), ring_last_error_message());
    return 1;
}

/* example-begin consume */
static int consume(const char *path, uint32_t count) {
    ring_t *ring;
    ring_consumer_t *consumer;
    unsigned char got[MAX_LEN], want[MAX_LEN];
    size_t len;
    int rc;
    if ((rc = ring_open(path, &ring)) != RING_OK) return fail("consumer", "ring_open", rc);
    if ((rc = ring_consumer_open(ring, &consumer)) != RING_OK) return fail("consumer", "ring_consumer_open", rc);
    uint32_t n = 0;
    while ((rc = ring_read_timeout(consumer, got, sizeof got, &len, TIMEOUT_NS)) == RING_OK) {
        size_t want_len = make_message(n, want);
        if (len != want_len || memcmp(got, want, len) != 0) {
            fprintf(stderr, "consumer: message %u is wrong (%zu bytes, expected %zu)\n", n, len, want_len);
            return 1;
        }
        n++;
    }
    if (rc != RING_ERR_END_OF_STREAM) return fail("consumer", "ring_read_timeout", rc);
    ring_consumer_free(consumer);
    ring_free(ring);
    if (n != count) {
        fprintf(stderr, "consumer: %u messages before the end of the stream, expected %u\n", n, count);
        return 1;
    }
    return 0;
}
/* example-end consume */

/* example-begin produce */
static int produce(ring_t *ring, uint32_t count) {
    ring_producer_t *producer;
    unsigned char msg[MAX_LEN];
    int rc;
    if ((rc = ring_producer_open(ring, &producer)) != RING_OK) return fail("producer", "ring_producer_open", rc);
    for (uint32_t i = 0; i < count; i++) {
        size_t len = make_message(i, msg);
        if ((rc = ring_write_timeout(producer, msg, len, TIMEOUT_NS)) != RING_OK)
            return fail("producer", "ring_write_timeout", rc);
    }
    if ((rc = ring_producer_close_writer(producer)) != RING_OK) return fail("producer", "ring_producer_close_writer", rc);
    ring_producer_free(producer);
    return 0;
}
/* example-end produce */

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/producer_consumer.ring";
    uint32_t count = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
    /* example-begin create */
    ring_t *ring;
    int rc = ring_create(path, 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &ring);
    if (rc != RING_OK) return fail("producer", "ring_create", rc);

    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) _exit(consume(path, count)); /* the child opens the file anew */

    int failed = produce(ring, count);
    /* example-end create */
    ring_free(ring);
    int status;
    if (waitpid(child, &status, 0) < 0) { perror("waitpid"); return 1; }
    unlink(path);
    if (failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "producer_consumer: failed\n");
        return 1;
    }
    printf("producer_consumer: %u messages through a 4096-byte ring, each checked by the consumer process\n", count);
    return 0;
}
