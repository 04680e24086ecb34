#!/usr/bin/env bash
# run_examples.sh - builds and runs every example of examples/ (the code README.md quotes), each
# in a fresh temporary directory (under $TMPDIR, else /dev/shm), checking exit codes and what
# they print. Run by `make test-examples`, which then runs scripts/check_readme_examples.py.
#  - examples/swift: the package, built in its own scratch path (examples/swift/.build-examples),
#    and its readers, producers, async and zmq programs;
#  - producer -> consumer pairs, two processes on one ring: Swift -> Swift, examples/python
#    -> Python, and across languages Python -> Swift and Swift -> Python; half of them start
#    the consumer first, half the producer;
#  - examples/swift typed (a typed ring of structs) and examples/c/items.c (a typed ring
#    without a file, shared with a forked child);
#  - examples/python/hello.py, asyncio_pair.py, numpy_zero_copy.py, readers.py, producers.py and typed.py;
#  - examples/ringctl/tour.sh, an operator's session with the package's ringctl (RINGCTL);
#  - examples/c/producer_consumer.c, built against the build tree's library (test-c builds it
#    against an installed copy, with pkg-config and CMake, dynamically and statically), and
#    examples/c/epoll.c, a consumer in an epoll loop woken by its doorbell;
#  - the ZeroMQ transport: examples/c/zmq.c and examples/python/zmq_pair.py, each a pair of
#    processes, and a C producer with a Python consumer.
# Needs `make lib` and `make lib-zmq` and ringpy with numpy in PYTHON's environment (.venv, from test-python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
SWIFT=${SWIFT:-swift}
LIB=${RINGFORMAT_LIB:-.build-abi/release/libringformat.so}
ZMQ_LIB=${RINGFORMAT_ZMQ_LIB:-.build-abi-zmq/release/libringformat_zmq.so}
COUNT=${COUNT:-20000}
SCRATCH=examples/swift/.build-examples
base=${TMPDIR:-/dev/shm}; [ -d "$base" ] && [ -w "$base" ] || base=/tmp
WORK=$(mktemp -d "$base/ringformat-examples.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

start=$SECONDS
"$SWIFT" build --package-path examples/swift --scratch-path "$SCRATCH" > "$WORK/swift-build.log" 2>&1 \
    || { cat "$WORK/swift-build.log"; echo "examples: the Swift examples do not build" >&2; exit 1; }
echo "     examples/swift built in $((SECONDS - start)) s"
SWIFT_BIN=$("$SWIFT" build --package-path examples/swift --scratch-path "$SCRATCH" --show-bin-path)

# A producer or a consumer of one language, as a command line (the ring path and count follow).
program() { # program swift|python producer|consumer
    if [ "$1" = swift ]; then echo "$SWIFT_BIN/$2"; else echo "$PYTHON examples/python/$2.py"; fi
}

# pair PRODUCER_LANGUAGE CONSUMER_LANGUAGE FIRST: both at once on a new ring, FIRST started first.
pair() {
    local from=$1 to=$2 first=$3 ring="$WORK/$1-$2.ring" name="$1 producer -> $2 consumer ($3 first)"
    local p c
    # shellcheck disable=SC2046
    if [ "$first" = consumer ]; then
        timeout 60 $(program "$to" consumer) "$ring" "$COUNT" > "$WORK/c.out" 2>&1 & c=$!
        timeout 60 $(program "$from" producer) "$ring" "$COUNT" > "$WORK/p.out" 2>&1 & p=$!
    else
        timeout 60 $(program "$from" producer) "$ring" "$COUNT" > "$WORK/p.out" 2>&1 & p=$!
        timeout 60 $(program "$to" consumer) "$ring" "$COUNT" > "$WORK/c.out" 2>&1 & c=$!
    fi
    local prc=0 crc=0
    wait "$p" || prc=$?
    wait "$c" || crc=$?
    if [ "$prc" = 0 ] && [ "$crc" = 0 ] && [ "$(cat "$WORK/p.out")" = "producer: sent $COUNT messages" ] \
       && [ "$(cat "$WORK/c.out")" = "consumer: received $COUNT messages" ]; then
        pass "$name: $COUNT messages"
    else
        fail "$name: producer exit $prc, consumer exit $crc"; sed 's/^/     /' "$WORK/p.out" "$WORK/c.out"
    fi
}

pair swift swift consumer
pair python python producer
pair python swift consumer
pair swift python producer

# single NAME EXPECTED_OUTPUT COMMAND...: runs one example, which must print exactly that.
single() {
    local name=$1 want=$2 out rc=0; shift 2
    out=$(timeout 60 "$@" 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then pass "$name"
    else fail "$name: exit $rc"; echo "$out" | sed 's/^/     /'; fi
}

single "examples/swift readers: a gating and a lapping reader of one ring" \
    "readers: audit read 100000 of 100000, live read 2000 and missed 98000" \
    "$SWIFT_BIN/readers" "$WORK/readers.ring" 100000
single "examples/swift producers: four producers into one ring" \
    "producers: 4 producers wrote 20000 messages each; the consumer read 80000, each producer's in order" \
    "$SWIFT_BIN/producers" "$WORK/producers.ring" 20000
single "examples/swift typed: a typed ring of 24-byte structs, read in place" \
    "typed: 100000 quotes of 24 bytes read in place through one span each time, every one checked" \
    "$SWIFT_BIN/typed" "$WORK/typed.ring" 100000
mkdir -p "$WORK/async"
single "examples/swift async: 50 rings, a producer and a consumer task on each, one reactor thread" \
    "async: 100000 messages through 50 rings, each checked" \
    "$SWIFT_BIN/async" "$WORK/async" 50 2000
# duo NAME WANT_1 WANT_2 COMMAND_1 COMMAND_2: two processes at once (the second started 0.2 s
# after the first; each command a string split at spaces), each must print exactly its WANT.
duo() {
    local name=$1 want1=$2 want2=$3 one two rc1=0 rc2=0
    # shellcheck disable=SC2086
    timeout 60 $4 > "$WORK/duo1.out" 2>&1 & one=$!
    sleep 0.2
    # shellcheck disable=SC2086
    timeout 60 $5 > "$WORK/duo2.out" 2>&1 & two=$!
    wait "$one" || rc1=$?
    wait "$two" || rc2=$?
    if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ "$(cat "$WORK/duo1.out")" = "$want1" ] && [ "$(cat "$WORK/duo2.out")" = "$want2" ]; then
        pass "$name"
    else
        fail "$name: exit $rc1 and $rc2"; sed 's/^/     /' "$WORK/duo1.out" "$WORK/duo2.out"
    fi
}

duo "examples/swift zmq: a consumer process, then a producer process over ipc://, 20000 messages packed 100 per frame" \
    "zmq consumer: received 20000 messages" "zmq producer: sent 20000 messages" \
    "$SWIFT_BIN/zmq consume ipc://$WORK/swift-zmq.sock 20000" "$SWIFT_BIN/zmq produce ipc://$WORK/swift-zmq.sock 20000"
single "examples/python/producers.py: four producer processes, 5000 messages each" \
    "producers: 4 processes put 5000 messages each; the consumer got all 20000, each producer's in order" \
    "$PYTHON" examples/python/producers.py "$WORK/python-producers.ring" 5000
single "examples/python/typed.py: a typed ring of a structured dtype, read in place; a numeric ring without a file" \
    "$(printf '%s\n' '{sequence:<u8@0,price:<f8@8,size:<u4@16}24' 'typed: 100000 quotes read in place' \
        '512 89.0 600.0 [599. 600.] 89.0 89')" \
    "$PYTHON" examples/python/typed.py "$WORK/typed-py.ring" 100000
single "examples/python/hello.py" "hello" "$PYTHON" examples/python/hello.py "$WORK/hello.ring"
single "examples/python/asyncio_pair.py: 5000 messages" "asyncio: received 5000 messages" \
    "$PYTHON" examples/python/asyncio_pair.py "$WORK/asyncio.ring" 5000
single "examples/python/numpy_zero_copy.py: views released after del, ring usable afterwards" \
    "numpy: 200 arrays read in place, sums checked; ring usable after a refused release" \
    "$PYTHON" examples/python/numpy_zero_copy.py "$WORK/numpy.ring" 200
single "examples/python/readers.py: 5000 messages, 2 gating readers and a lapping one" \
    "readers: 5000 messages; 2 gating readers received them all, the lapping one the newest and counted the rest as missed" \
    "$PYTHON" examples/python/readers.py "$WORK/python-readers.ring" 5000

# The C example against the library of `make lib`, found under its SONAME.
soname=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
mkdir -p "$WORK/lib" && ln -s "$(realpath "$LIB")" "$WORK/lib/$soname" && ln -s "$soname" "$WORK/lib/libringformat.so"
if cc -std=c11 -Wall -Wextra -Werror -ISources/CRingABI/include -o "$WORK/producer_consumer" \
       examples/c/producer_consumer.c -L"$WORK/lib" -Wl,-rpath,"$WORK/lib" -lringformat; then
    single "examples/c/producer_consumer.c: 5000 messages, two processes" \
        "producer_consumer: 5000 messages through a 4096-byte ring, each checked by the consumer process" \
        "$WORK/producer_consumer" "$WORK/c.ring" 5000
else
    fail "examples/c/producer_consumer.c does not build"
fi

if cc -std=c11 -Wall -Wextra -Werror -ISources/CRingABI/include -o "$WORK/items" \
       examples/c/items.c -L"$WORK/lib" -Wl,-rpath,"$WORK/lib" -lringformat; then
    single "examples/c/items.c: a typed ring without a file, shared with a forked child" \
        "items: 100000 float64 values from a forked child through a ring without a file, read in place" \
        "$WORK/items" 100000
else
    fail "examples/c/items.c does not build"
fi

if cc -std=c11 -Wall -Wextra -Werror -ISources/CRingABI/include -o "$WORK/epoll" \
       examples/c/epoll.c -L"$WORK/lib" -Wl,-rpath,"$WORK/lib" -lringformat; then
    single "examples/c/epoll.c: a consumer in an epoll loop woken by its doorbell" \
        "epoll: 5000 messages from another process, each checked, woken by the doorbell" \
        "$WORK/epoll" "$WORK/epoll.ring" 5000
else
    fail "examples/c/epoll.c does not build"
fi

# The ZeroMQ transport from C (against libringformat_zmq of `make lib-zmq`, found under its
# SONAME) and from Python (ringpy.zmq, mm_toolbox's names), and the two across languages.
zmq_soname=$(readelf -d "$ZMQ_LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
ln -s "$(realpath "$ZMQ_LIB")" "$WORK/lib/$zmq_soname" && ln -s "$zmq_soname" "$WORK/lib/libringformat_zmq.so"
if cc -std=c11 -Wall -Wextra -Werror -ISources/CRingABI/include -ISources/CRingZmqABI/include -o "$WORK/zmq" \
       examples/c/zmq.c -L"$WORK/lib" -Wl,-rpath,"$WORK/lib" -lringformat_zmq; then
    duo "examples/c/zmq.c: a consumer process, then a producer process over ipc://, 20000 messages packed 100 per frame" \
        "zmq consumer: received 20000 messages" "zmq producer: sent 20000 messages" \
        "$WORK/zmq consume ipc://$WORK/c-zmq.sock 20000" "$WORK/zmq produce ipc://$WORK/c-zmq.sock 20000"
    duo "examples/c/zmq.c producer -> examples/python/zmq_pair.py consumer over tcp://127.0.0.1, 20000 messages" \
        "zmq consumer: received 20000 messages" "zmq producer: sent 20000 messages" \
        "$PYTHON examples/python/zmq_pair.py consume tcp://127.0.0.1:$((20000 + $$ % 20000)) 20000" \
        "$WORK/zmq produce tcp://127.0.0.1:$((20000 + $$ % 20000)) 20000"
else
    fail "examples/c/zmq.c does not build"
fi
duo "examples/python/zmq_pair.py: a consumer process, then a producer process over ipc://, 20000 messages packed 100 per frame" \
    "zmq consumer: received 20000 messages" "zmq producer: sent 20000 messages" \
    "$PYTHON examples/python/zmq_pair.py consume ipc://$WORK/py-zmq.sock 20000" \
    "$PYTHON examples/python/zmq_pair.py produce ipc://$WORK/py-zmq.sock 20000"

# The ringctl tour, with the ringctl of this build.
mkdir -p "$WORK/tour"
single "examples/ringctl/tour.sh: create, write, peek, inspect, validate, list, tail -f, read" "$(cat <<'OUT'
ring events.ring capacity 65536 policy rejectWhenFull
hello
world
{"position":0,"length":5,"text":"hello"}
{"position":16,"length":5,"text":"world"}
messageCount 2
producerRole free
status sound
events.ring: sound: 2 unread messages (10 bytes) from position 0 to 32, writer open
name capacity policy messages usedBytes producer consumer writer status
events.ring 65536 rejectWhenFull 2 32 free free open sound
third
hello
world
third
OUT
)" env RINGCTL="${RINGCTL:-$PWD/.build/debug/ringctl}" examples/ringctl/tour.sh "$WORK/tour"

echo "examples: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" -eq 0 ]
