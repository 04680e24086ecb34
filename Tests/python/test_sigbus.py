"""The SIGBUS guard (SPEC.md §12) and the signals it is not for.

ringpy's library installs a process-wide SIGBUS handler that turns a fault on a
truncated ring file into CorruptError. Every other SIGBUS must reach what was there
before: a sent SIGBUS (kill) still kills the process when the disposition was the
default, and a real fault outside any ring still kills it when SIGBUS was ignored
(the kernel's rule for an ignored synchronous fault), instead of looping forever.
Each case runs in a fresh interpreter so that the handler is installed there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

import ringpy


def run_child(code: str, tmp_path) -> subprocess.CompletedProcess:
    """Runs `code` in a new interpreter (ring at tmp_path/ring), with a time limit: against a
    hang, not a speed test (4200 rings take 1.5 s alone, over 10 s on a loaded 2-core machine)."""
    script = textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script, str(tmp_path / "ring")],
                          capture_output=True, text=True, timeout=60)


def test_a_sent_sigbus_still_kills_the_process(tmp_path):
    child = run_child("""
        import os, signal, sys, ringpy
        ring = ringpy.Ring.create(sys.argv[1], 4096)   # installs the guard
        ring.put(b"x")
        os.kill(os.getpid(), signal.SIGBUS)
        print("survived a SIGBUS", flush=True)
    """, tmp_path)
    assert child.returncode == -signal.SIGBUS, (child.returncode, child.stdout, child.stderr)
    assert "survived" not in child.stdout


def test_a_fault_outside_rings_with_sigbus_ignored_kills_instead_of_looping(tmp_path):
    child = run_child("""
        import mmap, os, signal, sys, ringpy
        signal.signal(signal.SIGBUS, signal.SIG_IGN)
        ring = ringpy.Ring.create(sys.argv[1], 4096)   # installs the guard over SIG_IGN
        other = sys.argv[1] + ".other"
        with open(other, "wb") as f:
            f.write(b"\\0" * 8192)
        fd = os.open(other, os.O_RDWR)
        m = mmap.mmap(fd, 8192)
        os.ftruncate(fd, 0)
        print("reading", flush=True)
        m[4100]                                    # a real fault, not on a ring
        print("survived the fault", flush=True)
    """, tmp_path)
    assert child.returncode == -signal.SIGBUS, (child.returncode, child.stdout, child.stderr)
    assert "reading" in child.stdout and "survived" not in child.stdout


def test_the_guard_still_works_after_a_foreign_sigbus_was_handled(tmp_path):
    # A Python-level SIGBUS handler stays in charge of sent signals; rings keep their guard.
    child = run_child("""
        import os, signal, sys, ringpy
        got = []
        signal.signal(signal.SIGBUS, lambda s, f: got.append(s))
        ring = ringpy.Ring.create(sys.argv[1], 65536)
        os.kill(os.getpid(), signal.SIGBUS)
        assert got == [signal.SIGBUS], got
        os.truncate(sys.argv[1], 4096)              # the data pages go away
        try:
            ring.put(b"y" * 30000)
        except ringpy.CorruptError as e:
            print("corrupt:", e, flush=True)
        else:
            print("write reported success", flush=True)
    """, tmp_path)
    assert child.returncode == 0, (child.returncode, child.stdout, child.stderr)
    assert "corrupt:" in child.stdout, child.stdout


def test_more_than_4096_open_rings_are_all_guarded(tmp_path):
    # The guard table had 4,096 slots: the 4,097th ring was unguarded and a truncation killed.
    child = run_child("""
        import os, sys, resource, ringpy
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        base = sys.argv[1]
        rings = [ringpy.Ring.create(f"{base}.{i}", 4096) for i in range(4200)]
        last = rings[-1]
        os.truncate(last.path, 100)
        try:
            last.put(b"z" * 2000)
        except ringpy.CorruptError as e:
            print("corrupt:", e, flush=True)
    """, tmp_path)
    assert child.returncode == 0, (child.returncode, child.stdout, child.stderr)
    assert "corrupt:" in child.stdout


def test_a_ring_opened_after_faulthandler_puts_the_guard_back_in_front(tmp_path):
    # faulthandler.enable() after the first ring replaced the guard: a truncation was fatal.
    # Opening a ring re-installs it, and foreign faults still reach faulthandler.
    child = run_child("""
        import faulthandler, os, sys, ringpy
        first = ringpy.Ring.create(sys.argv[1], 65536)
        faulthandler.enable()
        second = ringpy.Ring.create(sys.argv[1] + ".2", 4096)
        os.truncate(sys.argv[1], 4096)
        try:
            first.put(b"w" * 30000)
        except ringpy.CorruptError as e:
            print("corrupt:", e, flush=True)
    """, tmp_path)
    assert child.returncode == 0, (child.returncode, child.stdout, child.stderr)
    assert "corrupt:" in child.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("fallocate"), reason="needs root (a tmpfs of 1 MiB) and fallocate")
def test_a_sparse_ring_on_a_full_file_system_says_the_disk_is_full(tmp_path):
    # A page of a sparse ring that finds no room faulted like a truncation and was
    # reported as truncated(fileSize: N, expected: N).
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        child = run_child("""
            import os, subprocess, sys, ringpy
            path = sys.argv[1]
            ring = ringpy.Ring.create(path, 65536)
            subprocess.run(["fallocate", "-p", "-o", "8192", "-l", "61440", path], check=True)
            try:                                    # fill the file system
                with open(os.path.join(os.path.dirname(path), "fill"), "wb") as f:
                    while True:
                        f.write(bytes(4096)); f.flush()
            except OSError:
                pass
            try:
                ring.put(b"x" * 30000)
            except OSError as e:
                print("errno", e.errno, e, flush=True)
        """, mount)
    finally:
        subprocess.run(["umount", str(mount)])
    assert child.returncode == 0, (child.returncode, child.stdout, child.stderr)
    assert "errno 28" in child.stdout and "file system is full" in child.stdout, child.stdout
