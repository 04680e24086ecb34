/*
 * ringpy_ring.c - the Ring type (ringpy._ringpy.RingBase; ringpy.Ring subclasses it):
 * an open ring file holding, on demand, the producer and the consumer role. Its read
 * methods also serve the Reader type (ringpy_reader.c), whose objects are RingObjects
 * too: a Reader's consumer is its reader handle, made with it.
 *
 * Every method starts with ringpy_check (closed? forked?), which takes no lock. Each
 * role has a lock of its own and every blocking call goes through ringpy_run
 * (ringpy_wait.c). In a forked child an inherited Ring raises ForkedError from every
 * method without touching a lock (the parent's threads may have held one at the fork),
 * and close()/dealloc drop its handles without freeing them: freeing would unlock the
 * role locks, which belong to the open file description the parent still uses.
 */
#include "ringpy.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Checks and roles                                                         */

static int forked(RingObject *self) { return self->generation != ringpy_fork_generation(); }

int ringpy_check(RingObject *self) {
    if (self->closing) { ringpy_raise_closed(self->st); return -1; }
    if (forked(self)) {
        PyErr_SetString(self->st->ForkedError, "this handle belongs to the process that opened it "
                        "(it was inherited across fork): open the ring again");
        return -1;
    }
    return 0;
}

/* With the role lock held: takes a role with open_role(ring, out) under rlock. */
static int open_role(RingObject *self, int (*open_role)(ring_t *, void **), void **out) {
    ringpy_lock(&self->rlock);
    int rc = self->ring == NULL ? RING_ERR_CLOSED : open_role(self->ring, out);
    ringpy_unlock(&self->rlock);
    if (rc != RING_OK) { *out = NULL; ringpy_raise(self->st, rc, self->path); return -1; }
    return 0;
}

static int open_producer(ring_t *ring, void **out) { return ring_producer_open(ring, (ring_producer_t **)out); }
static int open_consumer(ring_t *ring, void **out) { return ring_consumer_open(ring, (ring_consumer_t **)out); }

static PyObject *raise_writer_closed(RingObject *self) {
    PyErr_SetString(self->st->ClosedError, "the stream of this ring was ended by close_writer()");
    return NULL;
}

ring_producer_t *ringpy_producer(RingObject *self) {
    if (ringpy_check(self) < 0) return NULL;
    if (self->writer_closed) { raise_writer_closed(self); return NULL; }
    if (self->producer == NULL && open_role(self, open_producer, (void **)&self->producer) < 0) return NULL;
    return self->producer;
}

ring_consumer_t *ringpy_consumer(RingObject *self) {
    if (ringpy_check(self) < 0) return NULL;
    if (self->view != NULL) {
        PyErr_Format(self->st->BusyError, "a RecordView of this %s is open: release() or cancel() it first",
                     self->parent ? "reader" : "ring");
        return NULL;
    }
    if (self->consumer == NULL) {
        /* A Reader's handle is made with it and only close() drops it. */
        if (self->parent != NULL) { ringpy_raise_closed(self->st); return NULL; }
        if (open_role(self, open_consumer, (void **)&self->consumer) < 0) return NULL;
        if (self->stop_when_gone && ringpy_apply_stop_when_gone(self, self->consumer, 0) < 0) return NULL;
    }
    return self->consumer;
}

/* ------------------------------------------------------------------------ */
/* Creating and opening                                                     */

int ringpy_object_init(RingObject *self, PyObject *module, PyObject *path) {
    self->module = Py_NewRef(module);
    self->st = ringpy_state_of(module);
    self->path = Py_NewRef(path);
    self->fd = -1;
    self->generation = ringpy_fork_generation();
    if (pthread_mutex_init(&self->plock, NULL) != 0) { PyErr_NoMemory(); return -1; }
    if (pthread_mutex_init(&self->clock, NULL) != 0) {
        pthread_mutex_destroy(&self->plock);
        PyErr_NoMemory();
        return -1;
    }
    if (pthread_mutex_init(&self->rlock, NULL) != 0) {
        pthread_mutex_destroy(&self->plock);
        pthread_mutex_destroy(&self->clock);
        PyErr_NoMemory();
        return -1;
    }
    self->locks_ready = 1;
    return 0;
}

static RingObject *new_ring(PyTypeObject *cls, PyObject *module, ring_t *ring, PyObject *path) {
    RingObject *self = (RingObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) { ring_free(ring); return NULL; }
    self->ring = ring;
    if (ringpy_object_init(self, module, path) < 0) { Py_DECREF(self); return NULL; }
    /* What opening validated, without walking records or judging writerState (SPEC.md §13). */
    ring_geometry_t geometry;
    int rc = ring_geometry(ring, &geometry);
    if (rc != RING_OK) { ringpy_raise(self->st, rc, path); Py_DECREF(self); return NULL; }
    self->capacity = geometry.capacity;
    self->max_message = geometry.max_message_size;
    self->policy = (int)geometry.policy;
    self->reader_slots = geometry.reader_slots;
    /* ring_geometry_t has no room for it: its own call (immutable too, validated at open). */
    rc = ring_producer_slots(ring, &self->producer_slots);
    if (rc == RING_OK) rc = ring_fd(ring, &self->fd);
    if (rc != RING_OK) { ringpy_raise(self->st, rc, path); Py_DECREF(self); return NULL; }
    return self;
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
 * keyword (at most max_positional by position); names ends with NULL and its first
 * `required` entries must be given.
 * Returns -1 with a TypeError set. */
int ringpy_parse_args(const char *fname, const char *const *names, int required, int max_positional,
                      PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **values) {
    int count = 0;
    while (names[count]) values[count++] = NULL;
    if (max_positional > count) max_positional = count;
    if (nargs > max_positional) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d %sargument%s (%zd given)", fname, max_positional,
                     max_positional < count ? "positional " : "", max_positional == 1 ? "" : "s", nargs);
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


/* A path argument (str, bytes or os.PathLike) as (the str or bytes object, encoded bytes object). */
int ringpy_convert_path(PyObject *arg, PyObject **str, PyObject **encoded) {
    PyObject *fs = PyOS_FSPath(arg);
    if (fs == NULL) return -1;
    /* str (encoded with the file system encoding and surrogateescape, so the bytes of any
     * name os.listdir gave come back unchanged), bytes, or os.PathLike of either. */
    if (!PyUnicode_FSConverter(fs, encoded)) { Py_DECREF(fs); return -1; }
    *str = fs;
    return 0;
}

int ringpy_parse_policy(PyObject *policy) {
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

/* parse_args for a method whose last argument is timeout (seconds, None: no limit), as
 * *timeout in ns (-1: none; default_ns when not given). Returns -1 with an exception set. */
static int parse_args_timeout(const char *fname, const char *const *names, int required, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames, PyObject **values, int64_t default_ns,
                              int64_t *timeout) {
    int count = 0;
    while (names[count]) count++;
    if (ringpy_parse_args(fname, names, required, count, args, nargs, kwnames, values) < 0) return -1;
    *timeout = values[count - 1] ? ringpy_parse_timeout(values[count - 1]) : default_ns;
    return *timeout == -2 ? -1 : 0;
}

/* queue.Queue's block and timeout (either may be NULL: not given) as a timeout in ns (-1:
 * none): block=False never waits (the timeout is ignored, as queue.Queue does); block=True
 * waits up to timeout. block must be a bool: a number there is most likely a timeout given
 * by position, as ringpy took it before it took block (get(0.5) meant "wait 0.5 s"), so it
 * is a TypeError naming the keyword instead of a silent wait without limit. -1 on error. */
static int parse_block_timeout(const char *fname, PyObject *block, PyObject *timeout_obj, int64_t *timeout) {
    if (block != NULL && !PyBool_Check(block)) {
        PyErr_Format(PyExc_TypeError, "%s(): block must be True or False, not %.100s (as in queue.Queue); "
                     "give a timeout by keyword: %s(timeout=%R)", fname, Py_TYPE(block)->tp_name, fname, block);
        return -1;
    }
    if (block == Py_False) {
        if (timeout_obj != NULL && ringpy_parse_timeout(timeout_obj) == -2) return -1;
        *timeout = 0;
        return 0;
    }
    *timeout = ringpy_parse_timeout(timeout_obj);
    return *timeout == -2 ? -1 : 0;
}

/* A count of table slots (readers=, producers=): an int from 0 to UINT32_MAX (the library
 * judges the upper bound). -1 with TypeError or ValueError set. */
static int parse_slots(PyObject *value, const char *arg, const char *table, uint32_t *out) {
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", arg, Py_TYPE(value)->tp_name);
        return -1;
    }
    int over = 0;
    long long n = PyLong_AsLongLongAndOverflow(value, &over);
    if (n == -1 && PyErr_Occurred()) return -1;
    if (over || n < 0 || n > (long long)UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s must be a number of %s slots (0: none), not %R", arg, table, value);
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

/* A capacity in bytes: an int from 1 to RING_MAX_CAPACITY. -1 with TypeError or InvalidSizeError set. */
static int parse_capacity(ringpy_state *st, PyObject *value, uint64_t *out) {
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "capacity must be an int, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long requested = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (requested == -1 && PyErr_Occurred()) return -1;
    if (overflow || requested <= 0 || (unsigned long long)requested > RING_MAX_CAPACITY) {
        PyErr_Format(st->InvalidSizeError, "capacity must be between 1 and %llu bytes, not %R",
                     (unsigned long long)RING_MAX_CAPACITY, value);
        return -1;
    }
    *out = (uint64_t)requested;
    return 0;
}

PyDoc_STRVAR(create_doc,
"create(path, capacity, policy=Policy.REJECT_WHEN_FULL, *, mode=0o600, replace=False, exist_ok=False, initial_position=0, allow_shared=False, any_geometry=False, readers=0, producers=0, counts=True)\n--\n\n"
"Create a ring file and open it. capacity (bytes) is rounded up to a power of two, at least 4096.\n"
"mode: permission bits (0 to 0o777; the umask applies). replace atomically replaces an existing\n"
"file; exist_ok opens an existing ring instead of raising FileExistsError, but only one this\n"
"user owns and no one else may write (else PermissionError), unless allow_shared is true, and\n"
"only one of the capacity (rounded), policy, reader and producer slots asked for (else\n"
"ValueError), unless any_geometry. readers: the slots of a reader table (format 1.1, SPEC.md §17;\n"
"1 to 496, more than 16 take a larger header): that many readers (ring.reader()) may each read\n"
"every message; 0: one consumer (ring.get()). producers: the slots of a producer table (format\n"
"1.1, SPEC.md §18; 1 to 16, reject-when-full only, else ValueError): that many producers, in any\n"
"processes, may write at once (each Ring that writes takes a slot; BusyError when all are\n"
"taken); 0: one producer at a time. With neither, a 1.0 ring.\n"
"The whole capacity is allocated on disk (or in memory, for /dev/shm) when the ring is created.\n"
"initial_position (a multiple of 8) starts both positions there, for tests of positions past 2**32.\n"
"counts (format 1.1, SPEC.md §22.2; the default): the ring keeps message counts, so len() and\n"
"qsize() are O(1); counts=False makes the header of earlier versions, byte for byte (len() then\n"
"walks the records).");

static PyObject *Ring_create(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
    static const char *const names[] = {"path", "capacity", "policy", "mode", "replace", "exist_ok", "initial_position",
                                        "allow_shared", "any_geometry", "readers", "producers", "counts", NULL};
    PyObject *values[12];
    if (ringpy_parse_args("create", names, 2, 3, args, nargs, kwnames, values) < 0) return NULL;
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    PyObject *module = PyType_GetModule(defining);
    uint64_t requested = 0;
    if (parse_capacity(st, values[1], &requested) < 0) return NULL;
    int policy = values[2] ? ringpy_parse_policy(values[2]) : RING_REJECT_WHEN_FULL;
    if (policy < 0) return NULL;
    unsigned long mode = 0600;
    if (values[3]) {
        mode = PyLong_AsUnsignedLong(values[3]);
        if (mode == (unsigned long)-1 && PyErr_Occurred()) return NULL;
        if (mode > 0777) { PyErr_SetString(PyExc_ValueError, "mode must be permission bits (0 to 0o777)"); return NULL; }
    }
    uint32_t flags = 0;
    if (values[4]) { int t = PyObject_IsTrue(values[4]); if (t < 0) return NULL; if (t) flags |= RING_CREATE_REPLACE; }
    if (values[5]) { int t = PyObject_IsTrue(values[5]); if (t < 0) return NULL; if (t) flags |= RING_CREATE_OPEN_EXISTING; }
    if (values[7]) { int t = PyObject_IsTrue(values[7]); if (t < 0) return NULL; if (t) flags |= RING_CREATE_ALLOW_SHARED; }
    if (values[8]) { int t = PyObject_IsTrue(values[8]); if (t < 0) return NULL; if (t) flags |= RING_CREATE_ANY_GEOMETRY; }
    if (values[11]) { int t = PyObject_IsTrue(values[11]); if (t < 0) return NULL; if (!t) flags |= RING_CREATE_NO_COUNTS; }
    unsigned long long initial = 0;
    if (values[6]) {
        if (!PyLong_Check(values[6])) { PyErr_SetString(PyExc_TypeError, "initial_position must be an int"); return NULL; }
        initial = PyLong_AsUnsignedLongLong(values[6]);
        if (initial == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
        if (flags & RING_CREATE_OPEN_EXISTING) { PyErr_SetString(PyExc_ValueError, "initial_position cannot be combined with exist_ok"); return NULL; }
    }
    uint32_t readers = 0, producers = 0;
    if (values[9] && parse_slots(values[9], "readers", "reader", &readers) < 0) return NULL;
    if (values[10] && parse_slots(values[10], "producers", "producer", &producers) < 0) return NULL;
    PyObject *path, *encoded;
    if (ringpy_convert_path(values[0], &path, &encoded) < 0) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    /* The library checks the counts: too many slots, or producers under overwrite-oldest,
     * is INVALID_ARGUMENT (ValueError). */
    rc = ring_create_shared(PyBytes_AS_STRING(encoded), requested, policy, (uint32_t)mode, flags,
                            readers, producers, initial, &ring);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    PyObject *result = rc == RING_OK ? (PyObject *)new_ring((PyTypeObject *)cls, module, ring, path)
                                     : ringpy_raise(st, rc, path);
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
    if (ringpy_convert_path(args[0], &path, &encoded) < 0) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_open(PyBytes_AS_STRING(encoded), &ring);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    PyObject *result = rc == RING_OK ? (PyObject *)new_ring((PyTypeObject *)cls, module, ring, path)
                                     : ringpy_raise(st, rc, path);
    Py_DECREF(path);
    return result;
}

PyDoc_STRVAR(anonymous_doc,
"anonymous(capacity, *, policy=Policy.REJECT_WHEN_FULL, name='ring', readers=0, producers=0)\n--\n\n"
"Create a ring without a file (SPEC.md §20.2): in anonymous shared memory (memfd), gone when\n"
"the last descriptor and mapping of it are; nothing is left in any file system. name is only\n"
"what messages and `path` show (\"memfd:NAME\"). Share it with a child of os.fork(), which\n"
"opens it again with Ring.open_fd(ring.fd), or pass `fd` over a Unix socket. capacity, policy,\n"
"readers and producers as create().");

static PyObject *Ring_anonymous(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
    static const char *const names[] = {"capacity", "policy", "name", "readers", "producers", NULL};
    PyObject *values[5];
    if (ringpy_parse_args("anonymous", names, 1, 1, args, nargs, kwnames, values) < 0) return NULL;
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    PyObject *module = PyType_GetModule(defining);
    uint64_t requested = 0;
    if (parse_capacity(st, values[0], &requested) < 0) return NULL;
    int policy = values[1] ? ringpy_parse_policy(values[1]) : RING_REJECT_WHEN_FULL;
    if (policy < 0) return NULL;
    uint32_t readers = 0, producers = 0;
    if (values[3] && parse_slots(values[3], "readers", "reader", &readers) < 0) return NULL;
    if (values[4] && parse_slots(values[4], "producers", "producer", &producers) < 0) return NULL;
    PyObject *name = values[2] ? values[2] : NULL, *encoded = NULL;
    if (name != NULL && !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    PyObject *path = name ? PyUnicode_FromFormat("memfd:%U", name) : PyUnicode_FromString("memfd:ring");
    if (path == NULL) return NULL;
    if (name != NULL && !PyUnicode_FSConverter(name, &encoded)) { Py_DECREF(path); return NULL; }
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_create_shared(encoded ? PyBytes_AS_STRING(encoded) : NULL, requested, policy, 0600,
                            RING_CREATE_ANONYMOUS, readers, producers, 0, &ring);
    Py_END_ALLOW_THREADS
    Py_XDECREF(encoded);
    PyObject *result = rc == RING_OK ? (PyObject *)new_ring((PyTypeObject *)cls, module, ring, path)
                                     : ringpy_raise(st, rc, path);
    Py_DECREF(path);
    return result;
}

PyDoc_STRVAR(open_fd_doc, "open_fd(fd)\n--\n\n"
"Open the ring held by the open descriptor fd: a ring without a file inherited across\n"
"os.fork() (Ring.open_fd(parent_ring.fd) in the child) or received over a Unix socket, or\n"
"any open ring file (SPEC.md §20.2). The descriptor is duplicated: the caller keeps fd.");

static PyObject *Ring_open_fd(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames) {
    if (nargs != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "open_fd() takes exactly one positional argument (fd)");
        return NULL;
    }
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    int fd = PyObject_AsFileDescriptor(args[0]);
    if (fd < 0) return NULL;
    PyObject *path = ringpy_fd_path(fd);
    if (path == NULL) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_open_fd(fd, 0, &ring);
    Py_END_ALLOW_THREADS
    PyObject *result = rc == RING_OK ? (PyObject *)new_ring((PyTypeObject *)cls, PyType_GetModule(defining), ring, path)
                                     : ringpy_raise(st, rc, path);
    Py_DECREF(path);
    return result;
}

static PyObject *Ring_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args; (void)kwargs;
    PyErr_Format(PyExc_TypeError, "use %s.create() or %s.open()", type->tp_name, type->tp_name);
    return NULL;
}


/* The exception for a call whose ringpy_run ended with rc (neither RING_OK nor a result
 * the caller handles itself). Returns NULL. */
static PyObject *fail(RingObject *self, int rc) {
    if (rc == CALL_FAILED) return NULL;
    return ringpy_raise(self->st, rc, self->path);
}

/* ------------------------------------------------------------------------ */
/* Producer side                                                            */

typedef struct {
    ringpy_call base;
    const void *data;
    size_t len;
} write_call;

static int write_attempt(ringpy_call *call, void *p) {
    write_call *w = (write_call *)call;
    return ring_write(p, w->data, w->len);
}

static int write_sleep(ringpy_call *call, void *p, int64_t slice_ns) {
    write_call *w = (write_call *)call;
    return ring_write_timeout(p, w->data, w->len, slice_ns);
}

/* Writes one message, waiting up to timeout (ns, -1: none). A ringpy_run result. */
static int write_one(RingObject *self, const Py_buffer *view, int64_t timeout, int flags) {
    write_call w = {{ROLE_PRODUCER, write_attempt, write_sleep, 1}, view->buf, (size_t)view->len};
    return ringpy_run(self, &w.base, timeout, flags);
}

PyDoc_STRVAR(put_doc, "put(data, block=True, timeout=None)\n--\n\n"
"Write one message (any bytes-like object), as queue.Queue.put: with block (the default), waiting\n"
"up to timeout seconds for room (None: no limit), then FullError; with block=False, FullError at\n"
"once if it does not fit (timeout is ignored). block must be a bool (TypeError otherwise: give a\n"
"timeout by keyword). ClosedError after close() or close_writer().");

static PyObject *Ring_put(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"data", "block", "timeout", NULL};
    PyObject *values[3];
    int64_t timeout;
    if (ringpy_parse_args("put", names, 1, 3, args, nargs, kwnames, values) < 0) return NULL;
    if (parse_block_timeout("put", values[1], values[2], &timeout) < 0) return NULL;
    Py_buffer view;
    if (get_buffer(values[0], &view) < 0) return NULL;
    int rc = write_one(self, &view, timeout, 0);
    PyBuffer_Release(&view);
    if (rc == RING_OK) Py_RETURN_NONE;
    if (rc == RING_ERR_FULL) {
        PyErr_SetString(self->st->FullError, timeout == 0 ? "ring is full" : "ring is full: no room within the timeout");
        return NULL;
    }
    return fail(self, rc);
}

/* try_put and _poll_put: True if written now, False if the ring is full (or, with
 * RUN_NO_LOCK_WAIT, if another thread holds the producer lock). */
static PyObject *put_now(RingObject *self, PyObject *data, int flags) {
    Py_buffer view;
    if (get_buffer(data, &view) < 0) return NULL;
    int rc = write_one(self, &view, 0, flags);
    PyBuffer_Release(&view);
    if (rc == RING_OK) Py_RETURN_TRUE;
    if (rc == RING_ERR_FULL || rc == CALL_BUSY) Py_RETURN_FALSE;
    return fail(self, rc);
}

PyDoc_STRVAR(try_put_doc, "try_put(data, /)\n--\n\nWrite one message if it fits now; False if the ring is full.");

static PyObject *Ring_try_put(RingObject *self, PyObject *data) { return put_now(self, data, 0); }

PyDoc_STRVAR(poll_put_doc, "_poll_put(data, /)\n--\n\n"
"try_put that never waits for the producer lock either (for the event-loop thread):\n"
"False if the ring is full or another thread is using the producer role.");

static PyObject *Ring_poll_put(RingObject *self, PyObject *data) { return put_now(self, data, RUN_NO_LOCK_WAIT); }

/* put_many: writes msgs[done..count) in batches of one native call each. */
typedef struct {
    ringpy_call base;
    const ring_message_t *msgs;
    size_t count;
    size_t done;
} batch_call;

static int batch_attempt(ringpy_call *call, void *p) {
    batch_call *b = (batch_call *)call;
    while (b->done < b->count) {
        size_t chunk = b->count - b->done < PUT_CHUNK ? b->count - b->done : PUT_CHUNK;
        size_t written = 0;
        int rc = ring_write_batch(p, b->msgs + b->done, chunk, &written);
        if (rc != RING_OK) return rc;
        if (written == 0) return RING_ERR_FULL;
        b->done += written;
    }
    return RING_OK;
}

/* Sleeps in writing the next message alone (then attempts the rest). */
static int batch_sleep(ringpy_call *call, void *p, int64_t slice_ns) {
    batch_call *b = (batch_call *)call;
    const ring_message_t *m = &b->msgs[b->done];
    int rc = ring_write_timeout(p, m->data, m->len, slice_ns);
    if (rc == RING_OK) b->done++;
    return rc;
}

/* FullError with .written = written. Returns NULL. */
static PyObject *raise_full_after(RingObject *self, size_t written) {
    PyObject *exc = PyObject_CallFunction(self->st->FullError, "s", "ring is full: no room within the timeout");
    if (exc == NULL) return NULL;
    PyObject *n = PyLong_FromSize_t(written);
    if (n == NULL || PyObject_SetAttrString(exc, "written", n) < 0) { Py_XDECREF(n); Py_DECREF(exc); return NULL; }
    Py_DECREF(n);
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

PyDoc_STRVAR(put_many_doc, "put_many(items, timeout=None)\n--\n\n"
"Write every item in order, in batches of one native call each, waiting for room as put()\n"
"does; timeout bounds the whole call. Every item is checked first: if one is not bytes-like\n"
"(TypeError) or is over max_message_size (InvalidSizeError), nothing is written. Returns the\n"
"number written. If the time runs out after some were written, FullError's `written` says\n"
"how many (the first `written` items are in the ring: a retry sends items[written:]).");

static PyObject *Ring_put_many(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"items", "timeout", NULL};
    PyObject *values[2];
    int64_t timeout;
    if (parse_args_timeout("put_many", names, 1, args, nargs, kwnames, values, -1, &timeout) < 0) return NULL;
    PyObject *seq = PySequence_Fast(values[0], "put_many() needs an iterable of bytes-like objects");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Py_buffer *views = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *views);
    ring_message_t *msgs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *msgs);
    Py_ssize_t held = 0;
    PyObject *result = NULL;
    if (views == NULL || msgs == NULL) { PyErr_NoMemory(); goto done; }
    /* Check every item before writing any. */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (get_buffer(PySequence_Fast_GET_ITEM(seq, i), &views[i]) < 0) goto done;
        held++;
        if ((uint64_t)views[i].len > self->max_message) {
            PyErr_Format(self->st->InvalidSizeError, "item %zd: message of %zd bytes is larger than the ring's maximum of %llu",
                         i, views[i].len, (unsigned long long)self->max_message);
            goto done;
        }
        msgs[i].data = views[i].buf;
        msgs[i].len = (size_t)views[i].len;
    }
    if (n == 0) { result = ringpy_check(self) < 0 ? NULL : PyLong_FromLong(0); goto done; }
    batch_call b = {{ROLE_PRODUCER, batch_attempt, batch_sleep, 0}, msgs, (size_t)n, 0};
    int rc = ringpy_run(self, &b.base, timeout, 0);
    if (rc == RING_OK) result = PyLong_FromSize_t(b.done);
    else if (rc == RING_ERR_FULL) raise_full_after(self, b.done);
    else fail(self, rc);
done:
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(msgs);
    Py_DECREF(seq);
    return result;
}

PyDoc_STRVAR(close_writer_doc, "close_writer()\n--\n\n"
"End the stream: the consumer drains, then gets EndOfStreamError. Releases the producer role.\n"
"Every later write on this Ring raises ClosedError (a put waiting for room gives up with it);\n"
"another Ring opened on the file may start a new stream. On a ring with producer slots\n"
"(producers=N) it gives this Ring's slot up, and the stream ends only when the last producer\n"
"leaves with close_writer() (SPEC.md §18.8): while another one is writing, the stream goes on.");

static PyObject *Ring_close_writer(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    if (self->writer_closed) Py_RETURN_NONE;
    self->writer_closed = 1; /* a put blocked in another thread gives up between slices */
    ringpy_lock(&self->plock);
    PyObject *result = NULL;
    if (ringpy_check(self) < 0) {
        /* closed meanwhile */
    } else if (self->producer == NULL && open_role(self, open_producer, (void **)&self->producer) < 0) {
        self->writer_closed = 0; /* the stream was not ended: writes may go on */
    } else {
        int rc = ring_producer_close_writer(self->producer);
        ring_producer_free(self->producer);
        self->producer = NULL;
        result = rc == RING_OK ? Py_NewRef(Py_None) : ringpy_raise(self->st, rc, self->path);
    }
    ringpy_unlock(&self->plock);
    return result;
}

/* Hooks for the golden vectors' producer operations (SPEC.md §16.5: `producer`, `reserve`,
 * `commit`, `abandon`), which ringpy's API has no call for: take the producer role (a
 * producer slot) now; reserve room for data and copy it in, leaving the reservation open;
 * commit it as `length` bytes; give it up. Not zero-copy, not for applications. */
static PyObject *Ring_take_producer(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    ringpy_lock(&self->plock);
    ring_producer_t *p = ringpy_producer(self);
    ringpy_unlock(&self->plock);
    if (p == NULL) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Ring_reserve_copy(RingObject *self, PyObject *data) {
    if (ringpy_check(self) < 0) return NULL;
    Py_buffer view;
    if (get_buffer(data, &view) < 0) return NULL;
    ringpy_lock(&self->plock);
    int rc = CALL_FAILED;
    ring_producer_t *p = ringpy_producer(self);
    if (p != NULL) {
        void *buffer = NULL;
        rc = ring_reserve(p, (size_t)view.len, &buffer);
        if (rc == RING_OK && view.len > 0) memcpy(buffer, view.buf, (size_t)view.len);
    }
    ringpy_unlock(&self->plock);
    PyBuffer_Release(&view);
    if (rc == RING_OK) Py_RETURN_NONE;
    return fail(self, rc);
}

static PyObject *Ring_commit_reserved(RingObject *self, PyObject *length) {
    size_t len = PyLong_AsSize_t(length);
    if (len == (size_t)-1 && PyErr_Occurred()) return NULL;
    if (ringpy_check(self) < 0) return NULL;
    ringpy_lock(&self->plock);
    int rc = self->producer == NULL ? RING_ERR_INVALID_ARGUMENT : ring_commit(self->producer, len);
    ringpy_unlock(&self->plock);
    if (rc == RING_OK) Py_RETURN_NONE;
    return fail(self, rc);
}

static PyObject *Ring_abort_reserved(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    ringpy_lock(&self->plock);
    int rc = self->producer == NULL ? RING_ERR_INVALID_ARGUMENT : ring_abort(self->producer);
    ringpy_unlock(&self->plock);
    if (rc == RING_OK) Py_RETURN_NONE;
    return fail(self, rc);
}

/* Ring._producers(): [(slot, flags, claim_start, committed_count, cancelled_count), ...],
 * flags the RING_PRODUCER_INFO_* bits (claim_start means something only with CLAIMING). */
static PyObject *Ring_producers(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    /* At most one entry per slot: the table never has more. */
    size_t room = self->producer_slots > 0 ? self->producer_slots : 1;
    ring_producer_info_t *infos = PyMem_Calloc(room, sizeof *infos);
    if (infos == NULL) return PyErr_NoMemory();
    size_t count = 0;
    ringpy_lock(&self->rlock);
    int rc = self->ring == NULL ? RING_ERR_CLOSED : ring_producers(self->ring, infos, room, &count);
    ringpy_unlock(&self->rlock);
    PyObject *list = NULL;
    if (rc == RING_ERR_CLOSED) { ringpy_raise_closed(self->st); goto done; }
    if (rc != RING_OK) { ringpy_raise(self->st, rc, self->path); goto done; }
    if (count > room) count = room;
    if ((list = PyList_New(0)) == NULL) goto done;
    for (size_t i = 0; i < count; i++) {
        const ring_producer_info_t *p = &infos[i];
        PyObject *item = Py_BuildValue("(IIKKK)", (unsigned int)p->slot, (unsigned int)p->flags,
                                       (unsigned long long)p->claim_start, (unsigned long long)p->committed_count,
                                       (unsigned long long)p->cancelled_count);
        if (item == NULL || PyList_Append(list, item) < 0) { Py_XDECREF(item); Py_CLEAR(list); goto done; }
        Py_DECREF(item);
    }
done:
    PyMem_Free(infos);
    return list;
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

/* With clock held: one ring_consume of up to max_count messages into t, without waiting.
 * Only the first *count messages of its last pass were consumed (ring_consume's
 * contract): every other copy the visitor made, from a pass the producer reclaimed
 * under overwrite-oldest, is dropped here. Returns the ring_error_t code, or
 * CALL_FAILED with an exception set if nothing was consumed because a bytes object
 * could not be made. */
static int take(ring_consumer_t *c, take_t *t, size_t max_count) {
    size_t count = 0;
    t->start = t->list ? PyList_GET_SIZE(t->list) : 0;
    int rc = ring_consume(c, take_message, t, max_count, &count);
    if (t->list) {
        Py_ssize_t keep = t->start + (Py_ssize_t)count;
        if (PyList_GET_SIZE(t->list) > keep && PyList_SetSlice(t->list, keep, PyList_GET_SIZE(t->list), NULL) < 0)
            return CALL_FAILED;
    } else if (count == 0) {
        Py_CLEAR(t->one);
    }
    if (t->failed) {
        t->failed = 0;
        if (count == 0) return CALL_FAILED;
        PyErr_Clear(); /* what was taken is returned; the next call meets the rest again */
    }
    return rc;
}

/* EmptyError of a get-like call with that timeout. Returns NULL. */
static PyObject *raise_empty(RingObject *self, int64_t timeout) {
    PyErr_SetString(self->st->EmptyError, timeout == 0 ? "ring is empty" : "ring is empty: no message within the timeout");
    return NULL;
}

typedef struct {
    ringpy_call base;
    take_t t;
    Py_ssize_t max_items;  /* get_many */
    RingObject *owner;     /* get_view: the Ring */
    PyObject *view;        /* get_view: the RecordView */
} read_call;

static int wait_sleep(ringpy_call *call, void *c, int64_t slice_ns) {
    (void)call;
    return ring_wait(c, slice_ns);
}

static int get_attempt(ringpy_call *call, void *c) { return take(c, &((read_call *)call)->t, 1); }

/* get, try_get and _poll_get: the message, or NULL with *rc the ringpy_run result (and
 * an exception set for CALL_FAILED). */
static PyObject *get_one(RingObject *self, int64_t timeout, int flags, int *rc) {
    read_call r = {.base = {ROLE_CONSUMER, get_attempt, wait_sleep, 0}};
    *rc = ringpy_run(self, &r.base, timeout, flags);
    if (*rc == RING_OK) return r.t.one;
    Py_CLEAR(r.t.one);
    return NULL;
}

PyDoc_STRVAR(get_doc, "get(block=True, timeout=None)\n--\n\n"
"Read the oldest message as bytes, as queue.Queue.get: with block (the default), waiting up to\n"
"timeout seconds (None: no limit), then EmptyError; with block=False, EmptyError at once if there\n"
"is none (timeout is ignored). block must be a bool (TypeError otherwise: give a timeout by\n"
"keyword). EndOfStreamError at the end of the stream; ProducerGoneError, with\n"
"stop_when_producer_gone, once the ring is drained and its producer is gone.");

static PyObject *Ring_get(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"block", "timeout", NULL};
    PyObject *values[2];
    int64_t timeout;
    if (ringpy_parse_args("get", names, 0, 2, args, nargs, kwnames, values) < 0) return NULL;
    if (parse_block_timeout("get", values[0], values[1], &timeout) < 0) return NULL;
    int rc;
    PyObject *message = get_one(self, timeout, 0, &rc);
    if (message != NULL) return message;
    return rc == RING_ERR_EMPTY ? raise_empty(self, timeout) : fail(self, rc);
}

/* try_get and _poll_get: the message, or None if there is none now (or, with
 * RUN_NO_LOCK_WAIT, if another thread holds the consumer lock). */
static PyObject *get_now(RingObject *self, int flags) {
    int rc;
    PyObject *message = get_one(self, 0, flags, &rc);
    if (message != NULL) return message;
    if (rc == RING_ERR_EMPTY || rc == CALL_BUSY) Py_RETURN_NONE;
    return fail(self, rc);
}

PyDoc_STRVAR(try_get_doc, "try_get()\n--\n\nRead the oldest message if there is one; None if the ring is empty.");

static PyObject *Ring_try_get(RingObject *self, PyObject *unused) { (void)unused; return get_now(self, 0); }

PyDoc_STRVAR(poll_get_doc, "_poll_get()\n--\n\n"
"try_get that never waits for the consumer lock either (for the event-loop thread):\n"
"None if the ring is empty or another thread is using the consumer role.");

static PyObject *Ring_poll_get(RingObject *self, PyObject *unused) { (void)unused; return get_now(self, RUN_NO_LOCK_WAIT); }

/* get_many: as many as are there now, up to max_items (one native call per batch). */
static int many_attempt(ringpy_call *call, void *c) {
    read_call *r = (read_call *)call;
    PyObject *list = r->t.list;
    int rc = RING_OK;
    while (rc == RING_OK && PyList_GET_SIZE(list) < r->max_items)
        rc = take(c, &r->t, (size_t)(r->max_items - PyList_GET_SIZE(list)));
    if (PyList_GET_SIZE(list) == 0) return rc;
    /* Some were taken: they are returned; an error after them comes again on the next call. */
    if (rc == CALL_FAILED) PyErr_Clear();
    return RING_OK;
}

PyDoc_STRVAR(get_many_doc, "get_many(max_items, timeout=0.0)\n--\n\n"
"Read up to max_items messages at once, waiting up to timeout seconds for the first.\n"
"Returns [] if none arrived; EndOfStreamError if none are left and the stream ended.");

static PyObject *Ring_get_many(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"max_items", "timeout", NULL};
    PyObject *values[2];
    int64_t timeout;
    if (parse_args_timeout("get_many", names, 1, args, nargs, kwnames, values, 0, &timeout) < 0) return NULL;
    PyObject *max_obj = values[0];
    if (!PyLong_Check(max_obj)) {
        PyErr_Format(PyExc_TypeError, "max_items must be an int, not %.100s", Py_TYPE(max_obj)->tp_name);
        return NULL;
    }
    Py_ssize_t max_items = PyLong_AsSsize_t(max_obj);
    if (max_items == -1 && PyErr_Occurred()) return NULL;
    if (max_items < 0) { PyErr_SetString(PyExc_ValueError, "max_items must not be negative"); return NULL; }
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    if (max_items == 0) return list;
    read_call r = {.base = {ROLE_CONSUMER, many_attempt, wait_sleep, 0}, .t = {.list = list}, .max_items = max_items};
    int rc = ringpy_run(self, &r.base, timeout, 0);
    if (rc == RING_OK || rc == RING_ERR_EMPTY) return list;
    Py_DECREF(list);
    return fail(self, rc);
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

/* ring_info under rlock (taken without holding the GIL while it waits). */
static int info_of(RingObject *self, ring_info_t *info) {
    if (ringpy_check(self) < 0) return -1;
    ringpy_lock(&self->rlock);
    int rc = self->ring == NULL ? RING_ERR_CLOSED : ring_info(self->ring, info);
    ringpy_unlock(&self->rlock);
    if (rc != RING_OK) { ringpy_raise(self->st, rc, self->path); return -1; }
    return 0;
}

/* The room peek_all needs: at most *bytes payload bytes in at most *count messages. A Ring's
 * unread records are those from consumerPosition; a Reader's are at or after tailPosition
 * (its cursor, or tailPosition once it finds itself lapped), so the ring's used bytes and
 * message count bound them too. A Reader whose Ring was closed bounds them by the capacity
 * (a 1.1 record takes at least 16 bytes). */
static int peek_bounds(RingObject *self, size_t *bytes, size_t *count) {
    if (ringpy_check(self) < 0) return -1;
    RingObject *holder = self->parent ? (RingObject *)self->parent : self;
    ring_info_t info;
    ringpy_lock(&holder->rlock);
    int rc = holder->ring == NULL ? RING_ERR_CLOSED : ring_info(holder->ring, &info);
    ringpy_unlock(&holder->rlock);
    if (rc == RING_ERR_CLOSED && holder != self) {
        *bytes = (size_t)self->capacity;
        *count = (size_t)(self->capacity / 16);
        return 0;
    }
    if (rc != RING_OK) { ringpy_raise(self->st, rc, self->path); return -1; }
    /* used_bytes bounds the payload bytes, message_count the messages, at that moment. */
    *bytes = info.used_bytes > 0 ? (size_t)info.used_bytes : 1;
    *count = info.message_count > 0 ? (size_t)info.message_count : 1;
    return 0;
}

PyDoc_STRVAR(peek_all_doc, "peek_all()\n--\n\nEvery unread message, oldest first, without consuming any.");

static PyObject *Ring_peek_all(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    ringpy_lock(&self->clock);
    PyObject *list = NULL;
    char *buf = NULL;
    size_t *lengths = NULL;
    ring_consumer_t *c = ringpy_consumer(self);
    size_t cap = 0, max = 0;
    if (c == NULL || peek_bounds(self, &cap, &max) < 0) goto done;
    buf = PyMem_Malloc(cap);
    lengths = PyMem_Malloc(max * sizeof *lengths);
    if (buf == NULL || lengths == NULL) { PyErr_NoMemory(); goto done; }
    size_t count = 0;
    int rc = ring_peek_batch(c, buf, cap, lengths, max, &count);
    if (rc == RING_ERR_BUFFER_TOO_SMALL) count = 0; /* the ring changed under us: a newer first message */
    else if (rc != RING_OK) { ringpy_raise(self->st, rc, self->path); goto done; }
    if ((list = PyList_New(0)) == NULL) goto done;
    if (append_packed(list, buf, lengths, count) < 0) Py_CLEAR(list);
done:
    ringpy_unlock(&self->clock);
    PyMem_Free(buf);
    PyMem_Free(lengths);
    return list;
}

static int ready_attempt(ringpy_call *call, void *c) {
    (void)call;
    return ring_wait(c, 0);
}

PyDoc_STRVAR(wait_doc, "_wait(timeout)\n--\n\n"
"Wait up to timeout seconds until a message (or the end of the stream) is there, without\n"
"consuming it. True if there is, False if the time ran out.");

static PyObject *Ring_wait(RingObject *self, PyObject *timeout_obj) {
    int64_t timeout = ringpy_parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    read_call r = {.base = {ROLE_CONSUMER, ready_attempt, wait_sleep, 1}};
    int rc = ringpy_run(self, &r.base, timeout, 0);
    if (rc == RING_OK) Py_RETURN_TRUE;
    if (rc == RING_ERR_EMPTY) Py_RETURN_FALSE;
    return fail(self, rc);
}

static int view_attempt(ringpy_call *call, void *c) {
    read_call *r = (read_call *)call;
    const void *data = NULL;
    size_t len = 0;
    int rc = ring_peek(c, &data, &len, 0);
    if (rc != RING_OK) return rc;
    if ((r->view = ringpy_view_new(r->owner, data, len)) == NULL) { ring_release_cancel(c); return CALL_FAILED; }
    return RING_OK;
}

PyDoc_STRVAR(get_view_doc, "get_view(timeout=None)\n--\n\n"
"Zero-copy read: a RecordView of the oldest message inside the shared mapping.");

static PyObject *Ring_get_view(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"timeout", NULL};
    PyObject *values[1];
    int64_t timeout;
    if (parse_args_timeout("get_view", names, 0, args, nargs, kwnames, values, -1, &timeout) < 0) return NULL;
    read_call r = {.base = {ROLE_CONSUMER, view_attempt, wait_sleep, 0}, .owner = self};
    int rc = ringpy_run(self, &r.base, timeout, 0);
    if (rc == RING_OK) return r.view;
    return rc == RING_ERR_EMPTY ? raise_empty(self, timeout) : fail(self, rc);
}

/* ------------------------------------------------------------------------ */
/* Both sides                                                               */

PyDoc_STRVAR(flush_doc, "flush()\n--\n\nmsync: make everything written so far durable in the file.");

static PyObject *Ring_flush(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    /* rlock keeps close() from freeing the ring while msync runs without the GIL. */
    ringpy_lock(&self->rlock);
    ring_t *ring = self->ring;
    int rc = RING_ERR_CLOSED;
    if (ring != NULL) {
        Py_BEGIN_ALLOW_THREADS
        rc = ring_flush(ring);
        Py_END_ALLOW_THREADS
    }
    ringpy_unlock(&self->rlock);
    if (rc == RING_ERR_CLOSED) return ringpy_raise_closed(self->st);
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);
    Py_RETURN_NONE;
}

static PyObject *Ring_stats_dict(RingObject *self, PyObject *unused) {
    (void)unused;
    ring_info_t i;
    if (info_of(self, &i) < 0) return NULL;
    return Py_BuildValue("{s:K,s:K,s:i,s:(ii),s:K,s:K,s:K,s:K,s:K,s:O,s:I,s:I}",
        "capacity", (unsigned long long)i.capacity, "max_message_size", (unsigned long long)i.max_message_size,
        "policy", (int)i.policy, "version", (int)i.version_major, (int)i.version_minor,
        "producer_position", (unsigned long long)i.producer_position,
        "consumer_position", (unsigned long long)i.consumer_position,
        "used_bytes", (unsigned long long)i.used_bytes, "message_count", (unsigned long long)i.message_count,
        "dropped_count", (unsigned long long)i.dropped_count, "writer_closed", i.writer_closed ? Py_True : Py_False,
        "reader_slots", (unsigned int)self->reader_slots, "producer_slots", (unsigned int)self->producer_slots);
}

/* O(1) in a ring that keeps counts (SPEC.md §22.2): ring_message_count. */
static Py_ssize_t Ring_len(RingObject *self) {
    PyObject *count = ringpy_pending(self, NULL);
    if (count == NULL) return -1;
    Py_ssize_t n = PyLong_AsSsize_t(count);
    Py_DECREF(count);
    return n;
}

/* Frees the handles: with the three locks held, or from dealloc. */
static void free_handles(RingObject *self) {
    if (self->producer) { ring_producer_free(self->producer); self->producer = NULL; }
    if (self->consumer) { ring_consumer_free(self->consumer); self->consumer = NULL; }
    if (self->ring) { ring_free(self->ring); self->ring = NULL; }
}

/* In a forked child: lets go of the parent's handles without a call into the library
 * (freeing them would unlock the parent's role locks). Their memory is leaked. */
static void drop_handles(RingObject *self) {
    self->producer = NULL;
    self->consumer = NULL;
    self->ring = NULL;
}

PyDoc_STRVAR(close_doc, "close()\n--\n\n"
"Release the roles and the file. Idempotent; returns once the roles are released, also when\n"
"another thread's close() is under way. BufferError while a memoryview of a RecordView is alive.\n"
"In a forked child it only forgets the inherited handles: the roles stay the parent's.");

static PyObject *Ring_close(RingObject *self, PyObject *unused) {
    (void)unused;
    if (self->released) Py_RETURN_NONE;
    if (self->view != NULL) {
        RecordViewObject *v = (RecordViewObject *)self->view;
        if (v->exports > 0) {
            PyErr_SetString(PyExc_BufferError, "cannot close the ring: a memoryview of a RecordView is still alive");
            return NULL;
        }
        v->released = 1; /* the view becomes unusable; the message stays unread */
        self->view = NULL;
    }
    self->closing = 1; /* blocked calls notice between slices and give up their role lock */
    if (forked(self)) {
        drop_handles(self);
        self->released = 1;
        Py_RETURN_NONE;
    }
    ringpy_lock(&self->plock);
    ringpy_lock(&self->clock);
    ringpy_lock(&self->rlock);
    if (!self->released) { /* else another thread's close() did it while this one waited */
        Py_BEGIN_ALLOW_THREADS
        free_handles(self);
        Py_END_ALLOW_THREADS
        self->released = 1;
    }
    ringpy_unlock(&self->rlock);
    ringpy_unlock(&self->clock);
    ringpy_unlock(&self->plock);
    Py_RETURN_NONE;
}

static PyObject *Ring_enter(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
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
static PyObject *Ring_get_closed(RingObject *self, void *c) { (void)c; return PyBool_FromLong(self->closing); }
/* Not ringpy_check: a forked child reads it to open the ring again (open_fd). */
static PyObject *Ring_get_fd(RingObject *self, void *c) {
    (void)c;
    if (self->closing) return ringpy_raise_closed(self->st);
    return PyLong_FromLong(self->fd);
}
static PyObject *Ring_get_reader_slots(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->reader_slots); }
static PyObject *Ring_get_producer_slots(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->producer_slots); }

int ringpy_object_traverse(RingObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    Py_VISIT(self->parent);
    return 0;
}

void ringpy_object_dealloc(RingObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (forked(self)) {
        drop_handles(self); /* and the mutexes, which a parent's thread may have held at the fork */
    } else {
        free_handles(self);
        if (self->locks_ready) {
            pthread_mutex_destroy(&self->plock);
            pthread_mutex_destroy(&self->clock);
            pthread_mutex_destroy(&self->rlock);
        }
    }
    Py_XDECREF(self->path);
    Py_XDECREF(self->parent);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* The read methods of a Ring, which a Reader has too (on its own cursor). */
#define READ_METHODS \
    {"get", (PyCFunction)(void (*)(void))Ring_get, METH_FASTCALL | METH_KEYWORDS, get_doc}, \
    {"try_get", (PyCFunction)Ring_try_get, METH_NOARGS, try_get_doc}, \
    {"_poll_get", (PyCFunction)Ring_poll_get, METH_NOARGS, poll_get_doc}, \
    {"get_many", (PyCFunction)(void (*)(void))Ring_get_many, METH_FASTCALL | METH_KEYWORDS, get_many_doc}, \
    {"peek_all", (PyCFunction)Ring_peek_all, METH_NOARGS, peek_all_doc}, \
    {"get_view", (PyCFunction)(void (*)(void))Ring_get_view, METH_FASTCALL | METH_KEYWORDS, get_view_doc}, \
    {"_wait", (PyCFunction)Ring_wait, METH_O, wait_doc}, \
    {"_pending", (PyCFunction)ringpy_pending, METH_NOARGS, \
     "_pending()\n--\n\nUnread messages in O(1): a Ring's (ring_message_count), a Reader's own (ring_consumer_pending)."}, \
    RINGPY_BELL_METHODS

static PyMethodDef Ring_methods[] = {
    {"create", (PyCFunction)(void (*)(void))Ring_create, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, create_doc},
    {"open", (PyCFunction)(void (*)(void))Ring_open, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, open_doc},
    {"anonymous", (PyCFunction)(void (*)(void))Ring_anonymous, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     anonymous_doc},
    {"open_fd", (PyCFunction)(void (*)(void))Ring_open_fd, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     open_fd_doc},
    {"put", (PyCFunction)(void (*)(void))Ring_put, METH_FASTCALL | METH_KEYWORDS, put_doc},
    {"try_put", (PyCFunction)Ring_try_put, METH_O, try_put_doc},
    {"_poll_put", (PyCFunction)Ring_poll_put, METH_O, poll_put_doc},
    {"put_many", (PyCFunction)(void (*)(void))Ring_put_many, METH_FASTCALL | METH_KEYWORDS, put_many_doc},
    {"close_writer", (PyCFunction)Ring_close_writer, METH_NOARGS, close_writer_doc},
    READ_METHODS,
    {"_reader", (PyCFunction)(void (*)(void))ringpy_ring_reader, METH_FASTCALL,
     "_reader(cls, name, flags, gate_timeout_ms)\n--\n\nJoin as a reader (ring_reader_open): a new cls (Ring.reader)."},
    {"_readers", (PyCFunction)ringpy_ring_readers, METH_NOARGS,
     "_readers()\n--\n\nThe reader table as (slot, name, flags, cursor, lag_bytes, missed_count) tuples (Ring.readers)."},
    {"_take_producer", (PyCFunction)Ring_take_producer, METH_NOARGS,
     "_take_producer()\n--\n\nTake the producer role (a slot of a producer table) now (golden vectors)."},
    {"_reserve", (PyCFunction)Ring_reserve_copy, METH_O,
     "_reserve(data, /)\n--\n\nReserve room for data and copy it in, uncommitted (golden vectors; not zero-copy)."},
    {"_commit", (PyCFunction)Ring_commit_reserved, METH_O,
     "_commit(length, /)\n--\n\nCommit the open reservation as length bytes (golden vectors)."},
    {"_abort", (PyCFunction)Ring_abort_reserved, METH_NOARGS,
     "_abort()\n--\n\nGive the open reservation up (golden vectors)."},
    {"_room_now", (PyCFunction)ringpy_room_now, METH_O,
     "_room_now(size, /)\n--\n\nWould a message of size bytes fit now? None if this Ring does not hold the producer role."},
    {"_producers", (PyCFunction)Ring_producers, METH_NOARGS,
     "_producers()\n--\n\nThe producer table as (slot, flags, claim_start, committed_count, cancelled_count)\n"
     "tuples (Ring.producers)."},
    {"flush", (PyCFunction)Ring_flush, METH_NOARGS, flush_doc},
    {"_stats", (PyCFunction)Ring_stats_dict, METH_NOARGS, "A snapshot of the ring's state as a dict (policy as an int)."},
    {"close", (PyCFunction)Ring_close, METH_NOARGS, close_doc},
    {"__enter__", (PyCFunction)Ring_enter, METH_NOARGS, "Return the ring."},
    {"__exit__", (PyCFunction)Ring_exit, METH_VARARGS, "Close the ring."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(reader_close_doc, "close()\n--\n\n"
"Leave the ring: an anonymous reader's slot is freed, a durable one's stays (with its cursor)\n"
"for the next reader of that name. Idempotent. BufferError while a memoryview of a RecordView\n"
"is alive. In a forked child it only forgets the inherited handle: the slot stays the parent's.");

PyDoc_STRVAR(reader_leave_doc, "leave()\n--\n\n"
"Close the reader and free its slot, a durable reader's too: its name is given up, and the\n"
"next reader of that name starts afresh (close() keeps a durable reader's slot for its return).");

/* Reader.leave(): ring_reader_leave (the slot is freed), then what close() does. */
static PyObject *Reader_leave(RingObject *self, PyObject *unused) {
    if (ringpy_check(self) < 0) return NULL;
    if (self->view != NULL && ((RecordViewObject *)self->view)->exports > 0) {
        PyErr_SetString(PyExc_BufferError, "cannot leave: a memoryview of a RecordView is still alive");
        return NULL;
    }
    self->closing = 1; /* blocked calls notice between slices and give up the consumer lock */
    ringpy_lock(&self->clock);
    ringpy_lock(&self->rlock);
    int rc = RING_OK;
    ring_consumer_t *handle = self->consumer;
    if (handle != NULL && !self->released) {
        Py_BEGIN_ALLOW_THREADS
        rc = ring_reader_leave(handle);
        Py_END_ALLOW_THREADS
    }
    ringpy_unlock(&self->rlock);
    ringpy_unlock(&self->clock);
    if (rc != RING_OK && rc != RING_ERR_CLOSED) return ringpy_raise(self->st, rc, self->path);
    return Ring_close(self, unused);
}

PyMethodDef ringpy_reader_methods[] = {
    READ_METHODS,
    {"close", (PyCFunction)Ring_close, METH_NOARGS, reader_close_doc},
    {"leave", (PyCFunction)Reader_leave, METH_NOARGS, reader_leave_doc},
    {"__enter__", (PyCFunction)Ring_enter, METH_NOARGS, "Return the reader."},
    {"__exit__", (PyCFunction)Ring_exit, METH_VARARGS, "Close the reader."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Ring_getset[] = {
    {"path", (getter)Ring_get_path, NULL, "The path the ring was created or opened at.", NULL},
    {"capacity", (getter)Ring_get_capacity, NULL, "Bytes in the data region (a power of two).", NULL},
    {"_policy", (getter)Ring_get_policy_value, NULL, "Policy as an int.", NULL},
    {"max_message_size", (getter)Ring_get_max_message, NULL, "The largest message the ring accepts.", NULL},
    {"closed", (getter)Ring_get_closed, NULL, "True once close() was called.", NULL},
    {"fd", (getter)Ring_get_fd, NULL,
     "The ring's open descriptor (owned by the ring: do not close it; os.dup it to keep it). A child\n"
     "of os.fork() opens the ring again with Ring.open_fd(ring.fd) (SPEC.md §20.2).", NULL},
    {"reader_slots", (getter)Ring_get_reader_slots, NULL,
     "Slots of the ring's reader table (format 1.1): how many readers it can have; 0 for a 1.0 ring.", NULL},
    {"producer_slots", (getter)Ring_get_producer_slots, NULL,
     "Slots of the ring's producer table (format 1.1, SPEC.md §18): how many producers may write\n"
     "at once; 0 for a ring with one producer at a time.", NULL},
    RINGPY_LIVE_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Ring_slots[] = {
    {Py_tp_doc, "The native core of ringpy.Ring: an open ring file."},
    {Py_tp_new, Ring_new},
    {Py_tp_dealloc, ringpy_object_dealloc},
    {Py_tp_traverse, ringpy_object_traverse},
    {Py_tp_methods, Ring_methods},
    {Py_tp_getset, Ring_getset},
    {Py_sq_length, Ring_len},
    {0, NULL},
};

PyType_Spec ringpy_ring_spec = {
    .name = "ringpy._ringpy.RingBase",
    .basicsize = sizeof(RingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Ring_slots,
};
