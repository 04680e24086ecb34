/* ringsys.c - see include/ringsys.h. */
#define _GNU_SOURCE
#include "ringsys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

int ringsys_has_futex(void) {
#if defined(__linux__)
    return 1;
#else
    return 0;
#endif
}

int ringsys_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
#if defined(__linux__)
    struct timespec ts;
    struct timespec *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* FUTEX_WAIT, not FUTEX_WAIT_PRIVATE: the word lives in a MAP_SHARED file
     * mapping and the waker may be another process. */
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
    return rc == 0 ? 0 : -errno;
#else
    (void)word; (void)expected; (void)timeout_ns;
    return -ENOSYS;
#endif
}

int ringsys_futex_wake_all(uint32_t *word) {
#if defined(__linux__)
    long rc = syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    return rc >= 0 ? 0 : -errno;
#else
    (void)word;
    return -ENOSYS;
#endif
}

static int set_lock(int fd, int64_t offset, int64_t length, short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)offset;
    fl.l_len = (off_t)length;
#if defined(F_OFD_SETLK)
    int cmd = F_OFD_SETLK; /* l_pid must be 0 for OFD locks: memset did it. */
#else
    int cmd = F_SETLK;
#endif
    for (;;) {
        if (fcntl(fd, cmd, &fl) == 0) return 0;
        if (errno == EINTR) continue;
        /* POSIX allows EACCES or EAGAIN for "held by someone else". */
        return errno == EACCES ? -EAGAIN : -errno;
    }
}

int ringsys_lock_range(int fd, int64_t offset, int64_t length) {
    return set_lock(fd, offset, length, F_WRLCK);
}

int ringsys_unlock_range(int fd, int64_t offset, int64_t length) {
    return set_lock(fd, offset, length, F_UNLCK);
}

int ringsys_reserve(int fd, int64_t length) {
#if defined(__linux__)
    int rc;
    do { rc = posix_fallocate(fd, 0, (off_t)length); } while (rc == EINTR);
    if (rc == EINVAL || rc == EOPNOTSUPP) return -EOPNOTSUPP;
    return -rc;
#else
    (void)fd; (void)length;
    return -EOPNOTSUPP;
#endif
}

int ringsys_open_tmpfile(const char *dir, uint32_t mode) {
#if defined(__linux__) && defined(O_TMPFILE)
    int fd;
    do { fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode); } while (fd < 0 && errno == EINTR);
    if (fd >= 0) return fd;
    /* Kernels or file systems without O_TMPFILE answer one of these. */
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) return -EOPNOTSUPP;
    return -errno;
#else
    (void)dir; (void)mode;
    return -EOPNOTSUPP;
#endif
}

int ringsys_link_tmpfile(int fd, const char *path) {
#if defined(__linux__)
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) return 0;
    return -errno;
#else
    (void)fd; (void)path;
    return -EOPNOTSUPP;
#endif
}

/* ------------------------------------------------------------------------ */
/* Streaming copy                                                           */

#if defined(__x86_64__)
#include <emmintrin.h>

void ringsys_copy_streaming(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    size_t head = (size_t)(-(uintptr_t)d & 15);
    if (head > n) head = n;
    memcpy(d, s, head);
    d += head; s += head; n -= head;
    for (; n >= 64; d += 64, s += 64, n -= 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    memcpy(d, s, n);
    /* Non-temporal stores are not ordered by x86's usual rules: fence them before
     * the record header and the position store that publish them. */
    _mm_sfence();
}
#else
void ringsys_copy_streaming(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
#endif

static _Thread_local char last_error_buffer[256];
/* Points at last_error_buffer or at static text: ringsys_set_last_error_static stores a
 * pointer only, so the frequent outcomes (EMPTY, FULL) cost two thread-local stores. */
static _Thread_local const char *last_error_text;
static _Thread_local int last_error_errno;

void ringsys_set_last_error(int err, const char *message) {
    last_error_errno = err;
    if (message == NULL) message = "";
    snprintf(last_error_buffer, sizeof last_error_buffer, "%s", message);
    last_error_text = last_error_buffer;
}

void ringsys_set_last_error_static(int err, const char *message) {
    last_error_errno = err;
    last_error_text = message;
}

const char *ringsys_last_error_message(void) { return last_error_text ? last_error_text : ""; }

int ringsys_last_errno(void) { return last_error_errno; }

/* ------------------------------------------------------------------------ */
/* SIGBUS guard                                                             */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define GUARD_SLOTS 4096

typedef struct {
    _Atomic(uintptr_t) base;   /* 0: free slot */
    _Atomic(size_t) length;
    _Atomic(int32_t *) faulted;
} guard_slot;

static guard_slot guard_table[GUARD_SLOTS];
static struct sigaction previous_sigbus;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static long guard_page_size = 4096;

static void sigbus_handler(int sig, siginfo_t *info, void *context) {
    uintptr_t addr = (uintptr_t)info->si_addr;
    for (int i = 0; i < GUARD_SLOTS; i++) {
        uintptr_t base = atomic_load_explicit(&guard_table[i].base, memory_order_acquire);
        if (base <= 1 || addr < base) continue; /* 0: free, 1: being filled in */
        size_t length = atomic_load_explicit(&guard_table[i].length, memory_order_relaxed);
        if (addr - base >= length) continue;
        /* Ours: the file shrank under the mapping. Put a private zero page in its place. */
        uintptr_t page = addr & ~((uintptr_t)guard_page_size - 1);
        void *p = mmap((void *)page, (size_t)guard_page_size, PROT_READ | PROT_WRITE,
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int32_t *flag = atomic_load_explicit(&guard_table[i].faulted, memory_order_relaxed);
        if (flag) __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
        if (p != MAP_FAILED) return; /* the access is retried and now succeeds */
        break;
    }
    /* Not ours (or remapping failed): behave as the previous handler would. */
    if (previous_sigbus.sa_flags & SA_SIGINFO) {
        previous_sigbus.sa_sigaction(sig, info, context);
    } else if (previous_sigbus.sa_handler == SIG_IGN) {
        return;
    } else if (previous_sigbus.sa_handler == SIG_DFL) {
        signal(SIGBUS, SIG_DFL); /* returning re-executes the access, which now kills the process */
    } else {
        previous_sigbus.sa_handler(sig);
    }
}

static void install_sigbus_handler(void) {
    guard_page_size = sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigbus_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous_sigbus);
}

int ringsys_guard_mapping(void *base, size_t length, int32_t *faulted) {
    pthread_once(&guard_once, install_sigbus_handler);
    for (int i = 0; i < GUARD_SLOTS; i++) {
        uintptr_t expected = 0;
        /* Claim a free slot with a placeholder so no one else takes it, then fill it in. */
        if (atomic_compare_exchange_strong(&guard_table[i].base, &expected, (uintptr_t)1)) {
            atomic_store_explicit(&guard_table[i].length, length, memory_order_relaxed);
            atomic_store_explicit(&guard_table[i].faulted, faulted, memory_order_relaxed);
            /* release: the handler's acquire load of base sees length and faulted. */
            atomic_store_explicit(&guard_table[i].base, (uintptr_t)base, memory_order_release);
            return i;
        }
    }
    return -1;
}

void ringsys_unguard_mapping(int slot) {
    if (slot < 0 || slot >= GUARD_SLOTS) return;
    atomic_store_explicit(&guard_table[slot].base, (uintptr_t)1, memory_order_relaxed);
    atomic_store_explicit(&guard_table[slot].length, (size_t)0, memory_order_relaxed);
    atomic_store_explicit(&guard_table[slot].faulted, (int32_t *)NULL, memory_order_relaxed);
    atomic_store_explicit(&guard_table[slot].base, (uintptr_t)0, memory_order_release);
}
