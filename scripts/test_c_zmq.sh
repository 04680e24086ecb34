#!/usr/bin/env bash
# test_c_zmq.sh LIB ZMQ_LIB TEST_ZMQ - checks of the ZeroMQ transport's C ABI:
#  1. libringformat_zmq exports exactly the functions of ringformat_zmq.h, all in the version
#     node RINGFORMAT_ZMQ_<major> of its SONAME, with no RPATH, and needs no Swift runtime
#     (libzmq.so.5 and the C runtime only);
#  2. the dlopen tests (Tests/c/test_zmq.c), with libringformat loaded in the same process;
#  3. `make install install-zmq` into a temporary prefix, examples/c/zmq.c built against it
#     with `pkg-config ringformat_zmq` and run as a producer and a consumer process, then
#     `make uninstall-zmq uninstall` leaves the prefix empty.
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

P=$(mktemp -d "${TMPDIR:-/tmp}/ringformat-zmq-prefix.XXXXXX")
trap 'rm -rf "$P"' EXIT
if make --no-print-directory install install-zmq PREFIX="$P" > "$P.log" 2>&1; then
    export PKG_CONFIG_PATH="$P/lib/pkgconfig"
    # shellcheck disable=SC2046
    if cc -std=c11 -Wall -Wextra -Werror -o "$P/zmq" examples/c/zmq.c $(pkg-config --cflags --libs ringformat_zmq) \
       && readelf -d "$P/zmq" | grep -q "NEEDED.*\[$soname\]" && readelf -V "$P/zmq" | grep -q "RINGFORMAT_ZMQ_$major" \
       && [ "$(readlink "$P/lib/$soname")" = "libringformat_zmq.so.$(pkg-config --modversion ringformat_zmq)" ]; then
        LD_LIBRARY_PATH="$P/lib" timeout 60 "$P/zmq" consume "ipc://$P/x.sock" 5000 > "$P/c.out" 2>&1 & c=$!
        LD_LIBRARY_PATH="$P/lib" timeout 60 "$P/zmq" produce "ipc://$P/x.sock" 5000 > "$P/p.out" 2>&1 || true
        wait "$c" || true
        if [ "$(cat "$P/c.out")" = "zmq consumer: received 5000 messages" ]; then
            pass "installed: pkg-config ringformat_zmq builds examples/c/zmq.c (needs $soname at RINGFORMAT_ZMQ_$major), 5000 messages between two processes"
        else
            fail "the installed example: $(cat "$P/p.out" "$P/c.out")"
        fi
    else
        fail "pkg-config ringformat_zmq: the example does not build or link as expected"
    fi
    make --no-print-directory uninstall-zmq uninstall PREFIX="$P" > "$P.log" 2>&1 || cat "$P.log"
    left=$(cd "$P" && find . -mindepth 1 ! -name zmq ! -name '*.out' ! -name '*.sock')
    if [ -z "$left" ]; then pass "make uninstall-zmq uninstall leave the prefix empty"
    else fail "make uninstall-zmq uninstall left: $(echo "$left" | tr '\n' ' ')"; fi
else
    fail "make install install-zmq: $(tail -5 "$P.log")"
fi
rm -f "$P.log"

echo "C transport: $passed passed, $failed failed"
[ "$failed" = 0 ]
