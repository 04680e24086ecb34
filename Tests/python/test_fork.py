"""fork() and ringpy (issue 11, defect 5; SPEC: a handle belongs to the process that opened it).

In a child of os.fork() every method of an inherited Ring raises ForkedError, without
waiting for a lock a parent's thread may have held at the fork; close() and dealloc only
forget the inherited handles, so the roles (OFD locks of the open file description the
parent still uses) stay the parent's. A new Ring opened in the child works as usual.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import pytest

from ringpy import ClosedError, EmptyError, ForkedError, Ring, RingError
from test_api import _closed_calls

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns about fork() in a process with threads: these tests mean it.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def in_child(body, seconds: float = 5.0) -> None:
    """Runs body() in a forked child; fails the test if it raises, or if the child does not
    exit within `seconds` (it is then killed, so a deadlock fails instead of hanging)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            body()
            status = 0
        except BaseException:  # noqa: BLE001 - reported to the parent
            os.write(write_end, traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(status)
    os.close(write_end)
    deadline = time.monotonic() + seconds
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the forked child did not exit within {seconds} s (deadlock?)")
            time.sleep(0.01)
        report = b""
        while chunk := os.read(read_end, 4096):
            report += chunk
    finally:
        os.close(read_end)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, \
        f"the child failed (status {status}):\n{report.decode(errors='replace')}"


def _calls():
    """Every call of test_api's closed-ring list (put ... len, the async ones too), and __enter__."""
    calls = _closed_calls()
    calls["enter"] = lambda r: r.__enter__()
    return calls


def test_every_call_on_an_inherited_ring_raises_forked_error_in_the_child(ring_path):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"before")
        ring.put(b"pending")
        assert ring.get() == b"before"  # this Ring holds both roles

        def child():
            for name, call in _calls().items():
                try:
                    call(ring)
                except ForkedError as e:
                    assert isinstance(e, RingError)
                    assert "fork" in str(e)
                else:
                    raise AssertionError(f"{name} on an inherited Ring did not raise ForkedError")
            ring.close()  # forgets the handles; no error
            assert ring.closed
            ring.close()
            with pytest.raises(ClosedError):
                ring.put(b"child")
            # A Ring opened in the child is the child's own.
            with Ring.open(ring_path) as mine:
                assert len(mine) == 1

        in_child(child)
        # Nothing the child did reached the file, and the parent's Ring works on.
        assert ring.stats()["writer_closed"] is False
        assert ring.get(timeout=0) == b"pending"
        ring.put(b"after")
        assert ring.get(timeout=0) == b"after"


THIRD_PROCESS = r"""
import sys, ringpy
with ringpy.Ring.open(sys.argv[1]) as ring:
    for name, call in (("producer", lambda: ring.put(b"third")), ("consumer", lambda: ring.get(timeout=0))):
        try:
            call()
            print(name, "taken")
        except ringpy.BusyError:
            print(name, "busy")
"""


@pytest.mark.parametrize("how", ["close", "dealloc"])
def test_the_parent_keeps_its_roles_after_the_child_drops_the_inherited_ring(ring_path, how):
    ring = Ring.create(ring_path, 4096)
    try:
        ring.put(b"one")
        assert ring.get() == b"one"  # both roles are the parent's

        def child():
            nonlocal ring
            if how == "close":
                ring.close()
            else:
                ring = None
                gc.collect()

        in_child(child)
        third = subprocess.run([sys.executable, "-c", THIRD_PROCESS, str(ring_path)],
                               capture_output=True, text=True, timeout=30)
        assert third.returncode == 0, third.stderr
        assert third.stdout.split("\n")[:2] == ["producer busy", "consumer busy"], \
            f"after the child's {how}, another process took the parent's roles: {third.stdout!r}"
        ring.put(b"parent still writes")
        assert ring.get(timeout=0) == b"parent still writes"
    finally:
        ring.close()


@pytest.mark.parametrize("side", ["consumer", "producer"])
def test_fork_while_another_thread_is_blocked_on_the_ring_does_not_deadlock_the_child(ring_path, side):
    with Ring.create(ring_path, 4096) as ring:
        ring.put(b"x")
        assert ring.get() == b"x"
        if side == "producer":
            while ring.try_put(b""):
                pass  # full: a put waits

        def blocked():
            try:
                if side == "consumer":
                    ring.get(timeout=0.8)
                else:
                    ring.put(b"y", timeout=0.8)
            except (EmptyError, RingError):
                pass

        thread = threading.Thread(target=blocked)
        thread.start()
        time.sleep(0.05)  # the thread holds the role's lock, waiting

        def child():
            for call in (lambda: ring.get(timeout=0), lambda: ring.put(b"child", timeout=0),
                         lambda: ring.stats(), lambda: ring.flush()):
                with pytest.raises(ForkedError):
                    call()
            ring.close()

        try:
            in_child(child, seconds=5)
        finally:
            thread.join(5)
        assert not thread.is_alive()
