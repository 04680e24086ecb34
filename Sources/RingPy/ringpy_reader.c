/*
 * ringpy_reader.c - the Reader type (ringpy._ringpy.ReaderBase; ringpy.Reader subclasses
 * it): one reader of a ring with a reader table (format 1.1, SPEC.md §17), with a cursor of
 * its own in the file. A Reader is a RingObject whose consumer is the handle of
 * ring_reader_open, so every read method of the Ring (ringpy_reader_methods, from
 * ringpy_ring.c), the wait loop and RecordView serve it unchanged; it has no ring handle
 * and no producer, and keeps the Ring it was made from (`parent`) alive. Also here:
 * Ring._reader, which makes one, and Ring._readers, the reader table.
 */
#include "ringpy.h"

#include <string.h>

/* Ring._reader(cls, name, flags, gate_timeout_ms): ring_reader_open, as a new cls. The
 * arguments are checked by ringpy.Ring.reader; here only their types. */
PyObject *ringpy_ring_reader(RingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) { PyErr_SetString(PyExc_TypeError, "_reader() takes exactly 4 arguments"); return NULL; }
    PyObject *cls = args[0], *name = args[1];
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, self->st->ReaderType)) {
        PyErr_SetString(PyExc_TypeError, "_reader(): cls must be a subclass of ReaderBase");
        return NULL;
    }
    if (name != Py_None && !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "a reader name must be a str or None, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    unsigned long flags = PyLong_AsUnsignedLong(args[2]);
    if (flags == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    unsigned long gate_ms = PyLong_AsUnsignedLong(args[3]);
    if (gate_ms == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    if (flags > UINT32_MAX || gate_ms > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "_reader(): flags and gate_timeout_ms are u32");
        return NULL;
    }
    const char *name_utf8 = NULL;
    if (name != Py_None) {
        Py_ssize_t size = 0;
        if ((name_utf8 = PyUnicode_AsUTF8AndSize(name, &size)) == NULL) return NULL;
        /* The C ABI takes a C string: a NUL would cut the name short. */
        if ((size_t)size != strlen(name_utf8)) {
            PyErr_SetString(PyExc_ValueError, "a reader name may not contain NUL");
            return NULL;
        }
    }
    if (ringpy_check(self) < 0) return NULL;
    ring_reader_options_t options = RING_READER_OPTIONS_INIT;
    options.flags = (uint32_t)flags;
    options.name = name_utf8;
    options.gate_timeout_ms = (uint32_t)gate_ms;
    ring_consumer_t *handle = NULL;
    /* rlock keeps close() from freeing the ring meanwhile; a gating reader's join may
     * yield to a producer mid-reclaim (SPEC.md §17.5 step 5), so the GIL is let go. The
     * name's UTF-8 buffer belongs to the str, which the caller keeps alive. */
    ringpy_lock(&self->rlock);
    int rc = RING_ERR_CLOSED;
    if (self->ring != NULL) {
        ring_t *ring = self->ring;
        Py_BEGIN_ALLOW_THREADS
        rc = ring_reader_open(ring, &options, &handle);
        Py_END_ALLOW_THREADS
    }
    ringpy_unlock(&self->rlock);
    if (rc == RING_ERR_CLOSED) return ringpy_raise_closed(self->st);
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);

    RingObject *reader = (RingObject *)((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
    if (reader == NULL) { ring_consumer_free(handle); return NULL; }
    reader->consumer = handle;
    reader->parent = Py_NewRef((PyObject *)self);
    if (ringpy_object_init(reader, self->module, self->path) < 0) { Py_DECREF(reader); return NULL; }
    reader->capacity = self->capacity;
    reader->max_message = self->max_message;
    reader->policy = self->policy;
    reader->reader_slots = self->reader_slots;
    return (PyObject *)reader;
}

/* Ring._readers(): [(slot, name or None, flags, cursor, lag_bytes, missed_count), ...]. */
PyObject *ringpy_ring_readers(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    size_t room = self->reader_slots > 0 ? self->reader_slots : 1;
    ring_reader_info_t *infos = NULL;
    size_t count = 0;
    int rc;
    for (;;) {
        PyMem_Free(infos);
        infos = PyMem_Calloc(room, sizeof *infos);
        if (infos == NULL) return PyErr_NoMemory();
        ringpy_lock(&self->rlock);
        rc = self->ring == NULL ? RING_ERR_CLOSED : ring_readers(self->ring, infos, room, &count);
        ringpy_unlock(&self->rlock);
        if (rc != RING_OK || count <= room) break;
        room = count; /* never more than the table's slots; asked again with room for all */
    }
    PyObject *list = NULL;
    if (rc == RING_ERR_CLOSED) { ringpy_raise_closed(self->st); goto done; }
    if (rc != RING_OK) { ringpy_raise(self->st, rc, self->path); goto done; }
    if ((list = PyList_New(0)) == NULL) goto done;
    for (size_t i = 0; i < count; i++) {
        const ring_reader_info_t *r = &infos[i];
        size_t len = strnlen(r->name, sizeof r->name);
        PyObject *name = len ? PyUnicode_DecodeUTF8(r->name, (Py_ssize_t)len, "replace") : Py_NewRef(Py_None);
        PyObject *item = name ? Py_BuildValue("(INIKKK)", (unsigned int)r->slot, name, (unsigned int)r->flags,
                                              (unsigned long long)r->cursor, (unsigned long long)r->lag_bytes,
                                              (unsigned long long)r->missed_count)
                              : NULL;
        if (item == NULL || PyList_Append(list, item) < 0) { Py_XDECREF(item); Py_CLEAR(list); goto done; }
        Py_DECREF(item);
    }
done:
    PyMem_Free(infos);
    return list;
}

/* ------------------------------------------------------------------------ */
/* The Reader type                                                          */

static PyObject *Reader_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args; (void)kwargs;
    PyErr_Format(PyExc_TypeError, "%s objects are made by Ring.reader()", type->tp_name);
    return NULL;
}

static PyObject *Reader_get_missed(RingObject *self, void *c) {
    (void)c;
    if (ringpy_check(self) < 0) return NULL;
    /* rlock, not the consumer lock: a get blocked in another thread holds that one for as
     * long as it waits; rlock only keeps close() from freeing the handle, whose own lock
     * a blocked call holds at most for one wait slice (WAIT_SLICE_NS). */
    ringpy_lock(&self->rlock);
    uint64_t missed = 0;
    int rc = RING_ERR_CLOSED;
    ring_consumer_t *handle = self->consumer;
    if (handle != NULL) {
        Py_BEGIN_ALLOW_THREADS
        rc = ring_reader_missed(handle, &missed);
        Py_END_ALLOW_THREADS
    }
    ringpy_unlock(&self->rlock);
    if (rc == RING_ERR_CLOSED) return ringpy_raise_closed(self->st);
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);
    return PyLong_FromUnsignedLongLong(missed);
}

static PyObject *Reader_get_ring(RingObject *self, void *c) { (void)c; return Py_NewRef(self->parent); }
static PyObject *Reader_get_closed(RingObject *self, void *c) { (void)c; return PyBool_FromLong(self->closing); }

static PyGetSetDef Reader_getset[] = {
    {"ring", (getter)Reader_get_ring, NULL, "The Ring this reader was made from (kept alive by it).", NULL},
    {"missed_count", (getter)Reader_get_missed, NULL,
     "Messages this reader missed because the producer lapped it (a lapping reader), or, for\n"
     "a durable reader, reclaimed while it was away (past its gate timeout, if gating). A gating\n"
     "reader is never lapped while it is open.", NULL},
    {"closed", (getter)Reader_get_closed, NULL, "True once close() was called.", NULL},
    RINGPY_LIVE_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Reader_slots[] = {
    {Py_tp_doc, "The native core of ringpy.Reader: one reader of a ring with a reader table."},
    {Py_tp_new, Reader_new},
    {Py_tp_dealloc, ringpy_object_dealloc},
    {Py_tp_traverse, ringpy_object_traverse},
    {Py_tp_methods, ringpy_reader_methods},
    {Py_tp_getset, Reader_getset},
    {0, NULL},
};

PyType_Spec ringpy_reader_spec = {
    .name = "ringpy._ringpy.ReaderBase",
    .basicsize = sizeof(RingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Reader_slots,
};
