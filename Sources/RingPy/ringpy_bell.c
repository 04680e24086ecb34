/*
 * ringpy_bell.c - the doorbells (SPEC.md §21) of a Ring, a Reader and an ItemRing: each
 * side's pollable descriptor and arming it, for ringpy/_async.py (loop.add_reader) and for
 * fileno() users (select, poll, epoll).
 *
 * The loop a waiter runs: _arm(role); False: the wait is over, do the operation now; True:
 * wait for the descriptor to be readable, _disarm(role), try the operation without waiting,
 * and arm again if it would still wait. An armed handle counts as a sleeping waiter (the
 * other side makes a wake-up call per commit), so a waiter disarms as soon as it wakes.
 *
 * Like every other call, these hold the role's lock (ringpy_role_lock). On an event loop's
 * thread they must not wait for it (a blocking call of another thread holds it for up to a
 * wait slice): with wait false they return None (_bell, _arm) or False (_disarm) when another
 * thread holds it; with wait true they wait for it with the GIL released (select users).
 * The descriptor belongs to the role's handle and is closed with it.
 */
#include "ringpy.h"

/* The ringpy_role a role name ("consumer" or "producer") means for self: a Reader has only
 * a consumer side, an ItemRing item roles. -1 with TypeError or ValueError set. */
static int parse_role(RingObject *self, PyObject *name, ringpy_role *role) {
    int producer;
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "consumer") == 0) producer = 0;
    else if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "producer") == 0) producer = 1;
    else {
        PyErr_Format(PyExc_ValueError, "role must be 'consumer' or 'producer', not %R", name);
        return -1;
    }
    if (producer && self->parent != NULL) {
        PyErr_SetString(PyExc_ValueError, "a Reader has no producer side: the Ring it was made from writes");
        return -1;
    }
    if (ringpy_is_item_ring(self)) *role = producer ? ROLE_ITEM_PRODUCER : ROLE_ITEM_CONSUMER;
    else *role = producer ? ROLE_PRODUCER : ROLE_CONSUMER;
    return 0;
}

/* The handle of a role if it was taken (never takes it; NULL if not). */
static void *taken_handle(RingObject *self, ringpy_role role) {
    switch (role) {
    case ROLE_PRODUCER: return self->producer;
    case ROLE_CONSUMER: return self->consumer;
    case ROLE_ITEM_PRODUCER: return ringpy_item_producer_taken(self);
    case ROLE_ITEM_CONSUMER: return ringpy_item_consumer_taken(self);
    }
    return NULL;
}

static int doorbell_of(ringpy_role role, void *handle, int *fd, int *kind) {
    switch (role) {
    case ROLE_PRODUCER: return ring_producer_doorbell(handle, fd, kind);
    case ROLE_CONSUMER: return ring_consumer_doorbell(handle, fd, kind);
    case ROLE_ITEM_PRODUCER: return ring_item_producer_doorbell(handle, fd, kind);
    case ROLE_ITEM_CONSUMER: return ring_item_consumer_doorbell(handle, fd, kind);
    }
    return RING_ERR_INVALID_ARGUMENT;
}

static int arm(ringpy_role role, void *handle, size_t size, int *armed) {
    switch (role) {
    case ROLE_PRODUCER: return ring_producer_arm(handle, size, armed);
    case ROLE_CONSUMER: return ring_consumer_arm(handle, armed);
    case ROLE_ITEM_PRODUCER: return ring_item_producer_arm(handle, size, armed);
    case ROLE_ITEM_CONSUMER: return ring_item_consumer_arm(handle, armed);
    }
    return RING_ERR_INVALID_ARGUMENT;
}

static int disarm(ringpy_role role, void *handle) {
    switch (role) {
    case ROLE_PRODUCER: return ring_producer_disarm(handle);
    case ROLE_CONSUMER: return ring_consumer_disarm(handle);
    case ROLE_ITEM_PRODUCER: return ring_item_producer_disarm(handle);
    case ROLE_ITEM_CONSUMER: return ring_item_consumer_disarm(handle);
    }
    return RING_ERR_INVALID_ARGUMENT;
}

/* Takes the role's lock: waiting for it (GIL released) if wait, else 0 when another
 * thread holds it. 1 when taken. */
static int take_lock(pthread_mutex_t *lock, int wait) {
    if (wait) { ringpy_lock(lock); return 1; }
    return pthread_mutex_trylock(lock) == 0;
}

/* The wait argument at args[index] (false if not given): -1 with an exception set. */
static int parse_wait(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t index) {
    return nargs > index ? PyObject_IsTrue(args[index]) : 0;
}

PyObject *ringpy_bell(RingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) { PyErr_SetString(PyExc_TypeError, "_bell() takes a role and an optional wait"); return NULL; }
    ringpy_role role;
    int wait = parse_wait(args, nargs, 1);
    if (wait < 0 || parse_role(self, args[0], &role) < 0 || ringpy_check(self) < 0) return NULL;
    pthread_mutex_t *lock = ringpy_role_lock(self, role);
    if (!take_lock(lock, wait)) Py_RETURN_NONE;
    void *handle = ringpy_role_handle(self, role);
    int fd = -1, kind = 0;
    int rc = handle == NULL ? CALL_FAILED : doorbell_of(role, handle, &fd, &kind);
    ringpy_unlock(lock);
    if (rc == CALL_FAILED) return NULL;
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);
    return Py_BuildValue("(ii)", fd, kind);
}

PyObject *ringpy_arm(RingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "_arm() takes a role, an optional size and an optional wait");
        return NULL;
    }
    ringpy_role role;
    if (parse_role(self, args[0], &role) < 0) return NULL;
    size_t size = 0;
    if (nargs >= 2 && (size = PyLong_AsSize_t(args[1])) == (size_t)-1 && PyErr_Occurred()) return NULL;
    int wait = parse_wait(args, nargs, 2);
    if (wait < 0 || ringpy_check(self) < 0) return NULL;
    pthread_mutex_t *lock = ringpy_role_lock(self, role);
    if (!take_lock(lock, wait)) Py_RETURN_NONE;
    void *handle = ringpy_role_handle(self, role);
    int armed = 0;
    int rc = handle == NULL ? CALL_FAILED : arm(role, handle, size, &armed);
    ringpy_unlock(lock);
    if (rc == CALL_FAILED) return NULL;
    if (rc != RING_OK) return ringpy_raise(self->st, rc, self->path);
    return PyBool_FromLong(armed);
}

PyObject *ringpy_disarm(RingObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) { PyErr_SetString(PyExc_TypeError, "_disarm() takes a role and an optional wait"); return NULL; }
    ringpy_role role;
    int wait = parse_wait(args, nargs, 1);
    if (wait < 0 || parse_role(self, args[0], &role) < 0) return NULL;
    /* Closed (its handles disarm as they are freed) or forked (not this process's): nothing to do. */
    if (self->closing || self->generation != ringpy_fork_generation()) Py_RETURN_TRUE;
    pthread_mutex_t *lock = ringpy_role_lock(self, role);
    if (!take_lock(lock, wait)) Py_RETURN_FALSE;
    void *handle = self->released ? NULL : taken_handle(self, role);
    int rc = handle == NULL ? RING_OK : disarm(role, handle);
    ringpy_unlock(lock);
    if (rc != RING_OK && rc != RING_ERR_CLOSED) return ringpy_raise(self->st, rc, self->path);
    Py_RETURN_TRUE;
}
