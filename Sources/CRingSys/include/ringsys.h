/*
 * ringsys.h - the few system calls the Swift core cannot reach directly.
 *
 * Swift cannot call the variadic syscall(2), and SYS_futex / F_OFD_SETLK are
 * macros that do not import. These wrappers are internal to RingFormat; they
 * are not part of the public C ABI (see include/ringformat.h for that).
 *
 * Every function returns 0 on success or a negative errno value.
 */
#ifndef RINGSYS_H
#define RINGSYS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A hint to the CPU that the caller is spinning (PAUSE / YIELD). */
static inline void ringsys_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

/**
 * Copies n bytes like memcpy, but on x86-64 with non-temporal stores for the
 * 16-byte-aligned bulk, then a store fence: the copy does not stay modified in
 * this core's cache, so a reader on another core fetches it from the shared cache
 * or memory instead of snooping it line by line out of this core. For large
 * messages only (the producer uses it from 32 KiB). Elsewhere: memcpy.
 */
void ringsys_copy_streaming(void *dst, const void *src, size_t n);

/**
 * A small mutex for the C ABI's handles: one compare-and-swap to take it and one
 * exchange to give it back when nobody waits (a third of pthread_mutex's
 * instructions on the one-message-per-call path). The word is 0 (free), 1 (held)
 * or 2 (held, and someone may sleep on it); contended takers sleep on a
 * process-private futex (elsewhere: yield). Not recursive, no owner check.
 */
void ringsys_mutex_lock_slow(uint32_t *word);
void ringsys_mutex_wake(uint32_t *word);

/** Takes the mutex at *word (paired with ringsys_mutex_unlock). */
static inline void ringsys_mutex_lock(uint32_t *word) {
    uint32_t expected = 0;
    /* acquire: pairs with the release exchange in ringsys_mutex_unlock. */
    if (__atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
    ringsys_mutex_lock_slow(word);
}

/** Gives back the mutex taken by ringsys_mutex_lock, waking a sleeper if there is one. */
static inline void ringsys_mutex_unlock(uint32_t *word) {
    /* release: pairs with the acquire in ringsys_mutex_lock(_slow). */
    if (__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) == 2) ringsys_mutex_wake(word);
}

/** 1 when futex wait/wake on a shared mapping is available (Linux), else 0. */
int ringsys_has_futex(void);

/**
 * Sleeps while *word == expected, for at most timeout_ns nanoseconds
 * (timeout_ns < 0: no limit). Uses the shared (not _PRIVATE) futex so a
 * waker in another process that mapped the same file wakes it.
 * Returns 0 when woken, -EAGAIN when *word != expected, -ETIMEDOUT,
 * -EINTR, or -ENOSYS where futexes do not exist.
 */
int ringsys_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/** Wakes every process and thread sleeping on word. Returns -ENOSYS without futexes. */
int ringsys_futex_wake_all(uint32_t *word);

/**
 * Takes a non-blocking exclusive lock on bytes [offset, offset+length) of fd.
 * `classic` chooses the kind (ringsys_classic_locks() when the file was opened;
 * unlock with the same). Linux: an open-file-description lock (F_OFD_SETLK), owned by this open file,
 * released by the kernel when the last descriptor of it closes or the process
 * dies. Elsewhere: a classic POSIX record lock (F_SETLK), with a process-wide
 * table that refuses a second lock of the same bytes through another open of the
 * same file in this process (-EAGAIN), as an OFD lock would.
 * Returns 0, -EAGAIN when another owner holds it, or another -errno.
 */
int ringsys_lock_range(int fd, int64_t offset, int64_t length, int classic);

/**
 * Who else holds a lock on [offset, offset+length) of fd: 0 nobody, 1 a read lock,
 * 2 a write lock (F_OFD_GETLK, or F_GETLK with `classic`, which also reports the locks
 * this process holds itself, from its table), or -errno.
 */
int ringsys_lock_holder(int fd, int64_t offset, int64_t length, int classic);

/** This process's owner token for a role (SPEC.md §11.4): pid << 32 | low 32 bits of its start time. */
uint64_t ringsys_process_token(void);

/**
 * Whether the process an owner token names still runs (the same pid and start time).
 * A process that exists but cannot be inspected counts as alive.
 */
int ringsys_process_alive(uint64_t token);

/** Releases a lock taken by ringsys_lock_range. */
int ringsys_unlock_range(int fd, int64_t offset, int64_t length, int classic);

/**
 * Closes a ring file's descriptor. With classic POSIX locks, closing any descriptor
 * of a file drops every lock the process holds on it, so while this process holds a
 * role lock on the file's inode the close waits until the last one is released.
 */
void ringsys_close(int fd);

/** 1 when ring files opened now should use classic POSIX locks (no OFD locks here, or a test asked). */
int ringsys_classic_locks(void);

/** Tests only: files opened from now on use classic POSIX locks (the non-OFD path of SPEC.md §11.2). */
void ringsys_use_classic_locks(int on);

/** The version of this build of the package ("1.0.0"), from the file VERSION
 * (Package.swift defines RINGFORMAT_VERSION_STRING when it compiles ringsys.c). */
const char *ringsys_version(void);

/** Incremented in the child of every fork(); see ringsys_fork_generation. */
extern uint32_t ringsys_fork_generation_value;

/**
 * A number that changes in the child of every fork(): a handle that remembers the
 * value it was made under can tell that it was inherited (SPEC.md §11.3).
 */
static inline uint32_t ringsys_fork_generation(void) {
    return __atomic_load_n(&ringsys_fork_generation_value, __ATOMIC_RELAXED);
}

/**
 * Reserves the disk blocks of [0, length) so that later stores through a
 * mapping cannot fail with SIGBUS on a full disk. Returns 0, or -errno;
 * -EOPNOTSUPP where the file system cannot reserve (the caller may go on).
 */
int ringsys_reserve(int fd, int64_t length);

/**
 * Opens a new, nameless file in directory dir (Linux O_TMPFILE) for reading
 * and writing with permission bits mode. A process killed before the file is
 * linked leaves nothing behind. Returns a descriptor, or -EOPNOTSUPP where
 * the file system or the platform has no nameless files (use a named
 * temporary file then), or another -errno.
 */
int ringsys_open_tmpfile(const char *dir, uint32_t mode);

/**
 * Gives the nameless file fd (from ringsys_open_tmpfile) the name path,
 * failing with -EEXIST if path exists. Returns 0 or -errno.
 */
int ringsys_link_tmpfile(int fd, const char *path);

/**
 * Guards a MAP_SHARED file mapping against SIGBUS (SPEC.md §12): if a peer
 * truncates the file, an access past the new end would kill the process.
 * With the guard, the faulting page is replaced by a private zero page, *faulted
 * is set to 1, and the access goes on (reading zeros, which validation then
 * rejects). The process-wide SIGBUS handler is installed on first use and
 * passes faults outside guarded mappings to the handler that was there before.
 * The guard table grows as needed. Each call also puts the handler back in front if
 * another was installed since (its faults are then passed on to that one).
 * Returns the slot for ringsys_unguard_mapping, or NULL if no memory was left for
 * the table (the mapping is then unguarded: the caller must not use it).
 */
void *ringsys_guard_mapping(void *base, size_t length, int32_t *faulted);

/** Stops guarding the mapping registered in slot (before unmapping it). NULL is ignored. */
void ringsys_unguard_mapping(void *slot);

/**
 * Maps a ring file of header + capacity bytes with its data region twice back to
 * back (SPEC.md §20.1): reserves header + 2 * capacity bytes of address space, maps
 * the file over its start (offset 0, header + capacity bytes) and the data region
 * (offset header, capacity bytes) again right after it, both MAP_SHARED | MAP_FIXED.
 * Returns the base, or NULL with errno set (EINVAL: header or capacity is not a multiple
 * of the page size); on failure nothing stays mapped. One munmap of
 * header + 2 * capacity bytes unmaps it all.
 */
void *ringsys_map_double(int fd, size_t header, size_t capacity);

/**
 * A new anonymous shared-memory file for a ring without a file (SPEC.md §20.2):
 * memfd_create(name, MFD_CLOEXEC) on Linux, else shm_open of a random name that
 * is unlinked at once. Returns a descriptor or -errno.
 */
int ringsys_memfd(const char *name);

/** Records the detail of the last error on the calling thread (message is copied, truncated to 255 bytes). */
void ringsys_set_last_error(int err, const char *message);

/** Like ringsys_set_last_error for text that lives for the whole process (a string
 * literal): only the pointer is stored. */
void ringsys_set_last_error_static(int err, const char *message);

/** The detail recorded by ringsys_set_last_error on this thread ("" if none). */
const char *ringsys_last_error_message(void);

/** The errno recorded by ringsys_set_last_error on this thread (0 if none). */
int ringsys_last_errno(void);

/* ------------------------------------------------------------------------ */
/* Doorbells (doorbell.c): a pollable wake-up for one waiter (SPEC.md §21)   */

/** A bell's kind: an io_uring holding a futex wait (Linux 6.7+), or a timerfd poll. */
#define RINGSYS_BELL_FUTEX 1
#define RINGSYS_BELL_POLL 2

/** One waiter's doorbell: a descriptor that becomes readable when the armed word changes. */
typedef struct ringsys_bell ringsys_bell;

/** Opens a bell of `kind` (0: the best this kernel runs, probed once per process). */
int ringsys_bell_open(ringsys_bell **out, int kind);
/** The descriptor to poll for POLLIN (epoll, select, asyncio's add_reader). */
int ringsys_bell_fd(const ringsys_bell *bell);
/** RINGSYS_BELL_FUTEX or RINGSYS_BELL_POLL. */
int ringsys_bell_kind(const ringsys_bell *bell);
/**
 * Arms the bell: its descriptor becomes readable once *word no longer holds `seen` (a
 * FUTEX_WAKE on it, or a changed value), or after slice_ns at the latest. The futex kind
 * waits on the shared futex word; the poll kind fires after a short interval that grows
 * with each arm (20 us doubling to 1 ms) until ringsys_bell_reset.
 */
int ringsys_bell_arm(ringsys_bell *bell, uint32_t *word, uint32_t seen, int64_t slice_ns);
/** Consumes the bell's readiness; a wait still pending is cancelled. */
int ringsys_bell_disarm(ringsys_bell *bell);
/** Restarts the poll kind's interval at its shortest (the awaited side made progress). */
void ringsys_bell_reset(ringsys_bell *bell);
/** Closes the bell; what is pending in it is cancelled. NULL is ignored. */
void ringsys_bell_close(ringsys_bell *bell);

/* ------------------------------------------------------------------------ */
/* The Swift reactor's poller (reactor.c): epoll over doorbell descriptors   */

/** A new epoll instance (close-on-exec): its descriptor, or -errno. */
int ringsys_poller_open(void);
/** Watches fd for readability (EPOLLIN; with `oneshot`, EPOLLONESHOT: one event, then
 * remove it); an event reports `token`. 0 or -errno. */
int ringsys_poller_add(int poller, int fd, uint64_t token, int oneshot);
/** Stops watching fd. 0 or -errno (-ENOENT: it was not watched). */
int ringsys_poller_remove(int poller, int fd);
/** Waits up to timeout_ms (-1: no limit) for events; stores the tokens of at most
 * `capacity` (at most 64) of them and returns how many, or -errno (-EINTR included). */
int ringsys_poller_wait(int poller, uint64_t *tokens, int capacity, int timeout_ms);
/** A new eventfd (non-blocking, close-on-exec) to wake the poller: its descriptor, or -errno. */
int ringsys_wakeup_open(void);
/** Makes the eventfd readable. */
void ringsys_wakeup_signal(int fd);
/** Consumes the eventfd's readiness. */
void ringsys_wakeup_drain(int fd);
/** Names the calling thread (at most 15 bytes; seen in /proc/PID/task/TID/comm). */
void ringsys_name_thread(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* RINGSYS_H */
