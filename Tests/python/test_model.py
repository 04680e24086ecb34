"""Random operation sequences against a byte-exact pure-Python model of the format
(ringtools.RingModel, SPEC.md §4–§9), for both policies.

A producer handle and a consumer handle share one small ring (capacity 4096, messages of
0..300 bytes, sometimes up to the 2040-byte maximum), so wrap-around padding, full rings
and (under overwrite-oldest) dropped records all happen. After every step len(), the
positions, dropped_count and writer_closed must equal the model's, and every message read
must be the model's.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import ringpy
from ringpy import EmptyError, EndOfStreamError, FullError, InvalidSizeError, Policy, Ring
from ringtools import RingModel

CAPACITY = 4096
SIZES = st.integers(min_value=0, max_value=300)
BIG_SIZES = st.sampled_from([1000, 1016, 1500, 2000, 2040])
#: Initial positions: 0, near 2**32 and 2**64 (so positions wrap), or any multiple of 8.
STARTS = st.one_of(
    st.just(0),
    st.sampled_from([(1 << 32) - 8, (1 << 32) - 2048, (1 << 64) - 8, (1 << 64) - 1000, (1 << 64) - 4096]),
    st.integers(min_value=0, max_value=(1 << 61) - 1).map(lambda k: 8 * k),
)
#: Timeout of calls the model says succeed at once (so that a disagreement fails, not hangs).
WAIT = 0.01


class _RingMachine(RuleBasedStateMachine):
    POLICY: Policy = Policy.REJECT_WHEN_FULL

    def __init__(self) -> None:
        super().__init__()
        # tmpfs when there is one: creating a ring fsyncs, and shrinking creates many
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.directory = tempfile.mkdtemp(prefix="ringpy-model-", dir=shm)
        self.path = self.directory + "/ring"
        self.producer = self.consumer = None
        self.serial = 0
        self.producer_has_role = False

    @initialize(start=STARTS)
    def create(self, start):
        self.model = RingModel(CAPACITY, self.POLICY, start)
        self.producer = Ring.create(self.path, CAPACITY, self.POLICY, initial_position=start)
        self.consumer = Ring.open(self.path)

    def teardown(self) -> None:
        for r in (getattr(self, "producer", None), getattr(self, "consumer", None)):
            if r is not None:
                r.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- helpers
    def message(self, size: int) -> bytes:
        self.serial += 1
        stamp = b"%d," % self.serial
        return (stamp * (size // len(stamp) + 1))[:size]

    def took_producer_role(self) -> None:
        # Taking the producer role reopens the stream (SPEC.md §8.3).
        if not self.producer_has_role:
            self.model.writer_closed = False
            self.producer_has_role = True

    def expect_read(self, got, call: str) -> None:
        want = self.model.get()
        assert got == want, f"{call} returned {got!r}, the model says {want!r}"

    def empty_outcome(self):
        return EndOfStreamError if self.model.writer_closed else EmptyError

    @property
    def reject(self) -> bool:
        return self.POLICY == Policy.REJECT_WHEN_FULL

    # --- producer rules
    @rule(size=SIZES)
    def put(self, size):
        m = self.message(size)
        fits = self.model.fits(size)
        if fits or not self.reject:
            self.producer.put(m, timeout=WAIT)  # it must not need to wait
            self.took_producer_role()
            assert self.model.put(m)
        else:
            with pytest.raises(FullError):
                self.producer.put(m, timeout=0)
            self.took_producer_role()

    @rule(size=BIG_SIZES)
    def put_big(self, size):
        m = self.message(size)
        ok = self.producer.try_put(m)
        self.took_producer_role()
        assert ok == self.model.put(m), f"try_put of {size} bytes returned {ok}"

    @rule(size=SIZES)
    def try_put(self, size):
        m = self.message(size)
        ok = self.producer.try_put(m)
        self.took_producer_role()
        assert ok is self.model.put(m), f"try_put of {size} bytes returned {ok}"

    @rule(sizes=st.lists(SIZES, min_size=1, max_size=40))
    def fill(self, sizes):
        # try_put until the ring refuses (reject) or has wrapped (overwrite): exercises
        # the boundary where a record fits in the free space only without its padding.
        for n in sizes:
            m = self.message(n)
            ok = self.producer.try_put(m)
            self.took_producer_role()
            assert ok is self.model.put(m), f"try_put of {n} bytes returned {ok} at used={self.model.used}"
            if not ok:
                break

    @rule(size=SIZES)
    def put_with_timeout(self, size):
        m = self.message(size)
        if self.model.fits(size) or not self.reject:
            self.producer.put(m, timeout=0.001)
            self.took_producer_role()
            assert self.model.put(m)
        else:
            with pytest.raises(FullError):
                self.producer.put(m, timeout=0.001)
            self.took_producer_role()

    @rule(sizes=st.lists(SIZES, min_size=1, max_size=12))
    def put_many(self, sizes):
        items = [self.message(n) for n in sizes]
        before = len(self.model)
        if self.reject:
            expected = RingModel.put_many(self._copy_model(), items)
            if expected == len(items):
                assert self.producer.put_many(items, timeout=0) == len(items)
            else:
                with pytest.raises(FullError):
                    self.producer.put_many(items, timeout=0)
            self.took_producer_role()
            assert self.model.put_many(items) == expected
            assert len(self.model) == before + expected
        else:
            assert self.producer.put_many(items, timeout=WAIT) == len(items)
            self.took_producer_role()
            assert self.model.put_many(items) == len(items)

    @precondition(lambda self: self.producer_has_role)
    @rule()
    def put_too_large(self):
        with pytest.raises(InvalidSizeError):
            self.producer.put(bytes(self.model.max_message_size + 1))

    @precondition(lambda self: self.producer_has_role)
    @rule()
    def close_writer(self):
        self.producer.close_writer()
        self.producer_has_role = False
        self.model.writer_closed = True
        # That Ring writes no more (ClosedError): a later stream needs another Ring.
        self.producer.close()
        self.producer = Ring.open(self.path)

    @rule()
    def reopen_producer(self):
        # Giving up the role without closing the stream leaves writerState as it is.
        self.producer.close()
        self.producer = Ring.open(self.path)
        self.producer_has_role = False

    # --- consumer rules
    @rule()
    def get(self):
        if len(self.model):
            self.expect_read(self.consumer.get(timeout=WAIT), "get()")
        else:
            with pytest.raises(self.empty_outcome()):
                self.consumer.get(timeout=0)

    @rule()
    def get_with_timeout(self):
        if len(self.model):
            self.expect_read(self.consumer.get(timeout=0.001), "get(timeout)")
        else:
            with pytest.raises(self.empty_outcome()):
                self.consumer.get(timeout=0.001)

    @precondition(lambda self: not self.model.writer_closed or len(self.model) > 0)
    @rule()
    def try_get(self):
        got = self.consumer.try_get()
        if len(self.model):
            self.expect_read(got, "try_get()")
        else:
            assert got is None, f"try_get() on an empty ring returned {got!r}"

    @rule(n=st.integers(min_value=1, max_value=10))
    def get_many(self, n):
        if len(self.model) == 0 and self.model.writer_closed:
            with pytest.raises(EndOfStreamError):
                self.consumer.get_many(n)
            return
        got = self.consumer.get_many(n, timeout=0)
        want = self.model.get_many(n)
        assert got == want, f"get_many({n}) returned {got!r}, the model says {want!r}"

    @precondition(lambda self: len(self.model) > 0)
    @rule()
    def peek_all(self):
        assert self.consumer.peek_all() == self.model.messages()

    @rule(consume=st.booleans())
    def view(self, consume):
        if len(self.model) == 0:
            with pytest.raises(self.empty_outcome()):
                self.consumer.get_view(timeout=0)
            return
        v = self.consumer.get_view(timeout=WAIT)
        assert bytes(v) == self.model.peek()
        if consume:
            v.release()
            self.model.get()
        else:
            v.cancel()

    @rule()
    def reopen_consumer(self):
        self.consumer.close()
        self.consumer = Ring.open(self.path)

    # --- invariants
    @invariant()
    def state_matches_the_model(self):
        m = self.model
        # coverage notes (pytest --hypothesis-show-statistics)
        if any(r.payload is None for r in m.records):
            event("a padding record is committed")
        if m.dropped:
            event("records were dropped")
        if m.used > m.capacity - 64:
            event("the ring is (nearly) full")
        if m.writer_closed:
            event("the stream is closed")
        for ring in (self.consumer, self.producer):
            s = ring.stats()
            got = (s["producer_position"], s["consumer_position"], s["used_bytes"], s["message_count"],
                   s["dropped_count"], s["writer_closed"])
            want = (m.head, m.tail, m.used, len(m), m.dropped, m.writer_closed)
            assert got == want, (
                "(producer_position, consumer_position, used_bytes, message_count, dropped_count, "
                f"writer_closed) = {got}, the model says {want}"
            )
            assert len(ring) == len(m)

    # --- internal
    def _copy_model(self) -> RingModel:
        import copy

        return copy.deepcopy(self.model)


class RejectWhenFullMachine(_RingMachine):
    POLICY = Policy.REJECT_WHEN_FULL


class OverwriteOldestMachine(_RingMachine):
    POLICY = Policy.OVERWRITE_OLDEST


#: Shrinking a failing 40-step run takes Hypothesis up to 5 minutes; it is off unless
#: RINGPY_SHRINK=1 (a failure then shows the whole unshrunk step list).
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
if os.environ.get("RINGPY_SHRINK") == "1":
    _PHASES += (Phase.shrink,)

MACHINE_SETTINGS = settings(
    phases=_PHASES,
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestRejectWhenFull = RejectWhenFullMachine.TestCase
TestRejectWhenFull.settings = MACHINE_SETTINGS
TestOverwriteOldest = OverwriteOldestMachine.TestCase
TestOverwriteOldest.settings = MACHINE_SETTINGS


def test_model_reproduces_the_worked_examples():
    # The model itself, checked against SPEC.md §16.2 and §16.4.
    m = RingModel(4096, 0)
    m.put(b"a" * 2001)
    m.put(b"b" * 1901)
    m.get()
    m.put(b"c" * 301)
    assert (m.head, m.tail, m.used, len(m)) == (4408, 2016, 2392, 2)
    o = RingModel(4096, 1)
    for letter in b"ABCDE":
        o.put(bytes([letter]) * 1000)
    assert (o.head, o.tail, o.used, len(o), o.dropped) == (5104, 1008, 4096, 4, 1)
    assert o.get() == b"B" * 1000 and o.tail == 2016


def test_version_constant_used_by_the_model(tmp_path):
    """The model is of a ring without a reader table: a 1.0 file, though the module writes 1.1."""
    assert ringpy.FORMAT_VERSION == (1, 1)
    with Ring.create(tmp_path / "model.ring", CAPACITY) as ring:
        assert ring.stats()["version"] == (1, 0) and ring.reader_slots == 0
