/*
 * ringpy.h - what the files of ringpy's C extension share (internal, not installed).
 *
 *   ringpy_module.c  module state, exceptions, the fork generation, module init
 *   ringpy_wait.c    role locks, timeouts and the one wait loop of every blocking call
 *   ringpy_ring.c    the Ring type (ringpy._ringpy.RingBase) and the read methods it shares
 *                    with the Reader type
 *   ringpy_reader.c  the Reader type (ringpy._ringpy.ReaderBase): one reader of a ring with
 *                    a reader table (format 1.1, SPEC.md §17); Ring._reader and Ring._readers
 *   ringpy_view.c    the RecordView type (zero-copy reads)
 *   ringpy_items.c   the ItemRing type (ringpy._ringpy.ItemRingBase): a typed ring (format 1.1,
 *                    SPEC.md §19), and ItemView, the exporter of its zero-copy windows
 *   ringpy_bell.c    the doorbells (SPEC.md §21): each side's pollable descriptor, arming and
 *                    disarming it (_bell, _arm, _disarm: what ringpy/_async.py waits on)
 *   ringpy_live.c    liveness and O(1) counts (SPEC.md §22): producer_alive, consumer_alive,
 *                    stop_when_producer_gone, _pending, _room_now
 *
 * Every field of a RingObject is read and written with the GIL held, except the
 * handles, which are used only with their lock held (see RingObject).
 */
#ifndef RINGPY_H
#define RINGPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ringformat.h"

/* Functions shared between the files of the extension, kept out of its exported symbols. */
#define RINGPY_INTERNAL __attribute__((visibility("hidden")))

/* Longest time a blocking call sleeps in the library without looking at signals and close(). */
#define WAIT_SLICE_NS (20 * 1000 * 1000LL)
/* Before a real wait (GIL released, sleeping in the library), a call that found the ring
 * full or empty retries for up to this long with the GIL held: a stream in full flow
 * frees or fills a record within a microsecond, and giving up and taking back the GIL
 * costs more than that. */
#define HOT_SPIN_NS 2000
/* Messages gathered per native call by put_many. */
#define PUT_CHUNK 256

typedef struct {
    PyObject *RingError, *FullError, *EmptyError, *InvalidSizeError, *ClosedError, *EndOfStreamError,
        *CorruptError, *UnsupportedVersionError, *BusyError, *OverwrittenError, *ForkedError, *ProducerGoneError;
    PyTypeObject *RingType;
    PyTypeObject *ReaderType;
    PyTypeObject *RecordViewType;
    PyTypeObject *ItemRingType;
    PyTypeObject *ItemViewType;
} ringpy_state;

/* A Ring, or a Reader: the same object, so that every read method, the wait loop and
 * RecordView serve both. A Reader has no ring handle and no producer; its consumer is the
 * reader handle of ring_reader_open, made with it (never taken lazily), and `parent` is
 * the Ring it was made from. */
typedef struct {
    PyObject_HEAD
    PyObject *module;              /* keeps the module state alive */
    PyObject *parent;              /* a Reader: its Ring (strong); NULL for a Ring */
    ringpy_state *st;
    ring_t *ring;                  /* guarded by rlock */
    ring_producer_t *producer;     /* taken on the first put-like call; guarded by plock */
    ring_consumer_t *consumer;     /* taken on the first get-like call; guarded by clock */
    /* Lock order: plock, then clock, then rlock. None is ever waited for with the GIL held. */
    pthread_mutex_t plock;         /* the producer role of this object */
    pthread_mutex_t clock;         /* the consumer role of this object */
    pthread_mutex_t rlock;         /* the ring handle (flush, stats, taking a role, close); a
                                      Reader's: keeps close() from freeing its handle while
                                      missed_count asks it */
    int locks_ready;               /* the three locks are initialised */
    uint64_t generation;           /* ringpy_fork_generation() when opened: another value means a forked child */
    PyObject *path;                /* str */
    int fd;                        /* ring_fd when opened (owned by the ring handle): immutable */
    uint64_t capacity;
    uint64_t max_message;
    int policy;
    uint32_t reader_slots;         /* slots of the reader table; 0 for a 1.0 ring */
    uint32_t producer_slots;       /* slots of the producer table; 0: one producer at a time */
    int closing;                   /* close() was called: every call raises ClosedError, blocked ones give up */
    int released;                  /* close() has let go of the handles */
    int writer_closed;             /* close_writer() was called: every write raises ClosedError */
    int stop_when_gone;            /* stop_when_producer_gone: given to the consumer handle when it is taken */
    PyObject *view;                /* borrowed: the open RecordView, if any */
} RingObject;

typedef struct {
    PyObject_HEAD
    RingObject *owner;             /* strong */
    const void *data;
    Py_ssize_t len;
    Py_ssize_t exports;
    int released;
} RecordViewObject;

/* ringpy_module.c */
RINGPY_INTERNAL extern struct PyModuleDef ringpy_module;
RINGPY_INTERNAL ringpy_state *ringpy_state_of(PyObject *module);
/* Raises the Python exception for a ring_error_t code; returns NULL. */
RINGPY_INTERNAL PyObject *ringpy_raise(ringpy_state *st, int rc, PyObject *path);
RINGPY_INTERNAL PyObject *ringpy_raise_closed(ringpy_state *st);
/* How many times this process has been forked into (0 in the process that loaded the module). */
RINGPY_INTERNAL uint64_t ringpy_fork_generation(void);

/* ringpy_ring.c */
RINGPY_INTERNAL extern PyType_Spec ringpy_ring_spec;
/* CHECK_VALID of a Ring, taking no lock: 0, or -1 with ClosedError or ForkedError set. */
RINGPY_INTERNAL int ringpy_check(RingObject *self);
/* With the role's lock held: the producer or consumer handle, taking the role if needed.
 * NULL with an exception set (closed, forked, writer closed, a view is open, BusyError...). */
RINGPY_INTERNAL ring_producer_t *ringpy_producer(RingObject *self);
RINGPY_INTERNAL ring_consumer_t *ringpy_consumer(RingObject *self);
/* Initialises a new RingObject's module, state, path and locks (not its handles). -1 with
 * an exception set (the object is then released by its dealloc). */
RINGPY_INTERNAL int ringpy_object_init(RingObject *self, PyObject *module, PyObject *path);
RINGPY_INTERNAL void ringpy_object_dealloc(RingObject *self);
RINGPY_INTERNAL int ringpy_object_traverse(RingObject *self, visitproc visit, void *arg);
/* Parses vectorcall arguments into values[] (NULL where not given), by position or by
 * keyword (at most max_positional by position); names ends with NULL and its first
 * `required` entries must be given. -1 with a TypeError set. */
RINGPY_INTERNAL int ringpy_parse_args(const char *fname, const char *const *names, int required, int max_positional,
                                      PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **values);
/* A path argument (str, bytes or os.PathLike) as (the str or bytes object, encoded bytes object). -1 on error. */
RINGPY_INTERNAL int ringpy_convert_path(PyObject *arg, PyObject **str, PyObject **encoded);
/* Policy, its int or its name: the ring_policy_t. -1 with ValueError set. */
RINGPY_INTERNAL int ringpy_parse_policy(PyObject *policy);
/* The methods of the Reader type: the Ring's read methods, close and the context manager. */
RINGPY_INTERNAL extern PyMethodDef ringpy_reader_methods[];

/* ringpy_reader.c */
RINGPY_INTERNAL extern PyType_Spec ringpy_reader_spec;
/* Ring._reader(cls, name, flags, gate_timeout_ms) and Ring._readers(). */
RINGPY_INTERNAL PyObject *ringpy_ring_reader(RingObject *self, PyObject *const *args, Py_ssize_t nargs);
RINGPY_INTERNAL PyObject *ringpy_ring_readers(RingObject *self, PyObject *unused);

/* ringpy_items.c */
RINGPY_INTERNAL extern PyType_Spec ringpy_item_ring_spec;
RINGPY_INTERNAL extern PyType_Spec ringpy_item_view_spec;
/* As ringpy_producer / ringpy_consumer, for an ItemRing (self is an ItemRingObject): the
 * item producer or consumer handle, taking the role if needed. */
RINGPY_INTERNAL ring_item_producer_t *ringpy_item_producer(RingObject *self);
RINGPY_INTERNAL ring_item_consumer_t *ringpy_item_consumer(RingObject *self);
/* The item producer or consumer handle if the role was taken, else NULL (never takes it). */
RINGPY_INTERNAL ring_item_producer_t *ringpy_item_producer_taken(RingObject *self);
RINGPY_INTERNAL ring_item_consumer_t *ringpy_item_consumer_taken(RingObject *self);
/* self is an ItemRing. */
RINGPY_INTERNAL int ringpy_is_item_ring(RingObject *self);
/* The path a ring opened from descriptor fd reports (SPEC.md §20.2): "memfd:NAME" for a
 * memfd, else the file's path (from /proc/self/fd), else "descriptor N". NULL: no memory. */
RINGPY_INTERNAL PyObject *ringpy_fd_path(int fd);

/* ringpy_view.c */
RINGPY_INTERNAL extern PyType_Spec ringpy_view_spec;
/* With clock held, after a successful ring_peek: the RecordView of those bytes (NULL with an exception). */
RINGPY_INTERNAL PyObject *ringpy_view_new(RingObject *owner, const void *data, size_t len);

/* ringpy_wait.c */
RINGPY_INTERNAL int64_t ringpy_monotonic_ns(void);
/* timeout (NULL, None or seconds) -> nanoseconds, -1 for no limit. Returns -2 with an exception set. */
RINGPY_INTERNAL int64_t ringpy_parse_timeout(PyObject *timeout);
/* Takes a lock; if another thread has it, waits with the GIL released. */
RINGPY_INTERNAL void ringpy_lock(pthread_mutex_t *lock);
RINGPY_INTERNAL void ringpy_unlock(pthread_mutex_t *lock);

/* The role a call runs on: a byte ring's (ringpy_producer, ringpy_consumer) or a typed
 * ring's (ringpy_item_producer, ringpy_item_consumer). Producers hold plock, consumers clock. */
typedef enum { ROLE_PRODUCER, ROLE_CONSUMER, ROLE_ITEM_PRODUCER, ROLE_ITEM_CONSUMER } ringpy_role;

/* The lock of a role (plock for producers, clock for consumers), and, with it held, the
 * role's handle, taking the role if needed (NULL with an exception set). */
RINGPY_INTERNAL pthread_mutex_t *ringpy_role_lock(RingObject *self, ringpy_role role);
RINGPY_INTERNAL void *ringpy_role_handle(RingObject *self, ringpy_role role);

/* ringpy_run's results besides the ring_error_t codes (which are <= 0). */
#define CALL_FAILED 1   /* a Python exception is set */
#define CALL_BUSY 2     /* RUN_NO_LOCK_WAIT: another thread holds the role lock */

/* ringpy_run's flags. */
#define RUN_NO_LOCK_WAIT 1  /* never wait for the role lock: CALL_BUSY instead */

/* One blocking (or non-blocking) call on a role, for ringpy_run. A call embeds this as
 * its first member and keeps its arguments and results after it. */
typedef struct ringpy_call ringpy_call;
struct ringpy_call {
    ringpy_role role;
    /* One try that never waits, with the GIL and the role lock held. Returns a
     * ring_error_t code (RING_ERR_FULL / RING_ERR_EMPTY: not yet), or CALL_FAILED with
     * an exception set. */
    int (*attempt)(ringpy_call *call, void *handle);
    /* Sleeps up to slice_ns in the library with the GIL released (it must not touch a
     * Python object). RING_OK: done if sleep_completes, else worth another attempt;
     * not yet: nothing happened; another code: the call fails with it. NULL: the call
     * has nothing to sleep on and polls every millisecond. */
    int (*sleep)(ringpy_call *call, void *handle, int64_t slice_ns);
    int sleep_completes;
};

/* Runs call on self's role: takes the role lock (and the role), attempts, and while the
 * ring is full (producer) or empty (consumer) and timeout (ns, -1: none) allows, sleeps
 * in the library in slices with the GIL released, checking signals, close() and
 * close_writer() between slices. Returns RING_OK, the not-yet code when the time is up
 * (at once for timeout 0), another ring_error_t code (no exception set), CALL_FAILED
 * (exception set) or CALL_BUSY. */
RINGPY_INTERNAL int ringpy_run(RingObject *self, ringpy_call *call, int64_t timeout, int flags);

/* ringpy_bell.c: _bell(role, wait=False), _arm(role, size=0, wait=False), _disarm(role,
 * wait=False), in the method tables of Ring, Reader and ItemRing (role: "consumer" or
 * "producer"; wait: wait for the role lock if another thread holds it). */
RINGPY_INTERNAL PyObject *ringpy_bell(RingObject *self, PyObject *const *args, Py_ssize_t nargs);
RINGPY_INTERNAL PyObject *ringpy_arm(RingObject *self, PyObject *const *args, Py_ssize_t nargs);
RINGPY_INTERNAL PyObject *ringpy_disarm(RingObject *self, PyObject *const *args, Py_ssize_t nargs);
#define RINGPY_BELL_METHODS \
    {"_bell", (PyCFunction)(void (*)(void))ringpy_bell, METH_FASTCALL, \
     "_bell(role, wait=False, /)\n--\n\nThe role's doorbell (SPEC.md §21) as (fd, kind), taking the role if\n" \
     "needed; None if another thread holds the role lock and not wait."}, \
    {"_arm", (PyCFunction)(void (*)(void))ringpy_arm, METH_FASTCALL, \
     "_arm(role, size=0, wait=False, /)\n--\n\nArm the role's doorbell: False if the wait is over now (read or\n" \
     "write), True if armed (wait for the fd, then _disarm), None if another thread holds the role lock\n" \
     "and not wait."}, \
    {"_disarm", (PyCFunction)(void (*)(void))ringpy_disarm, METH_FASTCALL, \
     "_disarm(role, wait=False, /)\n--\n\nTake the role's doorbell out of the waiter count and consume its\n" \
     "readiness: True; False (nothing done) if another thread holds the role lock and not wait."}

/* ringpy_live.c: the getters of producer_alive, consumer_alive and stop_when_producer_gone
 * (and its setter), and the methods _pending() and _room_now(size). */
RINGPY_INTERNAL PyObject *ringpy_get_producer_alive(RingObject *self, void *unused);
RINGPY_INTERNAL PyObject *ringpy_get_consumer_alive(RingObject *self, void *unused);
RINGPY_INTERNAL PyObject *ringpy_get_stop_when_gone(RingObject *self, void *unused);
RINGPY_INTERNAL int ringpy_set_stop_when_gone(RingObject *self, PyObject *value, void *unused);
RINGPY_INTERNAL PyObject *ringpy_pending(RingObject *self, PyObject *unused);
RINGPY_INTERNAL PyObject *ringpy_room_now(RingObject *self, PyObject *size);
/* With the consumer lock held, after the consumer (or item consumer) role was taken: gives
 * it stop_when_gone. -1 with an exception set. */
RINGPY_INTERNAL int ringpy_apply_stop_when_gone(RingObject *self, void *handle, int item);
#define RINGPY_LIVE_GETSET \
    {"producer_alive", (getter)ringpy_get_producer_alive, NULL, \
     "True if a live process holds the producer role, or a producer slot of a ring with producers=N\n" \
     "(SPEC.md §22.1); False after the producer closed, died or was killed.", NULL}, \
    {"consumer_alive", (getter)ringpy_get_consumer_alive, NULL, \
     "True if a live process holds the consumer role, or a reader slot of a ring with readers=N.", NULL}, \
    {"stop_when_producer_gone", (getter)ringpy_get_stop_when_gone, (setter)ringpy_set_stop_when_gone, \
     "False by default. True: a read (get, iteration, get_async, ...) that finds the ring drained, the\n" \
     "stream open and no live producer raises ProducerGoneError instead of waiting on (every message\n" \
     "committed before the producer died is read first; a wait notices within about 200 ms). A ring\n" \
     "whose producer never started counts as gone too.", NULL}

#endif /* RINGPY_H */
