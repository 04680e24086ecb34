/* ringformat_zmq_abi_check.c - the one source of the header module CRingZmqHeader: the
 * layouts other languages rely on, checked when the package builds. */
#include "ringformat_zmq.h"
_Static_assert(sizeof(ring_zmq_options_t) == 72, "ring_zmq_options_t layout");
_Static_assert(offsetof(ring_zmq_options_t, linger_ns) == 24, "ring_zmq_options_t.linger_ns");
_Static_assert(offsetof(ring_zmq_options_t, stream_id) == 64, "ring_zmq_options_t.stream_id");
_Static_assert(sizeof(ring_zmq_counters_t) == 80, "ring_zmq_counters_t layout");
