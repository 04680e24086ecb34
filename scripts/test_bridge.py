#!/usr/bin/env python3
"""The bridge end to end (SPEC.md §24): `ringctl bridge send` -> `ringctl bridge recv`.

A seeded producer (ring-workload produce) writes N self-checking messages of random sizes
(the index in the first 8 bytes, every byte derived from it) into a source ring and closes
the stream; a consumer (ring-workload consume --until-end) reads the destination ring and
fails at the first message that is not the next index, whole and exact, then requires
exactly N before END. So a pass means: every message once, in order, none lost, none
repeated. Scenarios:

  loopback            tcp://127.0.0.1, nothing disturbed
  kill-sender         the sender killed -9 and restarted, several times mid-stream
  kill-receiver       the receiver killed -9 and restarted, several times mid-stream
  netns               as root: across two network namespaces joined by a veth pair made
                      here (10.77.0.1/24 and 10.77.0.2/24 inside them only), undisturbed
  netns-cut           the same, with the link cut (ip link set ... down) and restored
                      mid-stream: 0.5 s and 4 s cuts in turn
  curve               loopback with CURVE (if this libzmq has it): the sender's key on the
                      receiver's allow-list; a sender with another key is refused first

Without root the netns scenarios are skipped, and the output says so. Every scenario is
bounded in time (--seconds); the namespaces are removed on every exit path.
"""

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

MIN_SIZE, MAX_SIZE = 8, 512


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Namespaces:
    """Two network namespaces and a veth pair between them; removed by close()."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.a, self.b = "rbA" + tag, "rbB" + tag
        self.va, self.vb = "vrA" + tag, "vrB" + tag
        self.made = []
        try:
            for ns in (self.a, self.b):
                self.run("ip", "netns", "add", ns)
                self.made.append(ns)
            self.run("ip", "link", "add", self.va, "type", "veth", "peer", "name", self.vb)
            self.run("ip", "link", "set", self.va, "netns", self.a)
            self.run("ip", "link", "set", self.vb, "netns", self.b)
            for ns, dev, addr in ((self.a, self.va, "10.77.0.1/24"), (self.b, self.vb, "10.77.0.2/24")):
                self.run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
                self.run("ip", "-n", ns, "link", "set", dev, "up")
                self.run("ip", "-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def run(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def cut(self, down):
        self.run("ip", "-n", self.a, "link", "set", self.va, "down" if down else "up")

    def close(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.made = []


class Scenario:
    def __init__(self, args, name, netns=None):
        self.args, self.name, self.netns = args, name, netns
        self.dir = tempfile.mkdtemp(prefix="bridge-%s." % name)
        self.src, self.dst = os.path.join(self.dir, "src"), os.path.join(self.dir, "dst")
        port = free_port()
        host = "10.77.0.2" if netns else "127.0.0.1"
        self.endpoint = "tcp://%s:%d" % (host, port)
        self.procs = []
        self.curve = None

    def wrap(self, side, cmd):
        if self.netns:
            return ["ip", "netns", "exec", self.netns.a if side == "send" else self.netns.b] + cmd
        return cmd

    def start(self, side):
        r = self.args.ringctl
        if side == "send":
            cmd = [r, "bridge", "send", self.src, self.endpoint, "--name", "t"]
            if self.curve:
                cmd += ["--curve-secret-file", self.curve["client"], "--curve-server-key", self.curve["server_public"]]
        else:
            cmd = [r, "bridge", "recv", self.dst, self.endpoint]
            if self.curve:
                cmd += ["--curve-secret-file", self.curve["server"], "--allow-key", self.curve["client_public"]]
        err = open(os.path.join(self.dir, side + ".err"), "a")
        out = open(os.path.join(self.dir, side + ".out"), "a")
        p = subprocess.Popen(self.wrap(side, cmd), stdout=out, stderr=err)
        self.procs.append(p)
        return p

    def run(self):
        a = self.args
        n = a.count
        subprocess.run([a.ringctl, "create", self.src, "--capacity", str(a.capacity)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([a.ringctl, "create", self.dst, "--capacity", str(a.capacity)], check=True, stdout=subprocess.DEVNULL)
        if self.name == "curve":
            self.curve = {}
            for who in ("server", "client", "stranger"):
                out = subprocess.run([a.ringctl, "bridge", "keygen"], check=True, capture_output=True, text=True).stdout
                keys = dict(line.split(" ", 1) for line in out.splitlines())
                path = os.path.join(self.dir, who + ".secret")
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write(keys["secret"] + "\n")
                self.curve[who] = path
                self.curve[who + "_public"] = keys["public"]
        sizes = ["--min-size", str(MIN_SIZE), "--max-size", str(MAX_SIZE), "--seed", "18"]
        consumer = subprocess.Popen([a.workload, "consume", self.dst, "--count", str(n), "--until-end",
                                     "--timeout-ms", str(a.seconds * 1000)] + sizes,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(consumer)
        sides = {"recv": self.start("recv")}
        stranger_refused = None
        if self.curve:
            # A sender whose key is not on the list: the ZAP handler refuses its connection.
            stranger = subprocess.run(
                ["timeout", "2", a.ringctl, "bridge", "send", self.src, self.endpoint, "--name", "stranger",
                 "--curve-secret-file", self.curve["stranger"], "--curve-server-key", self.curve["server_public"]],
                capture_output=True, text=True)
            stranger_refused = stranger.returncode == 124 and "records_sent=0" in stranger.stdout
        sides["send"] = self.start("send")
        producer = subprocess.Popen([a.workload, "produce", self.src, "--count", str(n), "--batch", "64", "--close",
                                     "--timeout-ms", str(a.seconds * 1000)] + sizes,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(producer)
        start = time.monotonic()
        deadline = start + a.seconds
        rng = random.Random(18)
        disturbances = 0
        target = {"kill-sender": "send", "kill-receiver": "recv"}.get(self.name)
        # Disturb while the stream runs: a kill -9 and a restart, or a cut of the link.
        while consumer.poll() is None and time.monotonic() < deadline and disturbances < a.disturbances:
            if target is None and not self.name.endswith("cut"):
                break
            time.sleep(rng.uniform(0.3, 1.0))
            if consumer.poll() is not None:
                break
            if target:
                sides[target].send_signal(signal.SIGKILL)
                sides[target].wait()
                time.sleep(rng.uniform(0.05, 0.4))
                sides[target] = self.start(target)
            else:
                # Short cuts TCP rides out; long ones (past the 1.5 s peer and ZMTP heartbeat
                # timeouts) end the connection, and the sides reconnect and resume.
                self.netns.cut(True)
                time.sleep(0.5 if disturbances % 2 else 4.0)
                self.netns.cut(False)
            disturbances += 1
        # Wait for the consumer. A side that exits with an error will not carry the rest (a
        # refused command line, a bad key): that ends the wait at once, with its words.
        failed = None
        while consumer.poll() is None and time.monotonic() < deadline and failed is None:
            failed = next((side for side, p in sides.items() if p.poll() not in (None, 0)), None)
            time.sleep(0.05)
        try:
            out, _ = consumer.communicate(timeout=1 if failed else max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            consumer.kill()
            out, _ = consumer.communicate()
            if failed:
                with open(os.path.join(self.dir, failed + ".err")) as f:
                    words = " / ".join(f.read().strip().splitlines()[-2:])
                out += " (stopped: bridge %s exited with status %d: %s)" % (failed, sides[failed].returncode, words)
            else:
                out += " (timed out after %d s)" % a.seconds
        elapsed = time.monotonic() - start
        try:
            producer_out = producer.communicate(timeout=30)[0].strip()
        except subprocess.TimeoutExpired:
            producer.kill()
            producer_out = producer.communicate()[0].strip() + " (killed: still writing 30 s after the consumer)"
        # Both sides end by themselves once END is carried.
        for side, p in sides.items():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        stats = {}
        for side in ("send", "recv"):
            with open(os.path.join(self.dir, side + ".out")) as f:
                lines = [l for l in f.read().splitlines() if l.startswith("bridge ")]
            stats[side] = lines[-1] if lines else "(no counters: it did not exit by itself)"
        m = re.search(r"consumed (\d+) messages", out)
        ok = consumer.returncode == 0 and m and int(m.group(1)) == n and all("ended=1" in s for s in stats.values())
        if self.curve:
            refusals = re.search(r"unknown_keys=(\d+)", stats["recv"])
            ok = ok and stranger_refused and refusals and int(refusals.group(1)) >= 1
        what = {"kill-sender": "kills of the sender", "kill-receiver": "kills of the receiver",
                "netns-cut": "link cuts"}.get(self.name)
        extra = (", %d %s" % (disturbances, what)) if what else ""
        print("%-14s %s: %d messages%s in %.1f s (%.0f msg/s): %s" % (
            self.name, "ok" if ok else "FAILED", n, extra, elapsed, n / elapsed, out.strip()))
        print("               send: %s" % stats["send"].replace("bridge send ", ""))
        print("               recv: %s" % stats["recv"].replace("bridge recv ", ""))
        if not ok:
            print("               producer: %s; logs in %s" % (producer_out, self.dir))
        return ok

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringctl", default=".build/debug/ringctl")
    ap.add_argument("--workload", default=".build/debug/ring-workload")
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--capacity", type=int, default=1 << 20)
    ap.add_argument("--seconds", type=int, default=300, help="bound of each scenario")
    ap.add_argument("--disturbances", type=int, default=3, help="kills or cuts per scenario")
    ap.add_argument("--only", nargs="*", help="run only these scenarios")
    a = ap.parse_args()
    names = ["loopback", "kill-sender", "kill-receiver"]
    curve = subprocess.run([a.ringctl, "bridge", "keygen"], capture_output=True).returncode == 0
    if curve:
        names.append("curve")
    else:
        print("this libzmq has no CURVE: the curve scenario is skipped")
    root = os.geteuid() == 0
    if root:
        names += ["netns", "netns-cut"]
    else:
        print("not root: loopback only (the netns scenarios need root to make namespaces)")
    if a.only:
        names = [x for x in names if x in a.only]
    netns = None
    failed = 0
    try:
        for name in names:
            if name.startswith("netns") and netns is None:
                netns = Namespaces()
                print("namespaces %s (10.77.0.1) and %s (10.77.0.2), veth %s-%s" % (netns.a, netns.b, netns.va, netns.vb))
            s = Scenario(a, name, netns if name.startswith("netns") else None)
            try:
                failed += not s.run()
            finally:
                s.close()
    finally:
        if netns:
            netns.close()
            print("namespaces removed")
    print("test_bridge: %s" % ("all passed" if not failed else "%d FAILED" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    # SIGTERM (a bounded make, a CI timeout) still removes the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
