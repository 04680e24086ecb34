/* ringsys.c - see include/ringsys.h. */
#define _GNU_SOURCE
#include "ringsys.h"

#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
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

/* ------------------------------------------------------------------------ */
/* Fork generation                                                          */

#include <pthread.h>
#include <sys/stat.h>

uint32_t ringsys_fork_generation_value;

static void lock_table_after_fork(void);

static void after_fork_in_child(void) {
    __atomic_fetch_add(&ringsys_fork_generation_value, 1, __ATOMIC_RELAXED);
    lock_table_after_fork();
}

__attribute__((constructor)) static void register_fork_handler(void) {
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* ------------------------------------------------------------------------ */
/* Role locks (SPEC.md §11)                                                 */

#if defined(F_OFD_SETLK)
static int classic_locks = 0;
#else
static int classic_locks = 1;
#endif

void ringsys_use_classic_locks(int on) {
#if defined(F_OFD_SETLK)
    __atomic_store_n(&classic_locks, on != 0, __ATOMIC_RELAXED);
#else
    (void)on;
#endif
}

int ringsys_classic_locks(void) { return __atomic_load_n(&classic_locks, __ATOMIC_RELAXED); }

/* ------------------------------------------------------------------------ */
/* Handle mutex (see ringsys.h)                                             */

void ringsys_mutex_lock_slow(uint32_t *word) {
    /* Mark the word contended (2) and sleep until an exchange finds it free.
     * acquire: pairs with the release exchange in ringsys_mutex_unlock. */
    while (__atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE) != 0) {
#if defined(__linux__)
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
#else
        sched_yield();
#endif
    }
}

void ringsys_mutex_wake(uint32_t *word) {
#if defined(__linux__)
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
    (void)word;
#endif
}

static int fcntl_lock(int fd, int cmd, int64_t offset, int64_t length, short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl); /* l_pid must be 0 for OFD locks */
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)offset;
    fl.l_len = (off_t)length;
    for (;;) {
        if (fcntl(fd, cmd, &fl) == 0) return 0;
        if (errno == EINTR) continue;
        /* POSIX allows EACCES or EAGAIN for "held by someone else". */
        return errno == EACCES ? -EAGAIN : -errno;
    }
}

/* Classic POSIX locks belong to the process, not to a descriptor: two opens of one file
 * in one process would both get the lock, and closing ANY descriptor of the file drops
 * every lock the process has on it. This table (SPEC.md §11.2) keeps, per inode, the
 * lock bytes this process holds and the descriptors whose close must wait until the
 * last of them is released. Unused with OFD locks. */
/* Room for every lock byte of one ring: two roles, the durable-name lock and 496 reader slots. */
#define HELD_MAX 512
typedef struct {
    dev_t dev;
    ino_t ino;
    int held;                 /* entries used in offsets */
    int64_t offsets[HELD_MAX];
    int deferred;             /* entries used in fds */
    int *fds;
} inode_locks;

static pthread_mutex_t lock_table_mutex = PTHREAD_MUTEX_INITIALIZER;
static inode_locks *lock_table;
static int lock_table_len;

static void lock_table_after_fork(void) {
    /* The child holds no classic lock of the parent; start with an empty table (the old
     * one is leaked: another thread may have held its mutex at the fork). */
    pthread_mutex_init(&lock_table_mutex, NULL);
    lock_table = NULL;
    lock_table_len = 0;
}

/* With lock_table_mutex held: the entry of fd's inode, made if `create`. */
static inode_locks *inode_entry(int fd, int create) {
    struct stat st;
    if (fstat(fd, &st) != 0) return NULL;
    for (int i = 0; i < lock_table_len; i++) {
        if (lock_table[i].dev == st.st_dev && lock_table[i].ino == st.st_ino) return &lock_table[i];
    }
    if (!create) return NULL;
    inode_locks *grown = realloc(lock_table, sizeof *grown * (size_t)(lock_table_len + 1));
    if (!grown) return NULL;
    lock_table = grown;
    inode_locks *e = &lock_table[lock_table_len++];
    memset(e, 0, sizeof *e);
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    return e;
}

/* With lock_table_mutex held: forgets an entry that holds nothing, closing its deferred fds. */
static void drop_if_unused(inode_locks *e) {
    if (e->held > 0) return;
    for (int i = 0; i < e->deferred; i++) close(e->fds[i]);
    free(e->fds);
    *e = lock_table[--lock_table_len];
}

static int classic_lock(int fd, int64_t offset, int64_t length) {
    pthread_mutex_lock(&lock_table_mutex); /* unlocked at the end of this function */
    int rc;
    inode_locks *e = inode_entry(fd, 1);
    if (!e) { rc = -ENOMEM; goto out; }
    for (int i = 0; i < e->held; i++) {
        if (e->offsets[i] == offset) { rc = -EAGAIN; goto out; } /* held through another open here */
    }
    if (e->held == HELD_MAX) { rc = -ENOLCK; goto out; }
    rc = fcntl_lock(fd, F_SETLK, offset, length, F_WRLCK);
    if (rc == 0) e->offsets[e->held++] = offset;
out:
    if (e) drop_if_unused(e);
    pthread_mutex_unlock(&lock_table_mutex);
    return rc;
}

static int classic_unlock(int fd, int64_t offset, int64_t length) {
    pthread_mutex_lock(&lock_table_mutex); /* unlocked at the end of this function */
    int rc = fcntl_lock(fd, F_SETLK, offset, length, F_UNLCK);
    inode_locks *e = inode_entry(fd, 0);
    if (e) {
        for (int i = 0; i < e->held; i++) {
            if (e->offsets[i] == offset) { e->offsets[i] = e->offsets[--e->held]; break; }
        }
        drop_if_unused(e);
    }
    pthread_mutex_unlock(&lock_table_mutex);
    return rc;
}

int ringsys_lock_holder(int fd, int64_t offset, int64_t length, int classic) {
    if (classic) {
        /* F_GETLK never reports this process's own locks: the table knows them. */
        int mine = 0;
        pthread_mutex_lock(&lock_table_mutex); /* unlocked below */
        inode_locks *e = inode_entry(fd, 0);
        for (int i = 0; e && i < e->held; i++) {
            if (e->offsets[i] >= offset && e->offsets[i] < offset + length) mine = 1;
        }
        pthread_mutex_unlock(&lock_table_mutex);
        if (mine) return 2;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK; /* asks for any lock that would conflict with a write lock */
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)offset;
    fl.l_len = (off_t)length;
#if defined(F_OFD_GETLK)
    int cmd = classic ? F_GETLK : F_OFD_GETLK;
#else
    (void)classic;
    int cmd = F_GETLK;
#endif
    if (fcntl(fd, cmd, &fl) != 0) return -errno;
    return fl.l_type == F_UNLCK ? 0 : fl.l_type == F_RDLCK ? 1 : 2;
}

/* Start time of process pid in clock ticks since boot (/proc/PID/stat field 22), -1 if it
 * cannot be read, or -2 if the process has ended and is a zombie not yet reaped (state Z or X,
 * field 3): it holds nothing and will never run again (SPEC.md §11.4, §22.1). */
static long long process_start_time(int pid) {
#if defined(__linux__)
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) return -2;
    /* Fields 3.. follow ") "; the start time is field 22. */
    for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    return p ? atoll(p + 1) : -1;
#else
    (void)pid;
    return -1;
#endif
}

uint64_t ringsys_process_token(void) {
    int pid = (int)getpid();
    long long start = process_start_time(pid);
    return ((uint64_t)(uint32_t)pid << 32) | (uint32_t)(start < 0 ? 0 : start);
}

int ringsys_process_alive(uint64_t token) {
    int pid = (int)(token >> 32);
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
    long long start = process_start_time(pid);
    /* A zombie has ended: its kill -9 left only the entry its parent has yet to reap. */
    if (start == -2) return 0;
    /* A process we cannot inspect (hidepid, another system) counts as alive. */
    if (start < 0) return 1;
    return (uint32_t)start == (uint32_t)token;
}

int ringsys_lock_range(int fd, int64_t offset, int64_t length, int classic) {
#if defined(F_OFD_SETLK)
    if (!classic) return fcntl_lock(fd, F_OFD_SETLK, offset, length, F_WRLCK);
#else
    (void)classic;
#endif
    return classic_lock(fd, offset, length);
}

int ringsys_unlock_range(int fd, int64_t offset, int64_t length, int classic) {
#if defined(F_OFD_SETLK)
    if (!classic) return fcntl_lock(fd, F_OFD_SETLK, offset, length, F_UNLCK);
#else
    (void)classic;
#endif
    return classic_unlock(fd, offset, length);
}

void ringsys_close(int fd) {
    /* Any process may hold classic locks (tests switch them on for some files only). */
    if (__atomic_load_n(&lock_table_len, __ATOMIC_RELAXED) > 0) {
        pthread_mutex_lock(&lock_table_mutex); /* unlocked below, on both paths */
        inode_locks *e = inode_entry(fd, 0);
        if (e && e->held > 0) {
            int *grown = realloc(e->fds, sizeof *grown * (size_t)(e->deferred + 1));
            if (grown) {
                e->fds = grown;
                e->fds[e->deferred++] = fd;
                pthread_mutex_unlock(&lock_table_mutex);
                return;
            }
        }
        pthread_mutex_unlock(&lock_table_mutex);
    }
    close(fd); /* Linux closes the descriptor even when close reports EINTR: never retry */
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

/* The guarded mappings: chunks of slots in a list that only grows, so the handler reads
 * it without locks or allocation and no number of open rings leaves one unguarded. */
#define GUARD_CHUNK_SLOTS 1024

typedef struct {
    _Atomic(uintptr_t) base;   /* 0: free slot, 1: being filled in or emptied */
    _Atomic(size_t) length;
    _Atomic(int32_t *) faulted;
} guard_slot;

typedef struct guard_chunk {
    guard_slot slots[GUARD_CHUNK_SLOTS];
    _Atomic(struct guard_chunk *) next;
} guard_chunk;

static guard_chunk first_chunk;
static struct sigaction previous_sigbus;
static pthread_mutex_t install_mutex = PTHREAD_MUTEX_INITIALIZER;
static long guard_page_size = 4096;
/* Set while this thread runs the previous handler: a SIGBUS that comes back meanwhile
 * (a handler that restores its predecessor, ours, and raises again) ends in the default
 * action instead of going round forever. Initial-exec: no allocation in the handler. */
static __thread int chaining __attribute__((tls_model("initial-exec")));

/* Runs the handler that was installed before ours, as the kernel would have run it. */
static void chain_to_previous(int sig, siginfo_t *info, void *context) {
    /* A fault raised by the access itself (si_code > 0), not a signal someone sent. */
    int synchronous = info != NULL && info->si_code > 0;
    if (chaining || (!(previous_sigbus.sa_flags & SA_SIGINFO) && previous_sigbus.sa_handler == SIG_DFL)) {
        /* Default action: terminate. A fault re-executes the access on return and dies
         * then; a sent signal is raised again, now with the default disposition. */
        signal(SIGBUS, SIG_DFL);
        if (!synchronous) raise(SIGBUS);
        return;
    }
    if (!(previous_sigbus.sa_flags & SA_SIGINFO) && previous_sigbus.sa_handler == SIG_IGN) {
        /* A sent SIGBUS is ignored. A fault cannot be: returning would fault again forever,
         * so the kernel's rule for an ignored synchronous fault applies (default action). */
        if (synchronous) signal(SIGBUS, SIG_DFL);
        return;
    }
    /* Block what the previous handler asked to have blocked while it runs. */
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &previous_sigbus.sa_mask, &old);
    chaining = 1;
    if (previous_sigbus.sa_flags & SA_SIGINFO) {
        previous_sigbus.sa_sigaction(sig, info, context);
    } else {
        previous_sigbus.sa_handler(sig);
    }
    chaining = 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The slot guarding addr, or NULL. Async-signal-safe. */
static guard_slot *slot_of(uintptr_t addr) {
    for (guard_chunk *c = &first_chunk; c; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
        for (int i = 0; i < GUARD_CHUNK_SLOTS; i++) {
            /* acquire: pairs with the release store of base in ringsys_guard_mapping. */
            uintptr_t base = atomic_load_explicit(&c->slots[i].base, memory_order_acquire);
            if (base <= 1 || addr < base) continue;
            size_t length = atomic_load_explicit(&c->slots[i].length, memory_order_relaxed);
            if (addr - base < length) return &c->slots[i];
        }
    }
    return NULL;
}

static void sigbus_handler(int sig, siginfo_t *info, void *context) {
    int saved_errno = errno;
    /* Only a fault on a mapped file page past the end of the file is ours (BUS_ADRERR,
     * raised by the kernel): not a kill(), not an alignment or hardware error. */
    guard_slot *slot = info != NULL && info->si_code == BUS_ADRERR ? slot_of((uintptr_t)info->si_addr) : NULL;
    if (slot) {
        /* Ours: the file shrank under the mapping (or a page of a sparse file found no
         * room on disk). Put a private zero page in its place and say so. */
        uintptr_t page = (uintptr_t)info->si_addr & ~((uintptr_t)guard_page_size - 1);
        void *p = mmap((void *)page, (size_t)guard_page_size, PROT_READ | PROT_WRITE,
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int32_t *flag = atomic_load_explicit(&slot->faulted, memory_order_relaxed);
        if (flag) __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
        errno = saved_errno;
        if (p != MAP_FAILED) return; /* the access is retried and now succeeds */
    }
    /* Not ours (or remapping failed): behave as the previous disposition would. */
    chain_to_previous(sig, info, context);
    errno = saved_errno;
}

/* Puts our handler in front, unless it is there: at the first guard, and again at every
 * later one, so a handler installed after ours (Python's faulthandler.enable(), say)
 * becomes the one ours passes foreign faults to (SPEC.md §12). */
static void install_sigbus_handler(void) {
    pthread_mutex_lock(&install_mutex); /* unlocked at the end of this function */
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) == 0 &&
        !((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == sigbus_handler)) {
        guard_page_size = sysconf(_SC_PAGESIZE);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = sigbus_handler;
        /* SA_ONSTACK: runtimes that run handlers on an alternate stack (Go, the JVM) keep
         * doing so; SA_NODEFER: a second fault inside the handler is delivered, not hung. */
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        /* The handler may run between these two calls: it then still chains to the old
         * previous handler, which is right until ours is installed. */
        previous_sigbus = current;
        sigaction(SIGBUS, &sa, NULL);
    }
    pthread_mutex_unlock(&install_mutex);
}

void *ringsys_guard_mapping(void *base, size_t length, int32_t *faulted) {
    install_sigbus_handler();
    for (guard_chunk *c = &first_chunk;;) {
        for (int i = 0; i < GUARD_CHUNK_SLOTS; i++) {
            guard_slot *slot = &c->slots[i];
            uintptr_t expected = 0;
            /* Claim a free slot with a placeholder so no one else takes it, then fill it in. */
            if (atomic_compare_exchange_strong(&slot->base, &expected, (uintptr_t)1)) {
                atomic_store_explicit(&slot->length, length, memory_order_relaxed);
                atomic_store_explicit(&slot->faulted, faulted, memory_order_relaxed);
                /* release: pairs with the handler's acquire load of base in slot_of. */
                atomic_store_explicit(&slot->base, (uintptr_t)base, memory_order_release);
                return slot;
            }
        }
        guard_chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
        if (!next) {
            /* Every slot is taken: add a chunk (mmap: zeroed, and no malloc lock involved). */
            guard_chunk *fresh = mmap(NULL, sizeof *fresh, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (fresh == MAP_FAILED) return NULL;
            guard_chunk *none = NULL;
            /* release: pairs with the acquire loads of next that walk the list. */
            if (atomic_compare_exchange_strong_explicit(&c->next, &none, fresh, memory_order_release,
                                                        memory_order_acquire)) {
                next = fresh;
            } else {
                munmap(fresh, sizeof *fresh); /* another thread added one first */
                next = none;
            }
        }
        c = next;
    }
}

void ringsys_unguard_mapping(void *handle) {
    guard_slot *slot = handle;
    if (!slot) return;
    atomic_store_explicit(&slot->base, (uintptr_t)1, memory_order_relaxed);
    atomic_store_explicit(&slot->length, (size_t)0, memory_order_relaxed);
    atomic_store_explicit(&slot->faulted, (int32_t *)NULL, memory_order_relaxed);
    atomic_store_explicit(&slot->base, (uintptr_t)0, memory_order_release);
}

#ifndef RINGFORMAT_VERSION_STRING
#define RINGFORMAT_VERSION_STRING "unknown"
#endif

const char *ringsys_version(void) { return RINGFORMAT_VERSION_STRING; }

void *ringsys_map_double(int fd, size_t header, size_t capacity) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || header % (size_t)page != 0 || capacity % (size_t)page != 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t total = header + 2 * capacity;
    /* The reservation: address space nobody else will be given while we map over it. */
    unsigned char *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    void *first = mmap(base, header + capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    void *second = first == MAP_FAILED ? MAP_FAILED
        : mmap(base + header + capacity, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)header);
    if (second == MAP_FAILED) {
        int saved = errno;
        munmap(base, total);
        errno = saved;
        return NULL;
    }
    return base;
}

int ringsys_memfd(const char *name) {
#if defined(__linux__)
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U /* linux/memfd.h of 6.3 */
#endif
    /* Not executable, and sealed so: kernels from 6.3 warn about (or, with vm.memfd_noexec=2,
     * refuse) a memfd without it; older kernels refuse the flag with EINVAL. */
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_NOEXEC_SEAL);
    if (fd < 0 && errno == EINVAL) fd = memfd_create(name, MFD_CLOEXEC);
    if (fd >= 0 || errno != ENOSYS) return fd >= 0 ? fd : -errno;
#endif
    char shm[64];
    for (int attempt = 0; attempt < 64; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(shm, sizeof shm, "/ringformat-%ld-%ld-%d", (long)getpid(), (long)ts.tv_nsec, attempt);
        int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            shm_unlink(shm);
            return fd;
        }
        if (errno != EEXIST) return -errno;
    }
    return -EEXIST;
}
