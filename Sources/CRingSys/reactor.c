/* reactor.c - the readiness poller of the Swift concurrency reactor (AsyncWaits.swift):
 * epoll over doorbell descriptors (SPEC.md §21), and an eventfd that wakes the poller
 * when a new wait is handed to it. sys/epoll.h and sys/eventfd.h do not import into
 * Swift's Glibc module, hence these wrappers. See ringsys.h. */
#define _GNU_SOURCE
#include "ringsys.h"

#include <errno.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <pthread.h>
#include <sys/eventfd.h>

int ringsys_poller_open(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

int ringsys_poller_add(int poller, int fd, uint64_t token, int oneshot) {
    struct epoll_event event = {.events = EPOLLIN | (oneshot ? EPOLLONESHOT : 0), .data.u64 = token};
    return epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int ringsys_poller_remove(int poller, int fd) {
    /* Linux before 2.6.9 wanted a non-NULL event even for EPOLL_CTL_DEL. */
    struct epoll_event unused = {0};
    return epoll_ctl(poller, EPOLL_CTL_DEL, fd, &unused) == 0 ? 0 : -errno;
}

int ringsys_poller_wait(int poller, uint64_t *tokens, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int n = epoll_wait(poller, events, capacity, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

int ringsys_wakeup_open(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd >= 0 ? fd : -errno;
}

void ringsys_wakeup_signal(int fd) {
    uint64_t one = 1;
    /* EAGAIN: the counter is already far from zero, the poller wakes anyway. */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

void ringsys_wakeup_drain(int fd) {
    uint64_t count;
    while (read(fd, &count, sizeof count) < 0 && errno == EINTR) {}
}

void ringsys_name_thread(const char *name) { pthread_setname_np(pthread_self(), name); }

#else /* no epoll: the async waits report ENOSYS */

int ringsys_poller_open(void) { return -ENOSYS; }
int ringsys_poller_add(int poller, int fd, uint64_t token, int oneshot) {
    (void)poller; (void)fd; (void)token; (void)oneshot; return -ENOSYS;
}
int ringsys_poller_remove(int poller, int fd) { (void)poller; (void)fd; return -ENOSYS; }
int ringsys_poller_wait(int poller, uint64_t *tokens, int capacity, int timeout_ms) {
    (void)poller; (void)tokens; (void)capacity; (void)timeout_ms; return -ENOSYS;
}
int ringsys_wakeup_open(void) { return -ENOSYS; }
void ringsys_wakeup_signal(int fd) { (void)fd; }
void ringsys_wakeup_drain(int fd) { (void)fd; }
void ringsys_name_thread(const char *name) { (void)name; }

#endif
