#!/usr/bin/env bash
# demo.sh - two processes share one ring file: a producer streams seeded
# messages, a consumer checks every byte and reports the rate.
set -euo pipefail
cd "$(dirname "$0")/.."
RINGCTL=${RINGCTL:-.build/release/ringctl}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ringformat-demo.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
RING="$DIR/demo.ring"
COUNT=${COUNT:-2000000}

echo "== a ring file, two processes =="
"$RINGCTL" create "$RING" --capacity 1048576
"$RINGCTL" write "$RING" "hello from one process" "and another message"
"$RINGCTL" inspect "$RING" | sed 's/^/   /'
echo "-- read back by another process:"
"$RINGCTL" read "$RING" --all | sed 's/^/   /'

echo
echo "== streaming $COUNT messages of 0..256 bytes between two processes =="
"$RINGCTL" consume "$RING" --until-end --seed 7 --max-size 256 --timeout-ms 30000 > "$DIR/consumer.out" &
CONSUMER=$!
"$RINGCTL" produce "$RING" --count "$COUNT" --seed 7 --max-size 256 --batch 64 --close --timeout-ms 30000
wait "$CONSUMER"
cat "$DIR/consumer.out"
MS=$(sed -n 's/.* in \([0-9]*\) ms$/\1/p' "$DIR/consumer.out")
if [ -n "$MS" ] && [ "$MS" -gt 0 ]; then
    echo "consumer rate: $((COUNT * 1000 / MS)) messages/s (every byte checked)"
fi

echo
echo "== overwrite-oldest: a persisted deque(maxlen) =="
"$RINGCTL" create "$DIR/deque.ring" --capacity 4096 --policy overwrite
"$RINGCTL" produce "$DIR/deque.ring" --count 1000 --seed 3 --min-size 8 --max-size 100
"$RINGCTL" inspect "$DIR/deque.ring" | grep -E "messageCount|droppedCount" | sed 's/^/   /'
echo "-- the consumer gets the newest messages, in order, each one whole:"
"$RINGCTL" consume "$DIR/deque.ring" --drain --seed 3 --min-size 8 --max-size 100
