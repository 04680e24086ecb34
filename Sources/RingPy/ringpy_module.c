/*
 * ringpy_module.c - the module ringpy._ringpy: RingFormat rings (SPEC.md) for CPython,
 * over the C ABI of ringformat.h (libringformat.so, shipped inside the package).
 * Module state, the exceptions, the fork generation and module init live here; the
 * types in ringpy_ring.c, ringpy_reader.c, ringpy_view.c and ringpy_items.c.
 */
#include "ringpy.h"

#include <string.h>

#include <errno.h>
#include <stdio.h>

ringpy_state *ringpy_state_of(PyObject *module) { return (ringpy_state *)PyModule_GetState(module); }

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

PyObject *ringpy_raise(ringpy_state *st, int rc, PyObject *path) {
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
    case RING_ERR_FORKED: type = st->ForkedError; break;
    case RING_ERR_PRODUCER_GONE: type = st->ProducerGoneError; break;
    case RING_ERR_INVALID_ARGUMENT: type = PyExc_ValueError; break;
    case RING_ERR_SYSTEM: {
        /* OSError(errno, "the system's words (what failed)", path): the errno picks the
         * subclass (PermissionError, FileNotFoundError, ...), the text keeps the detail. */
        int err = ring_last_errno();
        PyObject *message = (detail && detail[0]) ? PyUnicode_FromFormat("%s (%s)", strerror(err), detail)
                                                  : PyUnicode_FromString(strerror(err));
        if (message == NULL) return NULL;
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iOO", err, message, path ? path : Py_None);
        Py_DECREF(message);
        if (exc == NULL) return NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
        return NULL;
    }
    default: type = PyExc_SystemError; break;
    }
    PyErr_SetString(type, text);
    return NULL;
}

PyObject *ringpy_raise_closed(ringpy_state *st) {
    PyErr_SetString(st->ClosedError, "I/O operation on a closed ring");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Fork                                                                     */

/* Bumped in every child of fork() (SPEC: a handle belongs to the process that opened
 * it). Only the atfork handler writes it, in a child that has one thread. */
static volatile uint64_t fork_generation;

static void after_fork_in_child(void) { fork_generation++; }

uint64_t ringpy_fork_generation(void) { return fork_generation; }

/* pthread_atfork once per process: the handler lives in this library, which CPython
 * never unloads, and counts for every interpreter that imports the module. */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_result;

static void register_atfork(void) { atfork_result = pthread_atfork(NULL, NULL, after_fork_in_child); }

/* ------------------------------------------------------------------------ */
/* Module                                                                   */

/* A new exception class ringpy.<name>(base[, mixin]) added to module; dict may be NULL. */
static PyObject *new_error(PyObject *module, const char *name, const char *doc, PyObject *base, PyObject *mixin,
                           PyObject *dict) {
    PyObject *bases = mixin ? PyTuple_Pack(2, base, mixin) : PyTuple_Pack(1, base);
    if (bases == NULL) return NULL;
    char qualified[128];
    snprintf(qualified, sizeof qualified, "ringpy.%s", name);
    PyObject *type = PyErr_NewExceptionWithDoc(qualified, doc, bases, dict);
    Py_DECREF(bases);
    if (type == NULL) return NULL;
    if (PyModule_AddObjectRef(module, name, type) < 0) { Py_DECREF(type); return NULL; }
    return type;
}

static int add_errors(PyObject *module, ringpy_state *st) {
    PyObject *queue = PyImport_ImportModule("queue");
    if (queue == NULL) return -1;
    PyObject *qfull = PyObject_GetAttrString(queue, "Full");
    PyObject *qempty = PyObject_GetAttrString(queue, "Empty");
    Py_DECREF(queue);
    /* FullError.written: how many messages the failed call wrote (put_many sets it on the instance). */
    PyObject *full_dict = Py_BuildValue("{s:i}", "written", 0);
    int ok = qfull && qempty && full_dict
        && (st->RingError = new_error(module, "RingError", "Base class of every ringpy error.", PyExc_Exception, NULL, NULL))
        && (st->FullError = new_error(module, "FullError",
                "No room for the message, or put's timeout passed. written: how many messages\n"
                "the call wrote before it gave up (put_many; 0 for put).", st->RingError, qfull, full_dict))
        && (st->EmptyError = new_error(module, "EmptyError", "No message to read, or get's timeout passed.", st->RingError, qempty, NULL))
        && (st->InvalidSizeError = new_error(module, "InvalidSizeError", "A message over max_message_size, or a bad capacity.", st->RingError, PyExc_ValueError, NULL))
        && (st->ClosedError = new_error(module, "ClosedError", "The ring object was closed (or its stream, by close_writer()).", st->RingError, PyExc_ValueError, NULL))
        && (st->EndOfStreamError = new_error(module, "EndOfStreamError", "The producer closed the stream and every message has been read.", st->RingError, PyExc_EOFError, NULL))
        && (st->CorruptError = new_error(module, "CorruptError", "The file holds values no valid ring holds.", st->RingError, NULL, NULL))
        && (st->UnsupportedVersionError = new_error(module, "UnsupportedVersionError", "Another major format version, or unknown incompatible features.", st->RingError, NULL, NULL))
        && (st->BusyError = new_error(module, "BusyError",
                "Another handle holds the producer or consumer role; or every producer slot (a ring created\n"
                "with producers=N) or reader slot of the ring is taken, or another reader uses that durable\n"
                "name; or a RecordView is open.", st->RingError, NULL, NULL))
        && (st->OverwrittenError = new_error(module, "OverwrittenError", "A zero-copy view's record was reclaimed while it was held.", st->RingError, NULL, NULL))
        && (st->ForkedError = new_error(module, "ForkedError",
                "This handle belongs to the process that opened it (it was inherited across fork): open the ring again.",
                st->RingError, NULL, NULL))
        && (st->ProducerGoneError = new_error(module, "ProducerGoneError",
                "The ring is drained, its stream is open and no live process holds the producer role: the\n"
                "producer died (or never started) without close_writer(). Raised instead of waiting by a\n"
                "reader with stop_when_producer_gone set (SPEC.md §22.1).", st->RingError, NULL, NULL));
    Py_XDECREF(qfull);
    Py_XDECREF(qempty);
    Py_XDECREF(full_dict);
    return ok ? 0 : -1;
}

static int ringpy_exec(PyObject *module) {
    ringpy_state *st = ringpy_state_of(module);
    pthread_once(&atfork_once, register_atfork);
    if (atfork_result != 0) {
        errno = atfork_result;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (add_errors(module, st) < 0) return -1;
    st->RingType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ringpy_ring_spec, NULL);
    if (st->RingType == NULL || PyModule_AddType(module, st->RingType) < 0) return -1;
    st->ReaderType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ringpy_reader_spec, NULL);
    if (st->ReaderType == NULL || PyModule_AddType(module, st->ReaderType) < 0) return -1;
    st->RecordViewType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ringpy_view_spec, NULL);
    if (st->RecordViewType == NULL || PyModule_AddType(module, st->RecordViewType) < 0) return -1;
    st->ItemRingType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ringpy_item_ring_spec, NULL);
    if (st->ItemRingType == NULL || PyModule_AddType(module, st->ItemRingType) < 0) return -1;
    st->ItemViewType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ringpy_item_view_spec, NULL);
    if (st->ItemViewType == NULL || PyModule_AddType(module, st->ItemViewType) < 0) return -1;
    uint16_t major = 0, minor = 0;
    ring_format_version(&major, &minor);
    PyObject *version = Py_BuildValue("(ii)", major, minor);
    if (version == NULL || PyModule_AddObjectRef(module, "FORMAT_VERSION", version) < 0) { Py_XDECREF(version); return -1; }
    Py_DECREF(version);
    if (PyModule_AddIntConstant(module, "ABI_VERSION", (long)ring_abi_version()) < 0) return -1;
    return 0;
}

static int ringpy_traverse(PyObject *module, visitproc visit, void *arg) {
    ringpy_state *st = ringpy_state_of(module);
    Py_VISIT(st->RingError); Py_VISIT(st->FullError); Py_VISIT(st->EmptyError); Py_VISIT(st->InvalidSizeError);
    Py_VISIT(st->ClosedError); Py_VISIT(st->EndOfStreamError); Py_VISIT(st->CorruptError);
    Py_VISIT(st->UnsupportedVersionError); Py_VISIT(st->BusyError); Py_VISIT(st->OverwrittenError);
    Py_VISIT(st->ForkedError); Py_VISIT(st->ProducerGoneError); Py_VISIT(st->RingType); Py_VISIT(st->ReaderType); Py_VISIT(st->RecordViewType);
    Py_VISIT(st->ItemRingType); Py_VISIT(st->ItemViewType);
    return 0;
}

static int ringpy_clear(PyObject *module) {
    ringpy_state *st = ringpy_state_of(module);
    Py_CLEAR(st->RingError); Py_CLEAR(st->FullError); Py_CLEAR(st->EmptyError); Py_CLEAR(st->InvalidSizeError);
    Py_CLEAR(st->ClosedError); Py_CLEAR(st->EndOfStreamError); Py_CLEAR(st->CorruptError);
    Py_CLEAR(st->UnsupportedVersionError); Py_CLEAR(st->BusyError); Py_CLEAR(st->OverwrittenError);
    Py_CLEAR(st->ForkedError); Py_CLEAR(st->ProducerGoneError); Py_CLEAR(st->RingType); Py_CLEAR(st->ReaderType); Py_CLEAR(st->RecordViewType);
    Py_CLEAR(st->ItemRingType); Py_CLEAR(st->ItemViewType);
    return 0;
}

static void ringpy_free(void *module) { ringpy_clear((PyObject *)module); }

static PyModuleDef_Slot ringpy_slots[] = {
    {Py_mod_exec, ringpy_exec},
#ifdef Py_mod_gil
    /* Not free-threading safe yet: a Ring's flags (closing, writer_closed, view) and a
     * RecordView's export count are plain fields that the GIL keeps consistent. */
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

struct PyModuleDef ringpy_module = {
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
