/*
 * _ringpy.c - the native core of ringpy: RingFormat rings (SPEC.md) for
 * CPython, over the C ABI of ringformat.h (libringformat.so, shipped inside
 * the package).
 *
 * Non-blocking calls keep the GIL. Blocking calls wait in slices of at most
 * WAIT_SLICE_NS with the GIL released, and between slices check for signals
 * (so Ctrl-C interrupts a blocked get) and for close() from another thread.
 * Each role has a lock of its own (a pthread mutex: trylock first, and only if
 * another thread holds it, wait with the GIL released), so the handle locks of
 * the C ABI are never contended while the GIL is held.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ringformat.h"

/* Longest time a blocking call waits without looking at signals and close(). */
#define WAIT_SLICE_NS (20 * 1000 * 1000LL)
/* Before a real wait (GIL released, sleeping in the library), a call that found the ring
 * full or empty retries for up to this long with the GIL held: a stream in full flow
 * frees or fills a record within a microsecond, and giving up and taking back the GIL
 * costs more than that. */
#define HOT_SPIN_NS 2000
/* Messages gathered per native call by put_many. */
#define PUT_CHUNK 256

/* ------------------------------------------------------------------------ */
/* Module state                                                             */

typedef struct {
    PyObject *RingError, *FullError, *EmptyError, *InvalidSizeError, *ClosedError, *EndOfStreamError,
        *CorruptError, *UnsupportedVersionError, *BusyError, *OverwrittenError;
    PyTypeObject *RingType;
    PyTypeObject *RecordViewType;
} ringpy_state;

static struct PyModuleDef ringpy_module;

static ringpy_state *state_of_module(PyObject *module) { return (ringpy_state *)PyModule_GetState(module); }

/* ------------------------------------------------------------------------ */
/* Objects                                                                  */

typedef struct {
    PyObject_HEAD
    PyObject *module;              /* keeps the module state alive */
    ringpy_state *st;
    ring_t *ring;
    ring_producer_t *producer;     /* taken on first put-like call; guarded by plock */
    ring_consumer_t *consumer;     /* taken on first get-like call; guarded by clock */
    pthread_mutex_t plock;         /* the producer role of this object */
    pthread_mutex_t clock;         /* the consumer role of this object */
    int locks_ready;               /* plock and clock initialised */
    PyObject *path;                /* str */
    uint64_t capacity;
    uint64_t max_message;
    int policy;
    int closed;
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

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/* Raises the Python exception for a ring_error_t code. Returns NULL. */
static PyObject *raise_ring(ringpy_state *st, int rc, PyObject *path) {
    const char *detail = ring_last_error_message();
    const char *text = (detail && detail[0]) ? detail : ring_strerror(rc);
    PyObject *type;
    switch (rc) {
    case RING_ERR_FULL: type = st->FullError; break;
    case RING_ERR_EMPTY: type = st->EmptyError; break;
    case RING_ERR_INVALID_SIZE: type = st->InvalidSizeError; break;
    case RING_ERR_CLOSED: type = st->ClosedError; break;
    case RING_ERR_END_OF_STREAM: type = st->EndOfStreamError; break;
    case RING_ERR_CORRUPT: type = st->CorruptError; break;
    case RING_ERR_UNSUPPORTED_VERSION: type = st->UnsupportedVersionError; break;
    case RING_ERR_BUSY: type = st->BusyError; break;
    case RING_ERR_OVERWRITTEN: type = st->OverwrittenError; break;
    case RING_ERR_SYSTEM: {
        errno = ring_last_errno();
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    }
    default: type = PyExc_SystemError; break;
    }
    PyErr_SetString(type, text);
    return NULL;
}

static PyObject *raise_closed(ringpy_state *st) {
    PyErr_SetString(st->ClosedError, "I/O operation on a closed ring");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Time and locks                                                           */

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* timeout (None or seconds) -> nanoseconds, -1 for no limit. Returns -2 with an exception set. */
static int64_t parse_timeout(PyObject *timeout) {
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

/* Takes a role lock (paired with unlock_role in the same function); waits with
 * the GIL released if another thread has it. */
static void lock_role(pthread_mutex_t *lock) {
    if (pthread_mutex_trylock(lock) == 0) return;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(lock);
    Py_END_ALLOW_THREADS
}

/* Gives back a role lock taken by lock_role. */
static void unlock_role(pthread_mutex_t *lock) { pthread_mutex_unlock(lock); }

/* A CPU hint between the retries of a hot spin. */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* When a hot spin that starts now ends: HOT_SPIN_NS from now, but not after deadline (-1: none). */
static int64_t hot_spin_end(int64_t deadline) {
    int64_t end = monotonic_ns() + HOT_SPIN_NS;
    return deadline >= 0 && deadline < end ? deadline : end;
}

/* The wait for the next slice: min(slice, time left). deadline -1: none. Returns 0 when time is up. */
static int64_t next_slice(int64_t deadline) {
    if (deadline < 0) return WAIT_SLICE_NS;
    int64_t left = deadline - monotonic_ns();
    if (left <= 0) return 0;
    return left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS;
}

/* Between two slices, without the role lock: signals, then close(). Returns -1 with an exception set. */
static int between_slices(RingObject *self) {
    if (PyErr_CheckSignals() < 0) return -1;
    if (self->closed) { raise_closed(self->st); return -1; }
    return 0;
}

/* With plock held: the producer handle, taking the role if needed. NULL with an exception set. */
static ring_producer_t *producer_of(RingObject *self) {
    if (self->closed) { raise_closed(self->st); return NULL; }
    if (self->producer == NULL) {
        int rc = ring_producer_open(self->ring, &self->producer);
        if (rc != RING_OK) { self->producer = NULL; raise_ring(self->st, rc, self->path); return NULL; }
    }
    return self->producer;
}

/* With clock held: the consumer handle, taking the role if needed. NULL with an exception set. */
static ring_consumer_t *consumer_of(RingObject *self) {
    if (self->closed) { raise_closed(self->st); return NULL; }
    if (self->view != NULL) {
        PyErr_SetString(self->st->BusyError, "a RecordView of this ring is open: release() or cancel() it first");
        return NULL;
    }
    if (self->consumer == NULL) {
        int rc = ring_consumer_open(self->ring, &self->consumer);
        if (rc != RING_OK) { self->consumer = NULL; raise_ring(self->st, rc, self->path); return NULL; }
    }
    return self->consumer;
}

/* ------------------------------------------------------------------------ */
/* Creating and opening                                                     */

static RingObject *new_ring(PyTypeObject *cls, PyObject *module, ring_t *ring, PyObject *path) {
    RingObject *self = (RingObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) { ring_free(ring); return NULL; }
    self->module = Py_NewRef(module);
    self->st = state_of_module(module);
    self->ring = ring;
    self->path = Py_NewRef(path);
    if (pthread_mutex_init(&self->plock, NULL) != 0) { Py_DECREF(self); return (RingObject *)PyErr_NoMemory(); }
    if (pthread_mutex_init(&self->clock, NULL) != 0) {
        pthread_mutex_destroy(&self->plock);
        Py_DECREF(self);
        return (RingObject *)PyErr_NoMemory();
    }
    self->locks_ready = 1;
    ring_info_t info;
    int rc = ring_info(ring, &info);
    if (rc != RING_OK) { raise_ring(self->st, rc, path); Py_DECREF(self); return NULL; }
    self->capacity = info.capacity;
    self->max_message = info.max_message_size;
    self->policy = (int)info.policy;
    return self;
}

/* A path argument (str or os.PathLike) as (str object, encoded bytes object). */
static int convert_path(PyObject *arg, PyObject **str, PyObject **encoded) {
    PyObject *fs = PyOS_FSPath(arg);
    if (fs == NULL) return -1;
    if (!PyUnicode_Check(fs)) {
        PyErr_Format(PyExc_TypeError, "path must be str or os.PathLike[str], not %.100s", Py_TYPE(fs)->tp_name);
        Py_DECREF(fs);
        return -1;
    }
    if (!PyUnicode_FSConverter(fs, encoded)) { Py_DECREF(fs); return -1; }
    *str = fs;
    return 0;
}

static int parse_policy(PyObject *policy) {
    if (PyUnicode_Check(policy)) {
        if (PyUnicode_CompareWithASCIIString(policy, "reject_when_full") == 0) return RING_REJECT_WHEN_FULL;
        if (PyUnicode_CompareWithASCIIString(policy, "overwrite_oldest") == 0) return RING_OVERWRITE_OLDEST;
    } else if (PyLong_Check(policy)) {
        long v = PyLong_AsLong(policy);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v == RING_REJECT_WHEN_FULL || v == RING_OVERWRITE_OLDEST) return (int)v;
    }
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "policy must be Policy.REJECT_WHEN_FULL, Policy.OVERWRITE_OLDEST, "
                     "'reject_when_full' or 'overwrite_oldest', not %R", policy);
    return -1;
}

PyDoc_STRVAR(create_doc,
"create(path, capacity, policy=Policy.REJECT_WHEN_FULL, *, mode=0o600, replace=False, exist_ok=False, initial_position=0)\n--\n\n"
"Create a ring file and open it. capacity (bytes) is rounded up to a power of two, at least 4096.\n"
"replace atomically replaces an existing file; exist_ok opens an existing ring instead of raising\n"
"FileExistsError. initial_position (a multiple of 8) starts both positions there, for tests of\n"
"positions past 2**32.");

static PyObject *Ring_create(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
    static const char *const names[] = {"path", "capacity", "policy", "mode", "replace", "exist_ok", "initial_position", NULL};
    PyObject *values[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 3) { PyErr_SetString(PyExc_TypeError, "create() takes at most 3 positional arguments"); return NULL; }
    for (Py_ssize_t i = 0; i < nargs; i++) values[i] = args[i];
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int found = 0;
        for (int i = 0; names[i]; i++) {
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) {
                if (values[i]) { PyErr_Format(PyExc_TypeError, "create() got multiple values for '%s'", names[i]); return NULL; }
                values[i] = args[nargs + k];
                found = 1;
            }
        }
        if (!found) { PyErr_Format(PyExc_TypeError, "create() got an unexpected keyword argument %R", key); return NULL; }
    }
    if (!values[0] || !values[1]) { PyErr_SetString(PyExc_TypeError, "create() needs path and capacity"); return NULL; }
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    PyObject *module = PyType_GetModule(defining);
    if (!PyLong_Check(values[1])) {
        PyErr_Format(PyExc_TypeError, "capacity must be an int, not %.100s", Py_TYPE(values[1])->tp_name);
        return NULL;
    }
    int overflow = 0;
    long long requested = PyLong_AsLongLongAndOverflow(values[1], &overflow);
    if (requested == -1 && PyErr_Occurred()) return NULL;
    if (overflow || requested <= 0 || (unsigned long long)requested > RING_MAX_CAPACITY) {
        PyErr_Format(st->InvalidSizeError, "capacity must be between 1 and %llu bytes, not %R",
                     (unsigned long long)RING_MAX_CAPACITY, values[1]);
        return NULL;
    }
    int policy = values[2] ? parse_policy(values[2]) : RING_REJECT_WHEN_FULL;
    if (policy < 0) return NULL;
    unsigned long mode = 0600;
    if (values[3]) {
        mode = PyLong_AsUnsignedLong(values[3]);
        if (mode == (unsigned long)-1 && PyErr_Occurred()) return NULL;
        if (mode > 07777) { PyErr_SetString(PyExc_ValueError, "mode must be a permission mask (0 to 0o7777)"); return NULL; }
    }
    uint32_t flags = 0;
    if (values[4]) { int t = PyObject_IsTrue(values[4]); if (t < 0) return NULL; if (t) flags |= RING_CREATE_REPLACE; }
    if (values[5]) { int t = PyObject_IsTrue(values[5]); if (t < 0) return NULL; if (t) flags |= RING_CREATE_OPEN_EXISTING; }
    unsigned long long initial = 0;
    if (values[6]) {
        if (!PyLong_Check(values[6])) { PyErr_SetString(PyExc_TypeError, "initial_position must be an int"); return NULL; }
        initial = PyLong_AsUnsignedLongLong(values[6]);
        if (initial == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
        if (flags & RING_CREATE_OPEN_EXISTING) { PyErr_SetString(PyExc_ValueError, "initial_position cannot be combined with exist_ok"); return NULL; }
    }
    PyObject *path, *encoded;
    if (convert_path(values[0], &path, &encoded) < 0) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = initial ? ring_create_at_position(PyBytes_AS_STRING(encoded), (uint64_t)requested, policy, (uint32_t)mode, flags, initial, &ring)
                 : ring_create(PyBytes_AS_STRING(encoded), (uint64_t)requested, policy, (uint32_t)mode, flags, &ring);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    PyObject *result = rc == RING_OK ? (PyObject *)new_ring((PyTypeObject *)cls, module, ring, path)
                                     : raise_ring(st, rc, path);
    Py_DECREF(path);
    return result;
}

PyDoc_STRVAR(open_doc, "open(path)\n--\n\nOpen an existing ring file, validating its header.");

static PyObject *Ring_open(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    if (nargs != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "open() takes exactly one positional argument (path)");
        return NULL;
    }
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    PyObject *module = PyType_GetModule(defining);
    PyObject *path, *encoded;
    if (convert_path(args[0], &path, &encoded) < 0) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_open(PyBytes_AS_STRING(encoded), &ring);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    PyObject *result = rc == RING_OK ? (PyObject *)new_ring((PyTypeObject *)cls, module, ring, path)
                                     : raise_ring(st, rc, path);
    Py_DECREF(path);
    return result;
}

static PyObject *Ring_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args; (void)kwargs;
    PyErr_Format(PyExc_TypeError, "use %s.create() or %s.open()", type->tp_name, type->tp_name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Producer side                                                            */

/* With plock held: writes one message, waiting up to deadline. Releases plock between slices. */
static int write_one(RingObject *self, const void *data, size_t len, int64_t timeout) {
    ring_producer_t *p = producer_of(self);
    if (p == NULL) return -1;
    int rc = ring_write(p, data, len);
    if (rc == RING_ERR_FULL && timeout != 0) {
        int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
        int64_t spin_end = hot_spin_end(deadline);
        do {
            cpu_relax();
            rc = ring_write(p, data, len);
        } while (rc == RING_ERR_FULL && monotonic_ns() < spin_end);
        while (rc == RING_ERR_FULL) {
            int64_t slice = next_slice(deadline);
            if (slice == 0) break;
            Py_BEGIN_ALLOW_THREADS
            rc = ring_write_timeout(p, data, len, slice);
            Py_END_ALLOW_THREADS
            if (rc != RING_ERR_FULL) break;
            unlock_role(&self->plock);
            int stop = between_slices(self);
            lock_role(&self->plock);
            if (stop < 0) return -1;
            if ((p = producer_of(self)) == NULL) return -1;
        }
    }
    if (rc != RING_OK) {
        if (rc == RING_ERR_FULL && timeout != 0) {
            PyErr_SetString(self->st->FullError, "ring is full: no room within the timeout");
            return -1;
        }
        raise_ring(self->st, rc, self->path);
        return -1;
    }
    return 0;
}

/* The bytes of a bytes-like object; PyBuffer_Release gives them back. Exact bytes, the
 * common case, skip the buffer protocol's calls (PyBuffer_Release then only drops the
 * reference taken here: bytes has no releasebuffer). -1 with a TypeError set. */
static int get_buffer(PyObject *obj, Py_buffer *view) {
    if (PyBytes_CheckExact(obj)) {
        view->buf = PyBytes_AS_STRING(obj);
        view->len = PyBytes_GET_SIZE(obj);
        view->obj = Py_NewRef(obj);  /* dropped by PyBuffer_Release */
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) == 0) return 0;
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "a bytes-like object is required, not '%.100s'", Py_TYPE(obj)->tp_name);
    return -1;
}

/* Parses vectorcall arguments into values[] (NULL where not given), by position or by
 * keyword; names ends with NULL and its first `required` entries must be given.
 * Returns -1 with a TypeError set. */
static int parse_args(const char *fname, const char *const *names, int required,
                      PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **values) {
    int count = 0;
    while (names[count]) values[count++] = NULL;
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", fname, count,
                     count == 1 ? "" : "s", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) values[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < count && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) i++;
        if (i == count) { PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, key); return -1; }
        if (values[i]) { PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]); return -1; }
        values[i] = args[nargs + k];
    }
    for (int i = 0; i < required; i++) {
        if (!values[i]) { PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]); return -1; }
    }
    return 0;
}

PyDoc_STRVAR(put_doc, "put(data, timeout=None)\n--\n\n"
"Write one message (any bytes-like object), waiting up to timeout seconds for room\n"
"(None: no limit). FullError when the time is up.");

static PyObject *Ring_put(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"data", "timeout", NULL};
    PyObject *values[2];
    if (parse_args("put", names, 1, args, nargs, kwnames, values) < 0) return NULL;
    int64_t timeout = parse_timeout(values[1]);
    if (timeout == -2) return NULL;
    Py_buffer view;
    if (get_buffer(values[0], &view) < 0) return NULL;
    lock_role(&self->plock);
    int rc = write_one(self, view.buf, (size_t)view.len, timeout);
    unlock_role(&self->plock);
    PyBuffer_Release(&view);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(try_put_doc, "try_put(data, /)\n--\n\nWrite one message if it fits now; False if the ring is full.");

static PyObject *Ring_try_put(RingObject *self, PyObject *data) {
    Py_buffer view;
    if (get_buffer(data, &view) < 0) return NULL;
    lock_role(&self->plock);
    PyObject *result = NULL;
    ring_producer_t *p = producer_of(self);
    if (p != NULL) {
        int rc = ring_write(p, view.buf, (size_t)view.len);
        if (rc == RING_OK) result = Py_NewRef(Py_True);
        else if (rc == RING_ERR_FULL) result = Py_NewRef(Py_False);
        else raise_ring(self->st, rc, self->path);
    }
    unlock_role(&self->plock);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(put_many_doc, "put_many(items, timeout=None)\n--\n\n"
"Write every item in order, in batches of one native call each, waiting for room as put() does.\n"
"Every item is checked first: if one is not bytes-like (TypeError) or is over max_message_size\n"
"(InvalidSizeError), nothing is written. Returns the number written.");

static PyObject *Ring_put_many(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"items", "timeout", NULL};
    PyObject *values[2];
    if (parse_args("put_many", names, 1, args, nargs, kwnames, values) < 0) return NULL;
    PyObject *items = values[0];
    int64_t timeout = parse_timeout(values[1]);
    if (timeout == -2) return NULL;
    PyObject *seq = PySequence_Fast(items, "put_many() needs an iterable of bytes-like objects");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Py_buffer *views = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *views);
    ring_message_t *msgs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *msgs);
    Py_ssize_t held = 0, total = 0;
    int failed = 0;
    if (views == NULL || msgs == NULL) { PyErr_NoMemory(); failed = 1; }
    /* Check every item before writing any. */
    for (Py_ssize_t i = 0; !failed && i < n; i++) {
        if (get_buffer(PySequence_Fast_GET_ITEM(seq, i), &views[i]) < 0) { failed = 1; break; }
        held++;
        if ((uint64_t)views[i].len > self->max_message) {
            PyErr_Format(self->st->InvalidSizeError, "item %zd: message of %zd bytes is larger than the ring's maximum of %llu",
                         i, views[i].len, (unsigned long long)self->max_message);
            failed = 1;
            break;
        }
        msgs[i].data = views[i].buf;
        msgs[i].len = (size_t)views[i].len;
    }
    if (!failed && n > 0) {
        lock_role(&self->plock);
        Py_ssize_t k = 0;
        while (k < n) {
            ring_producer_t *p = producer_of(self);
            if (p == NULL) { failed = 1; break; }
            size_t chunk = (size_t)(n - k) < PUT_CHUNK ? (size_t)(n - k) : PUT_CHUNK;
            size_t written = 0;
            int rc = ring_write_batch(p, msgs + k, chunk, &written);
            if (rc != RING_OK) { raise_ring(self->st, rc, self->path); failed = 1; break; }
            if (written == 0) {
                if (write_one(self, msgs[k].data, msgs[k].len, timeout) < 0) { failed = 1; break; }
                written = 1;
            }
            k += (Py_ssize_t)written;
        }
        total = k;
        unlock_role(&self->plock);
    }
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(msgs);
    Py_DECREF(seq);
    if (failed) return NULL;
    return PyLong_FromSsize_t(total);
}

PyDoc_STRVAR(close_writer_doc, "close_writer()\n--\n\n"
"End the stream: the consumer drains, then gets EndOfStreamError. Releases the producer role.");

static PyObject *Ring_close_writer(RingObject *self, PyObject *unused) {
    (void)unused;
    lock_role(&self->plock);
    PyObject *result = NULL;
    ring_producer_t *p = producer_of(self);
    if (p != NULL) {
        int rc = ring_producer_close_writer(p);
        ring_producer_free(p);
        self->producer = NULL;
        result = rc == RING_OK ? Py_NewRef(Py_None) : raise_ring(self->st, rc, self->path);
    }
    unlock_role(&self->plock);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Consumer side                                                            */

/* Where ring_consume's visitor puts the messages it copies out of the mapping. */
typedef struct {
    PyObject *list;      /* get_many: messages are appended here; NULL: get, into one */
    Py_ssize_t start;    /* length of list before this ring_consume call */
    PyObject *one;       /* get: the message */
    int failed;          /* a bytes object could not be made: exception set */
} take_t;

/* ring_visit_fn: one copy from the mapping straight into a new bytes object. Index 0
 * (the first visit, or a batch visited again after the producer reclaimed it under
 * overwrite-oldest) drops what an earlier pass of this call kept. */
static int take_message(void *context, size_t index, const void *data, size_t len) {
    take_t *t = context;
    if (index == 0) {
        if (t->failed) { PyErr_Clear(); t->failed = 0; }
        Py_CLEAR(t->one);
        if (t->list && PyList_GET_SIZE(t->list) > t->start &&
            PyList_SetSlice(t->list, t->start, PyList_GET_SIZE(t->list), NULL) < 0) { t->failed = 1; return 1; }
    }
    PyObject *bytes = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    if (bytes == NULL) { t->failed = 1; return 1; }
    if (t->list == NULL) { t->one = bytes; return 0; }
    int rc = PyList_Append(t->list, bytes);
    Py_DECREF(bytes);
    if (rc < 0) { t->failed = 1; return 1; }
    return 0;
}

/* take_many's result when no bytes object could be made (ring_error_t codes are <= 0). */
#define TAKE_FAILED 1

/* With clock held: consumes up to max_items messages into list (one native call, one
 * copy each) without waiting. Returns the ring_error_t code; 0 messages taken because a
 * bytes object could not be made is TAKE_FAILED with the exception set (nothing was consumed). */
static int take_many(ring_consumer_t *c, PyObject *list, size_t max_items) {
    take_t t = {list, PyList_GET_SIZE(list), NULL, 0};
    size_t count = 0;
    int rc = ring_consume(c, take_message, &t, max_items, &count);
    if (t.failed && count == 0) return TAKE_FAILED;
    if (t.failed) PyErr_Clear(); /* what was taken is returned; the next call meets it again */
    return rc;
}

/* With clock held: reads one message as bytes without waiting, with one native call.
 * NULL with *rc set to the ring_error_t code (exception not set), or to 0 with an exception set. */
static PyObject *read_now(RingObject *self, ring_consumer_t *c, int *rc) {
    (void)self;
    take_t t = {NULL, 0, NULL, 0};
    size_t count = 0;
    *rc = ring_consume(c, take_message, &t, 1, &count);
    if (t.failed) { Py_CLEAR(t.one); *rc = 0; return NULL; }
    if (*rc == RING_OK && count == 1) return t.one;
    Py_CLEAR(t.one);
    return NULL;
}

/* With clock held: waits until a message (or the end) is there, or the deadline. 0: go on; 1: time is up; -1: error. */
static int wait_for_data(RingObject *self, ring_consumer_t **c, int64_t deadline) {
    int64_t slice = next_slice(deadline);
    if (slice == 0) return 1;
    int rc;
    ring_consumer_t *consumer = *c;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_wait(consumer, slice);
    Py_END_ALLOW_THREADS
    if (rc != RING_OK && rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); return -1; }
    unlock_role(&self->clock);
    int stop = between_slices(self);
    lock_role(&self->clock);
    if (stop < 0) return -1;
    if ((*c = consumer_of(self)) == NULL) return -1;
    return 0;
}

static PyObject *get_impl(RingObject *self, int64_t timeout) {
    lock_role(&self->clock);
    PyObject *result = NULL;
    ring_consumer_t *c = consumer_of(self);
    int64_t deadline = -2; /* read the clock only once a wait is needed */
    while (c != NULL) {
        int rc;
        result = read_now(self, c, &rc);
        if (result != NULL || rc == 0) break;
        if (rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); break; }
        if (timeout == 0) { PyErr_SetString(self->st->EmptyError, "ring is empty"); break; }
        if (deadline == -2) {
            deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
            int64_t spin_end = hot_spin_end(deadline);
            do {
                cpu_relax();
                result = read_now(self, c, &rc);
            } while (result == NULL && rc == RING_ERR_EMPTY && monotonic_ns() < spin_end);
            if (result != NULL || rc == 0) break;
            if (rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); break; }
        }
        int w = wait_for_data(self, &c, deadline);
        if (w < 0) break;
        if (w == 1) {
            result = read_now(self, c, &rc);
            if (result == NULL && rc == RING_ERR_EMPTY) PyErr_SetString(self->st->EmptyError, "ring is empty: no message within the timeout");
            else if (result == NULL && rc != 0) raise_ring(self->st, rc, self->path);
            break;
        }
    }
    unlock_role(&self->clock);
    return result;
}

PyDoc_STRVAR(get_doc, "get(timeout=None)\n--\n\n"
"Read the oldest message as bytes, waiting up to timeout seconds (None: no limit).\n"
"EmptyError when the time is up; EndOfStreamError at the end of the stream.");

static PyObject *Ring_get(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"timeout", NULL};
    PyObject *values[1];
    if (parse_args("get", names, 0, args, nargs, kwnames, values) < 0) return NULL;
    int64_t timeout = parse_timeout(values[0]);
    if (timeout == -2) return NULL;
    return get_impl(self, timeout);
}

PyDoc_STRVAR(try_get_doc, "try_get()\n--\n\nRead the oldest message if there is one; None if the ring is empty.");

static PyObject *Ring_try_get(RingObject *self, PyObject *unused) {
    (void)unused;
    lock_role(&self->clock);
    PyObject *result = NULL;
    ring_consumer_t *c = consumer_of(self);
    if (c != NULL) {
        int rc;
        result = read_now(self, c, &rc);
        if (result == NULL && rc == RING_ERR_EMPTY) result = Py_NewRef(Py_None);
        else if (result == NULL && rc != 0) raise_ring(self->st, rc, self->path);
    }
    unlock_role(&self->clock);
    return result;
}

/* Appends the messages packed in buf (count of them, lengths[]) to list. */
static int append_packed(PyObject *list, const char *buf, const size_t *lengths, size_t count) {
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        PyObject *b = PyBytes_FromStringAndSize(buf + offset, (Py_ssize_t)lengths[i]);
        if (b == NULL || PyList_Append(list, b) < 0) { Py_XDECREF(b); return -1; }
        Py_DECREF(b);
        offset += lengths[i];
    }
    return 0;
}

PyDoc_STRVAR(get_many_doc, "get_many(max_items, timeout=0.0)\n--\n\n"
"Read up to max_items messages at once, waiting up to timeout seconds for the first.\n"
"Returns [] if none arrived; EndOfStreamError if none are left and the stream ended.");

static PyObject *Ring_get_many(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"max_items", "timeout", NULL};
    PyObject *values[2];
    if (parse_args("get_many", names, 1, args, nargs, kwnames, values) < 0) return NULL;
    PyObject *max_obj = values[0], *timeout_obj = values[1];
    if (!PyLong_Check(max_obj)) {
        PyErr_Format(PyExc_TypeError, "max_items must be an int, not %.100s", Py_TYPE(max_obj)->tp_name);
        return NULL;
    }
    Py_ssize_t max_items = PyLong_AsSsize_t(max_obj);
    if (max_items == -1 && PyErr_Occurred()) return NULL;
    if (max_items < 0) { PyErr_SetString(PyExc_ValueError, "max_items must not be negative"); return NULL; }
    int64_t timeout = timeout_obj ? parse_timeout(timeout_obj) : 0;
    if (timeout == -2) return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    if (max_items == 0) return list;
    lock_role(&self->clock);
    int failed = 0;
    ring_consumer_t *c = consumer_of(self);
    if (c == NULL) failed = 1;
    int64_t deadline = -2; /* read the clock only once a wait is needed */
    while (!failed && PyList_GET_SIZE(list) < max_items) {
        int rc = take_many(c, list, (size_t)(max_items - PyList_GET_SIZE(list)));
        if (rc == RING_OK) continue;
        if (rc == TAKE_FAILED) { failed = PyList_GET_SIZE(list) == 0; if (!failed) PyErr_Clear(); break; }
        if (rc == RING_ERR_END_OF_STREAM && PyList_GET_SIZE(list) > 0) break;
        if (rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); failed = 1; break; }
        if (PyList_GET_SIZE(list) > 0 || timeout == 0) break;
        if (deadline == -2) deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
        int w = wait_for_data(self, &c, deadline);
        if (w < 0) failed = 1;
        if (w != 0) {
            if (w == 1) { /* time is up: one last look */
                rc = take_many(c, list, (size_t)max_items);
                if (rc == TAKE_FAILED) failed = 1;
                else if (rc != RING_OK && rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); failed = 1; }
            }
            break;
        }
    }
    unlock_role(&self->clock);
    if (failed) { Py_DECREF(list); return NULL; }
    return list;
}

PyDoc_STRVAR(peek_all_doc, "peek_all()\n--\n\nEvery unread message, oldest first, without consuming any.");

static PyObject *Ring_peek_all(RingObject *self, PyObject *unused) {
    (void)unused;
    lock_role(&self->clock);
    PyObject *list = NULL;
    char *buf = NULL;
    size_t *lengths = NULL;
    ring_consumer_t *c = consumer_of(self);
    ring_info_t info;
    if (c == NULL) goto done;
    int rc = ring_info(self->ring, &info);
    if (rc != RING_OK) { raise_ring(self->st, rc, self->path); goto done; }
    /* used_bytes bounds the payload bytes, message_count the messages, at that moment. */
    size_t cap = info.used_bytes > 0 ? (size_t)info.used_bytes : 1;
    size_t max = info.message_count > 0 ? (size_t)info.message_count : 1;
    buf = PyMem_Malloc(cap);
    lengths = PyMem_Malloc(max * sizeof *lengths);
    if (buf == NULL || lengths == NULL) { PyErr_NoMemory(); goto done; }
    size_t count = 0;
    rc = ring_peek_batch(c, buf, cap, lengths, max, &count);
    if (rc == RING_ERR_BUFFER_TOO_SMALL) count = 0; /* the ring changed under us: a newer first message */
    else if (rc != RING_OK) { raise_ring(self->st, rc, self->path); goto done; }
    if ((list = PyList_New(0)) == NULL) goto done;
    if (append_packed(list, buf, lengths, count) < 0) Py_CLEAR(list);
done:
    unlock_role(&self->clock);
    PyMem_Free(buf);
    PyMem_Free(lengths);
    return list;
}

PyDoc_STRVAR(wait_doc, "_wait(timeout)\n--\n\n"
"Wait up to timeout seconds until a message (or the end of the stream) is there, without\n"
"consuming it. True if there is, False if the time ran out.");

static PyObject *Ring_wait(RingObject *self, PyObject *timeout_obj) {
    int64_t timeout = parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    lock_role(&self->clock);
    PyObject *result = NULL;
    ring_consumer_t *c = consumer_of(self);
    int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
    while (c != NULL) {
        int rc = ring_wait(c, 0);
        if (rc == RING_OK) { result = Py_NewRef(Py_True); break; }
        if (rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); break; }
        int w = timeout == 0 ? 1 : wait_for_data(self, &c, deadline);
        if (w < 0) break;
        if (w == 1) { result = Py_NewRef(Py_False); break; }
    }
    unlock_role(&self->clock);
    return result;
}

PyDoc_STRVAR(get_view_doc, "get_view(timeout=None)\n--\n\n"
"Zero-copy read: a RecordView of the oldest message inside the shared mapping.");

static PyObject *Ring_get_view(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"timeout", NULL};
    PyObject *values[1];
    if (parse_args("get_view", names, 0, args, nargs, kwnames, values) < 0) return NULL;
    int64_t timeout = parse_timeout(values[0]);
    if (timeout == -2) return NULL;
    lock_role(&self->clock);
    PyObject *result = NULL;
    ring_consumer_t *c = consumer_of(self);
    int64_t deadline = -2; /* read the clock only once a wait is needed */
    while (c != NULL) {
        const void *data = NULL;
        size_t len = 0;
        int rc = ring_peek(c, &data, &len, 0);
        if (rc == RING_OK) {
            RecordViewObject *v = PyObject_New(RecordViewObject, self->st->RecordViewType);
            if (v == NULL) { ring_release_cancel(c); break; }
            v->owner = (RingObject *)Py_NewRef(self);
            v->data = data;
            v->len = (Py_ssize_t)len;
            v->exports = 0;
            v->released = 0;
            self->view = (PyObject *)v;
            result = (PyObject *)v;
            break;
        }
        if (rc != RING_ERR_EMPTY) { raise_ring(self->st, rc, self->path); break; }
        if (timeout == 0) { PyErr_SetString(self->st->EmptyError, "ring is empty"); break; }
        if (deadline == -2) deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
        int w = wait_for_data(self, &c, deadline);
        if (w < 0) break;
        if (w == 1) { timeout = 0; continue; } /* one last look */
    }
    unlock_role(&self->clock);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Both sides                                                               */

PyDoc_STRVAR(flush_doc, "flush()\n--\n\nmsync: make everything written so far durable in the file.");

static PyObject *Ring_flush(RingObject *self, PyObject *unused) {
    (void)unused;
    if (self->closed) return raise_closed(self->st);
    int rc;
    ring_t *ring = self->ring;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_flush(ring);
    Py_END_ALLOW_THREADS
    if (rc != RING_OK) return raise_ring(self->st, rc, self->path);
    Py_RETURN_NONE;
}

static PyObject *Ring_stats_dict(RingObject *self, PyObject *unused) {
    (void)unused;
    if (self->closed) return raise_closed(self->st);
    ring_info_t i;
    int rc = ring_info(self->ring, &i);
    if (rc != RING_OK) return raise_ring(self->st, rc, self->path);
    return Py_BuildValue("{s:K,s:K,s:i,s:(ii),s:K,s:K,s:K,s:K,s:K,s:O}",
        "capacity", (unsigned long long)i.capacity, "max_message_size", (unsigned long long)i.max_message_size,
        "policy", (int)i.policy, "version", (int)i.version_major, (int)i.version_minor,
        "producer_position", (unsigned long long)i.producer_position,
        "consumer_position", (unsigned long long)i.consumer_position,
        "used_bytes", (unsigned long long)i.used_bytes, "message_count", (unsigned long long)i.message_count,
        "dropped_count", (unsigned long long)i.dropped_count, "writer_closed", i.writer_closed ? Py_True : Py_False);
}

static Py_ssize_t Ring_len(RingObject *self) {
    if (self->closed) { raise_closed(self->st); return -1; }
    ring_info_t i;
    int rc = ring_info(self->ring, &i);
    if (rc != RING_OK) { raise_ring(self->st, rc, self->path); return -1; }
    return (Py_ssize_t)i.message_count;
}

/* Frees the handles. Called with both role locks held (or from dealloc). */
static void free_handles(RingObject *self) {
    if (self->producer) { ring_producer_free(self->producer); self->producer = NULL; }
    if (self->consumer) { ring_consumer_free(self->consumer); self->consumer = NULL; }
    if (self->ring) { ring_free(self->ring); self->ring = NULL; }
}

PyDoc_STRVAR(close_doc, "close()\n--\n\n"
"Release the roles and the file. Idempotent. BufferError while a memoryview of a RecordView is alive.");

static PyObject *Ring_close(RingObject *self, PyObject *unused) {
    (void)unused;
    if (self->closed) Py_RETURN_NONE;
    if (self->view != NULL) {
        RecordViewObject *v = (RecordViewObject *)self->view;
        if (v->exports > 0) {
            PyErr_SetString(PyExc_BufferError, "cannot close the ring: a memoryview of a RecordView is still alive");
            return NULL;
        }
        v->released = 1; /* the view becomes unusable; the message stays unread */
        self->view = NULL;
    }
    self->closed = 1; /* blocked calls notice between slices and give up their role lock */
    lock_role(&self->plock);
    lock_role(&self->clock);
    Py_BEGIN_ALLOW_THREADS
    free_handles(self);
    Py_END_ALLOW_THREADS
    unlock_role(&self->clock);
    unlock_role(&self->plock);
    Py_RETURN_NONE;
}

static PyObject *Ring_enter(RingObject *self, PyObject *unused) {
    (void)unused;
    if (self->closed) return raise_closed(self->st);
    return Py_NewRef(self);
}

static PyObject *Ring_exit(RingObject *self, PyObject *args) {
    (void)args;
    PyObject *r = Ring_close(self, NULL);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *Ring_get_path(RingObject *self, void *c) { (void)c; return Py_NewRef(self->path); }
static PyObject *Ring_get_capacity(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(self->capacity); }
static PyObject *Ring_get_policy_value(RingObject *self, void *c) { (void)c; return PyLong_FromLong(self->policy); }
static PyObject *Ring_get_max_message(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(self->max_message); }
static PyObject *Ring_get_closed(RingObject *self, void *c) { (void)c; return PyBool_FromLong(self->closed); }

static int Ring_traverse(RingObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    return 0;
}

static void Ring_dealloc(RingObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    free_handles(self);
    if (self->locks_ready) {
        pthread_mutex_destroy(&self->plock);
        pthread_mutex_destroy(&self->clock);
    }
    Py_XDECREF(self->path);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Ring_methods[] = {
    {"create", (PyCFunction)(void (*)(void))Ring_create, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, create_doc},
    {"open", (PyCFunction)(void (*)(void))Ring_open, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, open_doc},
    {"put", (PyCFunction)(void (*)(void))Ring_put, METH_FASTCALL | METH_KEYWORDS, put_doc},
    {"try_put", (PyCFunction)Ring_try_put, METH_O, try_put_doc},
    {"put_many", (PyCFunction)(void (*)(void))Ring_put_many, METH_FASTCALL | METH_KEYWORDS, put_many_doc},
    {"close_writer", (PyCFunction)Ring_close_writer, METH_NOARGS, close_writer_doc},
    {"get", (PyCFunction)(void (*)(void))Ring_get, METH_FASTCALL | METH_KEYWORDS, get_doc},
    {"try_get", (PyCFunction)Ring_try_get, METH_NOARGS, try_get_doc},
    {"get_many", (PyCFunction)(void (*)(void))Ring_get_many, METH_FASTCALL | METH_KEYWORDS, get_many_doc},
    {"peek_all", (PyCFunction)Ring_peek_all, METH_NOARGS, peek_all_doc},
    {"get_view", (PyCFunction)(void (*)(void))Ring_get_view, METH_FASTCALL | METH_KEYWORDS, get_view_doc},
    {"_wait", (PyCFunction)Ring_wait, METH_O, wait_doc},
    {"flush", (PyCFunction)Ring_flush, METH_NOARGS, flush_doc},
    {"_stats", (PyCFunction)Ring_stats_dict, METH_NOARGS, "A snapshot of the ring's state as a dict (policy as an int)."},
    {"close", (PyCFunction)Ring_close, METH_NOARGS, close_doc},
    {"__enter__", (PyCFunction)Ring_enter, METH_NOARGS, "Return the ring."},
    {"__exit__", (PyCFunction)Ring_exit, METH_VARARGS, "Close the ring."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Ring_getset[] = {
    {"path", (getter)Ring_get_path, NULL, "The path the ring was created or opened at.", NULL},
    {"capacity", (getter)Ring_get_capacity, NULL, "Bytes in the data region (a power of two).", NULL},
    {"_policy", (getter)Ring_get_policy_value, NULL, "Policy as an int.", NULL},
    {"max_message_size", (getter)Ring_get_max_message, NULL, "The largest message the ring accepts.", NULL},
    {"closed", (getter)Ring_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Ring_slots[] = {
    {Py_tp_doc, "The native core of ringpy.Ring: an open ring file."},
    {Py_tp_new, Ring_new},
    {Py_tp_dealloc, Ring_dealloc},
    {Py_tp_traverse, Ring_traverse},
    {Py_tp_methods, Ring_methods},
    {Py_tp_getset, Ring_getset},
    {Py_sq_length, Ring_len},
    {0, NULL},
};

static PyType_Spec Ring_spec = {
    .name = "ringpy._ringpy.RingBase",
    .basicsize = sizeof(RingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Ring_slots,
};

/* ------------------------------------------------------------------------ */
/* RecordView                                                               */

static int View_getbuffer(RecordViewObject *self, Py_buffer *view, int flags) {
    if (self->released || self->owner->closed) {
        PyErr_SetString(PyExc_BufferError, "the RecordView was released");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->data, self->len, 1, flags) < 0) return -1;
    self->exports++;
    return 0;
}

static void View_releasebuffer(RecordViewObject *self, Py_buffer *view) {
    (void)view;
    self->exports--;
}

/* Ends the peek: consume (1) or not (0). */
static PyObject *View_finish(RecordViewObject *self, int consume) {
    if (self->released) Py_RETURN_NONE;
    if (self->exports > 0) {
        PyErr_Format(PyExc_BufferError, "%zd memoryview(s) of this record are still alive", self->exports);
        return NULL;
    }
    RingObject *ring = self->owner;
    lock_role(&ring->clock);
    int rc = RING_OK;
    if (!self->released && ring->consumer != NULL)
        rc = consume ? ring_release(ring->consumer) : ring_release_cancel(ring->consumer);
    self->released = 1;
    if (ring->view == (PyObject *)self) ring->view = NULL;
    unlock_role(&ring->clock);
    if (rc != RING_OK) return raise_ring(ring->st, rc, ring->path);
    Py_RETURN_NONE;
}

static PyObject *View_release(RecordViewObject *self, PyObject *unused) { (void)unused; return View_finish(self, 1); }
static PyObject *View_cancel(RecordViewObject *self, PyObject *unused) { (void)unused; return View_finish(self, 0); }

static PyObject *View_enter(RecordViewObject *self, PyObject *unused) {
    (void)unused;
    if (self->released) { PyErr_SetString(PyExc_BufferError, "the RecordView was released"); return NULL; }
    return Py_NewRef(self);
}

static PyObject *View_exit(RecordViewObject *self, PyObject *args) {
    PyObject *type = PyTuple_Size(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    PyObject *r = View_finish(self, type == Py_None);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static Py_ssize_t View_len(RecordViewObject *self) { return self->len; }
static PyObject *View_get_released(RecordViewObject *self, void *c) { (void)c; return PyBool_FromLong(self->released); }

static void View_dealloc(RecordViewObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    if (!self->released && self->owner != NULL) {
        RingObject *ring = self->owner;
        if (ring->consumer != NULL) ring_release_cancel(ring->consumer);
        if (ring->view == (PyObject *)self) ring->view = NULL;
    }
    Py_XDECREF(self->owner);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMethodDef View_methods[] = {
    {"release", (PyCFunction)View_release, METH_NOARGS,
     "Consume the message. OverwrittenError if the producer reclaimed it while held (overwrite-oldest)."},
    {"cancel", (PyCFunction)View_cancel, METH_NOARGS, "Give the view back without consuming the message."},
    {"__enter__", (PyCFunction)View_enter, METH_NOARGS, "Return the view."},
    {"__exit__", (PyCFunction)View_exit, METH_VARARGS, "Release the view (consume) or, after an exception, cancel it."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef View_getset[] = {
    {"released", (getter)View_get_released, NULL, "True once released or cancelled.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot View_slots[] = {
    {Py_tp_doc, "A zero-copy view of the oldest message inside the shared mapping (buffer protocol)."},
    {Py_tp_new, NULL},
    {Py_tp_dealloc, View_dealloc},
    {Py_tp_methods, View_methods},
    {Py_tp_getset, View_getset},
    {Py_bf_getbuffer, View_getbuffer},
    {Py_bf_releasebuffer, View_releasebuffer},
    {Py_sq_length, View_len},
    {0, NULL},
};

static PyType_Spec View_spec = {
    .name = "ringpy._ringpy.RecordView",
    .basicsize = sizeof(RecordViewObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = View_slots,
};

/* ------------------------------------------------------------------------ */
/* Module                                                                   */

static PyObject *new_error(PyObject *module, const char *name, const char *doc, PyObject *base, PyObject *mixin) {
    PyObject *bases = mixin ? PyTuple_Pack(2, base, mixin) : PyTuple_Pack(1, base);
    if (bases == NULL) return NULL;
    char qualified[128];
    snprintf(qualified, sizeof qualified, "ringpy.%s", name);
    PyObject *type = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
    Py_DECREF(bases);
    if (type == NULL) return NULL;
    if (PyModule_AddObjectRef(module, name, type) < 0) { Py_DECREF(type); return NULL; }
    return type;
}

static int ringpy_exec(PyObject *module) {
    ringpy_state *st = state_of_module(module);
    PyObject *queue = PyImport_ImportModule("queue");
    if (queue == NULL) return -1;
    PyObject *qfull = PyObject_GetAttrString(queue, "Full");
    PyObject *qempty = PyObject_GetAttrString(queue, "Empty");
    Py_DECREF(queue);
    if (qfull == NULL || qempty == NULL) { Py_XDECREF(qfull); Py_XDECREF(qempty); return -1; }
    int ok = (st->RingError = new_error(module, "RingError", "Base class of every ringpy error.", PyExc_Exception, NULL))
        && (st->FullError = new_error(module, "FullError", "No room for the message, or put's timeout passed.", st->RingError, qfull))
        && (st->EmptyError = new_error(module, "EmptyError", "No message to read, or get's timeout passed.", st->RingError, qempty))
        && (st->InvalidSizeError = new_error(module, "InvalidSizeError", "A message over max_message_size, or a bad capacity.", st->RingError, PyExc_ValueError))
        && (st->ClosedError = new_error(module, "ClosedError", "The ring object was closed.", st->RingError, PyExc_ValueError))
        && (st->EndOfStreamError = new_error(module, "EndOfStreamError", "The producer closed the stream and every message has been read.", st->RingError, PyExc_EOFError))
        && (st->CorruptError = new_error(module, "CorruptError", "The file holds values no valid ring holds.", st->RingError, NULL))
        && (st->UnsupportedVersionError = new_error(module, "UnsupportedVersionError", "Another major format version, or unknown incompatible features.", st->RingError, NULL))
        && (st->BusyError = new_error(module, "BusyError", "Another handle holds the producer or consumer role.", st->RingError, NULL))
        && (st->OverwrittenError = new_error(module, "OverwrittenError", "A zero-copy view's record was reclaimed while it was held.", st->RingError, NULL));
    Py_DECREF(qfull);
    Py_DECREF(qempty);
    if (!ok) return -1;
    st->RingType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Ring_spec, NULL);
    if (st->RingType == NULL || PyModule_AddType(module, st->RingType) < 0) return -1;
    st->RecordViewType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &View_spec, NULL);
    if (st->RecordViewType == NULL || PyModule_AddType(module, st->RecordViewType) < 0) return -1;
    uint16_t major = 0, minor = 0;
    ring_format_version(&major, &minor);
    PyObject *version = Py_BuildValue("(ii)", major, minor);
    if (version == NULL || PyModule_AddObjectRef(module, "FORMAT_VERSION", version) < 0) { Py_XDECREF(version); return -1; }
    Py_DECREF(version);
    if (PyModule_AddIntConstant(module, "ABI_VERSION", (long)ring_abi_version()) < 0) return -1;
    return 0;
}

static int ringpy_traverse(PyObject *module, visitproc visit, void *arg) {
    ringpy_state *st = state_of_module(module);
    Py_VISIT(st->RingError); Py_VISIT(st->FullError); Py_VISIT(st->EmptyError); Py_VISIT(st->InvalidSizeError);
    Py_VISIT(st->ClosedError); Py_VISIT(st->EndOfStreamError); Py_VISIT(st->CorruptError);
    Py_VISIT(st->UnsupportedVersionError); Py_VISIT(st->BusyError); Py_VISIT(st->OverwrittenError);
    Py_VISIT(st->RingType); Py_VISIT(st->RecordViewType);
    return 0;
}

static int ringpy_clear(PyObject *module) {
    ringpy_state *st = state_of_module(module);
    Py_CLEAR(st->RingError); Py_CLEAR(st->FullError); Py_CLEAR(st->EmptyError); Py_CLEAR(st->InvalidSizeError);
    Py_CLEAR(st->ClosedError); Py_CLEAR(st->EndOfStreamError); Py_CLEAR(st->CorruptError);
    Py_CLEAR(st->UnsupportedVersionError); Py_CLEAR(st->BusyError); Py_CLEAR(st->OverwrittenError);
    Py_CLEAR(st->RingType); Py_CLEAR(st->RecordViewType);
    return 0;
}

static void ringpy_free(void *module) { ringpy_clear((PyObject *)module); }

static PyModuleDef_Slot ringpy_slots[] = {
    {Py_mod_exec, ringpy_exec},
    {0, NULL},
};

static struct PyModuleDef ringpy_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ringpy._ringpy",
    .m_doc = "Native core of ringpy: RingFormat shared-memory ring buffer files (SPEC.md).",
    .m_size = sizeof(ringpy_state),
    .m_slots = ringpy_slots,
    .m_traverse = ringpy_traverse,
    .m_clear = ringpy_clear,
    .m_free = ringpy_free,
};

PyMODINIT_FUNC PyInit__ringpy(void) { return PyModuleDef_Init(&ringpy_module); }
