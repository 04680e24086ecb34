/*
 * epoll.c - a consumer in an epoll loop, woken by the ring's doorbell (SPEC.md §21).
 *
 * The parent creates a small ring and forks; the child opens the same file and writes COUNT
 * numbered messages in bursts with pauses, then ends the stream. The parent's consumer reads
 * whatever is there without waiting; when the ring is empty it arms its doorbell and waits in
 * epoll_wait - beside any other descriptor an event loop watches - until the descriptor is
 * readable, disarms it and reads again. It checks every message and stops at the end of the
 * stream.
 *
 *   epoll [RING_PATH] [COUNT]
 *
 * README.md quotes the part between the example-begin and example-end loop lines; test-examples
 * builds and runs it.
 */
#define _POSIX_C_SOURCE 200809L
#include <ringformat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, int rc) {
    fprintf(stderr, "epoll: %s: %s (%s)\n", what, ring_strerror(rc), ring_last_error_message());
    return 1;
}

/* The child: COUNT messages "message N", a 1 ms pause after every 100, then the end of stream. */
static int produce(const char *path, uint32_t count) {
    ring_t *ring = NULL;
    ring_producer_t *producer = NULL;
    int rc = ring_open(path, &ring);
    if (rc == RING_OK) rc = ring_producer_open(ring, &producer);
    if (rc != RING_OK) return fail("producer open", rc);
    char msg[32];
    for (uint32_t i = 0; i < count; i++) {
        int len = snprintf(msg, sizeof msg, "message %u", i);
        rc = ring_write_timeout(producer, msg, (size_t)len, RING_WAIT_FOREVER);
        if (rc != RING_OK) return fail("write", rc);
        if (i % 100 == 99) nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
    ring_producer_close_writer(producer);
    ring_producer_free(producer);
    ring_free(ring);
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "epoll.ring";
    uint32_t count = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 5000;
    ring_t *ring = NULL;
    ring_consumer_t *consumer = NULL;
    int rc = ring_create(path, 4096, RING_REJECT_WHEN_FULL, 0600, RING_CREATE_REPLACE, &ring);
    if (rc == RING_OK) rc = ring_consumer_open(ring, &consumer);
    if (rc != RING_OK) return fail("create", rc);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) _exit(produce(path, count));

    /* example-begin loop */
    int bell, epfd = epoll_create1(0);
    ring_consumer_doorbell(consumer, &bell, NULL);       /* owned by the consumer */
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = bell };
    epoll_ctl(epfd, EPOLL_CTL_ADD, bell, &ev);           /* beside the loop's other descriptors */
    uint32_t received = 0;
    char buf[64], want[32];
    for (;;) {
        size_t len;
        rc = ring_read_timeout(consumer, buf, sizeof buf, &len, 0);     /* never waits */
        if (rc == RING_OK) {
            int n = snprintf(want, sizeof want, "message %u", received++);
            if (len != (size_t)n || memcmp(buf, want, len) != 0) return fail("a message out of order", RING_OK);
            continue;
        }
        if (rc == RING_ERR_END_OF_STREAM) break;
        if (rc != RING_ERR_EMPTY) return fail("read", rc);
        int armed;
        if ((rc = ring_consumer_arm(consumer, &armed)) != RING_OK) return fail("arm", rc);
        if (!armed) continue;                            /* a message came meanwhile */
        struct epoll_event out;
        while (epoll_wait(epfd, &out, 1, -1) < 0 && errno == EINTR) {}
        ring_consumer_disarm(consumer);                  /* at once: the producer stops signalling */
    }
    /* example-end loop */
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || received != count) {
        fprintf(stderr, "epoll: received %u of %u messages, producer status %d\n", received, count, status);
        return 1;
    }
    printf("epoll: %u messages from another process, each checked, woken by the doorbell\n", received);
    ring_consumer_free(consumer);
    ring_free(ring);
    close(epfd);
    return 0;
}
