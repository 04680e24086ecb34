/*
 * ringpy_view.c - RecordView: a zero-copy view (buffer protocol) of the oldest message
 * inside the shared mapping, between ring_peek and ring_release / ring_release_cancel.
 * While a memoryview of it is alive, release(), cancel() and Ring.close() raise
 * BufferError (as mmap refuses to close with exports), so no view points at reused memory.
 */
#include "ringpy.h"

PyObject *ringpy_view_new(RingObject *owner, const void *data, size_t len) {
    RecordViewObject *v = PyObject_New(RecordViewObject, owner->st->RecordViewType);
    if (v == NULL) return NULL;
    v->owner = (RingObject *)Py_NewRef(owner);
    v->data = data;
    v->len = (Py_ssize_t)len;
    v->exports = 0;
    v->released = 0;
    owner->view = (PyObject *)v;
    return (PyObject *)v;
}

static int View_getbuffer(RecordViewObject *self, Py_buffer *view, int flags) {
    if (self->released || self->owner->closing) {
        PyErr_SetString(PyExc_BufferError, "the RecordView was released");
        return -1;
    }
    if (ringpy_check(self->owner) < 0) return -1;
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
    if (ringpy_check(ring) < 0) return NULL;
    ringpy_lock(&ring->clock);
    int rc = RING_OK;
    if (!self->released && ring->consumer != NULL)
        rc = consume ? ring_release(ring->consumer) : ring_release_cancel(ring->consumer);
    self->released = 1;
    if (ring->view == (PyObject *)self) ring->view = NULL;
    ringpy_unlock(&ring->clock);
    if (rc != RING_OK) return ringpy_raise(ring->st, rc, ring->path);
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
    RingObject *ring = self->owner;
    /* In a forked child the consumer is the parent's: leave it alone (and its lock). */
    if (!self->released && ring != NULL && ring->generation == ringpy_fork_generation()) {
        ringpy_lock(&ring->clock);
        if (ring->consumer != NULL) ring_release_cancel(ring->consumer);
        ringpy_unlock(&ring->clock);
    }
    if (ring != NULL && ring->view == (PyObject *)self) ring->view = NULL;
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

PyType_Spec ringpy_view_spec = {
    .name = "ringpy._ringpy.RecordView",
    .basicsize = sizeof(RecordViewObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = View_slots,
};
