"""Shared helpers of the Python benchmarks: peers' availability, running bounded child
processes (multiprocessing "spawn"), per-run endpoints of the peers (temporary paths,
tachyon-ipc and membridge set-up), the series of runs of one case, statistics,
environment and JSON output."""

from __future__ import annotations

import importlib
import itertools
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

def child_records(python: str, script: str, runs: int, quick: bool = False, failure: dict | None = None) -> list[dict]:
    """The records of the benchmark bench/python/SCRIPT run by `python` with --runs and --json
    (its other output goes through to this process's stdout); if it gives none, one record
    `failure` (default: ringpy) marked unavailable with the reason."""
    import tempfile

    def unavailable(reason: str) -> list[dict]:
        return [{**(failure or {"impl": "ringpy"}), "available": False, "reason": reason}]

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "records.json")
        cmd = [python, str(HERE / script), "--runs", str(runs), "--json", path] + (["--quick"] if quick else [])
        last = ""
        try:
            with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as p:
                for line in p.stdout:
                    if line.startswith("{"):
                        last = line
                    else:
                        print(line, end="", flush=True)
        except OSError as e:
            return unavailable(f"{python}: {e}")
        try:
            payload = json.loads(last) if last else json.load(open(path))
        except (OSError, ValueError) as e:
            return unavailable(f"{script} gave no results (exit status {p.returncode}): {e}")
    return payload.get("records", [])


# (display name, distribution name, import name)
PEERS = {
    "ringpy": ("ringpy", "ringpy"),
    "tachyon-ipc": ("tachyon-ipc", "tachyon"),
    "membridge": ("membridge", "membridge"),
    "faster-fifo": ("faster-fifo", "faster_fifo"),
    "pyzmq": ("pyzmq", "zmq"),
    "iceoryx2": ("iceoryx2", "iceoryx2"),
    "eclipse-zenoh": ("eclipse-zenoh", "zenoh"),
}
#: Run ids, unique within this process: they name each run's rings, sockets and FIFOs.
RUN_IDS = itertools.count(1)


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


def run_peers(cfg: dict, prepare, cleanup, sides, timeout: float, pin: bool = False) -> dict:
    """Runs the two (or more) sides of one measurement, each in its own process:
    prepare(cfg) makes the endpoint (ring files, sockets, queues...), which the sides see
    as cfg["endpoint"]; sides are (name, function, args), each called as
    function(cfg, *args). cleanup(endpoint), unless None, runs whatever happens.
    Returns {name: return value} (see run_processes); pin: each side on its own CPU."""
    endpoint = prepare(cfg)
    try:
        cfg = dict(cfg, endpoint=endpoint)
        return run_processes(
            [(name, fn, (cfg, *args)) for name, fn, args in sides],
            timeout,
            pin_cpus(len(sides)) if pin else None,
        )
    finally:
        if cleanup is not None:
            cleanup(endpoint)


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


def tmp_path(cfg: dict, suffix: str) -> str:
    """A path in /tmp for this run's socket or FIFO (cfg["run_id"], then suffix), with
    whatever an earlier process left there removed."""
    path = f"/tmp/{TMP_PREFIX}-{cfg['run_id']}{suffix}"
    remove_quietly(path)
    return path


def _each(names) -> list:
    """names as a list: one name (a str) or a list of them."""
    return [names] if isinstance(names, str) else list(names)


# ---------------------------------------------------------------------------------------
# Peers' set-up shared by the benchmarks


def tachyon_connect(path: str, timeout: float):
    """tachyon.Bus.connect(path), retried until the other process listens there (at most
    timeout seconds)."""
    import tachyon

    deadline = time.monotonic() + timeout
    while True:
        try:
            return tachyon.Bus.connect(path)
        except (ConnectionError, FileNotFoundError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)


def membridge_create(names, capacity: int):
    """Creates, for each of names (one shm name or a list of them), a POSIX shm segment
    holding a membridge SpscRingBuffer of capacity bytes (plus its 24-byte header).
    Returns names, the endpoint of the run."""
    import membridge

    for name in _each(names):
        membridge.SharedMemory.create(name, capacity + 24).spsc()
    return names


def membridge_remove(names) -> None:
    """Removes the shm segments of membridge_create(names), those still there."""
    import membridge

    for name in _each(names):
        try:
            membridge.SharedMemory.remove(name)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------
# The benchmarks' main(): cases, series of runs, output


def select_cases(ap, impls: str | None, cases: list) -> list:
    """The cases (tuples, implementation first) that --impls (comma-separated, None: all)
    asks for; an argparse error if it names none of them."""
    wanted = set(impls.split(",")) if impls else None
    selected = [c for c in cases if wanted is None or c[0] in wanted]
    if wanted and not selected:
        ap.error(f"no implementation among {sorted({c[0] for c in cases})}")
    return selected


def print_environment(env: dict, details: str) -> None:
    """Prints the first lines of a benchmark's output: Python, CPU, details (runs...),
    then each peer's version or why it is unavailable."""
    print(f"python {env['python']} on {env.get('cpu', '?')} ({env['cpus']} CPUs), {details}")
    for peer, st in env["peers"].items():
        print(f"  {peer:12s} " + (st["version"] or "?" if st["available"] else f"UNAVAILABLE: {st['reason']}"))


def measure(rec: dict, label: str, env: dict, peer: str | None, runs: int, one_run, cfg: dict, *args) -> list:
    """The series of runs of one case: one_run(dict(cfg, run_id=...), *args) runs times,
    each with a fresh run id; returns their results. If peer (a package of PEERS, or None)
    is not installed, rec says so, label + "unavailable" is printed and nothing runs. A
    BenchError ends the series: it goes to rec["error"] and label + "FAILED" is printed."""
    results = []
    if peer is not None and not env["peers"][peer]["available"]:
        rec.update(available=False, reason=env["peers"][peer]["reason"])
        print(f"{label} unavailable: {rec['reason']}")
        return results
    try:
        for _ in range(runs):
            results.append(one_run(dict(cfg, run_id=next(RUN_IDS)), *args))
    except BenchError as e:
        rec["error"] = str(e)
        print(f"{label} FAILED: {str(e)[:2000]}")
    return results


def write_records(path: str | None, benchmark: str, env: dict, records: list) -> None:
    """Writes the JSON output of a benchmark to path (nothing if path is None): its name,
    environment and records so far."""
    if path:
        write_json(path, {"benchmark": benchmark, "environment": env, "records": records})


def finish(path: str | None, benchmark: str, env: dict, records: list) -> int:
    """Writes the final JSON output (if path) and returns the exit status: 1 if a case
    failed, else 0."""
    if path:
        write_records(path, benchmark, env, records)
        print(f"\nwrote {path}")
    return 1 if any("error" in r for r in records) else 0
