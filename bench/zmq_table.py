#!/usr/bin/env python3
"""zmq_table.py - the ZeroMQ figures of run_all.py (issue #18): the bridge carrying a ring
to a ring (`ringctl bridge send` -> `ringctl bridge recv`), raw pyzmq PUSH/PULL one message
per frame, raw libzmq from C (bench/c/zmq_raw.c, the bandwidth reference), the transport's
packed frames (ring-zmq-bench zmq-push/zmq-pull: ZmqProducer.put(batch:) and
ZmqConsumer.get(maxCount:)) beside mm_toolbox-style packing in pure pyzmq
(bench/python/bench_zmq.py --packed), and the bridge's added latency at low load beside
raw libzmq's one-way latency; the "ZeroMQ" section of results.md with the targets of
issue #18.

Every sender runs in one network namespace, every receiver in another, joined by a veth
pair made here and removed on every exit path (as root; otherwise, or if `ip netns`
fails, everything runs over loopback and the table says so). Both namespaces are on one
host, so CLOCK_MONOTONIC is one clock: the latencies are (read time - write time stamped
in the message). A throughput figure is the receiver's messages/s between its first and
its last message. Each run is bounded in count and time (RUN_TIMEOUT).

run_all.py calls it with these lines:

    import zmq_table                        # beside `import wake_table`
    zmq = zmq_table.measure(args.python, args.runs)
                                            # in main(), after the wake figures
    "zmq": zmq                              # in the `result = {...}` of main()
    lines += zmq_table.render(result.get("zmq", []))
                                            # in render(), after the wake_table.render line

A record: case ("link", "throughput" or "latency"), impl (bridge, pyzmq, libzmq,
swift-transport, pyzmq-packed), size, runs, available, msgs_per_s and mb_per_s
{median, min, max}, or p50_us and p99_us {median, min, max}; options (ringctl bridge
options of a variant); error (failed).

A command line, to run it alone (root for the veth pair; needs .build/release/ringctl and
ring-zmq-bench, `swift build -c release --product ringctl` and `--product ring-zmq-bench`):

    bench/zmq_table.py --python .venv-bench/bin/python [--runs 1] [--quick]
        [--bridge-variant "--frame-bytes 262144"]... [--save]
    bench/zmq_table.py --render bench/results/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIZES = (64, 1024, 65536)
#: Messages per throughput run, per path and size: about a second or two each here.
COUNTS = {"bridge": {64: 2_000_000, 1024: 500_000, 65536: 20_000},
          "libzmq": {64: 2_000_000, 1024: 500_000, 65536: 20_000},
          "pyzmq": {64: 500_000, 1024: 400_000, 65536: 20_000},
          "swift-transport": {64: 4_000_000},
          "pyzmq-packed": {64: 2_000_000}}
#: Messages per packed frame of the packed paths (the transport's default maxMessagesPerFrame).
PACKED = 1024
LATENCY_RATE = 1000
LATENCY_COUNT = 3000
#: The longest a run may take before it is killed and recorded as failed.
RUN_TIMEOUT = 90
RING_CAPACITY = 1 << 26

TARGET_BRIDGE_64_MSGS = 5e6
TARGET_BRIDGE_VS_PYZMQ = 3.0
TARGET_BRIDGE_VS_LIBZMQ_64K = 0.8
TARGET_ADDED_P50_US = 50.0


def tool(name: str) -> str:
    return {"ringctl": os.path.join(ROOT, ".build", "release", "ringctl"),
            "bench": os.path.join(ROOT, ".build", "release", "ring-zmq-bench"),
            "zmq_raw": os.path.join(ROOT, "build", "zmq_raw")}[name]


def build_zmq_raw() -> str:
    """build/zmq_raw from bench/c/zmq_raw.c, if missing or older than its source."""
    out, src = tool("zmq_raw"), os.path.join(HERE, "c", "zmq_raw.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                        "-o", out, src, "-lzmq"], check=True)
    return out


class Link:
    """Where the senders and the receivers run: two network namespaces joined by a veth
    pair (root), else loopback. close() removes what it made."""

    def __init__(self) -> None:
        tag = str(os.getpid() % 100000)
        self.a, self.b = "rzbA" + tag, "rzbB" + tag
        self.made: list[str] = []
        self.host = "127.0.0.1"
        self.name = "loopback (tcp://127.0.0.1): not root, no network namespaces"
        if os.geteuid() != 0:
            return
        va, vb = "vzA" + tag, "vzB" + tag
        try:
            for ns in (self.a, self.b):
                self._ip("netns", "add", ns)
                self.made.append(ns)
            self._ip("link", "add", va, "type", "veth", "peer", "name", vb)
            self._ip("link", "set", va, "netns", self.a)
            self._ip("link", "set", vb, "netns", self.b)
            for ns, dev, addr in ((self.a, va, "10.78.0.1/24"), (self.b, vb, "10.78.0.2/24")):
                self._ip("-n", ns, "addr", "add", addr, "dev", dev)
                self._ip("-n", ns, "link", "set", dev, "up")
                self._ip("-n", ns, "link", "set", "lo", "up")
            self.host = "10.78.0.2"
            self.name = "veth pair between two network namespaces (10.78.0.1 -> 10.78.0.2, MTU 1500)"
        except (OSError, subprocess.CalledProcessError) as e:
            self.close()
            err = e.stderr.decode(errors="replace").strip() if getattr(e, "stderr", None) else str(e)
            self.name = f"loopback (tcp://127.0.0.1): network namespaces failed: {err[:160]}"

    @staticmethod
    def _ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def netns(self) -> bool:
        return bool(self.made)

    def sender(self, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.a, *cmd] if self.netns else cmd

    def receiver(self, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.b, *cmd] if self.netns else cmd

    def endpoint(self) -> str:
        with socket.socket() as s:  # a free port (on loopback; inside B nothing else listens)
            s.bind(("127.0.0.1", 0))
            return f"tcp://{self.host}:{s.getsockname()[1]}"

    def close(self) -> None:
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.made = []


def last_json(text: str) -> dict:
    lines = [l for l in text.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError("no result line")
    return json.loads(lines[-1])


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def pair(link: Link, receiver: list[str], senders: list[list[str]], settle: float = 0.3) -> dict:
    """Starts `receiver` in B, then `senders` in A; the receiver's JSON line."""
    procs = [subprocess.Popen(link.receiver(receiver), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    try:
        time.sleep(settle)
        for cmd in senders:
            procs.append(subprocess.Popen(link.sender(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        try:
            out, err = procs[0].communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {RUN_TIMEOUT} s: {' '.join(receiver)}")
        if procs[0].returncode != 0:
            raise RuntimeError(f"{' '.join(receiver)}: exit {procs[0].returncode}: {err.strip()[-300:]}")
        for p in procs[1:]:
            p.wait(timeout=15)
        return last_json(out)
    finally:
        stop(procs)


def bridge(link: Link, size: int, count: int, options: list[str], rate: int = 0) -> dict:
    """One run of the bridge: a producer writes the source ring (A), `ringctl bridge send`
    (A) carries it to `ringctl bridge recv` (B), which writes the destination ring, read (B)."""
    ringctl, bench = tool("ringctl"), tool("bench")
    d = tempfile.mkdtemp(prefix="ring-zmq-bench.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
    ep = link.endpoint()
    procs: list[subprocess.Popen] = []
    try:
        for path in (src, dst):
            subprocess.run([ringctl, "create", path, "--capacity", str(RING_CAPACITY)], check=True,
                           stdout=subprocess.DEVNULL)
        consumer = subprocess.Popen(link.receiver([bench, "ring-consume", dst] + (["--latency"] if rate else [])),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(consumer)
        logs = {}
        for side, wrap, cmd in (("recv", link.receiver, [ringctl, "bridge", "recv", dst, ep]),
                                ("send", link.sender, [ringctl, "bridge", "send", src, ep])):
            logs[side] = open(os.path.join(d, side + ".out"), "w+")
            procs.append(subprocess.Popen(wrap(cmd + options), stdout=logs[side], stderr=subprocess.STDOUT))
        # The producer starts once the sender streams (it logs the end of its handshake), so
        # no figure includes the connection's start.
        deadline = time.monotonic() + 20
        while "streaming from" not in open(logs["send"].name).read():
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the bridge did not connect: " + open(logs["send"].name).read()[-300:])
            time.sleep(0.02)
        produce = [bench, "ring-produce", src, "--size", str(size), "--count", str(count)]
        procs.append(subprocess.Popen(link.sender(produce + (["--rate", str(rate)] if rate else [])),
                                      stderr=subprocess.PIPE))
        try:
            out, err = consumer.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the bridge timed out after {RUN_TIMEOUT} s")
        if consumer.returncode != 0:
            raise RuntimeError(f"ring-consume: exit {consumer.returncode}: {err.strip()[-300:]}")
        for p in procs[1:]:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        result = last_json(out)
        for side, f in logs.items():
            f.seek(0)
            counters = [l.strip() for l in f if l.startswith("bridge ")]
            result[side] = counters[-1] if counters else ""
            f.close()
        if result["messages"] != count:
            raise RuntimeError(f"the destination got {result['messages']} of {count} messages")
        return result
    finally:
        stop(procs)
        shutil.rmtree(d, ignore_errors=True)


def ring_alone(count: int) -> dict:
    """The ring alone, write to read, as paced as the bridge's latency runs: one wake-up of a
    reader blocked on the futex, of which the bridge adds two (its sender's doorbell and
    the destination's reader)."""
    ringctl, bench = tool("ringctl"), tool("bench")
    d = tempfile.mkdtemp(prefix="ring-zmq-bench.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    path = os.path.join(d, "ring")
    try:
        subprocess.run([ringctl, "create", path, "--capacity", str(1 << 20)], check=True, stdout=subprocess.DEVNULL)
        consumer = subprocess.Popen([bench, "ring-consume", path, "--latency"], stdout=subprocess.PIPE, text=True)
        try:
            subprocess.run([bench, "ring-produce", path, "--size", "64", "--count", str(count), "--rate", str(LATENCY_RATE)],
                           check=True, timeout=RUN_TIMEOUT)
            out, _ = consumer.communicate(timeout=RUN_TIMEOUT)
        finally:
            stop([consumer])
        return last_json(out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def plan(link: Link, python: str, quick: bool, variants: list[list[str]]):
    """(record head, run) of every figure; run() gives one receiver result."""
    bench, raw = tool("bench"), build_zmq_raw()
    pyb = os.path.join(HERE, "python", "bench_zmq.py")
    scale = 10 if quick else 1

    def n(impl: str, size: int) -> int:
        return max(1000, COUNTS[impl][size] // scale)

    cases = []
    for size in SIZES:
        for options in variants:
            cases.append(({"case": "throughput", "impl": "bridge", "size": size, "options": " ".join(options)},
                          lambda s=size, o=options: bridge(link, s, n("bridge", s), o)))
        cases.append(({"case": "throughput", "impl": "pyzmq", "size": size},
                      lambda s=size: (lambda ep: pair(link, [python, pyb, "pull", ep],
                                                      [[python, pyb, "push", ep, "--size", str(s),
                                                        "--count", str(n("pyzmq", s))]]))(link.endpoint())))
        cases.append(({"case": "throughput", "impl": "libzmq", "size": size},
                      lambda s=size: (lambda ep: pair(link, [raw, "pull", ep],
                                                      [[raw, "push", ep, str(s), str(n("libzmq", s))]]))(link.endpoint())))
    cases.append(({"case": "throughput", "impl": "swift-transport", "size": 64, "packed": PACKED},
                  lambda: (lambda ep: pair(link, [bench, "zmq-pull", ep],
                                           [[bench, "zmq-push", ep, "--size", "64", "--count",
                                             str(n("swift-transport", 64)), "--batch", str(PACKED)]]))(link.endpoint())))
    cases.append(({"case": "throughput", "impl": "pyzmq-packed", "size": 64, "packed": PACKED},
                  lambda: (lambda ep: pair(link, [python, pyb, "pull", ep, "--packed"],
                                           [[python, pyb, "push", ep, "--size", "64", "--count",
                                             str(n("pyzmq-packed", 64)), "--packed", str(PACKED)]]))(link.endpoint())))
    lat = max(300, LATENCY_COUNT // scale)
    for options in variants:
        cases.append(({"case": "latency", "impl": "bridge", "size": 64, "rate": LATENCY_RATE, "options": " ".join(options)},
                      lambda o=options: bridge(link, 64, lat, o, rate=LATENCY_RATE)))
    cases.append(({"case": "latency", "impl": "ring", "size": 64, "rate": LATENCY_RATE},
                  lambda: ring_alone(lat)))
    cases.append(({"case": "latency", "impl": "libzmq", "size": 64, "rate": LATENCY_RATE},
                  lambda: (lambda ep: pair(link, [raw, "pull", ep, "latency"],
                                           [[raw, "push", ep, "64", str(lat), str(LATENCY_RATE)]]))(link.endpoint())))
    return cases


def measure(python: str, runs: int, quick: bool = False, variants: list[list[str]] | None = None) -> list[dict]:
    """Every figure, `runs` rounds of all of them (so a disturbance costs each figure one run)."""
    print("zeromq transport and bridge ...", flush=True)
    variants = variants or [[]]
    missing = [tool(t) for t in ("ringctl", "bench") if not os.path.exists(tool(t))]
    if missing:
        return [{"case": "link", "available": False, "reason": "missing: " + ", ".join(missing)}]

    def interrupted(signum, frame):  # SIGTERM: leave through the finally that removes the namespaces
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    link = Link()
    try:
        print(f"  link: {link.name}", flush=True)
        started = time.monotonic()
        try:
            cases = plan(link, python, quick, variants)
        except (OSError, subprocess.CalledProcessError) as e:
            return [{"case": "link", "link": link.name, "available": False, "reason": f"build of zmq_raw failed: {e}"}]
        results: list[list[dict]] = [[] for _ in cases]
        errors: list[str | None] = [None] * len(cases)
        for r in range(runs):
            for i, (head, run) in enumerate(cases):
                try:
                    results[i].append(run())
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
                    errors[i] = str(e)
                    print(f"  {head['impl']} {head['size']} B {head['case']}: FAILED: {e}", flush=True)
        records = [{"case": "link", "link": link.name, "cpus": os.cpu_count(),
                    "seconds": round(time.monotonic() - started, 1)}]
        for (head, _), rs, err in zip(cases, results, errors):
            rec = {**head, "runs": len(rs), "available": True}
            if not rs:
                records.append({**rec, "error": err or "no run"})
                continue
            if head["case"] == "throughput":
                rec["msgs_per_s"] = summarize([x["msgs_per_s"] for x in rs])
                rec["mb_per_s"] = summarize([x["mb_per_s"] for x in rs])
            else:
                rec["p50_us"] = summarize([x["p50_ns"] / 1000 for x in rs])
                rec["p99_us"] = summarize([x["p99_ns"] / 1000 for x in rs])
            if "send" in rs[-1]:
                rec["counters"] = {"send": rs[-1]["send"], "recv": rs[-1]["recv"]}
            if err:
                rec["error"] = err
            records.append(rec)
        return records
    finally:
        link.close()
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------------------
# The table


def find(records: list[dict], case: str, impl: str, size: int, options: str = "") -> dict | None:
    """The record of one figure (a bridge variant by its options), or None."""
    return next((r for r in records if r.get("case") == case and r.get("impl") == impl and r.get("size") == size
                 and r.get("options", "") == options), None)


def rate_text(m: dict) -> str:
    def f(v: float) -> str:
        return f"{v / 1e6:.2f} M" if v >= 1e5 else f"{v / 1e3:.1f} k"
    return f"{f(m['median'])} ({f(m['min'])}-{f(m['max'])})"


def render(records: list[dict]) -> list[str]:
    """The "ZeroMQ" section of results.md: one table, each figure beside its target."""
    if not records:
        return []
    link = next((r for r in records if r.get("case") == "link"), {})
    lines = ["", "### ZeroMQ: the bridge and the transport (issue #18)", ""]
    if not link.get("available", True):
        return lines + [f"Not measured: {link.get('reason', '')}"]
    runs = max((r.get("runs", 0) for r in records if r.get("case") != "link"), default=0)
    lines += [f"Link: {link.get('link', '?')}; senders in one namespace, receivers in the other. "
              f"Median of {runs} runs (min-max), {link.get('seconds', '?')} s in all. "
              f"{link.get('cpus', '?')} CPUs shared by every process of a run (a bridge run has four: "
              "producer, `bridge send`, `bridge recv`, reader) and by whatever else runs: noisy figures. "
              "Throughput: the receiver's messages/s between its first and its last message. "
              "Latency: read time minus the write time stamped in the message (one CLOCK_MONOTONIC), "
              f"{LATENCY_RATE} messages/s, the reader blocked (futex for the ring, zmq_msg_recv for libzmq).",
              "", "| figure | size | measured | MB/s | target (issue #18) | |", "|---|---|---|---|---|---|"]
    variants = []
    for r in records:
        if r.get("impl") == "bridge" and r.get("options", "") not in variants:
            variants.append(r.get("options", ""))
    names = {"bridge": "bridge, ring to ring (`ringctl bridge send|recv`)", "pyzmq": "pyzmq PUSH/PULL, one message per frame",
             "libzmq": "libzmq from C PUSH/PULL, one message per frame",
             "swift-transport": f"transport ZmqProducer/ZmqConsumer, packed ({PACKED} per frame)",
             "pyzmq-packed": f"pyzmq, mm_toolbox-style packing in Python ({PACKED} per frame)"}

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def median(r: dict | None, key: str) -> float | None:
        return r[key]["median"] if r and key in r else None

    def row(r: dict | None, name: str, size: int, target: str = "", ok: str = "") -> None:
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        if r is None:
            lines.append(f"| {name} | {label} | not measured | | {target} | |")
        elif "msgs_per_s" not in r:
            lines.append(f"| {name} | {label} | FAILED: {str(r.get('error', ''))[:100]} | | {target} | |")
        else:
            lines.append(f"| {name} | {label} | {rate_text(r['msgs_per_s'])} msg/s | {r['mb_per_s']['median']:,.0f} "
                         f"| {target} | {ok} |")

    for size in SIZES:
        py, lib = find(records, "throughput", "pyzmq", size), find(records, "throughput", "libzmq", size)
        for opt in variants:
            b = find(records, "throughput", "bridge", size, opt)
            name = names["bridge"] + (f" `{opt}`" if opt else "")
            bm = median(b, "msgs_per_s")
            if size == 64:
                pym = median(py, "msgs_per_s")
                parts, oks = [f">= {TARGET_BRIDGE_64_MSGS / 1e6:.0f} M msg/s"], []
                if bm is not None:
                    oks.append(f"{bm / TARGET_BRIDGE_64_MSGS:.2f}x: {verdict(bm >= TARGET_BRIDGE_64_MSGS)}")
                if pym:
                    parts.append(f">= {TARGET_BRIDGE_VS_PYZMQ:.0f}x pyzmq one per frame ({TARGET_BRIDGE_VS_PYZMQ * pym / 1e6:.2f} M)")
                    if bm is not None:
                        oks.append(f"{bm / pym:.2f}x pyzmq: {verdict(bm >= TARGET_BRIDGE_VS_PYZMQ * pym)}")
                row(b, name, size, "; ".join(parts), "; ".join(oks))
            elif size == 65536:
                lbw, bbw = median(lib, "mb_per_s"), median(b, "mb_per_s")
                target = f">= {TARGET_BRIDGE_VS_LIBZMQ_64K}x raw libzmq" + (f" ({TARGET_BRIDGE_VS_LIBZMQ_64K * lbw:,.0f} MB/s)" if lbw else "")
                ok = f"{bbw / lbw:.2f}x libzmq: {verdict(bbw >= TARGET_BRIDGE_VS_LIBZMQ_64K * lbw)}" if lbw and bbw else ""
                row(b, name, size, target, ok)
            else:
                row(b, name, size)
        row(py, names["pyzmq"], size)
        row(lib, names["libzmq"], size, "the bandwidth reference" if size == 65536 else "")
    sw, pp = find(records, "throughput", "swift-transport", 64), find(records, "throughput", "pyzmq-packed", 64)
    ppm = median(pp, "msgs_per_s")
    row(sw, names["swift-transport"], 64, "", f"{median(sw, 'msgs_per_s') / ppm:.1f}x pyzmq packed" if ppm and median(sw, "msgs_per_s") else "")
    row(pp, names["pyzmq-packed"], 64)
    raw = find(records, "latency", "libzmq", 64)
    raw50 = median(raw, "p50_us")
    for opt in variants:
        b = find(records, "latency", "bridge", 64, opt)
        name = f"bridge latency at {LATENCY_RATE} msg/s, write to read, p50 / p99" + (f" `{opt}`" if opt else "")
        if b is None or "p50_us" not in b:
            lines.append(f"| {name} | 64 B | {'FAILED: ' + str(b.get('error', ''))[:100] if b else 'not measured'} | | | |")
            continue
        lines.append(f"| {name} | 64 B | {b['p50_us']['median']:.1f} us ({b['p50_us']['min']:.1f}-{b['p50_us']['max']:.1f}) / "
                     f"{b['p99_us']['median']:.1f} us | | | |")
        if raw50 is not None:
            added = b["p50_us"]["median"] - raw50
            lines.append(f"| bridge added latency p50 (bridge p50 - raw libzmq p50)" + (f" `{opt}`" if opt else "")
                         + f" | 64 B | {added:.1f} us | | p50 < {TARGET_ADDED_P50_US:.0f} us | "
                         f"{verdict(added < TARGET_ADDED_P50_US)} |")
    if raw is None or "p50_us" not in raw:
        lines.append(f"| libzmq one-way latency at {LATENCY_RATE} msg/s, p50 / p99 | 64 B | "
                     f"{'FAILED: ' + str(raw.get('error', ''))[:100] if raw else 'not measured'} | | | |")
    else:
        lines.append(f"| libzmq from C one-way latency at {LATENCY_RATE} msg/s, p50 / p99 | 64 B | "
                     f"{raw['p50_us']['median']:.1f} us ({raw['p50_us']['min']:.1f}-{raw['p50_us']['max']:.1f}) / "
                     f"{raw['p99_us']['median']:.1f} us | | | |")
    ring = find(records, "latency", "ring", 64)
    if ring is not None and "p50_us" in ring:
        lines.append(f"| the ring alone, write to read (one futex wake-up; the bridge adds two) at {LATENCY_RATE} msg/s, "
                     f"p50 / p99 | 64 B | {ring['p50_us']['median']:.1f} us ({ring['p50_us']['min']:.1f}-"
                     f"{ring['p50_us']['max']:.1f}) / {ring['p99_us']['median']:.1f} us | | | |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv-bench", "bin", "python"),
                    help="a python with pyzmq (the benchmark virtualenv's)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a tenth of the messages")
    ap.add_argument("--bridge-variant", action="append", default=None, metavar="OPTIONS",
                    help="also measure the bridge with these `ringctl bridge` options (both sides); repeatable")
    ap.add_argument("--save", action="store_true", help="store the section in bench/results/results.json")
    ap.add_argument("--render", metavar="RESULTS_JSON", help="only print the section of stored results")
    args = ap.parse_args()
    if args.render:
        print("\n".join(render(json.load(open(args.render)).get("zmq", []))))
        return 0
    variants = [[]] + [shlex.split(v) for v in (args.bridge_variant or [])]
    records = measure(args.python, args.runs, args.quick, variants)
    print("\n".join(render(records)))
    if args.save:
        import run_all
        run_all.save_section("zmq", records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
