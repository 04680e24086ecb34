"""Shared helpers of the Python benchmarks: peers' availability, running bounded child
processes (multiprocessing "spawn"), statistics, environment and JSON output."""

from __future__ import annotations

import importlib
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

CTX = multiprocessing.get_context("spawn")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
#: Where setup_venv.sh writes why a peer could not be installed.
UNAVAILABLE_DIR = Path(sys.prefix) / "bench-unavailable"
#: Prefix of every ring file, shm segment, socket and FIFO the benchmarks create.
TMP_PREFIX = f"ringbench-{os.getpid()}"

# (display name, distribution name, import name)
PEERS = {
    "ringpy": ("ringpy", "ringpy"),
    "tachyon-ipc": ("tachyon-ipc", "tachyon"),
    "membridge": ("membridge", "membridge"),
    "faster-fifo": ("faster-fifo", "faster_fifo"),
    "pyzmq": ("pyzmq", "zmq"),
}


class BenchError(Exception):
    """A run failed or timed out (its children have been killed)."""


def peer_status(peer: str) -> tuple[bool, str | None, str | None]:
    """(available, version, reason) of a peer package, by importing it."""
    dist, module = PEERS[peer]
    try:
        mod = importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - any import failure means unavailable
        reason = f"import {module} failed: {type(e).__name__}: {e}"
        note = UNAVAILABLE_DIR / f"{dist}.txt"
        if note.exists():
            reason = f"{note.read_text().strip()} ({reason})"
        return False, None, reason
    try:
        from importlib.metadata import version

        ver = version(dist)
    except Exception:  # noqa: BLE001
        ver = getattr(mod, "__version__", None)
    return True, ver, None


def _child_main(fn, conn, args, cpu=None):
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        result = fn(*args)
        conn.send(("ok", result))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        try:
            conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        conn.close()


def pin_cpus(n: int) -> list:
    """n distinct CPUs this process may run on (for --pin), or n Nones if there are fewer."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-n:] if len(cpus) >= n else [None] * n


def run_processes(specs, timeout: float, cpus=None) -> dict:
    """Runs each (name, function, args) in its own spawned process and returns
    {name: return value}. Raises BenchError if one fails, dies or the whole group is
    not done within timeout seconds; every child still alive is then killed.
    cpus: the CPU to pin each child to (None: not pinned)."""
    procs = []
    cpus = cpus or [None] * len(specs)
    try:
        for (name, fn, args), cpu in zip(specs, cpus):
            r, w = CTX.Pipe(duplex=False)
            p = CTX.Process(target=_child_main, args=(fn, w, args, cpu), name=name, daemon=True)
            p.start()
            w.close()
            procs.append((name, p, r))
        deadline = time.monotonic() + timeout
        results = {}
        pending = {r: (name, p) for name, p, r in procs}
        while pending:
            left = deadline - time.monotonic()
            ready = multiprocessing.connection.wait(list(pending), timeout=max(0.0, left))
            if not ready:
                names = ", ".join(n for n, _ in pending.values())
                raise BenchError(f"timed out after {timeout:.0f} s waiting for {names}")
            for r in ready:
                name, p = pending.pop(r)
                try:
                    status, value = r.recv()
                except EOFError:
                    p.join(2)
                    raise BenchError(f"{name} died without a result (exit code {p.exitcode})") from None
                if status != "ok":
                    raise BenchError(f"{name} failed: {value.strip()}")
                results[name] = value
        for _, p, _ in procs:
            p.join(max(1.0, deadline - time.monotonic()))
        return results
    finally:
        for _, p, r in procs:
            if p.is_alive():
                p.terminate()
                p.join(2)
                if p.is_alive():
                    p.kill()
                    p.join(2)
            r.close()


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def environment() -> dict:
    env = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    env["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        env["git_commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    env["peers"] = {}
    for peer in PEERS:
        ok, ver, reason = peer_status(peer)
        env["peers"][peer] = {"available": ok, "version": ver, "reason": reason}
    return env


def write_json(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        print(f"warning: could not remove {path}: {e}", file=sys.stderr)


def wait_for_path(path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.001)
