/* zmq_raw.c - raw libzmq PUSH/PULL over tcp://, one message per frame: the bandwidth and
 * one-way latency reference of the ZeroMQ benchmark (bench/zmq_table.py, make bench).
 *
 *   zmq_raw push ENDPOINT SIZE COUNT [RATE]   connects; COUNT frames of SIZE bytes, then an
 *                                             empty frame (the end). RATE > 0: RATE frames per
 *                                             second, each stamped with its send time
 *                                             (CLOCK_MONOTONIC ns in its first 8 bytes).
 *   zmq_raw pull ENDPOINT [latency]           binds; receives until the empty frame and prints
 *                                             one JSON line: messages, bytes, first_ns, last_ns,
 *                                             msgs_per_s and mb_per_s between the first and the
 *                                             last frame; with "latency" p50_ns/p99_ns/max_ns
 *                                             of (receive time - stamp).
 *
 * Build: cc -std=c11 -O2 -o build/zmq_raw bench/c/zmq_raw.c -lzmq
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline) {
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int fail(const char *what) {
    fprintf(stderr, "zmq_raw: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int push(void *sock, size_t size, long count, long rate) {
    if (size < 8) size = 8;
    unsigned char *buf = calloc(1, size);
    if (!buf) return 1;
    memset(buf, 0x5a, size);
    uint64_t gap = rate > 0 ? 1000000000u / (uint64_t)rate : 0, next = now_ns() + gap;
    for (long i = 0; i < count; i++) {
        if (rate > 0) {
            sleep_until(next);
            next += gap;
            uint64_t t = now_ns();
            memcpy(buf, &t, 8);
        }
        while (zmq_send(sock, buf, size, 0) < 0) {
            if (zmq_errno() != EINTR) { free(buf); return fail("zmq_send"); }
        }
    }
    free(buf);
    if (zmq_send(sock, "", 0, 0) < 0) return fail("zmq_send (end)");
    return 0;
}

static int pull(void *sock, int latency) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    long messages = 0;
    uint64_t bytes = 0, first = 0, last = 0;
    size_t cap = 1 << 16, n = 0;
    uint64_t *delays = latency ? malloc(cap * sizeof *delays) : NULL;
    for (;;) {
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            if (zmq_errno() == EINTR) continue;
            return fail("zmq_msg_recv");
        }
        uint64_t at = now_ns();
        size_t size = zmq_msg_size(&msg);
        if (size == 0) break;
        if (messages == 0) first = at;
        last = at;
        messages++;
        bytes += size;
        if (latency && size >= 8) {
            uint64_t stamp;
            memcpy(&stamp, zmq_msg_data(&msg), 8);
            if (n == cap) {
                cap *= 2;
                uint64_t *grown = realloc(delays, cap * sizeof *delays);
                if (!grown) return 1;
                delays = grown;
            }
            delays[n++] = at - stamp;
        }
    }
    zmq_msg_close(&msg);
    double seconds = (double)(last - first) / 1e9;
    double rate = messages > 1 && seconds > 0 ? (double)(messages - 1) / seconds : 0;
    double per = messages > 0 ? (double)bytes / (double)messages : 0;
    printf("{\"impl\": \"libzmq\", \"messages\": %ld, \"bytes\": %llu, \"first_ns\": %llu, \"last_ns\": %llu, "
           "\"msgs_per_s\": %.1f, \"mb_per_s\": %.3f",
           messages, (unsigned long long)bytes, (unsigned long long)first, (unsigned long long)last, rate,
           rate * per / 1e6);
    if (n > 0) {
        qsort(delays, n, sizeof *delays, cmp_u64);
        size_t p99 = (size_t)(0.99 * (double)n);
        printf(", \"p50_ns\": %llu, \"p99_ns\": %llu, \"max_ns\": %llu", (unsigned long long)delays[n / 2],
               (unsigned long long)delays[p99 < n ? p99 : n - 1], (unsigned long long)delays[n - 1]);
    }
    printf("}\n");
    free(delays);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "push") == 0 && argc < 5)) {
        fprintf(stderr, "usage: zmq_raw push ENDPOINT SIZE COUNT [RATE] | pull ENDPOINT [latency]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    int is_push = strcmp(argv[1], "push") == 0;
    void *sock = zmq_socket(ctx, is_push ? ZMQ_PUSH : ZMQ_PULL);
    int linger = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    int rc;
    if (is_push) {
        if (zmq_connect(sock, argv[2]) != 0) return fail("zmq_connect");
        rc = push(sock, (size_t)atol(argv[3]), atol(argv[4]), argc > 5 ? atol(argv[5]) : 0);
    } else {
        if (zmq_bind(sock, argv[2]) != 0) return fail("zmq_bind");
        rc = pull(sock, argc > 3 && strcmp(argv[3], "latency") == 0);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
