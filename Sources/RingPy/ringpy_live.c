/*
 * ringpy_live.c - liveness and counts (SPEC.md §22) of a Ring, a Reader and an ItemRing:
 * producer_alive and consumer_alive, stop_when_producer_gone (which makes a drained read
 * raise ProducerGoneError instead of waiting for a producer that died), _pending (the O(1)
 * count behind len() and qsize()) and _room_now (Ring.full()).
 *
 * A Reader has no ring handle: it asks its Ring's, under that Ring's rlock.
 */
#include "ringpy.h"

/* The object whose ring handle answers for self: the Ring of a Reader, else self. */
static RingObject *holder_of(RingObject *self) { return self->parent ? (RingObject *)self->parent : self; }

/* ring_producer_alive or ring_consumer_alive under the holder's rlock, as a bool. */
static PyObject *alive(RingObject *self, int (*ask)(ring_t *, int *)) {
    if (ringpy_check(self) < 0) return NULL;
    RingObject *holder = holder_of(self);
    int yes = 0;
    ringpy_lock(&holder->rlock);
    int rc = holder->ring == NULL ? RING_ERR_CLOSED : ask(holder->ring, &yes);
    ringpy_unlock(&holder->rlock);
    if (rc == RING_ERR_CLOSED) return ringpy_raise_closed(self->st);
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);
    return PyBool_FromLong(yes);
}

PyObject *ringpy_get_producer_alive(RingObject *self, void *unused) {
    (void)unused;
    return alive(self, ring_producer_alive);
}

PyObject *ringpy_get_consumer_alive(RingObject *self, void *unused) {
    (void)unused;
    return alive(self, ring_consumer_alive);
}

PyObject *ringpy_get_stop_when_gone(RingObject *self, void *unused) {
    (void)unused;
    return PyBool_FromLong(self->stop_when_gone);
}

int ringpy_apply_stop_when_gone(RingObject *self, void *handle, int item) {
    int rc = item ? ring_item_consumer_stop_when_producer_gone(handle, self->stop_when_gone)
                  : ring_consumer_stop_when_producer_gone(handle, self->stop_when_gone);
    if (rc == RING_OK) return 0;
    ringpy_raise(self->st, rc, self->path);
    return -1;
}

int ringpy_set_stop_when_gone(RingObject *self, PyObject *value, void *unused) {
    (void)unused;
    if (value == NULL) { PyErr_SetString(PyExc_AttributeError, "stop_when_producer_gone cannot be deleted"); return -1; }
    if (!PyBool_Check(value)) {
        PyErr_Format(PyExc_TypeError, "stop_when_producer_gone must be a bool, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    if (ringpy_check(self) < 0) return -1;
    int item = ringpy_is_item_ring(self);
    /* Given to the consumer handle now if it was taken, else when it is. */
    ringpy_lock(&self->clock);
    self->stop_when_gone = value == Py_True;
    void *handle = item ? (void *)ringpy_item_consumer_taken(self) : (void *)self->consumer;
    int result = handle == NULL || self->released ? 0 : ringpy_apply_stop_when_gone(self, handle, item);
    ringpy_unlock(&self->clock);
    return result;
}

PyObject *ringpy_pending(RingObject *self, PyObject *unused) {
    (void)unused;
    if (ringpy_check(self) < 0) return NULL;
    uint64_t count = 0;
    int rc;
    /* rlock, not clock: a read blocked in another thread holds clock while it waits; rlock
     * keeps close() from freeing the handle. */
    ringpy_lock(&self->rlock);
    if (self->parent != NULL) {
        ring_consumer_t *reader = self->released ? NULL : self->consumer;
        rc = RING_ERR_CLOSED;
        if (reader != NULL) {
            Py_BEGIN_ALLOW_THREADS
            rc = ring_consumer_pending(reader, &count);
            Py_END_ALLOW_THREADS
        }
    } else {
        rc = self->ring == NULL ? RING_ERR_CLOSED : ring_message_count(self->ring, &count);
    }
    ringpy_unlock(&self->rlock);
    if (rc == RING_ERR_CLOSED) return ringpy_raise_closed(self->st);
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);
    return PyLong_FromUnsignedLongLong(count);
}

PyObject *ringpy_room_now(RingObject *self, PyObject *size_obj) {
    size_t size = PyLong_AsSize_t(size_obj);
    if (size == (size_t)-1 && PyErr_Occurred()) return NULL;
    if (ringpy_check(self) < 0) return NULL;
    /* Overwrite-oldest always has room (and reserving would reclaim messages). */
    if (self->policy == RING_OVERWRITE_OLDEST) Py_RETURN_TRUE;
    ringpy_lock(&self->plock);
    ring_producer_t *p = self->released || self->writer_closed ? NULL : self->producer;
    int rc = RING_ERR_BUSY;
    if (p != NULL) {
        void *buffer = NULL;
        rc = ring_reserve(p, size, &buffer);
        if (rc == RING_OK) ring_abort(p);
    }
    ringpy_unlock(&self->plock);
    if (p == NULL) Py_RETURN_NONE;
    if (rc == RING_OK) Py_RETURN_TRUE;
    if (rc == RING_ERR_FULL) Py_RETURN_FALSE;
    return ringpy_raise(self->st, rc, self->path);
}
