// shim.h - the one header of the CZmq module: libzmq's C API (zmq.h, 4.x).
#ifndef RINGFORMAT_CZMQ_SHIM_H
#define RINGFORMAT_CZMQ_SHIM_H
#include <zmq.h>
#endif
