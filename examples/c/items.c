/*
 * items.c - a typed ring without a file, shared with a forked child (format 1.1, SPEC.md
 * §19, §20): the parent makes an anonymous ring of float64 items (memfd: no path, nothing
 * left behind), forks, and reads while the child, which opens the ring again from the
 * inherited descriptor, writes COUNT values in batches and ends the stream. The parent reads
 * the values in place (ring_items_readable: one span, the ring is double-mapped) and checks
 * each.
 *
 *   items [COUNT]
 *
 *   cc -o items items.c $(pkg-config --cflags --libs ringformat)
 *
 * README.md quotes the parts between the example-begin and example-end lines (checked by
 * scripts/check_readme_examples.py); test-examples builds and runs it.
 */
#define _POSIX_C_SOURCE 200809L
#include <ringformat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_NS (10LL * 1000 * 1000 * 1000) /* 10 s: a peer that stops is an error, not a hang */

static int fail(const char *who, const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s (%s)\n", who, what, ring_strerror(rc), ring_last_error_message());
    return 1;
}

/* example-begin child */
/* In the child: the parent's handles belong to the parent (RING_ERR_FORKED here); open the
 * ring again from the descriptor the child inherited. */
static int produce(int fd, uint64_t count) {
    ring_t *ring;
    ring_item_producer_t *producer;
    double batch[256];
    int rc;
    if ((rc = ring_open_fd(fd, 0, &ring)) != RING_OK) return fail("child", "ring_open_fd", rc);
    if ((rc = ring_item_producer_open(ring, &producer)) != RING_OK) return fail("child", "ring_item_producer_open", rc);
    for (uint64_t i = 0; i < count;) {
        size_t n = 0;
        for (; n < 256 && i < count; n++, i++) batch[n] = (double)i * 0.5;
        if ((rc = ring_write_items(producer, batch, n, TIMEOUT_NS)) != RING_OK) return fail("child", "ring_write_items", rc);
    }
    ring_item_producer_close_writer(producer);
    ring_item_producer_free(producer);
    ring_free(ring);
    return 0;
}
/* example-end child */

int main(int argc, char **argv) {
    uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    /* example-begin parent */
    ring_t *ring;
    ring_item_consumer_t *consumer;
    int rc, fd, doubled;
    if ((rc = ring_create_items("items-example", "<f8", 0, 4096, RING_REJECT_WHEN_FULL, 0600,
                                RING_CREATE_ANONYMOUS, 0, &ring)) != RING_OK)
        return fail("parent", "ring_create_items", rc);
    if ((rc = ring_item_consumer_open(ring, &consumer)) != RING_OK) return fail("parent", "ring_item_consumer_open", rc);
    ring_fd(ring, &fd);
    ring_is_double_mapped(ring, &doubled);
    pid_t child = fork();
    if (child == 0) _exit(produce(fd, count));
    uint64_t expected = 0;
    ring_span_t spans[2];
    size_t n;
    while ((rc = ring_items_readable(consumer, spans, &n, TIMEOUT_NS)) == RING_OK) {
        const double *values = spans[0].data;   /* all n values: the ring is double-mapped */
        for (size_t k = 0; k < n; k++, expected++) {
            if (!doubled || values[k] != (double)expected * 0.5) {
                fprintf(stderr, "parent: value %llu is wrong\n", (unsigned long long)expected);
                return 1;
            }
        }
        if ((rc = ring_items_consume(consumer, n)) != RING_OK) return fail("parent", "ring_items_consume", rc);
    }
    if (rc != RING_ERR_END_OF_STREAM) return fail("parent", "ring_items_readable", rc);
    int status;
    waitpid(child, &status, 0);
    printf("items: %llu float64 values from a forked child through a ring without a file, read in place\n",
           (unsigned long long)expected);
    ring_item_consumer_free(consumer);
    ring_free(ring);   /* the last descriptor and mapping: the memory is gone */
    /* example-end parent */
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && expected == count ? 0 : 1;
}
