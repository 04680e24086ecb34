"""Issue #12, items 1-3, across two real users (SPEC.md §7, §7.1, §11.4).

A is this test process (root); B is a throwaway system user the session creates and
removes. B's code runs in a child forked from this process that drops to B's uid and
gid with no supplementary groups and no capabilities, so it uses the very ringpy under
test. (Running a new interpreter as B with runuser or setpriv is not reliable: the
virtualenv's interpreter may live under /root, which B cannot search; runuser then fails
with EACCES, and setpriv execs while still privileged and B's process silently loads a
different libpython and standard library.)

1. Name squatting: an open-or-create of a ring someone else owns, or that others may
   write, refuses (PermissionError naming the path) unless allow_shared.
2. A read-only user's OFD read locks on the role bytes stop neither A's put nor A's get,
   and B can neither open the ring for writing nor with Ring.open.
3. Files and symbolic links planted at the old predictable temporary names
   (PATH.tmp-<pid>-N) do not stop replace=True, and replace touches none of them.

Without root (or without useradd/userdel) the module skips, saying why.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import secrets
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from ringpy import MemMapRingBuffer, Ring

if not sys.platform.startswith("linux"):
    pytest.skip("second-user tests use Linux OFD locks and useradd", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("second-user tests (issue #12, items 1-3) need root to create a throwaway user: "
                "run the suite as root to try them", allow_module_level=True)
if not (shutil.which("useradd") and shutil.which("userdel")):
    pytest.skip("second-user tests need useradd and userdel to create a throwaway user",
                allow_module_level=True)

F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
CHILD_TIMEOUT = 30.0          # seconds any child of B may take before it is killed
OLD_TEMPORARY_NUMBERS = range(16)  # the old code drew PATH.tmp-PID-N with N = 0, 1, 2...


class User(NamedTuple):
    name: str
    uid: int
    gid: int


@pytest.fixture(scope="session")
def user_b():
    """A throwaway system user, removed at the end of the session even on failure."""
    name = f"ringtest-{secrets.token_hex(4)}"
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.fail(f"useradd {name} failed ({made.returncode}): {made.stderr.strip()}", pytrace=False)
    try:
        import pwd
        entry = pwd.getpwnam(name)
        assert entry.pw_uid != 0 and entry.pw_gid != 0
        yield User(name, entry.pw_uid, entry.pw_gid)
    finally:
        gone = subprocess.run(["userdel", name], capture_output=True, text=True, timeout=60)
        if gone.returncode != 0:
            print(f"userdel {name} failed ({gone.returncode}): {gone.stderr.strip()}", file=sys.stderr)


@pytest.fixture
def shared_dir():
    """A directory like /dev/shm or /tmp: owned by A, mode 1777, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ringtest-shared-"))
    try:
        os.chmod(path, 0o1777)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- running code as B --------------------------------------------------------------

def _become(user: User, keep: tuple[int, ...]) -> None:
    """In a forked child: close A's descriptors and drop to B for good."""
    for fd in sorted(set(os.listdir("/proc/self/fd")) - {"0", "1", "2"}, key=int):
        if int(fd) not in keep:
            with contextlib.suppress(OSError):
                os.close(int(fd))
    os.setgroups([])
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    if os.getresuid() != (user.uid,) * 3 or os.getresgid() != (user.gid,) * 3 or os.getgroups():
        raise RuntimeError("could not drop to the second user")
    with open("/proc/self/status") as status:
        caps = {line.split(":")[0]: int(line.split()[1], 16) for line in status if line.startswith("Cap")}
    if caps["CapEff"] or caps["CapPrm"]:
        raise RuntimeError(f"still privileged as the second user: {caps}")


def _read_all(fd: int, deadline: float, pid: int) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError("a child running as the second user timed out and was killed")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _child(user: User, report_fd: int, keep: tuple[int, ...], work) -> None:
    """Body of a forked child: never returns."""
    try:
        try:
            _become(user, keep + (report_fd,))
            outcome = ("ok", work())
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            outcome = ("error", f"{type(error).__name__}: {error}")
        data = pickle.dumps(outcome)
        while data:
            data = data[os.write(report_fd, data):]
    finally:
        os._exit(0)


def as_user(user: User, work, timeout: float = CHILD_TIMEOUT):
    """Run work() as `user` in a forked child; return its (picklable) result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(user, write_end, (), work)
    os.close(write_end)
    try:
        data = _read_all(read_end, time.monotonic() + timeout, pid)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"child as {user.name} ended with {status}"
    kind, value = pickle.loads(data)
    if kind != "ok":
        pytest.fail(f"child as {user.name} failed: {value}", pytrace=False)
    return value


def outcome_of(call) -> str:
    """'ok', or the exception's class name and message (for results across the fork)."""
    try:
        result = call()
        if hasattr(result, "close"):
            result.close()
        elif isinstance(result, int):
            os.close(result)
        return "ok"
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"


@contextlib.contextmanager
def read_locks_held_by(user: User, path: Path, offsets=(128, 256)):
    """B opens `path` O_RDONLY, takes OFD read locks on `offsets`, says "locked" and
    holds them until the block ends (at most CHILD_TIMEOUT seconds)."""
    report_r, report_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        os.close(release_w)

        def hold():
            fd = os.open(path, os.O_RDONLY)
            for offset in offsets:
                # struct flock on Linux x86-64/arm64: short l_type, short l_whence, off_t
                # l_start, off_t l_len, pid_t l_pid (0 for OFD locks), padding.
                fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, offset, 1, 0))
            os.write(report_w, b"locked\n")
            select.select([release_r], [], [], CHILD_TIMEOUT)   # until A closes release_w
            return "released"

        _child(user, report_w, (release_r,), hold)
    os.close(report_w)
    os.close(release_r)
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT
        said = b""
        while said != b"locked\n" and b"locked\n".startswith(said):
            ready, _, _ = select.select([report_r], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                pytest.fail("the second user's lock holder did not report in time", pytrace=False)
            chunk = os.read(report_r, 1)
            if not chunk:
                break
            said += chunk
        if said != b"locked\n":                    # a pickled error from _child instead
            said += _read_all(report_r, deadline, pid)
            pytest.fail(f"the second user could not take the read locks: {pickle.loads(said)[1]}", pytrace=False)
        yield pid
    finally:
        os.close(release_w)
        with contextlib.suppress(TimeoutError):
            _read_all(report_r, time.monotonic() + CHILD_TIMEOUT, pid)
        os.close(report_r)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def lock_holder_type(path: Path, offset: int) -> int:
    """F_OFD_GETLK: the type of a lock that would stop a write lock on `offset`
    (F_UNLCK if none)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        answer = fcntl.fcntl(fd, F_OFD_GETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))
        return struct.unpack("hhqqi4x", answer)[0]
    finally:
        os.close(fd)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- 1. name squatting ----------------------------------------------------------------

@pytest.mark.parametrize("b_mode", [0o666, 0o600], ids=["mode-0o666", "mode-0o600"])
def test_open_or_create_refuses_a_ring_squatted_by_another_user(user_b, shared_dir, b_mode):
    path = shared_dir / "events"

    def squat():
        with Ring.create(path, 4096, mode=0o600) as ring:
            ring.put(b"forged by B")
        os.chmod(path, b_mode)                      # whatever B's umask
        return None

    as_user(user_b, squat)
    info = os.stat(path)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (user_b.uid, b_mode)
    before = digest(path)

    with pytest.raises(PermissionError) as caught:
        Ring.create(path, 4096, exist_ok=True)
    message = str(caught.value)
    assert str(path) in message and "belongs to user" in message and str(user_b.uid) in message, message
    with pytest.raises(PermissionError) as caught:
        MemMapRingBuffer(path, 4096)
    assert str(path) in str(caught.value) and "belongs to user" in str(caught.value), str(caught.value)
    assert digest(path) == before, "a refused open-or-create changed B's file"
    assert os.stat(path).st_uid == user_b.uid

    # Asked for explicitly, the shared ring is used (and it is B's file, with B's message).
    with Ring.create(path, 4096, exist_ok=True, allow_shared=True) as ring:
        assert ring.get(timeout=0) == b"forged by B"
    MemMapRingBuffer(path, 4096, allow_shared=True).close()
    assert os.stat(path).st_uid == user_b.uid


def test_open_or_create_refuses_its_own_ring_that_others_may_write(user_b, shared_dir):
    path = shared_dir / "events"
    Ring.create(path, 4096).close()
    os.chmod(path, 0o666)
    assert os.stat(path).st_uid == os.geteuid()
    # B can write it, for real.
    assert as_user(user_b, lambda: outcome_of(lambda: os.open(path, os.O_RDWR))) == "ok"

    with pytest.raises(PermissionError) as caught:
        Ring.create(path, 4096, exist_ok=True)
    assert str(path) in str(caught.value) and "writable" in str(caught.value), str(caught.value)
    with pytest.raises(PermissionError) as caught:
        MemMapRingBuffer(path, 4096)
    assert "writable" in str(caught.value)

    Ring.create(path, 4096, exist_ok=True, allow_shared=True).close()
    MemMapRingBuffer(path, 4096, allow_shared=True).close()
    os.chmod(path, 0o600)
    Ring.create(path, 4096, exist_ok=True).close()


# --- 2. a read-only user cannot block the roles ---------------------------------------

def test_a_read_only_user_cannot_block_the_writer_or_the_reader(user_b, shared_dir):
    path = shared_dir / "ring"
    Ring.create(path, 4096, mode=0o644).close()
    os.chmod(path, 0o644)                           # whatever A's umask
    before = digest(path)

    with read_locks_held_by(user_b, path):
        # The hostile locks really stand: a write lock on either role byte would be refused.
        assert lock_holder_type(path, 128) == fcntl.F_RDLCK
        assert lock_holder_type(path, 256) == fcntl.F_RDLCK

        def try_to_write():
            return {
                "O_RDWR": outcome_of(lambda: os.open(path, os.O_RDWR)),
                "O_WRONLY": outcome_of(lambda: os.open(path, os.O_WRONLY)),
                "Ring.open": outcome_of(lambda: Ring.open(path)),
                "read": outcome_of(lambda: os.open(path, os.O_RDONLY)),
            }

        tried = as_user(user_b, try_to_write)
        assert tried["read"] == "ok", tried
        for way in ("O_RDWR", "O_WRONLY", "Ring.open"):
            assert tried[way].startswith("PermissionError"), (way, tried[way])
        assert digest(path) == before

        # A writes and reads while B's read locks stand, each role from its own handle.
        with Ring.open(path) as producer, Ring.open(path) as consumer:
            producer.put(b"A writes through B's read locks")
            assert consumer.get(timeout=5) == b"A writes through B's read locks"
            producer.put(b"and again")
            assert consumer.get(timeout=5) == b"and again"
        with Ring.open(path) as ring:                # roles given back and taken again
            ring.put(b"one handle, both roles")
            assert ring.get(timeout=5) == b"one handle, both roles"

        assert lock_holder_type(path, 128) == fcntl.F_RDLCK, "B's locks were gone during the test"
        assert lock_holder_type(path, 256) == fcntl.F_RDLCK, "B's locks were gone during the test"


# --- 3. planted temporary names -------------------------------------------------------

def test_names_planted_at_the_old_temporary_names_do_not_stop_replace(user_b, shared_dir, tmp_path):
    path = shared_dir / "ring"
    with Ring.create(path, 4096) as ring:
        ring.put(b"old ring")
    victim = tmp_path / "victim"                     # A's private file, B's links point at it
    victim.write_bytes(b"A's private data")
    victim_before = (digest(victim), os.stat(victim).st_mtime_ns)
    pid_of_a = os.getpid()
    planted = [Path(f"{path}.tmp-{pid_of_a}-{n}") for n in OLD_TEMPORARY_NUMBERS]

    def plant():
        for n, name in enumerate(planted):
            if n % 2 == 0:
                name.write_bytes(b"planted by B\n")
            else:
                os.symlink(victim if n % 4 == 1 else shared_dir / "nowhere", name)
        return None

    as_user(user_b, plant)

    def snapshot():
        entries = {}
        for name in sorted(os.listdir(shared_dir)):
            full = shared_dir / name
            info = os.lstat(full)
            content = os.readlink(full) if stat.S_ISLNK(info.st_mode) else digest(full)
            entries[name] = (info.st_ino, info.st_uid, info.st_mode, info.st_size, info.st_mtime_ns, content)
        return entries

    before = snapshot()
    assert all(before[name.name][1] == user_b.uid for name in planted)
    old_inode = os.stat(path).st_ino

    for round_ in range(3):
        with Ring.create(path, 8192, replace=True) as ring:
            assert ring.capacity == 8192
            assert ring.try_get() is None, "replace kept the old ring's message"
            ring.put(b"new ring %d" % round_)
        after = snapshot()
        assert sorted(after) == sorted(before), "replace left a new name in the directory"
        for name in planted:
            assert after[name.name] == before[name.name], f"replace touched B's {name.name}"
        info = os.stat(path)
        assert info.st_ino != old_inode and info.st_uid == os.geteuid()
        assert stat.S_IMODE(info.st_mode) == 0o600 and stat.S_ISREG(os.lstat(path).st_mode)
        old_inode = info.st_ino
    assert (digest(victim), os.stat(victim).st_mtime_ns) == victim_before
