/*
 * ringpy_zmq.c - the module ringpy._zmq: the ZeroMQ transport of SPEC.md §23 for CPython,
 * over the C ABI of ringformat_zmq.h (libringformat_zmq.so.1, shipped inside the package
 * beside libringformat.so.1). ringpy/zmq.py builds the public classes on the two types here:
 *
 *   ringpy._zmq.ProducerBase   a ring_zmq_producer_t: put, put_packed, close_writer, close
 *   ringpy._zmq.ConsumerBase   a ring_zmq_consumer_t: get, get_many, pending, last_drop, close
 *
 * Errors are ringpy's own exception classes (taken from ringpy._ringpy when the module
 * loads), picked by the same ring_error_t -> class table as ringpy_module.c's ringpy_raise.
 *
 * Threads: a call that may wait first tries once without waiting, with the GIL held; then
 * it waits in slices of at most ZMQ_SLICE_NS inside the library with the GIL released, and
 * between slices looks at signals (Ctrl-C interrupts a blocked get) and at close() from
 * another thread. Each object has a mutex that serialises the calls of this process's
 * threads on its handle (and guards a consumer's receive buffer); it is taken with trylock
 * first, and only waited for with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringformat_zmq.h"

/* Longest time a blocking call sleeps in the library without looking at signals and close(). */
#define ZMQ_SLICE_NS (50 * 1000 * 1000LL)
/* A consumer's first receive buffer; it grows to the largest message seen. */
#define INITIAL_BUFFER (256 * 1024)
/* Most messages one get_many asks the library for (its sizes array). */
#define MAX_BATCH 65536
/* libzmq's own error numbers start here (ZMQ_HAUSNUMERO): strerror does not know them. */
#define ZMQ_ERRNO_BASE 156384712

/* The exception classes of ringpy._ringpy this module raises, by their names there. */
enum { E_RING, E_FULL, E_EMPTY, E_INVALID_SIZE, E_CLOSED, E_END, E_BUSY, E_FORKED, E_COUNT };
static const char *const error_names[E_COUNT] = {
    "RingError", "FullError", "EmptyError", "InvalidSizeError", "ClosedError", "EndOfStreamError", "BusyError",
    "ForkedError",
};

typedef struct {
    PyObject *errors[E_COUNT];
} zmq_state;

/* A producer or a consumer (side tells which); one struct so both share the locking. */
typedef struct {
    PyObject_HEAD
    PyObject *module;                 /* keeps the state (the exception classes) alive */
    zmq_state *st;
    int consumer;                     /* 0: producer, 1: consumer */
    ring_zmq_producer_t *producer;    /* used only with lock held (or by dealloc) */
    ring_zmq_consumer_t *consumer_h;  /* used only with lock held (or by dealloc) */
    pthread_mutex_t lock;             /* this object's calls on its handle, and buf / sizes */
    int lock_ready;
    pid_t pid;                        /* the process that opened it: another one gets ForkedError */
    int closing;                      /* close() was called (read and written with the GIL) */
    int released;                     /* the library's close ran */
    ring_zmq_counters_t final_counters; /* the counters at close, reported afterwards */
    PyObject *endpoint;               /* str, as given */
    char *buf;                        /* consumer: the receive buffer (guarded by lock) */
    size_t cap;
    size_t *sizes;                    /* consumer: get_many's sizes (guarded by lock) */
    size_t sizes_cap;
} ZmqObject;

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/* The words for a code whose call left no message (the library always leaves one). */
static const char *code_words(int rc) {
    switch (rc) {
    case RING_ERR_FULL: return "no room in time (FULL)";
    case RING_ERR_EMPTY: return "no message in time (EMPTY)";
    case RING_ERR_INVALID_SIZE: return "message too large (INVALID_SIZE)";
    case RING_ERR_CLOSED: return "closed (CLOSED)";
    case RING_ERR_END_OF_STREAM: return "end of stream (END_OF_STREAM)";
    case RING_ERR_BUSY: return "busy (BUSY)";
    case RING_ERR_FORKED: return "handle inherited across fork (FORKED)";
    case RING_ERR_INVALID_ARGUMENT: return "invalid argument (INVALID_ARGUMENT)";
    case RING_ERR_SYSTEM: return "system error (SYSTEM)";
    default: return "unexpected error code";
    }
}

/* Raises ringpy's exception for a ring_error_t code from a ring_zmq_* call; returns NULL. */
static PyObject *raise_rc(zmq_state *st, int rc) {
    const char *detail = ring_zmq_last_error_message();
    const char *text = (detail && detail[0]) ? detail : code_words(rc);
    PyObject *type;
    switch (rc) {
    case RING_ERR_FULL: type = st->errors[E_FULL]; break;
    case RING_ERR_EMPTY: type = st->errors[E_EMPTY]; break;
    case RING_ERR_INVALID_SIZE: type = st->errors[E_INVALID_SIZE]; break;
    case RING_ERR_CLOSED: type = st->errors[E_CLOSED]; break;
    case RING_ERR_END_OF_STREAM: type = st->errors[E_END]; break;
    case RING_ERR_BUSY: type = st->errors[E_BUSY]; break;
    case RING_ERR_FORKED: type = st->errors[E_FORKED]; break;
    case RING_ERR_INVALID_ARGUMENT: type = PyExc_ValueError; break;
    case RING_ERR_SYSTEM: {
        /* OSError(errno, words): the errno picks the subclass; libzmq's own numbers are
         * unknown to strerror, and the library's text carries zmq_strerror's words then. */
        int err = ring_zmq_last_errno();
        PyObject *message;
        if (err >= ZMQ_ERRNO_BASE || err <= 0) message = PyUnicode_FromString(text);
        else if (detail && detail[0]) message = PyUnicode_FromFormat("%s (%s)", strerror(err), detail);
        else message = PyUnicode_FromString(strerror(err));
        if (message == NULL) return NULL;
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iO", err, message);
        Py_DECREF(message);
        if (exc == NULL) return NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
        return NULL;
    }
    default: type = st->errors[E_RING]; break;
    }
    PyErr_SetString(type, text);
    return NULL;
}

static const char *side_name(ZmqObject *self) { return self->consumer ? "ZmqConsumer" : "ZmqProducer"; }

static PyObject *raise_closed(ZmqObject *self) {
    PyErr_Format(self->st ? self->st->errors[E_CLOSED] : PyExc_ValueError, "operation on a closed %s", side_name(self));
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Time, locks, checks                                                      */

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* timeout (NULL, None or seconds) -> nanoseconds, -1 for no limit; -2 with an exception set. */
static int64_t parse_timeout(PyObject *timeout) {
    if (timeout == NULL || timeout == Py_None) return -1;
    double seconds = PyFloat_AsDouble(timeout);
    if (seconds == -1.0 && PyErr_Occurred()) return -2;
    if (!(seconds >= 0)) {
        PyErr_SetString(PyExc_ValueError, "'timeout' must be a non-negative number or None");
        return -2;
    }
    if (seconds > 1e9) return -1;
    return (int64_t)(seconds * 1e9);
}

/* The next slice to sleep: min(slice, time left); 0 when the time is up (deadline -1: none). */
static int64_t next_slice(int64_t deadline) {
    if (deadline < 0) return ZMQ_SLICE_NS;
    int64_t left = deadline - monotonic_ns();
    if (left <= 0) return 0;
    return left < ZMQ_SLICE_NS ? left : ZMQ_SLICE_NS;
}

/* Takes the object's lock: trylock, else waits for it with the GIL released. */
static void lock_object(ZmqObject *self) {
    if (pthread_mutex_trylock(&self->lock) == 0) return;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->lock);
    Py_END_ALLOW_THREADS
}

/* The object is open, in this process: 0, or -1 with ClosedError or ForkedError set. */
static int check_open(ZmqObject *self) {
    if (self->st == NULL || (self->producer == NULL && self->consumer_h == NULL)) {
        PyErr_Format(PyExc_ValueError, "the %s was not opened", side_name(self));
        return -1;
    }
    if (self->closing) { raise_closed(self); return -1; }
    if (self->pid != getpid()) {
        PyErr_Format(self->st->errors[E_FORKED],
                     "this %s belongs to the process that opened it (it was inherited across fork): open it again",
                     side_name(self));
        return -1;
    }
    return 0;
}

/* Takes the lock of an open object: 0, or -1 with an exception set (lock not held). The
 * state is checked again once the lock is held: close() may have run while this waited. */
static int enter(ZmqObject *self) {
    if (check_open(self) < 0) return -1;
    lock_object(self);
    if (self->closing) {
        pthread_mutex_unlock(&self->lock);
        raise_closed(self);
        return -1;
    }
    return 0;
}

/* Between two slices, with the lock held: -1 with an exception set if a signal handler
 * raised or close() was called meanwhile. */
static int between_slices(ZmqObject *self) {
    if (PyErr_CheckSignals() < 0) return -1;
    if (self->closing) { raise_closed(self); return -1; }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

static zmq_state *state_of(PyTypeObject *defining) { return (zmq_state *)PyType_GetModuleState(defining); }

/* Fills options from _open's numbers (producer or consumer); -1 with ValueError set. */
static int fill_options(ring_zmq_options_t *o, int consumer, long long hwm, int bind, long long linger_ns,
                        unsigned long long per_frame, unsigned long long frame_bytes, unsigned long long stream_or_producers) {
    ring_zmq_options_init(o);
    if (hwm < 0 || hwm > INT32_MAX) { PyErr_SetString(PyExc_ValueError, "a high-water mark must be 0 (no limit) ... 2**31-1 frames"); return -1; }
    if (bind < -1 || bind > 1) { PyErr_SetString(PyExc_ValueError, "bind must be None, True or False"); return -1; }
    o->bind = bind;
    if (consumer) {
        o->receive_hwm = (int32_t)hwm;
        if (stream_or_producers < 1 || stream_or_producers > UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "producers must be 1 ... 2**32-1");
            return -1;
        }
        o->producers = (uint32_t)stream_or_producers;
        return 0;
    }
    o->send_hwm = (int32_t)hwm;
    o->linger_ns = linger_ns < 0 ? RING_WAIT_FOREVER : linger_ns;
    if (per_frame < 1 || per_frame > UINT32_MAX) { PyErr_SetString(PyExc_ValueError, "max_messages_per_frame must be 1 ... 2**32-1"); return -1; }
    if (frame_bytes < 8 || frame_bytes > UINT32_MAX) { PyErr_SetString(PyExc_ValueError, "max_frame_bytes must be 8 ... 2**32-1"); return -1; }
    o->max_messages_per_frame = (uint32_t)per_frame;
    o->max_frame_bytes = (uint32_t)frame_bytes;
    o->stream_id = stream_or_producers;
    return 0;
}

PyDoc_STRVAR(open_doc,
"_open(endpoint, topology, hwm, bind, linger_ns, max_messages_per_frame, max_frame_bytes, stream_id_or_producers, /)\n--\n\n"
"Open the handle (ringpy.zmq's classes call it from __init__): topology 0 SPSC, 1 MPSC, 2 SPMC;\n"
"bind -1 (the topology's rule), 0 connect, 1 bind; linger_ns -1 for no limit (producer);\n"
"stream_id 0 for a random one (producer) or the count of producers whose END ends the stream\n"
"(consumer). A producer's hwm is ZMQ_SNDHWM, a consumer's ZMQ_RCVHWM.");

static PyObject *Zmq_open(ZmqObject *self, PyTypeObject *defining, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
    if (kwnames && PyTuple_GET_SIZE(kwnames)) { PyErr_SetString(PyExc_TypeError, "_open takes no keywords"); return NULL; }
    if (nargs != 8) { PyErr_SetString(PyExc_TypeError, "_open takes 8 arguments"); return NULL; }
    if (self->producer || self->consumer_h || self->closing) {
        PyErr_Format(PyExc_ValueError, "this %s is already open", side_name(self));
        return NULL;
    }
    zmq_state *st = state_of(defining);
    if (!PyUnicode_Check(args[0])) { PyErr_SetString(PyExc_TypeError, "endpoint must be a str"); return NULL; }
    Py_ssize_t endpoint_len = 0;
    const char *endpoint = PyUnicode_AsUTF8AndSize(args[0], &endpoint_len);
    if (endpoint == NULL) return NULL;
    if (strlen(endpoint) != (size_t)endpoint_len) {
        PyErr_SetString(PyExc_ValueError, "endpoint has a NUL character");
        return NULL;
    }
    long topology = PyLong_AsLong(args[1]);
    long long hwm = PyLong_AsLongLong(args[2]);
    long bind = PyLong_AsLong(args[3]);
    long long linger_ns = PyLong_AsLongLong(args[4]);
    unsigned long long per_frame = PyLong_AsUnsignedLongLong(args[5]);
    unsigned long long frame_bytes = PyLong_AsUnsignedLongLong(args[6]);
    unsigned long long extra = PyLong_AsUnsignedLongLong(args[7]);
    if (PyErr_Occurred()) return NULL;
    if (topology < RING_ZMQ_SPSC || topology > RING_ZMQ_SPMC) { PyErr_SetString(PyExc_ValueError, "topology must be 0 (SPSC), 1 (MPSC) or 2 (SPMC)"); return NULL; }
    ring_zmq_options_t options;
    if (fill_options(&options, self->consumer, hwm, (int)bind, linger_ns, per_frame, frame_bytes, extra) < 0) return NULL;
    /* A pointer to each kind of handle: only one is set. */
    ring_zmq_producer_t *producer = NULL;
    ring_zmq_consumer_t *consumer = NULL;
    int rc;
    int is_consumer = self->consumer;
    Py_BEGIN_ALLOW_THREADS
    rc = is_consumer ? ring_zmq_consumer_open(endpoint, (ring_zmq_topology_t)topology, &options, &consumer)
                     : ring_zmq_producer_open(endpoint, (ring_zmq_topology_t)topology, &options, &producer);
    Py_END_ALLOW_THREADS
    if (rc != RING_OK) return raise_rc(st, rc);
    self->producer = producer;
    self->consumer_h = consumer;
    self->st = st;
    Py_XSETREF(self->module, Py_NewRef(PyType_GetModule(defining)));
    Py_XSETREF(self->endpoint, Py_NewRef(args[0]));
    self->pid = getpid();
    Py_RETURN_NONE;
}

static PyObject *Zmq_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args; (void)kwargs;
    ZmqObject *self = (ZmqObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_OSError, "pthread_mutex_init failed");
        return NULL;
    }
    self->lock_ready = 1;
    return (PyObject *)self;
}

static PyObject *Producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    ZmqObject *self = (ZmqObject *)Zmq_new(type, args, kwargs);
    if (self) self->consumer = 0;
    return (PyObject *)self;
}

static PyObject *Consumer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    ZmqObject *self = (ZmqObject *)Zmq_new(type, args, kwargs);
    if (self) self->consumer = 1;
    return (PyObject *)self;
}

/* ------------------------------------------------------------------------ */
/* Counters, close, dealloc                                                 */

static PyObject *counters_tuple(const ring_zmq_counters_t *c) {
    return Py_BuildValue("(KKKKKKKKKK)", (unsigned long long)c->frames_sent, (unsigned long long)c->messages_sent,
                         (unsigned long long)c->bytes_sent, (unsigned long long)c->frames_received,
                         (unsigned long long)c->messages_received, (unsigned long long)c->bytes_received,
                         (unsigned long long)c->frames_dropped, (unsigned long long)c->frames_ignored,
                         (unsigned long long)c->end_frames_received, (unsigned long long)c->sequence_breaks);
}

/* With the lock held: the handle's counters into out. */
static int read_counters(ZmqObject *self, ring_zmq_counters_t *out) {
    return self->consumer ? ring_zmq_consumer_counters(self->consumer_h, out)
                          : ring_zmq_producer_counters(self->producer, out);
}

PyDoc_STRVAR(counters_doc,
"_counters()\n--\n\nThe ten counters of ring_zmq_counters_t as a tuple (frames_sent, messages_sent, bytes_sent,\n"
"frames_received, messages_received, bytes_received, frames_dropped, frames_ignored,\n"
"end_frames_received, sequence_breaks); after close(), their values at close.");

static PyObject *Zmq_counters(ZmqObject *self, PyObject *unused) {
    (void)unused;
    if (self->released) return counters_tuple(&self->final_counters);
    if (enter(self) < 0) return NULL;
    ring_zmq_counters_t c;
    int rc = read_counters(self, &c);
    pthread_mutex_unlock(&self->lock);
    if (rc != RING_OK) return raise_rc(self->st, rc);
    return counters_tuple(&c);
}

PyDoc_STRVAR(close_doc,
"close()\n--\n\nClose the socket. A producer's queued frames leave within its linger (close waits\n"
"that long at most, GIL released); a consumer's received and untaken messages are dropped.\n"
"Idempotent; every other call afterwards raises ClosedError. A call blocked in another\n"
"thread gives up with ClosedError within 50 ms.");

static PyObject *Zmq_close(ZmqObject *self, PyObject *unused) {
    (void)unused;
    if (self->closing || (self->producer == NULL && self->consumer_h == NULL)) Py_RETURN_NONE;
    self->closing = 1;
    if (self->pid != getpid()) Py_RETURN_NONE;  /* the parent's; dealloc frees the copy */
    lock_object(self);  /* pairs with the unlock below; a blocked call lets go within a slice */
    if (!self->released) {
        if (read_counters(self, &self->final_counters) != RING_OK) memset(&self->final_counters, 0, sizeof self->final_counters);
        int is_consumer = self->consumer;
        ring_zmq_producer_t *p = self->producer;
        ring_zmq_consumer_t *c = self->consumer_h;
        Py_BEGIN_ALLOW_THREADS
        if (is_consumer) ring_zmq_consumer_close(c);
        else ring_zmq_producer_close(p);
        Py_END_ALLOW_THREADS
        self->released = 1;
    }
    pthread_mutex_unlock(&self->lock);  /* pairs with lock_object above */
    Py_RETURN_NONE;
}

static int Zmq_traverse(ZmqObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    Py_VISIT(self->endpoint);
    return 0;
}

static void Zmq_dealloc(ZmqObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    ring_zmq_producer_t *p = self->producer;
    ring_zmq_consumer_t *c = self->consumer_h;
    self->producer = NULL;
    self->consumer_h = NULL;
    if ((p || c) && self->pid != getpid()) {
        /* Inherited across fork: the parent's sockets and context are not this process's to
         * close (libzmq is not usable after fork), so the copy is left as it is. */
        p = NULL;
        c = NULL;
    }
    if (p || c) {
        /* free closes a handle still open (a producer waits up to its linger): without the GIL. */
        Py_BEGIN_ALLOW_THREADS
        if (p) ring_zmq_producer_free(p);
        if (c) ring_zmq_consumer_free(c);
        Py_END_ALLOW_THREADS
    }
    if (self->lock_ready) pthread_mutex_destroy(&self->lock);
    PyMem_Free(self->buf);
    PyMem_Free(self->sizes);
    Py_CLEAR(self->module);
    Py_CLEAR(self->endpoint);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *Zmq_get_endpoint(ZmqObject *self, void *unused) {
    (void)unused;
    return Py_NewRef(self->endpoint ? self->endpoint : Py_None);
}

static PyObject *Zmq_get_closed(ZmqObject *self, void *unused) {
    (void)unused;
    return PyBool_FromLong(self->closing);
}

/* ------------------------------------------------------------------------ */
/* Producer                                                                 */

/* The arguments of put and put_packed: what to send by position, timeout by position or
 * keyword. 0, or -1 with TypeError set. */
static int parse_put_args(const char *fname, const char *usage, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames, PyObject **what, PyObject **timeout) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs > 2) { PyErr_SetString(PyExc_TypeError, usage); return -1; }
    *what = args[0];
    *timeout = nargs == 2 ? args[1] : NULL;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (nargs == 1 && PyUnicode_CompareWithASCIIString(name, "timeout") == 0) *timeout = args[nargs + i];
        else { PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, name); return -1; }
    }
    return 0;
}

PyDoc_STRVAR(put_doc,
"put(data, timeout=None)\n--\n\nSend one message (bytes, bytearray, memoryview: any C-contiguous buffer) in a\n"
"frame of its own, waiting up to timeout seconds for room (None: no limit, 0: not at all).\n"
"FullError when the time is up (nothing sent), InvalidSizeError, ClosedError.");

static PyObject *Producer_put(ZmqObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *data = NULL, *timeout_obj = NULL;
    if (parse_put_args("put", "put(data, timeout=None)", args, nargs, kwnames, &data, &timeout_obj) < 0) return NULL;
    int64_t timeout = parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (enter(self) < 0) { PyBuffer_Release(&view); return NULL; }
    ring_zmq_producer_t *p = self->producer;
    /* One try without waiting, with the GIL: a stream in full flow has room. */
    int rc = ring_zmq_put(p, view.buf, (size_t)view.len, 0);
    int failed = 0;
    if (rc == RING_ERR_FULL && timeout != 0) {
        int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
        for (;;) {
            int64_t slice = next_slice(deadline);
            if (slice == 0) break;
            Py_BEGIN_ALLOW_THREADS
            rc = ring_zmq_put(p, view.buf, (size_t)view.len, slice);
            Py_END_ALLOW_THREADS
            if (rc != RING_ERR_FULL) break;
            if (between_slices(self) < 0) { failed = 1; break; }
        }
    }
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    PyBuffer_Release(&view);
    if (failed) return NULL;
    if (rc != RING_OK) return raise_rc(self->st, rc);
    Py_RETURN_NONE;
}

/* FullError with written = n (how many messages went before the time ran out). */
static PyObject *raise_full_written(ZmqObject *self, size_t written, size_t total) {
    PyObject *exc = PyObject_CallFunction(self->st->errors[E_FULL], "s",
                                          "put_packed: no room for every message in time (see .written)");
    if (exc == NULL) return NULL;
    PyObject *n = PyLong_FromSize_t(written);
    if (n == NULL || PyObject_SetAttrString(exc, "written", n) < 0) { Py_XDECREF(n); Py_DECREF(exc); return NULL; }
    Py_DECREF(n);
    (void)total;
    PyErr_SetObject(self->st->errors[E_FULL], exc);
    Py_DECREF(exc);
    return NULL;
}

PyDoc_STRVAR(put_packed_doc,
"put_packed(messages, timeout=None)\n--\n\nSend every message of the iterable messages (each a C-contiguous buffer) in order,\n"
"packed into DATA frames of at most max_messages_per_frame messages and max_frame_bytes body\n"
"bytes (a larger message goes alone), waiting up to timeout seconds in all for room (None: no\n"
"limit). Returns how many were sent (all). A frame goes whole or not at all: if the time runs\n"
"out after some frames went, FullError's `written` says how many messages did (retry with\n"
"messages[written:]). TypeError for an item that is not bytes-like and InvalidSizeError for\n"
"one above the maximum, with nothing sent.");

static PyObject *Producer_put_packed(ZmqObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *messages = NULL, *timeout_obj = NULL;
    if (parse_put_args("put_packed", "put_packed(messages, timeout=None)", args, nargs, kwnames, &messages, &timeout_obj) < 0)
        return NULL;
    int64_t timeout = parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    if (PyUnicode_Check(messages) || PyBytes_Check(messages) || PyByteArray_Check(messages)) {
        PyErr_SetString(PyExc_TypeError, "put_packed takes an iterable of messages, not one message (use put)");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(messages, "put_packed: messages must be an iterable of bytes-like objects");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *result = NULL;
    Py_buffer *views = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Py_buffer));
    const void **ptrs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(void *));
    size_t *sizes = PyMem_Calloc(n ? (size_t)n : 1, sizeof(size_t));
    Py_ssize_t held = 0;
    if (views == NULL || ptrs == NULL || sizes == NULL) { PyErr_NoMemory(); goto done; }
    for (; held < n; held++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, held);
        if (PyObject_GetBuffer(item, &views[held], PyBUF_SIMPLE) < 0) {
            PyErr_Format(PyExc_TypeError, "put_packed: message %zd is a %.100s, not a bytes-like object", held,
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        ptrs[held] = views[held].buf;
        sizes[held] = (size_t)views[held].len;
    }
    if (n == 0) { result = PyLong_FromLong(0); goto done; }
    if (enter(self) < 0) goto done;
    ring_zmq_producer_t *p = self->producer;
    size_t total = (size_t)n, sent = 0;
    int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
    int rc, failed = 0, first = 1;
    for (;;) {
        /* The first call does not wait; later ones wait a slice each, GIL released (frames
         * are built and copied then, too). */
        int64_t slice = first ? 0 : next_slice(deadline);
        if (!first && slice == 0) { rc = RING_ERR_FULL; break; }
        size_t now = 0;
        Py_BEGIN_ALLOW_THREADS
        rc = ring_zmq_put_packed(p, (const void *const *)(ptrs + sent), sizes + sent, total - sent, slice, &now);
        Py_END_ALLOW_THREADS
        sent += now;
        first = 0;
        if (rc != RING_ERR_FULL || sent == total) break;
        if (timeout == 0) break;
        if (between_slices(self) < 0) { failed = 1; break; }
    }
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    if (failed) goto done;
    if (rc == RING_OK || sent == total) result = PyLong_FromSize_t(sent);
    else if (rc == RING_ERR_FULL) raise_full_written(self, sent, total);
    else raise_rc(self->st, rc);
done:
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(ptrs);
    PyMem_Free(sizes);
    Py_DECREF(seq);
    return result;
}

PyDoc_STRVAR(close_writer_doc,
"close_writer(end_frames=1, timeout=None)\n--\n\nEnd the stream: send end_frames END frames (SPMC: one per consumer), waiting up to\n"
"timeout seconds for room (None: no limit). Every later put raises ClosedError; calling it\n"
"again does nothing. FullError if an END could not be queued in time (call again to retry).");

static PyObject *Producer_close_writer(ZmqObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *frames_obj = NULL, *timeout_obj = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 2) { PyErr_SetString(PyExc_TypeError, "close_writer(end_frames=1, timeout=None)"); return NULL; }
    if (nargs >= 1) frames_obj = args[0];
    if (nargs == 2) timeout_obj = args[1];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (nargs < 1 && PyUnicode_CompareWithASCIIString(name, "end_frames") == 0) frames_obj = args[nargs + i];
        else if (nargs < 2 && PyUnicode_CompareWithASCIIString(name, "timeout") == 0) timeout_obj = args[nargs + i];
        else { PyErr_Format(PyExc_TypeError, "close_writer() got an unexpected keyword argument %R", name); return NULL; }
    }
    long frames = 1;
    if (frames_obj) {
        frames = PyLong_AsLong(frames_obj);
        if (frames == -1 && PyErr_Occurred()) return NULL;
    }
    if (frames < 1 || frames > UINT32_MAX) { PyErr_SetString(PyExc_ValueError, "end_frames must be at least 1"); return NULL; }
    int64_t timeout = parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    if (enter(self) < 0) return NULL;
    ring_zmq_producer_t *p = self->producer;
    int rc = ring_zmq_producer_close_writer(p, (uint32_t)frames, 0);
    int failed = 0;
    if (rc == RING_ERR_FULL && timeout != 0) {
        /* A FULL try sent no END (end_frames 1) or only some (then the retry repeats them:
         * a consumer counts one stream's END once). */
        int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
        for (;;) {
            int64_t slice = next_slice(deadline);
            if (slice == 0) break;
            Py_BEGIN_ALLOW_THREADS
            rc = ring_zmq_producer_close_writer(p, (uint32_t)frames, slice);
            Py_END_ALLOW_THREADS
            if (rc != RING_ERR_FULL) break;
            if (between_slices(self) < 0) { failed = 1; break; }
        }
    }
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    if (failed) return NULL;
    if (rc != RING_OK) return raise_rc(self->st, rc);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Consumer                                                                 */

/* With the lock held: the receive buffer at least `need` bytes; -1 with MemoryError. */
static int reserve(ZmqObject *self, size_t need) {
    if (need <= self->cap && self->buf) return 0;
    size_t cap = self->cap ? self->cap : INITIAL_BUFFER;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *b = PyMem_Realloc(self->buf, cap ? cap : 1);
    if (b == NULL) { PyErr_NoMemory(); return -1; }
    self->buf = b;
    self->cap = cap;
    return 0;
}

/* Parses (timeout=None) or (max_count, timeout=None); -1 with TypeError set. */
static int parse_get_args(const char *fname, int with_count, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames, PyObject **count, PyObject **timeout) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    Py_ssize_t max_pos = with_count ? 2 : 1;
    if (nargs > max_pos || (with_count && nargs + nkw < 1)) {
        PyErr_Format(PyExc_TypeError, with_count ? "%s(max_count, timeout=None)" : "%s(timeout=None)", fname);
        return -1;
    }
    *count = NULL;
    *timeout = NULL;
    if (with_count) {
        if (nargs >= 1) *count = args[0];
        if (nargs == 2) *timeout = args[1];
    } else if (nargs == 1) {
        *timeout = args[0];
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (with_count && *count == NULL && PyUnicode_CompareWithASCIIString(name, "max_count") == 0) *count = args[nargs + i];
        else if (*timeout == NULL && PyUnicode_CompareWithASCIIString(name, "timeout") == 0) *timeout = args[nargs + i];
        else { PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, name); return -1; }
    }
    if (with_count && *count == NULL) { PyErr_Format(PyExc_TypeError, "%s() needs max_count", fname); return -1; }
    return 0;
}

PyDoc_STRVAR(get_doc,
"get(timeout=None)\n--\n\nThe next message as bytes, waiting up to timeout seconds for one (None: no limit, 0:\n"
"not at all). EmptyError when the time is up, EndOfStreamError once the stream ended (every\n"
"producer sent END) and every message was taken, ClosedError.");

static PyObject *Consumer_get(ZmqObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *unused, *timeout_obj;
    if (parse_get_args("get", 0, args, nargs, kwnames, &unused, &timeout_obj) < 0) return NULL;
    int64_t timeout = parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    if (enter(self) < 0) return NULL;
    PyObject *result = NULL;
    if (reserve(self, INITIAL_BUFFER) < 0) goto out;
    ring_zmq_consumer_t *c = self->consumer_h;
    size_t size = 0;
    /* One try without waiting, with the GIL; then slices without it. */
    int rc = ring_zmq_get(c, self->buf, self->cap, &size, 0);
    int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
    for (;;) {
        if (rc == RING_ERR_BUFFER_TOO_SMALL) {
            /* The message stays: grow to its size and take it now. */
            if (reserve(self, size) < 0) goto out;
            rc = ring_zmq_get(c, self->buf, self->cap, &size, 0);
            continue;
        }
        if (rc != RING_ERR_EMPTY || timeout == 0) break;
        int64_t slice = next_slice(deadline);
        if (slice == 0) break;
        char *buf = self->buf;
        size_t cap = self->cap;
        Py_BEGIN_ALLOW_THREADS
        rc = ring_zmq_get(c, buf, cap, &size, slice);
        Py_END_ALLOW_THREADS
        if (rc == RING_ERR_EMPTY && between_slices(self) < 0) goto out;
    }
    if (rc == RING_OK) result = PyBytes_FromStringAndSize(self->buf, (Py_ssize_t)size);
    else raise_rc(self->st, rc);
out:
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    return result;
}

PyDoc_STRVAR(get_many_doc,
"get_many(max_count, timeout=None)\n--\n\nUp to max_count messages as a list of bytes: waits up to timeout seconds for the first\n"
"(None: no limit, 0: not at all), then takes what has arrived. [] if none came in time;\n"
"EndOfStreamError once the stream ended and every message was taken.");

static PyObject *Consumer_get_many(ZmqObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *count_obj, *timeout_obj;
    if (parse_get_args("get_many", 1, args, nargs, kwnames, &count_obj, &timeout_obj) < 0) return NULL;
    Py_ssize_t max_count = PyNumber_AsSsize_t(count_obj, PyExc_OverflowError);
    if (max_count == -1 && PyErr_Occurred()) return NULL;
    if (max_count < 0) { PyErr_SetString(PyExc_ValueError, "max_count must be non-negative"); return NULL; }
    int64_t timeout = parse_timeout(timeout_obj);
    if (timeout == -2) return NULL;
    if (enter(self) < 0) return NULL;
    PyObject *result = NULL;
    if (max_count == 0) { result = PyList_New(0); goto out; }
    size_t want = (size_t)(max_count < MAX_BATCH ? max_count : MAX_BATCH);
    if (reserve(self, INITIAL_BUFFER) < 0) goto out;
    if (self->sizes_cap < want) {
        size_t *s = PyMem_Realloc(self->sizes, want * sizeof(size_t));
        if (s == NULL) { PyErr_NoMemory(); goto out; }
        self->sizes = s;
        self->sizes_cap = want;
    }
    ring_zmq_consumer_t *c = self->consumer_h;
    size_t got = 0;
    int rc = ring_zmq_get_many(c, self->buf, self->cap, self->sizes, want, &got, 0);
    int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
    for (;;) {
        if (rc == RING_ERR_BUFFER_TOO_SMALL) {
            if (reserve(self, self->sizes[0]) < 0) goto out;
            rc = ring_zmq_get_many(c, self->buf, self->cap, self->sizes, want, &got, 0);
            continue;
        }
        if (rc != RING_ERR_EMPTY || timeout == 0) break;
        int64_t slice = next_slice(deadline);
        if (slice == 0) break;
        char *buf = self->buf;
        size_t cap = self->cap, *sizes = self->sizes;
        Py_BEGIN_ALLOW_THREADS
        rc = ring_zmq_get_many(c, buf, cap, sizes, want, &got, slice);
        Py_END_ALLOW_THREADS
        if (rc == RING_ERR_EMPTY && between_slices(self) < 0) goto out;
    }
    if (rc == RING_ERR_EMPTY) { result = PyList_New(0); goto out; }
    if (rc != RING_OK) { raise_rc(self->st, rc); goto out; }
    result = PyList_New((Py_ssize_t)got);
    if (result == NULL) goto out;
    size_t offset = 0;
    for (size_t k = 0; k < got; k++) {
        PyObject *m = PyBytes_FromStringAndSize(self->buf + offset, (Py_ssize_t)self->sizes[k]);
        if (m == NULL) { Py_CLEAR(result); goto out; }
        PyList_SET_ITEM(result, (Py_ssize_t)k, m);
        offset += self->sizes[k];
    }
out:
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    return result;
}

PyDoc_STRVAR(pending_doc,
"_pending()\n--\n\nMessages received and not yet taken (ring_zmq_pending).");

static PyObject *Consumer_pending(ZmqObject *self, PyObject *unused) {
    (void)unused;
    if (enter(self) < 0) return NULL;
    size_t n = 0;
    int rc = ring_zmq_pending(self->consumer_h, &n);
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    if (rc != RING_OK) return raise_rc(self->st, rc);
    return PyLong_FromSize_t(n);
}

PyDoc_STRVAR(last_drop_doc,
"_last_drop()\n--\n\nWhy the last malformed frame was dropped (SPEC.md §23.5), or None if none was.");

static PyObject *Consumer_last_drop(ZmqObject *self, PyObject *unused) {
    (void)unused;
    if (enter(self) < 0) return NULL;
    char text[1024];
    text[0] = 0;
    int rc = ring_zmq_last_drop(self->consumer_h, text, sizeof text);
    pthread_mutex_unlock(&self->lock);  /* pairs with enter() */
    if (rc != RING_OK && rc != RING_ERR_BUFFER_TOO_SMALL) return raise_rc(self->st, rc);
    text[sizeof text - 1] = 0;
    if (text[0] == 0) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
}

/* ------------------------------------------------------------------------ */
/* Types                                                                    */

static PyGetSetDef Zmq_getset[] = {
    {"endpoint", (getter)Zmq_get_endpoint, NULL, "The endpoint as given when opened (None before).", NULL},
    {"closed", (getter)Zmq_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

#define COMMON_METHODS \
    {"_open", (PyCFunction)(void (*)(void))Zmq_open, METH_METHOD | METH_FASTCALL | METH_KEYWORDS, open_doc}, \
    {"_counters", (PyCFunction)Zmq_counters, METH_NOARGS, counters_doc}, \
    {"close", (PyCFunction)Zmq_close, METH_NOARGS, close_doc}

static PyMethodDef Producer_methods[] = {
    COMMON_METHODS,
    {"put", (PyCFunction)(void (*)(void))Producer_put, METH_FASTCALL | METH_KEYWORDS, put_doc},
    {"put_packed", (PyCFunction)(void (*)(void))Producer_put_packed, METH_FASTCALL | METH_KEYWORDS, put_packed_doc},
    {"close_writer", (PyCFunction)(void (*)(void))Producer_close_writer, METH_FASTCALL | METH_KEYWORDS, close_writer_doc},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Consumer_methods[] = {
    COMMON_METHODS,
    {"get", (PyCFunction)(void (*)(void))Consumer_get, METH_FASTCALL | METH_KEYWORDS, get_doc},
    {"get_many", (PyCFunction)(void (*)(void))Consumer_get_many, METH_FASTCALL | METH_KEYWORDS, get_many_doc},
    {"_pending", (PyCFunction)Consumer_pending, METH_NOARGS, pending_doc},
    {"_last_drop", (PyCFunction)Consumer_last_drop, METH_NOARGS, last_drop_doc},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Producer_slots[] = {
    {Py_tp_doc, "The native producer of ringpy.zmq.ZmqProducer (a ring_zmq_producer_t)."},
    {Py_tp_new, Producer_new},
    {Py_tp_dealloc, Zmq_dealloc},
    {Py_tp_traverse, Zmq_traverse},
    {Py_tp_methods, Producer_methods},
    {Py_tp_getset, Zmq_getset},
    {0, NULL},
};

static PyType_Slot Consumer_slots[] = {
    {Py_tp_doc, "The native consumer of ringpy.zmq.ZmqConsumer (a ring_zmq_consumer_t)."},
    {Py_tp_new, Consumer_new},
    {Py_tp_dealloc, Zmq_dealloc},
    {Py_tp_traverse, Zmq_traverse},
    {Py_tp_methods, Consumer_methods},
    {Py_tp_getset, Zmq_getset},
    {0, NULL},
};

static PyType_Spec Producer_spec = {
    .name = "ringpy._zmq.ProducerBase",
    .basicsize = sizeof(ZmqObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Producer_slots,
};

static PyType_Spec Consumer_spec = {
    .name = "ringpy._zmq.ConsumerBase",
    .basicsize = sizeof(ZmqObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Consumer_slots,
};

/* ------------------------------------------------------------------------ */
/* Module                                                                   */

PyDoc_STRVAR(should_producer_bind_doc,
"should_producer_bind(topology)\n--\n\nmm_toolbox's rule (SPEC.md §23.6) for topology 0 (SPSC), 1 (MPSC) or 2 (SPMC): True if\n"
"the producer binds and the consumers connect.");

static PyObject *zmq_should_producer_bind(PyObject *module, PyObject *arg) {
    long t = PyLong_AsLong(arg);
    if (t == -1 && PyErr_Occurred()) return NULL;
    int rc = ring_zmq_should_producer_bind((ring_zmq_topology_t)t);
    if (rc < 0) return raise_rc((zmq_state *)PyModule_GetState(module), rc);
    return PyBool_FromLong(rc);
}

PyDoc_STRVAR(version_doc, "version()\n--\n\nThe version text of libringformat_zmq (ring_zmq_version).");

static PyObject *zmq_version(PyObject *module, PyObject *unused) {
    (void)module; (void)unused;
    const char *v = ring_zmq_version();
    return PyUnicode_FromString(v ? v : "");
}

static PyMethodDef module_methods[] = {
    {"should_producer_bind", (PyCFunction)zmq_should_producer_bind, METH_O, should_producer_bind_doc},
    {"version", (PyCFunction)zmq_version, METH_NOARGS, version_doc},
    {NULL, NULL, 0, NULL},
};

static int zmq_exec(PyObject *module) {
    zmq_state *st = (zmq_state *)PyModule_GetState(module);
    PyObject *core = PyImport_ImportModule("ringpy._ringpy");
    if (core == NULL) return -1;
    for (int i = 0; i < E_COUNT; i++) {
        st->errors[i] = PyObject_GetAttrString(core, error_names[i]);
        if (st->errors[i] == NULL) { Py_DECREF(core); return -1; }
    }
    Py_DECREF(core);
    PyObject *producer = PyType_FromModuleAndSpec(module, &Producer_spec, NULL);
    if (producer == NULL || PyModule_AddType(module, (PyTypeObject *)producer) < 0) { Py_XDECREF(producer); return -1; }
    Py_DECREF(producer);
    PyObject *consumer = PyType_FromModuleAndSpec(module, &Consumer_spec, NULL);
    if (consumer == NULL || PyModule_AddType(module, (PyTypeObject *)consumer) < 0) { Py_XDECREF(consumer); return -1; }
    Py_DECREF(consumer);
    if (PyModule_AddIntConstant(module, "SPSC", RING_ZMQ_SPSC) < 0 || PyModule_AddIntConstant(module, "MPSC", RING_ZMQ_MPSC) < 0
        || PyModule_AddIntConstant(module, "SPMC", RING_ZMQ_SPMC) < 0 || PyModule_AddIntConstant(module, "BIND_AUTO", RING_ZMQ_BIND_AUTO) < 0)
        return -1;
    return 0;
}

static int zmq_traverse(PyObject *module, visitproc visit, void *arg) {
    zmq_state *st = (zmq_state *)PyModule_GetState(module);
    for (int i = 0; i < E_COUNT; i++) Py_VISIT(st->errors[i]);
    return 0;
}

static int zmq_clear(PyObject *module) {
    zmq_state *st = (zmq_state *)PyModule_GetState(module);
    for (int i = 0; i < E_COUNT; i++) Py_CLEAR(st->errors[i]);
    return 0;
}

static void zmq_free(void *module) { zmq_clear((PyObject *)module); }

static PyModuleDef_Slot zmq_slots[] = {
    {Py_mod_exec, zmq_exec},
#ifdef Py_mod_gil
    /* Not free-threading safe: the closing flag is a plain field the GIL keeps consistent. */
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef zmq_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ringpy._zmq",
    .m_doc = "Native core of ringpy.zmq: rings over ZeroMQ (SPEC.md §23), over libringformat_zmq.",
    .m_size = sizeof(zmq_state),
    .m_methods = module_methods,
    .m_slots = zmq_slots,
    .m_traverse = zmq_traverse,
    .m_clear = zmq_clear,
    .m_free = zmq_free,
};

PyMODINIT_FUNC PyInit__zmq(void) { return PyModuleDef_Init(&zmq_module); }
