/*
 * zmq.c - a ring's put/get over ZeroMQ from C (ringformat_zmq.h, SPEC.md §23), two
 * processes: a producer that sends COUNT messages, 100 packed per frame, then ends the
 * stream, and a consumer that takes them in batches until the end of the stream and checks
 * the order. SPSC: the producer binds, the consumer connects, whichever starts first.
 *
 *   cc zmq.c -lringformat_zmq -o zmq
 *   ./zmq produce ENDPOINT COUNT
 *   ./zmq consume ENDPOINT COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringformat_zmq.h"

/* Exits with the library's words if rc is not RING_OK. */
static void check(int rc, const char *what) {
    if (rc == RING_OK) return;
    fprintf(stderr, "zmq: %s: error %d: %s\n", what, rc, ring_zmq_last_error_message());
    exit(1);
}

static int produce(const char *endpoint, int count) {
    // example-begin zmq-producer
    ring_zmq_producer_t *producer = NULL;
    check(ring_zmq_producer_open(endpoint, RING_ZMQ_SPSC, NULL, &producer), "open");  /* SPSC: binds */
    char text[100][32];
    const void *messages[100];
    size_t sizes[100];
    for (int i = 0; i < count;) {
        size_t n = 0;
        for (; n < 100 && i < count; n++, i++) {
            sizes[n] = (size_t)snprintf(text[n], sizeof text[n], "message %d", i);
            messages[n] = text[n];
        }
        size_t sent = 0;   /* 100 messages per frame, waiting up to 30 s for room */
        check(ring_zmq_put_packed(producer, messages, sizes, n, 30000000000LL, &sent), "put_packed");
    }
    check(ring_zmq_producer_close_writer(producer, 1, 30000000000LL), "close_writer");  /* END */
    ring_zmq_producer_free(producer);   /* closes, waiting for queued frames (linger) */
    // example-end zmq-producer
    printf("zmq producer: sent %d messages\n", count);
    return 0;
}

static int consume(const char *endpoint, int count) {
    // example-begin zmq-consumer
    ring_zmq_consumer_t *consumer = NULL;
    check(ring_zmq_consumer_open(endpoint, RING_ZMQ_SPSC, NULL, &consumer), "open");  /* connects */
    char buffer[65536], expected[32];
    size_t sizes[256], n = 0;
    int received = 0;
    for (;;) {
        int rc = ring_zmq_get_many(consumer, buffer, sizeof buffer, sizes, 256, &n, 30000000000LL);
        if (rc == RING_ERR_END_OF_STREAM) break;               /* the producer's END, all taken */
        check(rc, "get_many");                                 /* EMPTY if nothing came in 30 s */
        const char *m = buffer;
        for (size_t k = 0; k < n; m += sizes[k], k++, received++) {
            size_t len = (size_t)snprintf(expected, sizeof expected, "message %d", received);
            if (sizes[k] != len || memcmp(m, expected, len) != 0) { fprintf(stderr, "zmq: out of order\n"); return 1; }
        }
    }
    ring_zmq_consumer_free(consumer);
    // example-end zmq-consumer
    printf("zmq consumer: received %d messages\n", received);
    return received == count ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "produce") && strcmp(argv[1], "consume"))) {
        fprintf(stderr, "usage: zmq produce|consume ENDPOINT COUNT\n");
        return 2;
    }
    int count = atoi(argv[3]);
    return strcmp(argv[1], "produce") == 0 ? produce(argv[2], count) : consume(argv[2], count);
}
