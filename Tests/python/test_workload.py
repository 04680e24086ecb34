"""The Python copy of the interop workload (workload.py) against known values, so the
cross-language checksum comparisons test the ring rather than the workload."""

from __future__ import annotations

from workload import FNV_OFFSET, StreamChecksum, Workload, fnv1a64, splitmix64


def test_splitmix64_known_values():
    # The first outputs of the reference SplitMix64 generator seeded with 0 (its state
    # advances by the golden gamma and each output is the finalizer of the state).
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    assert splitmix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_fnv1a64_known_values():
    assert fnv1a64(b"") == FNV_OFFSET == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8


def test_stream_checksum_folds_length_then_bytes():
    c = StreamChecksum()
    c.add(b"ab")
    assert c.value == fnv1a64(b"\x02\x00\x00\x00ab")
    c.add(b"")
    assert c.value == fnv1a64(b"\x02\x00\x00\x00ab\x00\x00\x00\x00")


def test_message_matches_the_byte_definition():
    for seed, lo, hi in [(1, 0, 256), (42, 8, 64), ((1 << 64) - 1, 0, 3000), (7, 5, 5)]:
        w = Workload(seed, lo, hi)
        for i in list(range(300)) + [1 << 40, (1 << 64) - 1]:
            m = w.message(i)
            n = w.size(i)
            assert lo <= n <= hi and len(m) == n
            assert m == bytes(w.byte(i, j, n) for j in range(n)), (seed, i)
            if n >= 8:
                assert Workload.index_in(m) == i


def test_sizes_are_spread():
    w = Workload(1, 0, 256)
    sizes = [w.size(i) for i in range(5000)]
    assert min(sizes) <= 5 and max(sizes) >= 250
    assert len(set(sizes)) > 200
