"""Every ringpy read API under a racing producer process, both policies, exact accounting.

A C producer process (ring_peer, through libringformat.so) writes N self-checking messages
of the interop workload (bytes 0..7 carry the index; every byte is a function of the
index) with sizes from 8 bytes up to max_message_size (half the 64 KiB ring), so records
wrap and pad, then closes the stream. The Python consumer reads with one API, slowly,
until the end of the stream, and checks:

- every message it is given is exactly message ``index`` (its own self-check);
- indices strictly increase;
- received + gaps == produced;
- reject-when-full: no gaps; overwrite-oldest: gaps == stats()["dropped_count"].

peek_all() copies are checked the same way (a copy that fails is a bug). get_view()
views whose release() raises OverwrittenError are discarded (they count as gaps).

RING_RACE_LONG=1 (``make test-interop-long``) runs the long versions.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ringpy
from ringpy import Policy, Ring
from workload import Workload

LONG = os.environ.get("RING_RACE_LONG", "") not in ("", "0")
CAPACITY = 1 << 16
APIS = ["get", "try_get", "get_many", "get_view", "peek_all", "iteration"]
POLICIES = [Policy.REJECT_WHEN_FULL, Policy.OVERWRITE_OLDEST]


class Account:
    def __init__(self, workload: Workload, produced: int, api: str) -> None:
        self.w = workload
        self.produced = produced
        self.api = api
        self.expected = 0
        self.received = 0
        self.gaps = 0
        self.bad: list[str] = []
        self.out_of_order: list[str] = []

    def check(self, data) -> int | None:
        """The index of a message that passes its self-check, else None."""
        data = bytes(data)
        index = Workload.index_in(data)
        if index is None or index >= self.produced or data != self.w.message(index):
            return None
        return index

    def deliver(self, data) -> None:
        index = self.check(data)
        if index is None:
            if len(self.bad) < 5:
                self.bad.append(f"{self.api} gave a message that fails its check: {len(data)} bytes, "
                                f"index field {Workload.index_in(bytes(data))}, expected >= {self.expected}")
            else:
                self.bad.append("...")
            return
        if index < self.expected:
            self.out_of_order.append(f"index {index} after {self.expected - 1}")
            return
        self.gaps += index - self.expected
        self.expected = index + 1
        self.received += 1


def _slow(rng: random.Random) -> None:
    x = rng.random()
    if x < 0.05:
        time.sleep(rng.random() * 0.0005)


# A ringpy producer process: about as fast as the consumer, so the two race the whole run.
PYTHON_PRODUCER = """
import random, sys, time
sys.path.insert(0, {workload_dir!r})
import ringpy
from workload import Workload
path, count, seed, max_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
w = Workload(seed, 8, max_size)
rng = random.Random(seed)
with ringpy.Ring.open(path) as ring:
    for i in range(count):
        ring.put(w.message(i), timeout=30)
        if rng.random() < 0.02:
            time.sleep(rng.random() * 0.0005)
    ring.close_writer()
""".format(workload_dir=str(Path(__file__).resolve().parents[2] / "interop" / "python"))


def _run(api: str, policy: Policy, ring_path, ring_peer: str, ring_peer_env: dict, producer_kind: str) -> None:
    if policy == Policy.REJECT_WHEN_FULL:
        produced = 20_000 if LONG else 1_500
    else:
        produced = 500_000 if LONG else 60_000
    seed = 1000 + APIS.index(api) * 2 + int(policy)
    ring = Ring.create(ring_path, CAPACITY, policy)
    max_size = ring.max_message_size
    w = Workload(seed, 8, max_size)
    account = Account(w, produced, api)
    rng = random.Random(seed)
    peeked_copies = 0
    peek_bad: list[str] = []
    overwritten = 0
    # The consumer role first, then the producer process.
    ring.try_get()
    if producer_kind == "c":
        command = [ring_peer, "produce", str(ring_path), "--count", str(produced), "--seed", str(seed),
                   "--min-size", "8", "--max-size", str(max_size), "--timeout-ms", "30000", "--close"]
    else:
        command = [sys.executable, "-c", PYTHON_PRODUCER, str(ring_path), str(produced), str(seed), str(max_size)]
    producer = subprocess.Popen(command, env=ring_peer_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + (900 if LONG else 60)
    ended = False
    try:
        if api == "iteration":
            for m in ring:
                account.deliver(m)
                _slow(rng)
                if time.monotonic() > deadline:
                    break
            else:
                ended = True
        while not ended and time.monotonic() < deadline:
            try:
                if api == "get":
                    account.deliver(ring.get(timeout=5))
                elif api == "try_get":
                    m = ring.try_get()
                    if m is None:
                        time.sleep(0.0001)
                        continue
                    account.deliver(m)
                elif api == "get_many":
                    for m in ring.get_many(rng.randint(1, 8), timeout=1.0):
                        account.deliver(m)
                elif api == "get_view":
                    view = ring.get_view(timeout=5)
                    data = bytes(view)
                    if rng.random() < 0.25:
                        time.sleep(rng.random() * 0.0004)
                    try:
                        view.release()
                    except ringpy.OverwrittenError:
                        assert policy == Policy.OVERWRITE_OLDEST
                        overwritten += 1
                        continue
                    account.deliver(data)
                elif api == "peek_all":
                    copies = ring.peek_all()
                    last = account.expected
                    for c in copies:
                        peeked_copies += 1
                        index = account.check(c)
                        if index is None or index < last:
                            peek_bad.append(f"copy of {len(c)} bytes, index field {Workload.index_in(bytes(c))}, "
                                            f"expected >= {last}")
                        else:
                            last = index + 1
                    m = ring.try_get()
                    if m is None:
                        time.sleep(0.0001)
                        continue
                    account.deliver(m)
            except ringpy.EndOfStreamError:
                ended = True
                break
            except ringpy.EmptyError:
                continue
            _slow(rng)
        out, err = producer.communicate(timeout=60)
        assert producer.returncode == 0, f"producer failed: {out} {err}"
        stats = ring.stats()
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
        ring.close()
    tail = produced - account.expected
    summary = (f"{api} {policy.name}: produced {produced} received {account.received} gaps {account.gaps} "
               f"tail {tail} dropped_count {stats['dropped_count']} bad {len(account.bad)} "
               f"peeked {peeked_copies} bad copies {len(peek_bad)} overwritten views {overwritten}")
    print(summary)
    assert ended, f"no EndOfStreamError within the time limit: {summary}"
    assert not account.bad, f"{summary}: {account.bad}"
    assert not account.out_of_order, f"{summary}: {account.out_of_order[:5]}"
    assert not peek_bad, f"{summary}: peek_all copies fail their check: {peek_bad[:5]}"
    assert tail == 0, summary
    assert account.received + account.gaps == produced, summary
    if policy == Policy.REJECT_WHEN_FULL:
        assert account.gaps == 0 and stats["dropped_count"] == 0, summary
    else:
        assert account.gaps == stats["dropped_count"], summary


@pytest.mark.parametrize("policy", POLICIES, ids=["reject", "overwrite"])
@pytest.mark.parametrize("api", APIS)
def test_read_api_under_racing_python_producer(api, policy, ring_path, ring_peer, ring_peer_env):
    _run(api, policy, ring_path, ring_peer, ring_peer_env, "python")


@pytest.mark.parametrize("api", ["get_many", "get_view", "peek_all"])
def test_read_api_under_racing_c_producer(api, ring_path, ring_peer, ring_peer_env):
    """The same with the C ring_peer as the (much faster) producer, overwrite-oldest."""
    _run(api, Policy.OVERWRITE_OLDEST, ring_path, ring_peer, ring_peer_env, "c")
