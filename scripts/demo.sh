#!/usr/bin/env bash
# demo.sh - one ring file format, three languages: a Swift producer streams seeded
# messages to a C consumer, then to a Python consumer, each checking every byte; then a
# persisted deque(maxlen). Run by `make demo`, which builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
RINGCTL=${RINGCTL:-.build/release/ringctl}
WORKLOAD=${WORKLOAD:-$(dirname "$RINGCTL")/ring-workload}
PEER=${PEER:-build/ring_peer}
PYTHON=${PYTHON:-.venv/bin/python}
export RINGFORMAT_LIB=${RINGFORMAT_LIB:-$PWD/.build-abi/release/libringformat.so}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ringformat-demo.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
COUNT=${COUNT:-1000000}

field() { "$RINGCTL" inspect "$1" | awk -v k="$2" '$1 == k { print $2 }'; }

# Draws a progress bar from the ring's consumer position until the consumer exits.
progress() {
    local ring=$1 pid=$2 total=$3 start end read
    start=$(field "$ring" consumerPosition)
    end=$start
    while kill -0 "$pid" 2>/dev/null; do
        read=$(field "$ring" consumerPosition 2>/dev/null || true)
        [ -n "$read" ] && end=$read
        local done=$(( (end - start) * 40 / total ))
        [ "$done" -gt 40 ] && done=40
        printf '\r   [%-40s] %3d%%' "$(printf '#%.0s' $(seq 1 $((done > 0 ? done : 1))))" $((done * 100 / 40))
        sleep 0.1
    done
    printf '\r   [%-40s] 100%%\n' "########################################"
}

stream() { # stream NAME CONSUMER...
    local name=$1; shift
    local ring="$DIR/$name.ring"
    "$RINGCTL" create "$ring" --capacity 1048576 > /dev/null
    echo "== Swift producer -> $name consumer: $COUNT messages of 0..512 bytes through $(basename "$ring")"
    local cmd=("$@")
    local opts=()
    if [ "${cmd[-1]}" = --no-checksum ]; then unset 'cmd[-1]'; opts=(--no-checksum); fi
    "${cmd[@]}" consume "$ring" "${opts[@]}" --until-end --seed 7 --max-size 512 --timeout-ms 60000 > "$DIR/$name.out" 2>&1 &
    local pid=$!
    "$WORKLOAD" produce "$ring" --count "$COUNT" --seed 7 --max-size 512 --batch 64 --close --timeout-ms 60000 \
        > "$DIR/producer.out" &
    progress "$ring" "$pid" $((COUNT * 264))
    wait "$pid" || { cat "$DIR/$name.out"; exit 1; }
    wait
    echo "   producer: $(cat "$DIR/producer.out")"
    echo "   consumer: $(cat "$DIR/$name.out")"
    local ms
    ms=$(sed -n 's/.* in \([0-9]*\) ms$/\1/p' "$DIR/$name.out")
    [ -n "$ms" ] && [ "$ms" -gt 0 ] && echo "   $((COUNT * 1000 / ms)) messages/s, every byte checked"
    echo
}

echo "== a ring file is just a file"
"$RINGCTL" create "$DIR/hello.ring" --capacity 4096 > /dev/null
"$RINGCTL" write "$DIR/hello.ring" "hello from Swift" "and a second message"
"$RINGCTL" inspect "$DIR/hello.ring" | grep -E "^(capacity|policy|producerPosition|consumerPosition|messageCount|producerRole|status) " | sed 's/^/   /'
"$RINGCTL" peek "$DIR/hello.ring" --format json | sed 's/^/   peek: /'
echo "   read by Python: $("$PYTHON" -c "import ringpy,sys; r=ringpy.Ring.open(sys.argv[1]); print(r.get_many(10))" "$DIR/hello.ring")"
echo

stream C "$PEER"
stream Python "$PYTHON" interop/python/ring_peer.py --no-checksum

echo "== overwrite-oldest: a persisted deque(maxlen), written and read by Swift"
"$RINGCTL" create "$DIR/deque.ring" --capacity 4096 --policy overwrite > /dev/null
"$WORKLOAD" produce "$DIR/deque.ring" --count 1000 --seed 3 --min-size 8 --max-size 100 > /dev/null
"$RINGCTL" inspect "$DIR/deque.ring" | grep -E "messageCount|droppedCount" | sed 's/^/   /'
"$WORKLOAD" consume "$DIR/deque.ring" --drain --seed 3 --min-size 8 --max-size 100 | sed 's/^/   /'
