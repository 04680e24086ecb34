#!/usr/bin/env bash
# compare_builds.sh [REV] [ROUNDS] - single-producer throughput of this tree against the build
# of REV (default 21afeba, the last commit before several producers), the same ring-bench
# throughput runs interleaved round by round (64 B single writes, 64 B batches of 256, 1 KiB
# single writes), medians printed: issue #15's "single-producer figures within 5% of today's".
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-21afeba}
rounds=${2:-7}
old=$(mktemp -d /tmp/ringformat-old-XXXXXX)
trap 'git worktree remove --force "$old" > /dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$old" "$rev"
swift build -c release --product ring-bench --package-path "$old" --scratch-path "$old/.build" > /dev/null
swift build -c release --product ring-bench > /dev/null
python3 - "$old/.build/release/ring-bench" .build/release/ring-bench "$rounds" <<'PY'
import json, statistics, subprocess, sys
old, new, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cases = {"64 B single": ["--size", "64", "--count", "5000000"],
         "64 B batch 256": ["--size", "64", "--count", "5000000", "--batch", "256"],
         "1 KiB single": ["--size", "1024", "--count", "1000000"]}
got = {(b, c): [] for b in ("before", "now") for c in cases}
for _ in range(rounds):
    for c, a in cases.items():
        for b, exe in (("before", old), ("now", new)):
            out = subprocess.run([exe, "throughput", *a], check=True, capture_output=True, text=True).stdout
            got[(b, c)].append(json.loads(out.strip().splitlines()[-1])["msgs_per_s"])
for c in cases:
    before, now = statistics.median(got[("before", c)]), statistics.median(got[("now", c)])
    print(f"{c}: before {before / 1e6:.2f} M/s, now {now / 1e6:.2f} M/s, {now / before:.3f}x (median of {rounds})")
PY
