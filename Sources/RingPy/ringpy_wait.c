/*
 * ringpy_wait.c - role locks, timeouts and the one wait loop every blocking call of a
 * Ring, a Reader or an ItemRing goes through (put, put_many, get, get_many, get_view, _wait;
 * a Reader's "consumer role" is its reader handle, an ItemRing's its item roles).
 *
 * Non-blocking calls keep the GIL. Blocking calls wait in slices of at most
 * WAIT_SLICE_NS with the GIL released, sleeping in the library, and between slices
 * check for signals (so Ctrl-C interrupts a blocked get) and for close() and
 * close_writer() from another thread. A role lock is a pthread mutex: trylock first,
 * and only if another thread holds it, wait with the GIL released; so the handle locks
 * of the C ABI are never contended while the GIL is held.
 */
#include "ringpy.h"

#include <time.h>

/* How long ringpy_run sleeps between attempts of a call that has no library sleep. */
#define POLL_NS (1000 * 1000LL)

int64_t ringpy_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ringpy_parse_timeout(PyObject *timeout) {
    if (timeout == NULL || timeout == Py_None) return -1;
    double seconds = PyFloat_AsDouble(timeout);
    if (seconds == -1.0 && PyErr_Occurred()) return -2;
    if (!(seconds >= 0)) {
        PyErr_SetString(PyExc_ValueError, "'timeout' must be a non-negative number");
        return -2;
    }
    if (seconds > 1e9) return -1;
    return (int64_t)(seconds * 1e9);
}

void ringpy_lock(pthread_mutex_t *lock) {
    if (pthread_mutex_trylock(lock) == 0) return;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(lock);
    Py_END_ALLOW_THREADS
}

void ringpy_unlock(pthread_mutex_t *lock) { pthread_mutex_unlock(lock); }

/* A CPU hint between the retries of a hot spin. */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The wait for the next slice: min(slice, time left). deadline -1: none. 0 when time is up. */
static int64_t next_slice(int64_t deadline) {
    if (deadline < 0) return WAIT_SLICE_NS;
    int64_t left = deadline - ringpy_monotonic_ns();
    if (left <= 0) return 0;
    return left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS;
}

static int role_writes(ringpy_role role) { return role == ROLE_PRODUCER || role == ROLE_ITEM_PRODUCER; }

pthread_mutex_t *ringpy_role_lock(RingObject *self, ringpy_role role) {
    return role_writes(role) ? &self->plock : &self->clock;
}

/* With the role lock held: the role's handle (NULL with an exception set). */
void *ringpy_role_handle(RingObject *self, ringpy_role role) {
    switch (role) {
    case ROLE_PRODUCER: return ringpy_producer(self);
    case ROLE_CONSUMER: return ringpy_consumer(self);
    case ROLE_ITEM_PRODUCER: return ringpy_item_producer(self);
    case ROLE_ITEM_CONSUMER: return ringpy_item_consumer(self);
    }
    return NULL;
}

/* The sleep of a call without a library sleep: POLL_NS (or less), GIL released by the caller. */
static int poll_sleep(int64_t slice_ns, int not_yet) {
    int64_t ns = slice_ns < POLL_NS ? slice_ns : POLL_NS;
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
    return not_yet;
}

/* ringpy_run's waiting, with the role lock held after a first attempt found the ring
 * full or empty: a hot spin with the GIL, then slices asleep in the library without it. */
static int wait_and_retry(RingObject *self, ringpy_call *call, pthread_mutex_t *lock, void *handle,
                          int not_yet, int64_t timeout) {
    int64_t deadline = timeout < 0 ? -1 : ringpy_monotonic_ns() + timeout;
    int64_t spin_end = ringpy_monotonic_ns() + HOT_SPIN_NS;
    if (deadline >= 0 && deadline < spin_end) spin_end = deadline;
    int rc;
    do {
        cpu_relax();
        rc = call->attempt(call, handle);
    } while (rc == not_yet && ringpy_monotonic_ns() < spin_end);

    while (rc == not_yet) {
        int64_t slice = next_slice(deadline);
        if (slice == 0) break;
        int slept;
        Py_BEGIN_ALLOW_THREADS
        slept = call->sleep ? call->sleep(call, handle, slice) : poll_sleep(slice, not_yet);
        Py_END_ALLOW_THREADS
        if (slept == RING_OK && call->sleep_completes) return RING_OK;
        if (slept != RING_OK && slept != not_yet) return slept;
        /* Between slices: let other threads of this Ring in, then look at signals, close()
         * and close_writer() (ringpy_producer / ringpy_consumer check the last two). */
        ringpy_unlock(lock);
        int interrupted = PyErr_CheckSignals() < 0;
        ringpy_lock(lock);
        if (interrupted || (handle = ringpy_role_handle(self, call->role)) == NULL) return CALL_FAILED;
        rc = call->attempt(call, handle);
    }
    return rc;
}

int ringpy_run(RingObject *self, ringpy_call *call, int64_t timeout, int flags) {
    if (ringpy_check(self) < 0) return CALL_FAILED;
    pthread_mutex_t *lock = ringpy_role_lock(self, call->role);
    if (flags & RUN_NO_LOCK_WAIT) {
        if (pthread_mutex_trylock(lock) != 0) return CALL_BUSY;
    } else {
        ringpy_lock(lock);
    }
    const int not_yet = role_writes(call->role) ? RING_ERR_FULL : RING_ERR_EMPTY;
    void *handle = ringpy_role_handle(self, call->role);
    int rc = handle == NULL ? CALL_FAILED : call->attempt(call, handle);
    if (rc == not_yet && timeout != 0) rc = wait_and_retry(self, call, lock, handle, not_yet, timeout);
    ringpy_unlock(lock);
    return rc;
}
