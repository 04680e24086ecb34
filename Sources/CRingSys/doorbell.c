/* doorbell.c - the pollable wake-up of SPEC.md §21: a file descriptor that becomes
 * readable when a futex word of the ring changes, for event loops (asyncio's add_reader,
 * epoll, select) and for the Swift reactor.
 *
 * Linux 6.7 and later: an io_uring of our own holding one IORING_OP_FUTEX_WAIT on the wait
 * word (a shared futex, as the blocking waiters' FUTEX_WAIT), linked to a timeout of one
 * slice. The writer's usual FUTEX_WAKE completes the wait, its completion makes the
 * io_uring's descriptor readable, and the writer needs to know nothing of it. Elsewhere (an
 * older kernel, io_uring refused by a seccomp filter or by kernel.io_uring_disabled): a
 * timerfd that fires after a short, growing interval - a poll, said as such by the kind.
 * See ringsys.h. */
#define _GNU_SOURCE
#include "ringsys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

/* Linux 6.7's io_uring futex operations and futex2 flags, newer than some systems' headers. */
#define BELL_OP_FUTEX_WAIT 51
#define BELL_FUTEX2_SIZE_U32 0x02
#define BELL_FUTEX_MATCH_ANY 0xFFFFFFFFull

/* user_data of our submissions: the arm's generation times 4, plus the operation. */
#define TAG_WAIT 0
#define TAG_TIMEOUT 1
#define TAG_CANCEL 2

/* The poll fallback's first and longest interval. */
#define POLL_FIRST_NS 20000LL
#define POLL_MAX_NS 1000000LL

struct ringsys_bell {
    int fd;              /* the io_uring or the timerfd */
    int kind;            /* RINGSYS_BELL_FUTEX or RINGSYS_BELL_POLL */
    uint64_t generation; /* of the last arm */
    int pending;         /* submissions whose completion we have not reaped */
    int waiting;         /* the last arm's futex wait has not completed */
    int64_t poll_ns;     /* the poll fallback's next interval */
    /* The rings, when kind is RINGSYS_BELL_FUTEX. */
    void *sq_ring, *cq_ring;
    size_t sq_ring_size, cq_ring_size;
    struct io_uring_sqe *sqes;
    size_t sqes_size;
    uint32_t *sq_head, *sq_tail, *sq_mask, *sq_array;
    uint32_t *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    struct __kernel_timespec slice; /* read by the kernel when the timeout is submitted */
};

static int uring_setup(unsigned entries, struct io_uring_params *p) {
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int uring_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}

static void unmap_rings(struct ringsys_bell *b) {
    if (b->sqes) munmap(b->sqes, b->sqes_size);
    if (b->cq_ring && b->cq_ring != b->sq_ring) munmap(b->cq_ring, b->cq_ring_size);
    if (b->sq_ring) munmap(b->sq_ring, b->sq_ring_size);
    b->sqes = NULL; b->cq_ring = NULL; b->sq_ring = NULL;
}

/* Sets b up as an io_uring bell; a negative errno if this kernel cannot. */
static int open_uring(struct ringsys_bell *b) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CLAMP;
    int fd = uring_setup(8, &p);
    if (fd < 0) return -errno;
    b->fd = fd;
    b->sq_ring_size = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    b->cq_ring_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if ((p.features & IORING_FEAT_SINGLE_MMAP) && b->cq_ring_size > b->sq_ring_size)
        b->sq_ring_size = b->cq_ring_size;
    b->sq_ring = mmap(NULL, b->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                      IORING_OFF_SQ_RING);
    if (b->sq_ring == MAP_FAILED) { b->sq_ring = NULL; goto fail; }
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        b->cq_ring = b->sq_ring;
    } else {
        b->cq_ring = mmap(NULL, b->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                          IORING_OFF_CQ_RING);
        if (b->cq_ring == MAP_FAILED) { b->cq_ring = NULL; goto fail; }
    }
    b->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    b->sqes = mmap(NULL, b->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (b->sqes == MAP_FAILED) { b->sqes = NULL; goto fail; }
    char *sq = b->sq_ring, *cq = b->cq_ring;
    b->sq_head = (uint32_t *)(sq + p.sq_off.head);
    b->sq_tail = (uint32_t *)(sq + p.sq_off.tail);
    b->sq_mask = (uint32_t *)(sq + p.sq_off.ring_mask);
    b->sq_array = (uint32_t *)(sq + p.sq_off.array);
    b->cq_head = (uint32_t *)(cq + p.cq_off.head);
    b->cq_tail = (uint32_t *)(cq + p.cq_off.tail);
    b->cq_mask = (uint32_t *)(cq + p.cq_off.ring_mask);
    b->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    b->kind = RINGSYS_BELL_FUTEX;
    return 0;
fail: {
    int err = errno;
    unmap_rings(b);
    close(fd);
    b->fd = -1;
    return -err;
}
}

/* The next free submission entry, cleared; NULL when the queue is full (it never is: we
 * submit at most three at a time and the kernel takes them at once). */
static struct io_uring_sqe *next_sqe(struct ringsys_bell *b, uint32_t *tail) {
    /* acquire: pairs with the kernel's release of sq_head as it consumes entries. */
    uint32_t head = __atomic_load_n(b->sq_head, __ATOMIC_ACQUIRE);
    if (*tail - head > *b->sq_mask) return NULL;
    uint32_t index = *tail & *b->sq_mask;
    struct io_uring_sqe *sqe = &b->sqes[index];
    memset(sqe, 0, sizeof *sqe);
    b->sq_array[index] = index;
    *tail += 1;
    return sqe;
}

/* Hands the entries up to tail to the kernel. */
static int submit(struct ringsys_bell *b, uint32_t tail, unsigned count) {
    /* release: the entries' contents before the tail the kernel loads with acquire. */
    __atomic_store_n(b->sq_tail, tail, __ATOMIC_RELEASE);
    for (;;) {
        int rc = uring_enter(b->fd, count, 0, 0);
        if (rc >= 0) { b->pending += rc; return rc == (int)count ? 0 : -EAGAIN; }
        if (errno != EINTR) return -errno;
    }
}

/* Reaps every completion there is; returns how many. */
static int reap(struct ringsys_bell *b) {
    uint32_t head = *b->cq_head;
    /* acquire: pairs with the kernel's release of cq_tail after it wrote the entries. */
    uint32_t tail = __atomic_load_n(b->cq_tail, __ATOMIC_ACQUIRE);
    int count = 0;
    while (head != tail) {
        struct io_uring_cqe *cqe = &b->cqes[head & *b->cq_mask];
        if (cqe->user_data == ((b->generation << 2) | TAG_WAIT)) b->waiting = 0;
        head += 1;
        count += 1;
    }
    /* release: the kernel may reuse the entries once it sees the new head. */
    __atomic_store_n(b->cq_head, head, __ATOMIC_RELEASE);
    b->pending -= count;
    if (b->pending < 0) b->pending = 0;
    return count;
}

static int open_poll(struct ringsys_bell *b) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return -errno;
    b->fd = fd;
    b->kind = RINGSYS_BELL_POLL;
    b->poll_ns = POLL_FIRST_NS;
    return 0;
}

/* -1 not probed, else the kind a new bell gets. */
static int probed_kind = -1;

/* Whether this kernel runs a futex wait in an io_uring: one on a local word whose value
 * differs must complete with EAGAIN at once. */
static int probe(void) {
    struct ringsys_bell b;
    memset(&b, 0, sizeof b);
    b.fd = -1;
    if (open_uring(&b) != 0) return RINGSYS_BELL_POLL;
    uint32_t word = 1, tail = *b.sq_tail;
    struct io_uring_sqe *sqe = next_sqe(&b, &tail);
    int kind = RINGSYS_BELL_POLL;
    if (sqe) {
        sqe->opcode = BELL_OP_FUTEX_WAIT;
        sqe->fd = BELL_FUTEX2_SIZE_U32;
        sqe->addr = (uint64_t)(uintptr_t)&word;
        sqe->off = 0; /* the expected value: differs from word */
        sqe->addr3 = BELL_FUTEX_MATCH_ANY;
        sqe->user_data = 7;
        __atomic_store_n(b.sq_tail, tail, __ATOMIC_RELEASE);
        int rc;
        do { rc = uring_enter(b.fd, 1, 1, IORING_ENTER_GETEVENTS); } while (rc < 0 && errno == EINTR);
        if (rc == 1) {
            uint32_t head = *b.cq_head;
            if (head != __atomic_load_n(b.cq_tail, __ATOMIC_ACQUIRE) &&
                b.cqes[head & *b.cq_mask].res == -EAGAIN)
                kind = RINGSYS_BELL_FUTEX;
        }
    }
    unmap_rings(&b);
    close(b.fd);
    return kind;
}

int ringsys_bell_open(ringsys_bell **out, int kind) {
    *out = NULL;
    if (kind == 0) {
        int probed = __atomic_load_n(&probed_kind, __ATOMIC_RELAXED);
        if (probed < 0) {
            probed = probe();
            __atomic_store_n(&probed_kind, probed, __ATOMIC_RELAXED);
        }
        kind = probed;
    }
    struct ringsys_bell *b = calloc(1, sizeof *b);
    if (!b) return -ENOMEM;
    b->fd = -1;
    int rc = kind == RINGSYS_BELL_FUTEX ? open_uring(b) : open_poll(b);
    if (rc != 0) { free(b); return rc; }
    *out = b;
    return 0;
}

int ringsys_bell_fd(const ringsys_bell *bell) { return bell->fd; }

int ringsys_bell_kind(const ringsys_bell *bell) { return bell->kind; }

int ringsys_bell_arm(ringsys_bell *b, uint32_t *word, uint32_t seen, int64_t slice_ns) {
    if (slice_ns < 1) slice_ns = 1;
    if (b->kind == RINGSYS_BELL_POLL) {
        uint64_t drained;
        while (read(b->fd, &drained, sizeof drained) == (ssize_t)sizeof drained) {}
        int64_t ns = b->poll_ns < slice_ns ? b->poll_ns : slice_ns;
        b->poll_ns = b->poll_ns * 2 > POLL_MAX_NS ? POLL_MAX_NS : b->poll_ns * 2;
        struct itimerspec t;
        memset(&t, 0, sizeof t);
        t.it_value.tv_sec = ns / 1000000000LL;
        t.it_value.tv_nsec = ns % 1000000000LL;
        return timerfd_settime(b->fd, 0, &t, NULL) == 0 ? 0 : -errno;
    }
    reap(b);
    b->generation += 1;
    b->slice.tv_sec = slice_ns / 1000000000LL;
    b->slice.tv_nsec = slice_ns % 1000000000LL;
    uint32_t tail = *b->sq_tail;
    struct io_uring_sqe *wait = next_sqe(b, &tail);
    struct io_uring_sqe *timeout = wait ? next_sqe(b, &tail) : NULL;
    if (!timeout) return -EBUSY;
    /* A shared futex (no FUTEX2_PRIVATE): the word is in a MAP_SHARED mapping and the
     * waker another process, as for the blocking waiters' FUTEX_WAIT (SPEC.md §10). */
    wait->opcode = BELL_OP_FUTEX_WAIT;
    wait->fd = BELL_FUTEX2_SIZE_U32;
    wait->addr = (uint64_t)(uintptr_t)word;
    wait->off = seen;
    wait->addr3 = BELL_FUTEX_MATCH_ANY;
    wait->flags = IOSQE_IO_LINK;
    wait->user_data = (b->generation << 2) | TAG_WAIT;
    timeout->opcode = IORING_OP_LINK_TIMEOUT;
    timeout->addr = (uint64_t)(uintptr_t)&b->slice;
    timeout->len = 1;
    timeout->user_data = (b->generation << 2) | TAG_TIMEOUT;
    b->waiting = 1;
    int rc = submit(b, tail, 2);
    if (rc != 0) b->waiting = 0;
    return rc;
}

int ringsys_bell_disarm(ringsys_bell *b) {
    if (b->kind == RINGSYS_BELL_POLL) {
        uint64_t drained;
        while (read(b->fd, &drained, sizeof drained) == (ssize_t)sizeof drained) {}
        struct itimerspec off;
        memset(&off, 0, sizeof off);
        timerfd_settime(b->fd, 0, &off, NULL);
        return 0;
    }
    reap(b);
    if (!b->waiting) return 0;
    /* The wait has not completed (the waiter gives up first): cancel it, so that waits do not
     * pile up; its completions, and the cancel's, are reaped by the next arm or disarm. */
    b->waiting = 0;
    uint32_t tail = *b->sq_tail;
    struct io_uring_sqe *cancel = next_sqe(b, &tail);
    if (!cancel) return -EBUSY;
    cancel->opcode = IORING_OP_ASYNC_CANCEL;
    cancel->addr = (b->generation << 2) | TAG_WAIT;
    cancel->user_data = (b->generation << 2) | TAG_CANCEL;
    return submit(b, tail, 1);
}

void ringsys_bell_reset(ringsys_bell *b) { b->poll_ns = POLL_FIRST_NS; }

void ringsys_bell_close(ringsys_bell *b) {
    if (!b) return;
    /* Closing the io_uring cancels what is still pending in it. */
    if (b->kind == RINGSYS_BELL_FUTEX) unmap_rings(b);
    if (b->fd >= 0) close(b->fd);
    free(b);
}

#else /* not Linux: the poll kind cannot be built without timerfd either */

int ringsys_bell_open(ringsys_bell **out, int kind) { (void)kind; *out = NULL; return -ENOSYS; }
int ringsys_bell_fd(const ringsys_bell *bell) { (void)bell; return -1; }
int ringsys_bell_kind(const ringsys_bell *bell) { (void)bell; return 0; }
int ringsys_bell_arm(ringsys_bell *b, uint32_t *word, uint32_t seen, int64_t slice_ns) {
    (void)b; (void)word; (void)seen; (void)slice_ns; return -ENOSYS;
}
int ringsys_bell_disarm(ringsys_bell *b) { (void)b; return -ENOSYS; }
void ringsys_bell_reset(ringsys_bell *b) { (void)b; }
void ringsys_bell_close(ringsys_bell *b) { (void)b; }

#endif
