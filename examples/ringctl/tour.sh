#!/usr/bin/env bash
# tour.sh - an operator's session with ringctl on one ring file: create, write, look without
# consuming (peek, tail, inspect, validate, list), follow a live ring (tail -f), read.
# README.md quotes the region "tour"; scripts/run_examples.sh runs this and checks its output.
#     tour.sh DIR      (RINGCTL: the ringctl to use, default ringctl on PATH)
set -euo pipefail
DIR=$1
ringctl() { "${RINGCTL:-ringctl}" "$@"; }
cd "$DIR"

# example-begin tour
ringctl create events.ring --capacity 65536          # 64 KiB of data region, allocated now
ringctl write events.ring "hello" "world"            # takes the producer role for a moment
ringctl peek events.ring                             # the unread messages; consumes nothing
ringctl peek events.ring --format json               # {"position":0,"length":5,"text":"hello"} ...
ringctl inspect events.ring | grep -E '^(messageCount|producerRole|status) '
ringctl inspect --json events.ring > state.json      # every header field, roles, waiters
ringctl validate events.ring                         # exit 0: a sound ring
ringctl list .                                       # the ring files here, with their state
ringctl tail -f -n 0 events.ring > followed.txt &    # prints each new message as it comes
sleep 0.2
ringctl write events.ring "third" --close            # --close ends the stream: tail -f exits
wait
cat followed.txt
ringctl read events.ring --all                       # consumes: hello, world, third
# example-end tour
