"""Helpers shared by the ringpy tests: raw file surgery on ring files (SPEC.md §3),
a pure-Python model of the format's byte positions (SPEC.md §4–§9), and running the
interop peers (interop/README.md)."""

from __future__ import annotations

import collections
import os
import re
import struct
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY_PEER = ROOT / "interop" / "python" / "ring_peer.py"

# --- SPEC.md constants -------------------------------------------------------------

MAGIC_BYTES = b"RINGFMT\x00"
HEADER_SIZE = 4096
CHECKSUM_COVERED_BYTES = 124
RECORD_KIND_MESSAGE = 1
RECORD_KIND_PADDING = 2
MAX_MESSAGE_SIZE_LIMIT = 0x7FFFFFF8
MASK64 = (1 << 64) - 1

#: name -> (offset, struct format) of the header fields (SPEC.md §3).
FIELDS = {
    "magic": (0, "<Q"),
    "version_major": (8, "<H"),
    "version_minor": (10, "<H"),
    "header_size": (12, "<I"),
    "capacity": (16, "<Q"),
    "policy": (24, "<I"),
    "incompat_flags": (28, "<I"),
    "compat_flags": (32, "<I"),
    "reader_slots": (36, "<I"),
    "producer_slots": (40, "<I"),
    "item_size": (44, "<I"),
    "item_alignment": (48, "<I"),
    "type_length": (52, "<I"),
    "type_checksum": (56, "<I"),
    "checksum": (124, "<I"),
    "producer_position": (128, "<Q"),
    "claim_position": (136, "<Q"),
    "dropped_count": (144, "<Q"),
    "writer_state": (152, "<I"),
    "next_index": (160, "<Q"),
    "reclaim_sequence": (168, "<I"),
    "held_claims": (176, "<I"),
    "reclaim_owner": (180, "<I"),
    "producer_owner": (248, "<Q"),
    "consumer_position": (256, "<Q"),
    "consumed_count": (264, "<Q"),
    "consumer_owner": (376, "<Q"),
    "data_signal": (384, "<I"),
    "reader_waiters": (388, "<I"),
    "space_signal": (392, "<I"),
    "writer_waiters": (396, "<I"),
    # record header fields, relative to a record's file offset
    "record_length": (0, "<I"),
    "record_kind": (4, "<I"),
    "record_index": (8, "<Q"),
}


def align8(n: int) -> int:
    return (n + 7) & ~7


def read_bytes(path, offset: int, count: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, count, offset)
    finally:
        os.close(fd)
    assert len(data) == count, f"short read of {path} at {offset}"
    return data


def write_bytes(path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        n = os.pwrite(fd, data, offset)
    finally:
        os.close(fd)
    assert n == len(data)


def put_field(path, name: str, value: int, base: int = 0) -> None:
    offset, fmt = FIELDS[name]
    write_bytes(path, base + offset, struct.pack(fmt, value))


def get_field(path, name: str, base: int = 0) -> int:
    offset, fmt = FIELDS[name]
    return struct.unpack(fmt, read_bytes(path, base + offset, struct.calcsize(fmt)))[0]


def header_checksum(path) -> int:
    return zlib.crc32(read_bytes(path, 0, CHECKSUM_COVERED_BYTES))


def fix_checksum(path) -> None:
    """Rewrites headerChecksum so that a deliberate change of the identity line passes it."""
    put_field(path, "checksum", header_checksum(path))


# --- the model -----------------------------------------------------------------------


class ModelInvalidSize(Exception):
    pass


@dataclass
class Record:
    position: int
    size: int
    payload: bytes | None  # None: a padding record


class RingModel:
    """Byte-exact model of one ring (SPEC.md §4–§9), single-threaded.

    Records are kept from consumerPosition (tail) to producerPosition (head). A put of L
    bytes needs a record of align8(8 + L) bytes, preceded by a padding record of
    (capacity - offset) bytes if it would cross the end of the data region.
    Reject-when-full refuses when capacity - used < needed; overwrite-oldest drops the
    oldest records (padding records are not counted as dropped) until it fits.
    """

    def __init__(self, capacity: int = 4096, policy: int = 0, initial_position: int = 0) -> None:
        self.capacity = capacity
        self.policy = int(policy)
        self.max_message_size = min(capacity // 2 - 8, MAX_MESSAGE_SIZE_LIMIT)
        self.head = initial_position
        self.tail = initial_position
        self.records: collections.deque[Record] = collections.deque()
        self.dropped = 0
        self.writer_closed = False

    # state
    @property
    def used(self) -> int:
        return (self.head - self.tail) & MASK64

    def messages(self) -> list[bytes]:
        return [r.payload for r in self.records if r.payload is not None]

    def __len__(self) -> int:
        return sum(1 for r in self.records if r.payload is not None)

    # producer
    def plan(self, length: int) -> tuple[int, int]:
        """(padding bytes, record bytes) of a message of `length` bytes at the head."""
        size = align8(8 + length)
        to_end = self.capacity - (self.head & (self.capacity - 1))
        pad = to_end if size > to_end else 0
        return pad, size

    def fits(self, length: int) -> bool:
        pad, size = self.plan(length)
        return self.capacity - self.used >= pad + size

    def put(self, payload: bytes) -> bool:
        """True if written; False if the ring is full (reject-when-full)."""
        payload = bytes(payload)
        if len(payload) > self.max_message_size:
            raise ModelInvalidSize(len(payload))
        pad, size = self.plan(len(payload))
        if self.policy == 0:
            if self.capacity - self.used < pad + size:
                return False
        else:
            while self.capacity - self.used < pad + size:
                oldest = self.records.popleft()
                assert oldest.position == self.tail
                self.tail = (self.tail + oldest.size) & MASK64
                if oldest.payload is not None:
                    self.dropped += 1
        if pad:
            self.records.append(Record(self.head, pad, None))
            self.head = (self.head + pad) & MASK64
        self.records.append(Record(self.head, size, payload))
        self.head = (self.head + size) & MASK64
        return True

    def put_many(self, payloads) -> int:
        """Writes the longest prefix that fits (sequentially); returns its length."""
        payloads = [bytes(p) for p in payloads]
        if any(len(p) > self.max_message_size for p in payloads):
            raise ModelInvalidSize(max(len(p) for p in payloads))
        n = 0
        for p in payloads:
            if not self.put(p):
                break
            n += 1
        return n

    # consumer
    def get(self) -> bytes | None:
        """The oldest message (skipping a padding record before it), or None if empty."""
        if not self.records:
            return None
        first = self.records.popleft()
        self.tail = (self.tail + first.size) & MASK64
        if first.payload is None:
            assert self.records, "padding is never the last committed record"
            first = self.records.popleft()
            assert first.payload is not None, "two padding records in a row"
            self.tail = (self.tail + first.size) & MASK64
        return first.payload

    def get_many(self, max_items: int) -> list[bytes]:
        out = []
        while len(out) < max_items:
            m = self.get()
            if m is None:
                break
            out.append(m)
        return out

    def peek(self) -> bytes | None:
        for r in self.records:
            if r.payload is not None:
                return r.payload
        return None


# --- threads and processes -------------------------------------------------------------


def run_with_deadline(fn, seconds: float, what: str):
    """Runs fn() in a daemon thread; fails the test (instead of hanging) if it takes longer."""
    box: dict = {}

    def body():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise AssertionError(f"{what} did not return within {seconds} s (it hangs)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


#: The line of every consumer and reader (a reader's adds "missed M", the library's count).
CONSUMED_RE = re.compile(
    r"consumed (\d+) messages (\d+) bytes checksum (0x[0-9a-f]+) overwritten (\d+)(?: missed (\d+))? in \d+ ms"
)
PRODUCED_RE = re.compile(r"produced (\d+) messages in \d+ ms")


@dataclass
class Consumed:
    messages: int
    bytes: int
    checksum: int
    overwritten: int
    #: A reader's line: the library's missed count; None for a consumer's.
    missed: int | None = None


def parse_consumed(output: str) -> Consumed:
    m = CONSUMED_RE.search(output)
    assert m, f"no 'consumed ...' line in consumer output: {output!r}"
    missed = None if m.group(5) is None else int(m.group(5))
    return Consumed(int(m.group(1)), int(m.group(2)), int(m.group(3), 16), int(m.group(4)), missed)


def python_peer_command(*args: str) -> list[str]:
    return [sys.executable, str(PY_PEER), *args]


def start(cmd: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(p: subprocess.Popen, timeout: float, what: str) -> str:
    """Waits for p; fails with its output if it times out or exits non-zero. Returns stdout."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"{what} did not finish within {timeout} s\nstdout: {out}\nstderr: {err}")
    assert p.returncode == 0, f"{what} exited with {p.returncode}\nstdout: {out}\nstderr: {err}"
    return out
