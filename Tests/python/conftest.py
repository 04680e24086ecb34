"""Fixtures of the ringpy suite.

Cross-language tests use the binaries named by the environment (the Makefile passes them):

- RINGCTL: the Swift ringctl tool (default /work/main/.build/debug/ringctl);
- RING_WORKLOAD: the Swift test tool ring-workload (default beside ringctl's default);
- RING_PEER: the C interop peer (default /work/main/build/ring_peer);
- RINGFORMAT_LIB: the library the C peer dlopens (default .build-abi/release/libringformat.so);
- EPOLL_READER: the C epoll consumer of Tests/c/epoll_reader.c (default /work/main/build/epoll_reader).

A missing binary FAILS those tests (it does not skip them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The interop workload and Python peer live in interop/python (shared with run_matrix.py).
for path in (HERE, ROOT / "interop" / "python"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Hypothesis keeps a small cache directory; keep it here rather than in the working directory.
try:
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(str(HERE / ".hypothesis"))
except ImportError:  # pragma: no cover
    pass

RINGCTL = os.environ.get("RINGCTL") or str(ROOT / ".build" / "debug" / "ringctl")
RING_WORKLOAD = os.environ.get("RING_WORKLOAD") or str(ROOT / ".build" / "debug" / "ring-workload")
RING_PEER = os.environ.get("RING_PEER") or str(ROOT / "build" / "ring_peer")
RINGFORMAT_LIB = os.environ.get("RINGFORMAT_LIB") or str(ROOT / ".build-abi" / "release" / "libringformat.so")
EPOLL_READER = os.environ.get("EPOLL_READER") or str(ROOT / "build" / "epoll_reader")


def _require_executable(path: str, what: str, variable: str) -> str:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"{what} not found at {path!r}: build it first or set {variable} to its path "
            f"(cross-language tests fail rather than skip without it)",
            pytrace=False,
        )
    return os.path.abspath(path)


@pytest.fixture
def ring_path(tmp_path: Path) -> Path:
    """A path for a new ring file in a private temporary directory."""
    return tmp_path / "ring"


@pytest.fixture(scope="session")
def ringctl() -> str:
    """Path of the Swift ringctl tool."""
    return _require_executable(RINGCTL, "Swift ringctl", "RINGCTL")


@pytest.fixture(scope="session")
def ring_workload() -> str:
    """Path of the Swift test tool ring-workload (seeded producer and consumer)."""
    return _require_executable(RING_WORKLOAD, "Swift ring-workload", "RING_WORKLOAD")


@pytest.fixture(scope="session")
def ring_peer() -> str:
    """Path of the C interop peer (build/ring_peer)."""
    return _require_executable(RING_PEER, "C interop peer ring_peer", "RING_PEER")


@pytest.fixture(scope="session")
def epoll_reader() -> str:
    """Path of the C epoll consumer of the doorbell tests (build/epoll_reader, from Tests/c/epoll_reader.c)."""
    return _require_executable(EPOLL_READER, "C epoll reader", "EPOLL_READER")


@pytest.fixture(scope="session")
def ring_peer_env(ring_peer: str) -> dict:
    """Environment for the C peer: RINGFORMAT_LIB names the library it dlopens."""
    if not os.path.isfile(RINGFORMAT_LIB):
        pytest.fail(
            f"libringformat.so not found at {RINGFORMAT_LIB!r} (the C peer dlopens it): "
            f"run `make lib` or set RINGFORMAT_LIB",
            pytrace=False,
        )
    env = dict(os.environ)
    env["RINGFORMAT_LIB"] = os.path.abspath(RINGFORMAT_LIB)
    return env


@pytest.fixture(scope="session")
def numpy_or_none():
    try:
        import numpy
    except ImportError:
        return None
    return numpy
