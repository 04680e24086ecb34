"""The bad-input table interop/bad_inputs.tsv, shared with the Swift and C tests: every
row gives its documented error through ringpy, never a crash."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import struct
import zlib

import pytest

import ringpy

TABLE = pathlib.Path(__file__).resolve().parents[2] / "interop" / "bad_inputs.tsv"
ROWS = [l.split("\t") for l in TABLE.read_text().splitlines() if l and not l.startswith("#")]

NAMES = {
    ringpy.FullError: "FULL", ringpy.EmptyError: "EMPTY", ringpy.InvalidSizeError: "INVALID_SIZE",
    ringpy.ClosedError: "CLOSED", ringpy.EndOfStreamError: "END_OF_STREAM", ringpy.CorruptError: "CORRUPT",
    ringpy.UnsupportedVersionError: "UNSUPPORTED_VERSION", ringpy.BusyError: "BUSY",
}
ERRNOS = {errno.ENOENT: "ENOENT", errno.EISDIR: "EISDIR", errno.EEXIST: "EEXIST"}


def error_name(exc: BaseException | None) -> str:
    if exc is None:
        return "OK"
    if type(exc) in NAMES:
        return NAMES[type(exc)]
    if isinstance(exc, OSError):
        return "SYSTEM:" + ERRNOS.get(exc.errno, str(exc.errno))
    return f"unexpected {type(exc).__name__}: {exc}"


def test_table_has_at_least_25_rows():
    assert len(ROWS) >= 25 and all(len(r) == 5 for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row_gives_its_error(row, tmp_path):
    name, policy, mutations, action, expected = row
    path = tmp_path / "bad.ring"
    with ringpy.Ring.create(path, 4096, "overwrite_oldest" if policy == "overwrite" else "reject_when_full") as ring:
        ring.put(b"abcdefghijk")
    for m in mutations.split(";"):
        if m == "none":
            continue
        if m == "missing":
            path.unlink()
        elif m == "directory":
            path.unlink()
            path.mkdir()
        elif m == "fix":
            with open(path, "r+b") as f:
                f.seek(124)
                head = path.read_bytes()[:124]
                f.write(struct.pack("<I", zlib.crc32(head)))
        elif m.startswith("truncate="):
            os.truncate(path, int(m[len("truncate="):]))
        else:
            kind, rest = m.split("@")
            offset, value = rest.split("=")
            if kind == "bytes":
                data = bytes.fromhex(value)
            else:
                data = int(value).to_bytes(int(kind[1:]) // 8, "little")
            with open(path, "r+b") as f:
                f.seek(int(offset))
                f.write(data)
    caught = None
    try:
        if action == "open":
            ringpy.Ring.open(path).stats()
        elif action == "read":
            ringpy.Ring.open(path).get(timeout=0)
        elif action in ("second-producer", "second-consumer"):
            first, second = ringpy.Ring.open(path), ringpy.Ring.open(path)
            if action == "second-producer":
                first.put(b"x")
                second.put(b"y")
            else:
                first.get(timeout=0)
                second.get(timeout=0)
        elif action == "use-after-close":
            ring = ringpy.Ring.open(path)
            ring.close()
            ring.stats()
        elif action.startswith("write-"):
            ringpy.Ring.open(path).put(bytes(int(action[len("write-"):])), timeout=0)
        elif action.startswith("create-"):
            ringpy.Ring.create(path, int(action[len("create-"):]))
        else:
            pytest.fail(f"unknown action {action}")
    except Exception as exc:  # noqa: BLE001 - the table names the error
        caught = exc
    assert error_name(caught) == expected, f"{name}: got {caught!r}"
