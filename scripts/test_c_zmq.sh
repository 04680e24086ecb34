#!/usr/bin/env bash
# test_c_zmq.sh LIB ZMQ_LIB TEST_ZMQ - checks of the ZeroMQ transport's C ABI:
#  1. libringformat_zmq exports exactly the functions of ringformat_zmq.h, all in the version
#     node RINGFORMAT_ZMQ_<major> of its SONAME, with no RPATH, and needs no Swift runtime
#     (libzmq.so.5 and the C runtime only);
#  2. the dlopen tests (Tests/c/test_zmq.c), with libringformat loaded in the same process.
set -euo pipefail
LIB=$(realpath "$1"); ZMQ_LIB=$(realpath "$2"); TEST_ZMQ=$3
HEADER=Sources/CRingZmqABI/include/ringformat_zmq.h
passed=0; failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

declared=$(grep -oE '^(int|void|const char \*)[ ]*\*?ring_zmq_[a-z_]+\(' "$HEADER" | grep -oE 'ring_zmq_[a-z_]+' | sort)
exported=$(nm -D --defined-only "$ZMQ_LIB" | awk '$2 == "T" { print $3 }' | sort)
soname=$(readelf -d "$ZMQ_LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); major=${soname##*.so.}
expected=$(echo "$declared" | sed "s/\$/@@RINGFORMAT_ZMQ_$major/")
if [ "$expected" = "$exported" ] && [ "$(echo "$declared" | wc -l)" -ge 20 ]; then
    pass "exports exactly the $(echo "$declared" | wc -l) functions of ringformat_zmq.h, at RINGFORMAT_ZMQ_$major"
else
    fail "exported symbols differ from ringformat_zmq.h"; diff <(echo "$expected") <(echo "$exported") || true
fi
if [[ "$soname" =~ ^libringformat_zmq\.so\.[0-9]+$ ]] && ! readelf -d "$ZMQ_LIB" | grep -qE 'R(UN)?PATH'; then
    pass "SONAME $soname, no RPATH"
else
    fail "SONAME '$soname' or an RPATH: $(readelf -d "$ZMQ_LIB" | grep -E 'SONAME|R(UN)?PATH')"
fi
needed=$(readelf -d "$ZMQ_LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
if ! echo "$needed" | grep -qi swift && echo "$needed" | grep -q 'libzmq.so.5'; then
    pass "needs libzmq and the C runtime, no Swift runtime: $needed"
else
    fail "dependencies: $needed"
fi
if "$TEST_ZMQ" "$LIB" "$ZMQ_LIB"; then pass "dlopen tests of the transport (beside libringformat)"; else fail "dlopen tests of the transport"; fi

echo "C transport: $passed passed, $failed failed"
[ "$failed" = 0 ]
