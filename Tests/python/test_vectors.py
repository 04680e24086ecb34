"""Golden vectors (interop/vectors): the Python writer, given each .ops file, makes a
file byte-identical to the committed .ring; the Python reader sees exactly the .expect."""

from __future__ import annotations

import pathlib
import shutil

import pytest

import ringpy

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "interop" / "vectors"
NAMES = sorted(p.stem for p in VECTORS.glob("*.ops"))


def run_ops(ops: pathlib.Path, out: pathlib.Path) -> None:
    """The .ops language of SPEC.md §16.5, through ringpy."""
    ring = None
    for number, raw in enumerate(ops.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        args = rest.split()
        if op == "create":
            policy = "overwrite_oldest" if args[1] == "overwrite" else "reject_when_full"
            start = int(args[2]) if len(args) > 2 else 0
            ring = ringpy.Ring.create(out, int(args[0]), policy, replace=True, initial_position=start)
        elif op == "write":
            ring.put(rest.encode(), timeout=0)
        elif op == "write-hex":
            ring.put(bytes.fromhex(rest), timeout=0)
        elif op == "write-fill":
            ring.put(bytes([int(args[1])]) * int(args[0]), timeout=0)
        elif op == "read":
            for _ in range(int(args[0]) if args else 1):
                ring.get(timeout=0)
        elif op == "close-writer":
            ring.close_writer()
        else:
            raise AssertionError(f"{ops}:{number}: unknown operation {op}")
    ring.flush()
    ring.close()


def expectation(path: pathlib.Path) -> str:
    with ringpy.Ring.open(path) as ring:
        s = ring.stats()
        lines = [
            f"capacity {s['capacity']}",
            f"policy {'overwrite' if s['policy'] == ringpy.Policy.OVERWRITE_OLDEST else 'reject'}",
            f"producerPosition {s['producer_position']}",
            f"consumerPosition {s['consumer_position']}",
            f"droppedCount {s['dropped_count']}",
            f"writerClosed {int(s['writer_closed'])}",
            f"messageCount {s['message_count']}",
        ]
        lines += [f"message {m.hex()}" for m in ring.peek_all()]
    return "\n".join(lines) + "\n"


def test_there_are_vectors():
    assert len(NAMES) >= 9


@pytest.mark.parametrize("name", NAMES)
def test_python_writer_is_byte_identical(name, tmp_path):
    ops = VECTORS / f"{name}.ops"
    out = tmp_path / f"{name}.ring"
    run_ops(ops, out)
    made, golden = out.read_bytes(), (VECTORS / f"{name}.ring").read_bytes()
    assert len(made) == len(golden)
    first = next((i for i, (a, b) in enumerate(zip(made, golden)) if a != b), None)
    assert first is None, f"{name}: first differing byte at offset {first}"


@pytest.mark.parametrize("name", NAMES)
def test_python_reader_sees_the_expectation(name, tmp_path):
    copy = tmp_path / f"{name}.ring"
    shutil.copyfile(VECTORS / f"{name}.ring", copy)
    expected = (VECTORS / f"{name}.expect").read_text()
    assert expectation(copy) == expected
    messages = [bytes.fromhex(l[len("message "):]) for l in expected.splitlines() if l.startswith("message ")]
    with ringpy.Ring.open(copy) as ring:
        assert ring.get_many(len(messages) + 10) == messages
        if "writerClosed 1" in expected:
            with pytest.raises(ringpy.EndOfStreamError):
                ring.get(timeout=0)
        else:
            assert ring.try_get() is None
