#!/usr/bin/env bash
# test_c.sh LIB TEST_ABI RING_PEER RINGCTL [TEST_RACE TEST_FORK HOSTILE_PEER TEST_READERS TEST_PRODUCERS TEST_ITEMS TEST_DOORBELL TEST_LIVENESS] - checks of the C ABI
# (ring-workload, the Swift producer and consumer, is taken from beside RINGCTL):
#  1. the library exports exactly the functions of ringformat.h, each in the version node the
#     header gives it (RINGFORMAT_1; the several-readers functions RINGFORMAT_1.1, the several-producers
#     functions RINGFORMAT_1.2, the typed-ring functions RINGFORMAT_1.3), and needs no
#     Swift runtime;
#  2. the dlopen tests (Tests/c/test_abi.c); then, if given, every read API against a racing
#     producer process (Tests/c/test_race.c), fork semantics (Tests/c/test_fork.c), a
#     hostile peer scribbling the file and the reader table under ASan (Tests/c/hostile_peer.c)
#     several readers of one ring (Tests/c/test_readers.c), several producers of one ring
#     (Tests/c/test_producers.c), typed rings, mappings and rings without a file (Tests/c/test_items.c)
#     pollable waits (Tests/c/test_doorbell.c) and liveness and message counts (Tests/c/test_liveness.c);
#     RING_RACE_LONG=1 runs their long versions;
#  3. `make install` into a temporary prefix (the SONAME, symlinks, stripping, split debug info,
#     the archive's symbols), the C example (examples/c/producer_consumer.c) built against it
#     with pkg-config and with CMake's find_package(ringformat), each linked dynamically and
#     statically, run; then `make uninstall` leaves the prefix empty;
#  4. a C producer with a Swift consumer and the reverse, in two processes, both policies.
set -euo pipefail
LIB=$(realpath "$1"); TEST_ABI=$2; PEER=$3; RINGCTL=$4; WORKLOAD=$(dirname "$4")/ring-workload; TEST_RACE=${5:-}; TEST_FORK=${6:-}; HOSTILE=${7:-}; TEST_READERS=${8:-}; TEST_PRODUCERS=${9:-}; TEST_ITEMS=${10:-}; TEST_DOORBELL=${11:-}; TEST_LIVENESS=${12:-}
HEADER=Sources/CRingABI/include/ringformat.h
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringformat-c.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# 1. Symbols and dependencies.
declared=$(grep -oE '^(int|void|uint32_t|const char \*)[ ]*\*?ring_[a-z_]+\(' "$HEADER" | grep -oE 'ring_[a-z_]+' | sort)
exported=$(nm -D --defined-only "$LIB" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort)
if [ "$declared" = "$exported" ] && [ "$(echo "$declared" | wc -l)" -ge 30 ]; then
    pass "exports exactly the $(echo "$declared" | wc -l) functions of ringformat.h"
else
    fail "exported symbols differ from ringformat.h"; diff <(echo "$declared") <(echo "$exported") || true
fi
soname=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); major=${soname##*.so.}
# Each function's version node, as ringformat.h says: RINGFORMAT_<major>, or the node named by the
# last "since RINGFORMAT_x.y" section line above its declaration (the several-readers functions:
# RINGFORMAT_1.1, whose parent is RINGFORMAT_1).
expected_nodes=$(awk -v node="RINGFORMAT_$major" '
    /since RINGFORMAT_[0-9.]+/ { match($0, /RINGFORMAT_[0-9.]*[0-9]/); node = substr($0, RSTART, RLENGTH) }
    /^(int|void|uint32_t|const char \*)[ ]*\*?ring_[a-z_]+\(/ { match($0, /ring_[a-z_]+\(/); print substr($0, RSTART, RLENGTH - 1) "@@" node }
' "$HEADER" | sort)
exported_nodes=$(nm -D --defined-only "$LIB" | awk '$2 == "T" { print $3 }' | sort)
nodes=$(echo "$exported_nodes" | sed 's/^[^@]*@@//' | sort | uniq -c | awk '{ printf "%s%s (%d)", sep, $2, $1; sep = ", " }')
newer=$(echo "$expected_nodes" | grep -v "@@RINGFORMAT_$major\$" | sed 's/@@.*//' | tr '\n' ' ')
parents_ok=1
for n in $(echo "$expected_nodes" | sed 's/^[^@]*@@//' | sort -u | grep -v "^RINGFORMAT_$major\$"); do
    readelf -V "$LIB" | grep -A1 "Name: $n\$" | grep -q "Parent 1: RINGFORMAT_$major\$" || parents_ok=0
done
if [[ "$soname" =~ ^libringformat\.so\.[0-9]+$ ]] && [ "$expected_nodes" = "$exported_nodes" ] && [ "$parents_ok" = 1 ] \
   && [ "$(echo "$expected_nodes" | grep -c "@@RINGFORMAT_$major\$")" -ge 30 ] \
   && ! readelf -d "$LIB" | grep -qE 'R(UN)?PATH'; then
    pass "SONAME $soname, version nodes as ringformat.h says: $nodes (newer: ${newer% }), no RPATH"
else
    fail "SONAME '$soname', version nodes $nodes, parents ok: $parents_ok, $(readelf -d "$LIB" | grep -E 'R(UN)?PATH' || echo no RPATH)"
    diff <(echo "$expected_nodes") <(echo "$exported_nodes") || true
fi
if ldd "$LIB" | grep -qi swift; then fail "library needs a Swift runtime: $(ldd "$LIB" | grep -i swift)"
else pass "no Swift runtime among the dependencies: $(ldd "$LIB" | awk '{print $1}' | tr '\n' ' ')"; fi

# 2. dlopen tests.
if "$TEST_ABI" "$LIB" interop/bad_inputs.tsv; then pass "dlopen tests"; else fail "dlopen tests"; fi
for t in "$TEST_RACE:racing producer, every read API" "$TEST_FORK:fork semantics" "$HOSTILE:hostile peer (ASan)" \
         "$TEST_READERS:several readers: broadcast, lapping, killed and durable readers" \
         "$TEST_PRODUCERS:several producers: four processes, killed and stopped producers" \
         "$TEST_ITEMS:typed rings: items and spans, both mappings, a racing producer, rings without a file" \
         "$TEST_DOORBELL:pollable waits: doorbells in an epoll loop, woken from another process" \
         "$TEST_LIVENESS:liveness and message counts: a killed producer process, PRODUCER_GONE after draining"; do
    prog=${t%%:*}; what=${t#*:}
    [ -n "$prog" ] || continue
    if TMPDIR="$WORK" "$prog" "$LIB"; then pass "$what"; else fail "$what"; fi
done

# 3. Install into a temporary prefix, then the C example built against it four ways.
P="$WORK/prefix"
make --no-print-directory install PREFIX="$P" > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
version=$(pkg-config --modversion ringformat)
real="$P/lib/libringformat.so.$version"
if [ -f "$real" ] && [ "$(readlink "$P/lib/$soname")" = "libringformat.so.$version" ] \
   && [ "$(readlink "$P/lib/libringformat.so")" = "$soname" ] && [ "$soname" = "libringformat.so.${version%%.*}" ]; then
    pass "installed libringformat.so.$version, $soname -> it, libringformat.so -> $soname"
else
    fail "installed library names: $(ls "$P/lib" | tr '\n' ' ')"
fi
build_id() { readelf -n "$1" | sed -n 's/.*Build ID: //p'; }
id=$(build_id "$real"); debug="$P/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
sections=$(readelf -S -W "$real" | { grep -oE '\.(debug_[a-z]+|symtab)' || true; } | sort -u | tr '\n' ' ')
if [ -n "$id" ] && [ -z "$sections" ] && [ -f "$debug" ] && [ "$(build_id "$debug")" = "$id" ] \
   && readelf -S -W "$debug" | grep -q '\.debug_info'; then
    pass "stripped: $(stat -c %s "$LIB") -> $(stat -c %s "$real") bytes, debug info in lib/debug/.build-id/${id:0:2}/${id:2}.debug"
else
    fail "stripping: sections left '$sections', build ID '$id', debug file $debug"
fi
if command -v gdb > /dev/null; then
    if gdb -batch -iex "set debug-file-directory $P/lib/debug" -ex 'info functions ^ring_create$' "$real" 2>/dev/null \
       | grep -q 'RingExports.swift'; then pass "gdb finds the split debug info by build ID"
    else fail "gdb does not find the split debug info"; fi
fi
globals=$(nm -g --defined-only "$P/lib/libringformat.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort)
if [ "$globals" = "$declared" ] && ! readelf -S -W "$P/lib/libringformat.a" | grep -q '\.debug_info'; then
    pass "libringformat.a: one prelinked object, only the $(echo "$globals" | wc -l) ring_* functions global, no debug info"
else
    fail "libringformat.a's global symbols differ from ringformat.h"; diff <(echo "$declared") <(echo "$globals") | head || true
fi

# The example: its output line and exit code; how it is linked.
EXAMPLE=examples/c/producer_consumer.c
runs_ok() { [ "$("$@" "$WORK/example.ring" 2000)" = \
    "producer_consumer: 2000 messages through a 4096-byte ring, each checked by the consumer process" ]; }
needs_lib() { readelf -d "$1" 2>/dev/null | grep -q "NEEDED.*\[$soname\]"; }
uses_node() { readelf -V "$1" | grep -q "Name: RINGFORMAT_$major"; }
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Wextra -Werror -o "$WORK/pc-dynamic" "$EXAMPLE" $(pkg-config --cflags --libs ringformat) \
   && needs_lib "$WORK/pc-dynamic" && uses_node "$WORK/pc-dynamic" \
   && [ "$(LD_LIBRARY_PATH="$P/lib" ldd "$WORK/pc-dynamic" | awk -v n="$soname" '$1 == n { print $3 }')" = "$P/lib/$soname" ] \
   && LD_LIBRARY_PATH="$P/lib" runs_ok "$WORK/pc-dynamic"; then
    pass "pkg-config, dynamic: needs $soname (symbols at RINGFORMAT_$major), runs"
else
    fail "pkg-config, dynamic"
fi
# shellcheck disable=SC2046
if cc -static -std=c11 -Wall -Wextra -Werror -o "$WORK/pc-static" "$EXAMPLE" \
       $(pkg-config --static --cflags --libs ringformat) 2> "$WORK/static.log" \
   && ! readelf -d "$WORK/pc-static" 2>/dev/null | grep -q NEEDED && runs_ok "$WORK/pc-static"; then
    pass "pkg-config --static, cc -static: no shared library at all, runs"
else
    fail "pkg-config --static"; cat "$WORK/static.log"
fi
if ! command -v cmake > /dev/null; then
    fail "cmake is missing (scripts/bootstrap.sh installs it)"
else
    for kind in dynamic static; do
        b="$WORK/cmake-$kind"
        if cmake -S examples/c -B "$b" -DCMAKE_PREFIX_PATH="$P" -DRINGFORMAT_STATIC=$([ $kind = static ] && echo ON || echo OFF) \
               > "$WORK/cmake.log" 2>&1 && cmake --build "$b" >> "$WORK/cmake.log" 2>&1 \
           && if [ $kind = dynamic ]; then needs_lib "$b/producer_consumer" && uses_node "$b/producer_consumer"
              else ! readelf -d "$b/producer_consumer" | grep -q 'NEEDED.*ringformat'; fi \
           && runs_ok "$b/producer_consumer"; then
            pass "find_package(ringformat), ringformat::ringformat$([ $kind = static ] && echo _static): $kind, runs (no LD_LIBRARY_PATH)"
        else
            fail "find_package(ringformat), $kind"; cat "$WORK/cmake.log"
        fi
    done
fi
make --no-print-directory uninstall PREFIX="$P" > "$WORK/uninstall.log" 2>&1 || cat "$WORK/uninstall.log"
left=$(cd "$P" && find . -mindepth 1)
if [ -d "$P" ] && [ -z "$left" ]; then pass "make uninstall leaves the prefix empty"
else fail "make uninstall left: $(echo "$left" | tr '\n' ' ')"; fi

export RINGFORMAT_LIB="$LIB"

# 4. Golden vectors: the C writer makes the committed bytes, the C reader sees the .expect.
# A vector that uses `crash` (a producer dropped as if killed) is read, not written: the C ABI
# cannot drop a producer without closing it (SPEC.md §16.5); its script exits 77.
for ops in interop/vectors/*.ops; do
    name=${ops%.ops}
    written=0
    "$PEER" script "$ops" "$WORK/vector.ring" || written=$?
    if [ "$written" = 77 ] && cp "$name.ring" "$WORK/golden.ring" && "$PEER" expect "$WORK/golden.ring" | cmp -s - "$name.expect"; then
        pass "golden vector $(basename "$name"): C reader exact (a vector with crash: not written in C)"
    elif [ "$written" = 0 ] && cmp -s "$WORK/vector.ring" "$name.ring" \
       && cp "$name.ring" "$WORK/golden.ring" && "$PEER" expect "$WORK/golden.ring" | cmp -s - "$name.expect"; then
        pass "golden vector $(basename "$name"): C writer byte-identical, C reader exact"
    else
        fail "golden vector $(basename "$name")"
    fi
done

# 5. C <-> Swift, two processes on one file.
for policy in reject overwrite; do
    for pair in "c swift" "swift c"; do
        set -- $pair
        producer=$1; consumer=$2
        ring="$WORK/$producer-$consumer-$policy.ring"
        "$RINGCTL" create "$ring" --capacity 65536 --policy "$policy" > /dev/null
        opts=(--count 100000 --seed 11 --min-size 8 --max-size 1000 --timeout-ms 60000)
        run() { if [ "$1" = c ]; then "$PEER" "${@:2}"; else "$WORKLOAD" "${@:2}"; fi; }
        run "$consumer" consume "$ring" --until-end "${opts[@]}" > "$WORK/out" 2>&1 &
        cpid=$!
        run "$producer" produce "$ring" --close --batch 8 "${opts[@]}" > /dev/null
        if wait "$cpid"; then result=$(cat "$WORK/out"); else result="consumer failed: $(cat "$WORK/out")"; fi
        echo "     $producer -> $consumer ($policy): $result"
        eval "checksum_${producer}_${policy}=\"\$(grep -oE 'checksum 0x[0-9a-f]+' \"\$WORK/out\" || true)\""
        if [ "$policy" = reject ]; then
            [[ "$result" == "consumed 100000 messages"* ]] && pass "$producer producer -> $consumer consumer, $policy" \
                || fail "$producer producer -> $consumer consumer, $policy"
        else
            [[ "$result" == consumed* ]] && pass "$producer producer -> $consumer consumer, $policy" \
                || fail "$producer producer -> $consumer consumer, $policy"
        fi
    done
done
# Same seed, every message: both directions see the identical stream.
if [ -n "$checksum_c_reject" ] && [ "$checksum_c_reject" = "$checksum_swift_reject" ]; then
    pass "C and Swift consumers agree on the checksum ($checksum_c_reject)"
else
    fail "checksums differ: '$checksum_c_reject' vs '$checksum_swift_reject'"
fi

echo "c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
