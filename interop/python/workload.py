"""The seeded interop workload of interop/README.md, in pure Python.

Message ``i`` of seed ``s`` with sizes in ``min_size..max_size``:

- size: ``min + splitmix64(s XOR (i * 0x2545F4914F6CDD1D)) mod (max - min + 1)``;
- byte ``j``: byte ``j`` of ``i`` (little-endian) if the size is at least 8 and ``j < 8``,
  else ``(i * 131 + j * 7 + s) mod 256``.

The stream checksum is FNV-1a 64 over each message's length (u32 little-endian) followed
by its bytes. The same definitions as Sources/RingWorkload/Workload.swift and
interop/c/workload.h, so the output of ``ring-workload`` and ``ring_peer`` can be compared with
values computed here.
"""

from __future__ import annotations

import functools

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
INDEX_MULTIPLIER = 0x2545F4914F6CDD1D

# (7 * j) mod 256 has period 256 in j.
_RAMP = bytes((7 * j) & 0xFF for j in range(256))
_ADD = [bytes((b + k) & 0xFF for b in range(256)) for k in range(256)]


def splitmix64(x: int) -> int:
    """The SplitMix64 finalizer (wrapping u64 arithmetic)."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def fnv1a64(data: bytes, value: int = FNV_OFFSET) -> int:
    """FNV-1a 64 of data, continuing from value."""
    for b in data:
        value = ((value ^ b) * FNV_PRIME) & MASK64
    return value


class StreamChecksum:
    """The interop checksum: FNV-1a 64 folded over (u32 LE length, bytes) of each message."""

    def __init__(self) -> None:
        self.value = FNV_OFFSET

    def add(self, message: bytes) -> None:
        v = self.value
        for b in len(message).to_bytes(4, "little") + bytes(message):
            v = ((v ^ b) * FNV_PRIME) & MASK64
        self.value = v

    def hex(self) -> str:
        return "0x%x" % self.value


class Workload:
    """The messages of one seeded workload."""

    def __init__(self, seed: int = 1, min_size: int = 0, max_size: int = 256) -> None:
        if not (0 <= min_size <= max_size):
            raise ValueError("need 0 <= min_size <= max_size")
        self.seed = seed & MASK64
        self.min_size = min_size
        self.max_size = max_size
        self._span = max_size - min_size + 1
        repeats = max_size // 256 + 1
        ramp = (_RAMP * repeats)[: max(max_size, 8)]
        # _rows[base][j] == (base + 7 * j) mod 256
        self._rows = [ramp.translate(_ADD[base]) for base in range(256)]

    def size(self, index: int) -> int:
        return self.min_size + splitmix64(self.seed ^ ((index * INDEX_MULTIPLIER) & MASK64)) % self._span

    def byte(self, index: int, offset: int, size: int) -> int:
        """Byte ``offset`` of message ``index`` (the slow reference definition)."""
        if size >= 8 and offset < 8:
            return (index >> (8 * offset)) & 0xFF
        return (index * 131 + offset * 7 + self.seed) & 0xFF

    def message(self, index: int) -> bytes:
        n = self.size(index)
        row = self._rows[(index * 131 + self.seed) & 0xFF]
        if n >= 8:
            return (index & MASK64).to_bytes(8, "little") + row[8:n]
        return row[:n]

    def matches(self, index: int, data: bytes) -> bool:
        return bytes(data) == self.message(index)

    @staticmethod
    def index_in(data: bytes) -> int | None:
        """The index a message of at least 8 bytes carries in its first 8 bytes."""
        if len(data) < 8:
            return None
        return int.from_bytes(bytes(data[:8]), "little")


@functools.lru_cache(maxsize=64)
def expected_checksum(seed: int, count: int, min_size: int = 0, max_size: int = 256) -> tuple[int, int]:
    """(checksum, total bytes) of messages 0..count-1 of a workload, as every consumer prints them."""
    w = Workload(seed, min_size, max_size)
    c = StreamChecksum()
    total = 0
    for i in range(count):
        m = w.message(i)
        c.add(m)
        total += len(m)
    return c.value, total
