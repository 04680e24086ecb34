#!/usr/bin/env bash
# test_c.sh LIB TEST_ABI RING_PEER RINGCTL [TEST_RACE TEST_FORK HOSTILE_PEER] - checks of the C ABI:
#  1. the library exports exactly the functions of ringformat.h and needs no Swift runtime;
#  2. the dlopen tests (Tests/c/test_abi.c); then, if given, every read API against a racing
#     producer process (Tests/c/test_race.c), fork semantics (Tests/c/test_fork.c) and a
#     hostile peer scribbling the file under ASan (Tests/c/hostile_peer.c);
#     RING_RACE_LONG=1 runs their long versions;
#  3. `make install` into a temporary prefix, then a C program built with pkg-config;
#  4. a C producer with a Swift consumer and the reverse, in two processes, both policies.
set -euo pipefail
LIB=$(realpath "$1"); TEST_ABI=$2; PEER=$3; RINGCTL=$4; TEST_RACE=${5:-}; TEST_FORK=${6:-}; HOSTILE=${7:-}
HEADER=Sources/CRingABI/include/ringformat.h
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringformat-c.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# 1. Symbols and dependencies.
declared=$(grep -oE '^(int|void|uint32_t|const char \*)[ ]*\*?ring_[a-z_]+\(' "$HEADER" | grep -oE 'ring_[a-z_]+' | sort)
exported=$(nm -D --defined-only "$LIB" | awk '$2 == "T" { print $3 }' | sort)
if [ "$declared" = "$exported" ] && [ "$(echo "$declared" | wc -l)" -ge 30 ]; then
    pass "exports exactly the $(echo "$declared" | wc -l) functions of ringformat.h"
else
    fail "exported symbols differ from ringformat.h"; diff <(echo "$declared") <(echo "$exported") || true
fi
if ldd "$LIB" | grep -qi swift; then fail "library needs a Swift runtime: $(ldd "$LIB" | grep -i swift)"
else pass "no Swift runtime among the dependencies: $(ldd "$LIB" | awk '{print $1}' | tr '\n' ' ')"; fi

# 2. dlopen tests.
if "$TEST_ABI" "$LIB" interop/bad_inputs.tsv; then pass "dlopen tests"; else fail "dlopen tests"; fi
for t in "$TEST_RACE:racing producer, every read API" "$TEST_FORK:fork semantics" "$HOSTILE:hostile peer (ASan)"; do
    prog=${t%%:*}; what=${t#*:}
    [ -n "$prog" ] || continue
    if TMPDIR="$WORK" "$prog" "$LIB"; then pass "$what"; else fail "$what"; fi
done

# 3. Install, then build against the installed copy with pkg-config.
make --no-print-directory install PREFIX="$WORK/prefix" > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }
cat > "$WORK/hello.c" <<'C'
#include <ringformat.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    ring_t *r; ring_producer_t *p; ring_consumer_t *c;
    char buf[64]; size_t len;
    if (ring_create(argv[1], 4096, RING_REJECT_WHEN_FULL, 0600, 0, &r)) return 1;
    if (ring_producer_open(r, &p) || ring_consumer_open(r, &c)) return 2;
    if (ring_write(p, "hello, C", 8) || ring_read(c, buf, sizeof buf, &len)) return 3;
    printf("%.*s\n", (int)len, buf);
    ring_producer_free(p); ring_consumer_free(c); ring_free(r);
    return len == 8 && memcmp(buf, "hello, C", 8) == 0 ? 0 : 4;
}
C
export PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Werror -o "$WORK/hello" "$WORK/hello.c" $(pkg-config --cflags --libs ringformat) \
   && [ "$(LD_LIBRARY_PATH="$WORK/prefix/lib" "$WORK/hello" "$WORK/hello.ring")" = "hello, C" ]; then
    pass "make install + pkg-config + link with -lringformat"
else
    fail "make install + pkg-config + link with -lringformat"
fi

export RINGFORMAT_LIB="$LIB"

# 4. Golden vectors: the C writer makes the committed bytes, the C reader sees the .expect.
for ops in interop/vectors/*.ops; do
    name=${ops%.ops}
    if "$PEER" script "$ops" "$WORK/vector.ring" && cmp -s "$WORK/vector.ring" "$name.ring" \
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
        run() { if [ "$1" = c ]; then "$PEER" "${@:2}"; else "$RINGCTL" "${@:2}"; fi; }
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
