/*
 * ringpy_items.c - the ItemRing type (ringpy._ringpy.ItemRingBase; ringpy.ItemRing
 * subclasses it): a typed ring (format 1.1, SPEC.md §19) of fixed-size items, in a file or
 * without one (SPEC.md §20.2), holding on demand its item producer and item consumer role;
 * and ItemView, the buffer exporter of its zero-copy windows (unwrapped, latest).
 *
 * An ItemRingObject is a RingObject (locks, flags, ring handle, path; ringpy_check) with
 * item role handles instead of the byte ones, so every blocking call goes through
 * ringpy_run (ringpy_wait.c) on ROLE_ITEM_PRODUCER or ROLE_ITEM_CONSUMER. This file moves
 * bytes only: NumPy, dtypes and type descriptions belong to ringpy/_items.py.
 *
 * Views. In a double-mapped ring (SPEC.md §20.1) the unread items are one run of bytes in
 * the mapping, which an ItemView lends read-only through the buffer protocol. The consumer's
 * lend (ring_items_readable) ends before the view is returned, so reads go on meanwhile: a
 * view is a window onto live memory, not a lend. While a buffer export of any view is alive,
 * close() raises BufferError (as mmap refuses to close with exports), so the mapping stays.
 */
#include "ringpy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A copy of this many bytes or more runs with the GIL released (the role lock is held). */
#define NOGIL_COPY_BYTES (256 * 1024)
/* A peek taken again this many times because the producer dropped the items it was taking
 * (overwrite-oldest) gives up with OverwrittenError. */
#define PEEK_TRIES 1000

typedef struct {
    RingObject base;                  /* its producer and consumer stay NULL */
    ring_item_producer_t *producer;   /* taken on the first write; guarded by base.plock (set under rlock too) */
    ring_item_consumer_t *consumer;   /* taken on the first read; guarded by base.clock (set under rlock too) */
    PyObject *type_description;       /* str: the ring's type description (SPEC.md §19.2) */
    uint32_t item_size;
    uint32_t item_alignment;
    uint64_t item_capacity;
    int double_mapped;
    int scalar;                       /* SCALAR_*: a little-endian number type insert() packs itself, or 0 */
    Py_ssize_t exports;               /* buffer exports of this ring's ItemViews that are alive */
} ItemRingObject;

/* The item types insert() packs from a Python float or int without NumPy (native byte order:
 * a little-endian host, SPEC.md §19.2). */
enum { SCALAR_NONE, SCALAR_F8, SCALAR_F4, SCALAR_I8, SCALAR_I4, SCALAR_I2, SCALAR_I1, SCALAR_U8, SCALAR_U4,
       SCALAR_U2, SCALAR_U1 };

static int scalar_kind(const char *description) {
    static const struct { const char *text; int kind; } kinds[] = {
        {"<f8", SCALAR_F8}, {"<f4", SCALAR_F4}, {"<i8", SCALAR_I8}, {"<i4", SCALAR_I4}, {"<i2", SCALAR_I2},
        {"|i1", SCALAR_I1}, {"<u8", SCALAR_U8}, {"<u4", SCALAR_U4}, {"<u2", SCALAR_U2}, {"|u1", SCALAR_U1},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(description, kinds[i].text) == 0) return kinds[i].kind;
    return SCALAR_NONE;
}

typedef struct {
    PyObject_HEAD
    ItemRingObject *owner;            /* strong: keeps the mapping's owner alive */
    const char *data;
    Py_ssize_t len;
    Py_ssize_t exports;
} ItemViewObject;

#define ITEMS(object) ((ItemRingObject *)(object))

static int forked(RingObject *self) { return self->generation != ringpy_fork_generation(); }

/* The exception for a ringpy_run result that is neither RING_OK nor handled by the caller. */
static PyObject *fail(ItemRingObject *self, int rc) {
    if (rc == CALL_FAILED) return NULL;
    return ringpy_raise(self->base.st, rc, self->base.path);
}

/* ------------------------------------------------------------------------ */
/* Roles                                                                    */

/* With the role lock held: takes the item producer or consumer role under rlock. */
static int take_role(ItemRingObject *self, ringpy_role role) {
    RingObject *b = &self->base;
    ringpy_lock(&b->rlock);
    int rc = RING_ERR_CLOSED;
    if (b->ring != NULL)
        rc = role == ROLE_ITEM_PRODUCER ? ring_item_producer_open(b->ring, &self->producer)
                                        : ring_item_consumer_open(b->ring, &self->consumer);
    ringpy_unlock(&b->rlock);
    if (rc != RING_OK) { ringpy_raise(b->st, rc, b->path); return -1; }
    return 0;
}

ring_item_producer_t *ringpy_item_producer(RingObject *self) {
    if (ringpy_check(self) < 0) return NULL;
    if (self->writer_closed) {
        PyErr_SetString(self->st->ClosedError, "the stream of this ring was ended by close_writer()");
        return NULL;
    }
    if (ITEMS(self)->producer == NULL && take_role(ITEMS(self), ROLE_ITEM_PRODUCER) < 0) return NULL;
    return ITEMS(self)->producer;
}

ring_item_consumer_t *ringpy_item_consumer(RingObject *self) {
    if (ringpy_check(self) < 0) return NULL;
    if (ITEMS(self)->consumer == NULL) {
        if (take_role(ITEMS(self), ROLE_ITEM_CONSUMER) < 0) return NULL;
        if (self->stop_when_gone && ringpy_apply_stop_when_gone(self, ITEMS(self)->consumer, 1) < 0) return NULL;
    }
    return ITEMS(self)->consumer;
}

ring_item_producer_t *ringpy_item_producer_taken(RingObject *self) { return ITEMS(self)->producer; }
ring_item_consumer_t *ringpy_item_consumer_taken(RingObject *self) { return ITEMS(self)->consumer; }
int ringpy_is_item_ring(RingObject *self) { return PyObject_TypeCheck((PyObject *)self, self->st->ItemRingType); }

/* ------------------------------------------------------------------------ */
/* Creating and opening                                                     */

PyObject *ringpy_fd_path(int fd) {
    static const char memfd[] = "/memfd:", deleted[] = " (deleted)";
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        if (strncmp(target, memfd, sizeof memfd - 1) == 0) {
            /* A memfd's link reads "/memfd:NAME (deleted)": it never had a file. */
            size_t len = (size_t)n, tail = sizeof deleted - 1;
            if (len >= tail && strcmp(target + len - tail, deleted) == 0) target[len - tail] = '\0';
            return PyUnicode_DecodeFSDefault(target + 1);
        }
        if (target[0] == '/') return PyUnicode_DecodeFSDefault(target);
    }
    return PyUnicode_FromFormat("descriptor %d", fd);
}

/* The ItemRing (a new cls) of an open ring handle, which it takes over. */
static PyObject *new_item_ring(PyTypeObject *cls, PyObject *module, ring_t *ring, PyObject *path) {
    ItemRingObject *self = (ItemRingObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) { ring_free(ring); return NULL; }
    RingObject *b = &self->base;
    b->ring = ring;
    if (ringpy_object_init(b, module, path) < 0) { Py_DECREF(self); return NULL; }
    /* All immutable, validated at open (SPEC.md §13, §19.5). */
    ring_geometry_t geometry;
    ring_item_info_t info;
    int doubled = 0;
    int rc = ring_geometry(ring, &geometry);
    if (rc == RING_OK) rc = ring_item_info(ring, &info);
    if (rc == RING_OK) rc = ring_is_double_mapped(ring, &doubled);
    if (rc == RING_OK) rc = ring_fd(ring, &b->fd);
    if (rc != RING_OK) { ringpy_raise(b->st, rc, path); Py_DECREF(self); return NULL; }
    if (info.item_size == 0) {
        PyErr_Format(PyExc_ValueError, "%S is a ring of byte records, not a typed ring: open it with ringpy.Ring", path);
        Py_DECREF(self);
        return NULL;
    }
    b->capacity = geometry.capacity;
    b->max_message = info.item_size;
    b->policy = (int)geometry.policy;
    self->item_size = info.item_size;
    self->item_alignment = info.item_alignment;
    self->item_capacity = info.item_capacity;
    self->double_mapped = doubled;
    self->scalar = scalar_kind(info.item_type);
    if ((self->type_description = PyUnicode_FromString(info.item_type)) == NULL) { Py_DECREF(self); return NULL; }
    return (PyObject *)self;
}

static int as_u64(PyObject *value, const char *what, uint64_t *out) {
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(value)->tp_name);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

static int as_u32(PyObject *value, const char *what, uint32_t *out) {
    uint64_t v = 0;
    if (as_u64(value, what, &v) < 0) return -1;
    if (v > UINT32_MAX) { PyErr_Format(PyExc_OverflowError, "%s is a u32, not %R", what, value); return -1; }
    *out = (uint32_t)v;
    return 0;
}

/* The ItemRing of a ring_create_items / ring_open_flags / ring_open_fd that returned rc, or its
 * exception; takes the reference to path. */
static PyObject *opened(PyObject *cls, PyTypeObject *defining, ringpy_state *st, int rc, ring_t *ring, PyObject *path) {
    PyObject *result = rc == RING_OK ? new_item_ring((PyTypeObject *)cls, PyType_GetModule(defining), ring, path)
                                     : ringpy_raise(st, rc, path);
    Py_DECREF(path);
    return result;
}

PyDoc_STRVAR(create_doc, "_create(path, type_description, alignment, capacity, policy, mode, flags, initial_position)\n--\n\n"
"ring_create_items: a new typed ring of at least capacity items (ItemRing.create, ItemRing.anonymous).\n"
"With RING_CREATE_ANONYMOUS in flags, path is the name (a str) of a ring without a file.");

static PyObject *ItemRing_create(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames) {
    if (nargs != 8 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "_create() takes exactly 8 positional arguments");
        return NULL;
    }
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    if (!PyUnicode_Check(args[1])) { PyErr_SetString(PyExc_TypeError, "a type description is a str"); return NULL; }
    Py_ssize_t size = 0;
    const char *description = PyUnicode_AsUTF8AndSize(args[1], &size);
    if (description == NULL) return NULL;
    if ((size_t)size != strlen(description)) {
        PyErr_SetString(PyExc_ValueError, "a type description may not contain NUL");
        return NULL;
    }
    uint32_t alignment = 0, mode = 0, flags = 0;
    uint64_t capacity = 0, initial = 0;
    int policy = ringpy_parse_policy(args[4]);
    if (as_u32(args[2], "alignment", &alignment) < 0 || as_u64(args[3], "capacity", &capacity) < 0 || policy < 0 ||
        as_u32(args[5], "mode", &mode) < 0 || as_u32(args[6], "flags", &flags) < 0 ||
        as_u64(args[7], "initial_position", &initial) < 0)
        return NULL;
    PyObject *path = NULL, *encoded = NULL;
    if (flags & RING_CREATE_ANONYMOUS) {
        if (!PyUnicode_Check(args[0])) {
            PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s", Py_TYPE(args[0])->tp_name);
            return NULL;
        }
        if (!PyUnicode_FSConverter(args[0], &encoded)) return NULL;
        if ((path = PyUnicode_FromFormat("memfd:%U", args[0])) == NULL) { Py_DECREF(encoded); return NULL; }
    } else if (ringpy_convert_path(args[0], &path, &encoded) < 0) {
        return NULL;
    }
    ring_t *ring = NULL;
    int rc;
    /* description is the str's buffer, which the caller's argument keeps alive. */
    Py_BEGIN_ALLOW_THREADS
    rc = ring_create_items(PyBytes_AS_STRING(encoded), description, alignment, capacity, policy, mode, flags, initial,
                           &ring);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    return opened(cls, defining, st, rc, ring, path);
}

PyDoc_STRVAR(open_doc, "_open(path, flags)\n--\n\nring_open_flags: an existing typed ring (ItemRing.open).");

static PyObject *ItemRing_open(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
    if (nargs != 2 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "_open() takes exactly 2 positional arguments");
        return NULL;
    }
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    uint32_t flags = 0;
    if (as_u32(args[1], "flags", &flags) < 0) return NULL;
    PyObject *path, *encoded;
    if (ringpy_convert_path(args[0], &path, &encoded) < 0) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_open_flags(PyBytes_AS_STRING(encoded), flags, &ring);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    return opened(cls, defining, st, rc, ring, path);
}

PyDoc_STRVAR(open_fd_doc, "_open_fd(fd, flags)\n--\n\nring_open_fd: the typed ring held by descriptor fd (ItemRing.open_fd).");

static PyObject *ItemRing_open_fd(PyObject *cls, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames) {
    if (nargs != 2 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "_open_fd() takes exactly 2 positional arguments");
        return NULL;
    }
    ringpy_state *st = (ringpy_state *)PyType_GetModuleState(defining);
    uint32_t flags = 0;
    int fd = PyObject_AsFileDescriptor(args[0]);
    if (fd < 0 || as_u32(args[1], "flags", &flags) < 0) return NULL;
    PyObject *path = ringpy_fd_path(fd);
    if (path == NULL) return NULL;
    ring_t *ring = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_open_fd(fd, flags, &ring);
    Py_END_ALLOW_THREADS
    return opened(cls, defining, st, rc, ring, path);
}

static PyObject *ItemRing_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args; (void)kwargs;
    PyErr_Format(PyExc_TypeError, "use %s.create(), %s.anonymous(), %s.open() or %s.open_fd()", type->tp_name,
                 type->tp_name, type->tp_name, type->tp_name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

typedef struct {
    ringpy_call base;
    const void *data;
    size_t count;     /* items to write */
    size_t bytes;
} write_call;

static int write_attempt(ringpy_call *call, void *p) {
    write_call *w = (write_call *)call;
    if (w->bytes < NOGIL_COPY_BYTES) return ring_write_items(p, w->data, w->count, 0);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_write_items(p, w->data, w->count, 0);
    Py_END_ALLOW_THREADS
    return rc;
}

static int write_sleep(ringpy_call *call, void *p, int64_t slice_ns) {
    write_call *w = (write_call *)call;
    return ring_write_items(p, w->data, w->count, slice_ns);
}

/* The items of a C-contiguous buffer: a whole number of them. -1 with an exception set. */
static int items_buffer(ItemRingObject *self, PyObject *obj, Py_buffer *view, size_t *count) {
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return -1;
    if (view->len % self->item_size != 0) {
        PyErr_Format(PyExc_ValueError, "%zd bytes are not a whole number of %u-byte items", view->len,
                     (unsigned int)self->item_size);
        PyBuffer_Release(view);
        return -1;
    }
    *count = (size_t)view->len / self->item_size;
    return 0;
}

/* Writes the items of obj as one commit, waiting up to timeout (ns, -1: none). A ringpy_run result. */
static int write_items(ItemRingObject *self, PyObject *obj, int64_t timeout, int flags) {
    Py_buffer view;
    size_t count = 0;
    if (items_buffer(self, obj, &view, &count) < 0) return CALL_FAILED;
    int rc;
    if (count == 0) {
        rc = ringpy_check(&self->base) < 0 ? CALL_FAILED : RING_OK;
    } else {
        write_call w = {{ROLE_ITEM_PRODUCER, write_attempt, write_sleep, 1}, view.buf, count, (size_t)view.len};
        rc = ringpy_run(&self->base, &w.base, timeout, flags);
    }
    PyBuffer_Release(&view);
    return rc;
}

PyDoc_STRVAR(write_doc, "_write(items, timeout)\n--\n\n"
"ring_write_items: the items of a C-contiguous buffer as one commit, waiting up to timeout seconds\n"
"for room (None: no limit) under reject-when-full, then FullError.");

static PyObject *ItemRing_write(ItemRingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "_write() takes exactly 2 arguments"); return NULL; }
    int64_t timeout = ringpy_parse_timeout(args[1]);
    if (timeout == -2) return NULL;
    int rc = write_items(self, args[0], timeout, 0);
    if (rc == RING_OK) Py_RETURN_NONE;
    if (rc == RING_ERR_FULL) {
        PyErr_SetString(self->base.st->FullError, timeout == 0 ? "ring is full" : "ring is full: no room within the timeout");
        return NULL;
    }
    return fail(self, rc);
}

/* Packs a Python float or int as one item of the ring's scalar type into out; 0 if it did,
 * 1 if this item takes NumPy's path (another type, or a value NumPy converts or refuses in its
 * own way: out of range, a float for an integer type), -1 with an exception set. */
static int pack_scalar(int kind, PyObject *item, unsigned char out[8]) {
    if (kind == SCALAR_F8 || kind == SCALAR_F4) {
        if (!PyFloat_CheckExact(item)) return 1;
        double v = PyFloat_AS_DOUBLE(item);
        if (kind == SCALAR_F8) { memcpy(out, &v, 8); return 0; }
        float f = (float)v;
        memcpy(out, &f, 4);
        return 0;
    }
    if (!PyLong_CheckExact(item)) return 1;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow) return 1;
    switch (kind) {
    case SCALAR_I8: memcpy(out, &v, 8); return 0;
    case SCALAR_U8: if (v < 0) return 1; memcpy(out, &v, 8); return 0;
    case SCALAR_I4: { if (v < INT32_MIN || v > INT32_MAX) return 1; int32_t x = (int32_t)v; memcpy(out, &x, 4); return 0; }
    case SCALAR_U4: { if (v < 0 || v > UINT32_MAX) return 1; uint32_t x = (uint32_t)v; memcpy(out, &x, 4); return 0; }
    case SCALAR_I2: { if (v < INT16_MIN || v > INT16_MAX) return 1; int16_t x = (int16_t)v; memcpy(out, &x, 2); return 0; }
    case SCALAR_U2: { if (v < 0 || v > UINT16_MAX) return 1; uint16_t x = (uint16_t)v; memcpy(out, &x, 2); return 0; }
    case SCALAR_I1: { if (v < INT8_MIN || v > INT8_MAX) return 1; int8_t x = (int8_t)v; memcpy(out, &x, 1); return 0; }
    case SCALAR_U1: { if (v < 0 || v > UINT8_MAX) return 1; uint8_t x = (uint8_t)v; memcpy(out, &x, 1); return 0; }
    default: return 1;
    }
}

PyDoc_STRVAR(insert_doc, "insert(item, timeout=None)\n--\n\n"
"Append one item (anything numpy.asarray(item, dtype) takes). Overwrite-oldest: drops the oldest\n"
"item when full, never waits. Reject-when-full: waits up to timeout seconds for room (None: no\n"
"limit; 0: no wait), then FullError. ClosedError after close() or close_writer().\n"
"A float or int into a ring of a little-endian number type is packed here, without NumPy.");

static PyObject *ItemRing_insert(ItemRingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *timeout_obj = Py_None;
    if (nargs == 2 && nkw == 0) timeout_obj = args[1];
    else if (nargs == 1 && nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "timeout") == 0)
        timeout_obj = args[1];
    else if (!(nargs == 1 && nkw == 0)) {
        PyErr_SetString(PyExc_TypeError, "insert() takes an item and an optional timeout");
        return NULL;
    }
    unsigned char packed[8];
    int how = self->scalar ? pack_scalar(self->scalar, args[0], packed) : 1;
    if (how < 0) return NULL;
    if (how > 0) {
        /* Every other item: NumPy's conversion, in ringpy/_items.py. */
        return PyObject_CallMethod((PyObject *)self, "_insert_converted", "OO", args[0], timeout_obj);
    }
    int64_t timeout = ringpy_parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    write_call w = {{ROLE_ITEM_PRODUCER, write_attempt, write_sleep, 1}, packed, 1, self->item_size};
    int rc = ringpy_run(&self->base, &w.base, timeout, 0);
    if (rc == RING_OK) Py_RETURN_NONE;
    if (rc == RING_ERR_FULL) {
        PyErr_SetString(self->base.st->FullError, timeout == 0 ? "ring is full" : "ring is full: no room within the timeout");
        return NULL;
    }
    return fail(self, rc);
}

PyDoc_STRVAR(poll_write_doc, "_poll_write(items, /)\n--\n\n"
"_write that never waits, not even for the producer lock (for the event-loop thread): False if\n"
"the items do not fit now or another thread is using the producer role.");

static PyObject *ItemRing_poll_write(ItemRingObject *self, PyObject *items) {
    int rc = write_items(self, items, 0, RUN_NO_LOCK_WAIT);
    if (rc == RING_OK) Py_RETURN_TRUE;
    if (rc == RING_ERR_FULL || rc == CALL_BUSY) Py_RETURN_FALSE;
    return fail(self, rc);
}

PyDoc_STRVAR(close_writer_doc, "close_writer()\n--\n\n"
"End the stream (SPEC.md §8.3): the consumer drains what is left, then gets EndOfStreamError.\n"
"Releases the producer role; every later write on this ItemRing raises ClosedError (one waiting\n"
"for room gives up with it). Another ItemRing opened on the ring may start a new stream.");

static PyObject *ItemRing_close_writer(ItemRingObject *self, PyObject *unused) {
    (void)unused;
    RingObject *b = &self->base;
    if (ringpy_check(b) < 0) return NULL;
    if (b->writer_closed) Py_RETURN_NONE;
    b->writer_closed = 1; /* a write blocked in another thread gives up between slices */
    ringpy_lock(&b->plock);
    PyObject *result = NULL;
    if (ringpy_check(b) < 0) {
        /* closed meanwhile */
    } else if (self->producer == NULL && take_role(self, ROLE_ITEM_PRODUCER) < 0) {
        b->writer_closed = 0; /* the stream was not ended: writes may go on */
    } else {
        int rc = ring_item_producer_close_writer(self->producer);
        ring_item_producer_free(self->producer);
        self->producer = NULL;
        result = rc == RING_OK ? Py_NewRef(Py_None) : ringpy_raise(b->st, rc, b->path);
    }
    ringpy_unlock(&b->plock);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

typedef struct {
    ringpy_call base;
    char *buf;
    size_t max;       /* items buf has room for */
    size_t count;     /* items read */
} read_call;

static int read_attempt(ringpy_call *call, void *c) {
    read_call *r = (read_call *)call;
    return ring_read_items(c, r->buf, r->max, &r->count, 0);
}

/* read_attempt for a large buffer: the copy runs without the GIL. */
static int read_attempt_nogil(ringpy_call *call, void *c) {
    read_call *r = (read_call *)call;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ring_read_items(c, r->buf, r->max, &r->count, 0);
    Py_END_ALLOW_THREADS
    return rc;
}

static int read_sleep(ringpy_call *call, void *c, int64_t slice_ns) {
    read_call *r = (read_call *)call;
    return ring_read_items(c, r->buf, r->max, &r->count, slice_ns);
}

/* Reads up to max items, waiting up to timeout for the first: a bytearray of the items
 * read (empty when the time ran out, or with RUN_NO_LOCK_WAIT when another thread holds
 * the consumer lock), or NULL with an exception set (EndOfStreamError, ...). */
static PyObject *read_items(ItemRingObject *self, size_t max, int64_t timeout, int flags) {
    if (ringpy_check(&self->base) < 0) return NULL;
    if (max > self->item_capacity) max = (size_t)self->item_capacity;
    PyObject *out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(max * self->item_size));
    if (out == NULL || max == 0) return out;
    int large = max * self->item_size >= NOGIL_COPY_BYTES;
    read_call r = {{ROLE_ITEM_CONSUMER, large ? read_attempt_nogil : read_attempt, read_sleep, 1},
                   PyByteArray_AS_STRING(out), max, 0};
    int rc = ringpy_run(&self->base, &r.base, timeout, flags);
    if (rc == RING_ERR_EMPTY || rc == CALL_BUSY) r.count = 0;
    else if (rc != RING_OK) { Py_DECREF(out); return fail(self, rc); }
    if (r.count < max && PyByteArray_Resize(out, (Py_ssize_t)(r.count * self->item_size)) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

PyDoc_STRVAR(read_doc, "_read(max_count, timeout)\n--\n\n"
"ring_read_items: up to max_count items, oldest first, consumed, as a bytearray; waits up to\n"
"timeout seconds (None: no limit) for the first, and is empty if none came. EndOfStreamError\n"
"once the stream was closed and drained.");

static PyObject *ItemRing_read(ItemRingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "_read() takes exactly 2 arguments"); return NULL; }
    size_t max = PyLong_AsSize_t(args[0]);
    if (max == (size_t)-1 && PyErr_Occurred()) return NULL;
    int64_t timeout = ringpy_parse_timeout(args[1]);
    if (timeout == -2) return NULL;
    return read_items(self, max, timeout, 0);
}

PyDoc_STRVAR(poll_read_doc, "_poll_read()\n--\n\n"
"One item as a bytearray if there is one now, else None; never waits, not even for the consumer\n"
"lock (for the event-loop thread). EndOfStreamError once the stream was closed and drained.");

static PyObject *ItemRing_poll_read(ItemRingObject *self, PyObject *unused) {
    (void)unused;
    PyObject *out = read_items(self, 1, 0, RUN_NO_LOCK_WAIT);
    if (out == NULL || PyByteArray_GET_SIZE(out) > 0) return out;
    Py_DECREF(out);
    Py_RETURN_NONE;
}

/* RING_OK once an item (or the end of the stream) is there, after waiting up to timeout_ns;
 * nothing is consumed (the lend of ring_items_readable is given back at once). */
static int ready(void *c, int64_t timeout_ns) {
    ring_span_t spans[2];
    size_t count = 0;
    int rc = ring_items_readable(c, spans, &count, timeout_ns);
    if (rc == RING_ERR_END_OF_STREAM) return RING_OK;
    if (rc != RING_OK) return rc;
    rc = ring_items_consume(c, 0);
    /* Overwrite-oldest: the producer dropped some of them meanwhile, but items are there. */
    return rc == RING_ERR_OVERWRITTEN ? RING_OK : rc;
}

static int ready_attempt(ringpy_call *call, void *c) { (void)call; return ready(c, 0); }
static int ready_sleep(ringpy_call *call, void *c, int64_t slice_ns) { (void)call; return ready(c, slice_ns); }

PyDoc_STRVAR(wait_doc, "_wait(timeout)\n--\n\n"
"Wait up to timeout seconds until an item (or the end of the stream) is there, without consuming\n"
"it. True if there is, False if the time ran out.");

static PyObject *ItemRing_wait(ItemRingObject *self, PyObject *timeout_obj) {
    int64_t timeout = ringpy_parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    ringpy_call call = {ROLE_ITEM_CONSUMER, ready_attempt, ready_sleep, 1};
    int rc = ringpy_run(&self->base, &call, timeout, 0);
    if (rc == RING_OK) Py_RETURN_TRUE;
    if (rc == RING_ERR_EMPTY) Py_RETURN_FALSE;
    return fail(self, rc);
}

/* ------------------------------------------------------------------------ */
/* Peeking: unwrapped() and latest()                                        */

static PyObject *view_new(ItemRingObject *owner, const char *data, size_t len) {
    ItemViewObject *v = PyObject_New(ItemViewObject, owner->base.st->ItemViewType);
    if (v == NULL) return NULL;
    v->owner = (ItemRingObject *)Py_NewRef((PyObject *)owner);
    v->data = data;
    v->len = (Py_ssize_t)len;
    v->exports = 0;
    return (PyObject *)v;
}

/* Copies len bytes from byte offset `offset` of the run spans[0], spans[1] to dest. */
static void copy_run(const ring_span_t spans[2], size_t offset, size_t len, char *dest) {
    if (offset < spans[0].len) {
        size_t n = spans[0].len - offset < len ? spans[0].len - offset : len;
        memcpy(dest, (const char *)spans[0].data + offset, n);
        dest += n;
        len -= n;
        offset = 0;
    } else {
        offset -= spans[0].len;
    }
    if (len > 0) memcpy(dest, (const char *)spans[1].data + offset, len);
}

typedef struct {
    ringpy_call base;
    ring_span_t spans[2];
    size_t count;
} lend_call;

static int lend_attempt(ringpy_call *call, void *c) {
    lend_call *l = (lend_call *)call;
    return ring_items_readable(c, l->spans, &l->count, 0);
}

static int lend_sleep(ringpy_call *call, void *c, int64_t slice_ns) {
    lend_call *l = (lend_call *)call;
    return ring_items_readable(c, l->spans, &l->count, slice_ns);
}

PyDoc_STRVAR(lend_doc, "_lend(max, timeout)\n--\n\n"
"ring_items_readable: up to max unread items in place, waiting up to timeout seconds for one;\n"
"(items, count): an ItemView of them when the ring is double-mapped (mapped once: the whole\n"
"items before the region's end, or a copy of the one that straddles it), None and 0 when the\n"
"time ran out. The lend stays open (other reads are BusyError) until _end_lend.");

static PyObject *ItemRing_lend(ItemRingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "_lend() takes exactly 2 arguments"); return NULL; }
    size_t max = PyLong_AsSize_t(args[0]);
    if (max == (size_t)-1 && PyErr_Occurred()) return NULL;
    int64_t timeout = ringpy_parse_timeout(args[1]);
    if (timeout == -2 || ringpy_check(&self->base) < 0) return NULL;
    lend_call l = {{ROLE_ITEM_CONSUMER, lend_attempt, lend_sleep, 1}, {{NULL, 0}, {NULL, 0}}, 0};
    int rc = ringpy_run(&self->base, &l.base, timeout, 0);
    if (rc == RING_ERR_EMPTY) return Py_BuildValue("(On)", Py_None, (Py_ssize_t)0);
    if (rc != RING_OK) return fail(self, rc);
    size_t count = l.count < max ? l.count : max;
    PyObject *items;
    if (self->double_mapped) {
        items = view_new(self, (const char *)l.spans[0].data, count * self->item_size);
    } else {
        size_t whole = l.spans[0].len / self->item_size;
        if (whole > 0) {
            if (count > whole) count = whole;
            items = view_new(self, (const char *)l.spans[0].data, count * self->item_size);
        } else {
            /* The first item straddles the end of a region mapped once: a copy of it. */
            count = 1;
            items = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)self->item_size);
            if (items != NULL) copy_run(l.spans, 0, self->item_size, PyByteArray_AS_STRING(items));
        }
    }
    if (items == NULL) {
        ringpy_lock(&self->base.clock);
        ring_items_consume(self->consumer, 0);
        ringpy_unlock(&self->base.clock);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(Nn)", items, (Py_ssize_t)count);
    return result;
}

PyDoc_STRVAR(end_lend_doc, "_end_lend(count)\n--\n\n"
"ring_items_consume: ends the lend of _lend, consuming its first count items; returns how many of\n"
"those the producer dropped while they were lent (overwrite-oldest; 0: all were intact).");

static PyObject *ItemRing_end_lend(ItemRingObject *self, PyObject *count_obj) {
    size_t count = PyLong_AsSize_t(count_obj);
    if (count == (size_t)-1 && PyErr_Occurred()) return NULL;
    if (ringpy_check(&self->base) < 0) return NULL;
    RingObject *b = &self->base;
    ringpy_lock(&b->clock);
    PyObject *result = NULL;
    ring_item_consumer_t *c = ringpy_item_consumer(b);
    uint64_t before = 0, after = 0;
    if (c != NULL) {
        int rc = ring_items_missed(c, &before);
        if (rc == RING_OK) rc = ring_items_consume(c, count);
        if (rc == RING_ERR_OVERWRITTEN && ring_items_missed(c, &after) == RING_OK) {
            result = PyLong_FromUnsignedLongLong(after - before < count ? after - before : count);
        } else if (rc == RING_OK) {
            result = PyLong_FromLong(0);
        } else {
            ringpy_raise(b->st, rc, b->path);
        }
    }
    ringpy_unlock(&b->clock);
    return result;
}

PyDoc_STRVAR(peek_doc, "_peek(last, copy)\n--\n\n"
"The unread items, oldest first, without consuming them: all of them (last -1) or the newest\n"
"`last`. An ItemView of them in place when the ring is double-mapped and not copy, else a\n"
"bytearray copy (taken again if, under overwrite-oldest, the producer dropped items meanwhile).");

static PyObject *ItemRing_peek(ItemRingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "_peek() takes exactly 2 arguments"); return NULL; }
    Py_ssize_t last = PyLong_AsSsize_t(args[0]);
    if (last == -1 && PyErr_Occurred()) return NULL;
    int copy = PyObject_IsTrue(args[1]);
    if (copy < 0 || ringpy_check(&self->base) < 0) return NULL;
    RingObject *b = &self->base;
    ringpy_lock(&b->clock);
    PyObject *result = NULL;
    ring_item_consumer_t *c = ringpy_item_consumer(b);
    for (int tries = 0; c != NULL; tries++) {
        if (tries == PEEK_TRIES) {
            PyErr_Format(b->st->OverwrittenError, "the producer dropped the items %d times while they were taken", tries);
            break;
        }
        ring_span_t spans[2];
        size_t count = 0;
        int rc = ring_items_readable(c, spans, &count, 0);
        if (rc == RING_ERR_EMPTY || rc == RING_ERR_END_OF_STREAM) { result = PyByteArray_FromStringAndSize(NULL, 0); break; }
        if (rc != RING_OK) { ringpy_raise(b->st, rc, b->path); break; }
        size_t skip = last >= 0 && (size_t)last < count ? count - (size_t)last : 0;
        size_t offset = skip * self->item_size, len = (count - skip) * self->item_size;
        if (copy || !self->double_mapped || len == 0) {
            result = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)len);
            if (result != NULL && len < NOGIL_COPY_BYTES) {
                copy_run(spans, offset, len, PyByteArray_AS_STRING(result));
            } else if (result != NULL) {
                char *dest = PyByteArray_AS_STRING(result);
                Py_BEGIN_ALLOW_THREADS
                copy_run(spans, offset, len, dest);
                Py_END_ALLOW_THREADS
            }
        } else {
            /* Double-mapped: one span holds every unread item (SPEC.md §20.1). */
            result = view_new(self, (const char *)spans[0].data + offset, len);
        }
        /* The lend ends here, whatever happened above. OVERWRITTEN: the producer dropped the
         * first d items of the lend meanwhile (overwrite-oldest; ring_items_missed grew by d):
         * they are no longer unread and their copies are void, but the items after them were
         * not overwritten (SPEC.md §19.4), so what was taken of those is kept. */
        uint64_t before = 0, after = 0;
        ring_items_missed(c, &before);
        rc = ring_items_consume(c, 0);
        if (result == NULL || rc == RING_OK) break;
        if (rc != RING_ERR_OVERWRITTEN) { Py_CLEAR(result); ringpy_raise(b->st, rc, b->path); break; }
        ring_items_missed(c, &after);
        uint64_t dropped = after - before;
        if (dropped <= skip) break;                      /* none of what was taken */
        if (dropped < count) {
            size_t cut = (size_t)(dropped - skip) * self->item_size;
            if (PyByteArray_Check(result)) {
                if (PySequence_DelSlice(result, 0, (Py_ssize_t)cut) == 0) break;
                Py_CLEAR(result);
                break;
            }
            PyObject *trimmed = view_new(self, ((ItemViewObject *)result)->data + cut, len - cut);
            Py_SETREF(result, trimmed);
            break;
        }
        Py_CLEAR(result);                                 /* all of it: take it again */
    }
    ringpy_unlock(&b->clock);
    return result;
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */

/* ring_info under rlock (taken without holding the GIL while it waits). */
static int info_of(ItemRingObject *self, ring_info_t *info) {
    RingObject *b = &self->base;
    if (ringpy_check(b) < 0) return -1;
    ringpy_lock(&b->rlock);
    int rc = b->ring == NULL ? RING_ERR_CLOSED : ring_info(b->ring, info);
    ringpy_unlock(&b->rlock);
    if (rc != RING_OK) { ringpy_raise(b->st, rc, b->path); return -1; }
    return 0;
}

/* O(1): ring_message_count (unread items). */
static Py_ssize_t ItemRing_len(ItemRingObject *self) {
    PyObject *count = ringpy_pending(&self->base, NULL);
    if (count == NULL) return -1;
    Py_ssize_t n = PyLong_AsSsize_t(count);
    Py_DECREF(count);
    return n;
}

static PyObject *ItemRing_stats(ItemRingObject *self, PyObject *unused) {
    (void)unused;
    ring_info_t i;
    if (info_of(self, &i) < 0) return NULL;
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:O}", "producer_position", (unsigned long long)i.producer_position,
                         "consumer_position", (unsigned long long)i.consumer_position,
                         "count", (unsigned long long)i.message_count, "dropped_count",
                         (unsigned long long)i.dropped_count, "writer_closed", i.writer_closed ? Py_True : Py_False);
}

static PyObject *ItemRing_get_dropped(ItemRingObject *self, void *unused) {
    (void)unused;
    ring_info_t i;
    if (info_of(self, &i) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(i.dropped_count);
}

static PyObject *ItemRing_get_missed(ItemRingObject *self, void *unused) {
    (void)unused;
    RingObject *b = &self->base;
    if (ringpy_check(b) < 0) return NULL;
    /* rlock, not clock: a read blocked in another thread holds clock for as long as it
     * waits; rlock keeps close() from freeing the handle, whose own lock a blocked call
     * holds for one wait slice at most (WAIT_SLICE_NS). */
    ringpy_lock(&b->rlock);
    uint64_t missed = 0;
    int rc = b->released ? RING_ERR_CLOSED : RING_OK;
    ring_item_consumer_t *c = self->consumer;
    if (rc == RING_OK && c != NULL) {
        Py_BEGIN_ALLOW_THREADS
        rc = ring_items_missed(c, &missed);
        Py_END_ALLOW_THREADS
    }
    ringpy_unlock(&b->rlock);
    if (rc != RING_OK) return ringpy_raise(b->st, rc, b->path);
    return PyLong_FromUnsignedLongLong(missed);
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                  */

/* Frees the handles: with the three locks held, or from dealloc. */
static void free_handles(ItemRingObject *self) {
    ring_item_producer_free(self->producer);
    ring_item_consumer_free(self->consumer);
    ring_free(self->base.ring);
    self->producer = NULL;
    self->consumer = NULL;
    self->base.ring = NULL;
}

/* In a forked child: lets go of the parent's handles without a call into the library
 * (freeing them would unlock the parent's role locks). Their memory is leaked. */
static void drop_handles(ItemRingObject *self) {
    self->producer = NULL;
    self->consumer = NULL;
    self->base.ring = NULL;
}

PyDoc_STRVAR(close_doc, "close()\n--\n\n"
"Release the roles and the mapping. Idempotent. BufferError while an array from unwrapped() or\n"
"latest() (a view of the mapping) is alive. In a forked child it only forgets the inherited\n"
"handles: the roles stay the parent's.");

static PyObject *ItemRing_close(ItemRingObject *self, PyObject *unused) {
    (void)unused;
    RingObject *b = &self->base;
    if (b->released) Py_RETURN_NONE;
    if (self->exports > 0) {
        PyErr_Format(PyExc_BufferError, "cannot close the ring: %zd view(s) of its mapping (unwrapped(), latest()) "
                     "are still alive", self->exports);
        return NULL;
    }
    b->closing = 1; /* blocked calls notice between slices; views refuse new exports */
    if (forked(b)) {
        drop_handles(self);
        b->released = 1;
        Py_RETURN_NONE;
    }
    ringpy_lock(&b->plock);
    ringpy_lock(&b->clock);
    ringpy_lock(&b->rlock);
    if (!b->released) { /* else another thread's close() did it while this one waited */
        Py_BEGIN_ALLOW_THREADS
        free_handles(self);
        Py_END_ALLOW_THREADS
        b->released = 1;
    }
    ringpy_unlock(&b->rlock);
    ringpy_unlock(&b->clock);
    ringpy_unlock(&b->plock);
    Py_RETURN_NONE;
}

static PyObject *ItemRing_enter(ItemRingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(&self->base) < 0) return NULL;
    return Py_NewRef((PyObject *)self);
}

static PyObject *ItemRing_exit(ItemRingObject *self, PyObject *args) {
    (void)args;
    PyObject *r = ItemRing_close(self, NULL);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static void ItemRing_dealloc(ItemRingObject *self) {
    /* No ItemView is alive (each keeps its ring), so no export either. */
    if (forked(&self->base)) drop_handles(self);
    else free_handles(self);
    Py_CLEAR(self->type_description);
    ringpy_object_dealloc(&self->base);
}

/* ------------------------------------------------------------------------ */
/* Attributes                                                               */

static PyObject *ItemRing_get_path(ItemRingObject *self, void *c) { (void)c; return Py_NewRef(self->base.path); }
static PyObject *ItemRing_get_capacity(ItemRingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(self->item_capacity); }
static PyObject *ItemRing_get_item_size(ItemRingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->item_size); }
static PyObject *ItemRing_get_item_alignment(ItemRingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->item_alignment); }
static PyObject *ItemRing_get_type_description(ItemRingObject *self, void *c) { (void)c; return Py_NewRef(self->type_description); }
static PyObject *ItemRing_get_policy_value(ItemRingObject *self, void *c) { (void)c; return PyLong_FromLong(self->base.policy); }
static PyObject *ItemRing_get_double_mapped(ItemRingObject *self, void *c) { (void)c; return PyBool_FromLong(self->double_mapped); }
static PyObject *ItemRing_get_closed(ItemRingObject *self, void *c) { (void)c; return PyBool_FromLong(self->base.closing); }
/* Not ringpy_check: a forked child reads it to open the ring again (open_fd). */
static PyObject *ItemRing_get_fd(ItemRingObject *self, void *c) {
    (void)c;
    if (self->base.closing) return ringpy_raise_closed(self->base.st);
    return PyLong_FromLong(self->base.fd);
}

static PyMethodDef ItemRing_methods[] = {
    {"_create", (PyCFunction)(void (*)(void))ItemRing_create, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, create_doc},
    {"_open", (PyCFunction)(void (*)(void))ItemRing_open, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, open_doc},
    {"_open_fd", (PyCFunction)(void (*)(void))ItemRing_open_fd, METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, open_fd_doc},
    {"_write", (PyCFunction)(void (*)(void))ItemRing_write, METH_FASTCALL, write_doc},
    {"insert", (PyCFunction)(void (*)(void))ItemRing_insert, METH_FASTCALL | METH_KEYWORDS, insert_doc},
    {"_poll_write", (PyCFunction)ItemRing_poll_write, METH_O, poll_write_doc},
    {"close_writer", (PyCFunction)ItemRing_close_writer, METH_NOARGS, close_writer_doc},
    {"_read", (PyCFunction)(void (*)(void))ItemRing_read, METH_FASTCALL, read_doc},
    {"_poll_read", (PyCFunction)ItemRing_poll_read, METH_NOARGS, poll_read_doc},
    {"_wait", (PyCFunction)ItemRing_wait, METH_O, wait_doc},
    {"_peek", (PyCFunction)(void (*)(void))ItemRing_peek, METH_FASTCALL, peek_doc},
    {"_lend", (PyCFunction)(void (*)(void))ItemRing_lend, METH_FASTCALL, lend_doc},
    {"_end_lend", (PyCFunction)ItemRing_end_lend, METH_O, end_lend_doc},
    {"_stats", (PyCFunction)ItemRing_stats, METH_NOARGS,
     "A snapshot as a dict: producer_position, consumer_position, count, dropped_count, writer_closed."},
    RINGPY_BELL_METHODS,
    {"close", (PyCFunction)ItemRing_close, METH_NOARGS, close_doc},
    {"__enter__", (PyCFunction)ItemRing_enter, METH_NOARGS, "Return the ring."},
    {"__exit__", (PyCFunction)ItemRing_exit, METH_VARARGS, "Close the ring."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ItemRing_getset[] = {
    {"path", (getter)ItemRing_get_path, NULL,
     "The path the ring was created or opened at; \"memfd:NAME\" for a ring without a file.", NULL},
    {"capacity", (getter)ItemRing_get_capacity, NULL, "Items the ring holds (at least the capacity asked for).", NULL},
    {"item_size", (getter)ItemRing_get_item_size, NULL, "Bytes of one item.", NULL},
    {"item_alignment", (getter)ItemRing_get_item_alignment, NULL, "The alignment the items were written for.", NULL},
    {"type_description", (getter)ItemRing_get_type_description, NULL,
     "The ring's item type as written in its header (SPEC.md §19.2), e.g. '<f8'.", NULL},
    {"_policy", (getter)ItemRing_get_policy_value, NULL, "Policy as an int.", NULL},
    {"is_double_mapped", (getter)ItemRing_get_double_mapped, NULL,
     "True if the data region is mapped twice back to back (SPEC.md §20.1): unwrapped() and\n"
     "latest() are then views, not copies.", NULL},
    {"fd", (getter)ItemRing_get_fd, NULL,
     "The ring's open descriptor (owned by the ring: do not close it; os.dup it to keep it). A child\n"
     "of os.fork() opens the ring again with ItemRing.open_fd(ring.fd) (SPEC.md §20.2).", NULL},
    {"dropped_count", (getter)ItemRing_get_dropped, NULL,
     "Items the producer dropped under overwrite-oldest, since the ring was created.", NULL},
    {"missed_count", (getter)ItemRing_get_missed, NULL,
     "Items this ItemRing's consumer did not get because the producer dropped them first\n"
     "(overwrite-oldest), counted from when it took the consumer role (its first read); 0 before.", NULL},
    {"closed", (getter)ItemRing_get_closed, NULL, "True once close() was called.", NULL},
    RINGPY_LIVE_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot ItemRing_slots[] = {
    {Py_tp_doc, "The native core of ringpy.ItemRing: a typed ring (SPEC.md §19)."},
    {Py_tp_new, ItemRing_new},
    {Py_tp_dealloc, ItemRing_dealloc},
    {Py_tp_traverse, ringpy_object_traverse},
    {Py_tp_methods, ItemRing_methods},
    {Py_tp_getset, ItemRing_getset},
    {Py_sq_length, ItemRing_len},
    {0, NULL},
};

PyType_Spec ringpy_item_ring_spec = {
    .name = "ringpy._ringpy.ItemRingBase",
    .basicsize = sizeof(ItemRingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = ItemRing_slots,
};

/* ------------------------------------------------------------------------ */
/* ItemView                                                                 */

static int View_getbuffer(ItemViewObject *self, Py_buffer *view, int flags) {
    ItemRingObject *owner = self->owner;
    if (ringpy_check(&owner->base) < 0) return -1;
    if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->data, self->len, 1, flags) < 0) return -1;
    self->exports++;
    owner->exports++;
    return 0;
}

static void View_releasebuffer(ItemViewObject *self, Py_buffer *view) {
    (void)view;
    self->exports--;
    self->owner->exports--;
}

static Py_ssize_t View_len(ItemViewObject *self) { return self->len; }
static PyObject *View_get_ring(ItemViewObject *self, void *c) { (void)c; return Py_NewRef((PyObject *)self->owner); }

static void View_dealloc(ItemViewObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(self->owner);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyGetSetDef View_getset[] = {
    {"ring", (getter)View_get_ring, NULL, "The ItemRing whose mapping this view shows (kept alive by it).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot View_slots[] = {
    {Py_tp_doc, "A read-only window (buffer protocol) onto unread items in a typed ring's mapping:\n"
                "what ItemRing.unwrapped() and latest() wrap as a NumPy array. While a buffer of it is\n"
                "alive the ring cannot be closed (BufferError)."},
    {Py_tp_new, NULL},
    {Py_tp_dealloc, View_dealloc},
    {Py_tp_getset, View_getset},
    {Py_bf_getbuffer, View_getbuffer},
    {Py_bf_releasebuffer, View_releasebuffer},
    {Py_sq_length, View_len},
    {0, NULL},
};

PyType_Spec ringpy_item_view_spec = {
    .name = "ringpy._ringpy.ItemView",
    .basicsize = sizeof(ItemViewObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = View_slots,
};
