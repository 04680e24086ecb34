#!/usr/bin/env bash
# Creates (idempotently) the benchmark virtualenv .venv-bench at the repository root,
# installs the peers of bench/python/requirements.txt and the ringpy wheel given as
# argument.
#
#   bench/python/setup_venv.sh [RINGPY_WHEEL]      (default: build/wheel/ringpy-*.whl)
#
# Environment: VENV (default <repo>/.venv-bench), PYTHON (default python3).
# A peer that cannot be installed is skipped: the reason goes to stdout and to
# $VENV/bench-unavailable/<peer>.txt, which the benchmarks show as "unavailable".
# tachyon-ipc builds a C++23 extension whose setup.py refuses gcc < 14: it is built with
# Debian's clang-19 and lld-19 (installed with apt-get when running as root and missing).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv-bench}"
PYTHON="${PYTHON:-python3}"
REQ="$HERE/requirements.txt"

WHEEL="${1:-}"
if [ -z "$WHEEL" ]; then
    WHEEL="$(ls -t "$ROOT"/build/wheel/ringpy-*.whl 2>/dev/null | head -n 1)"
fi

if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "setup_venv: creating $VENV"
    "$PYTHON" -m venv "$VENV" || { echo "setup_venv: python3 -m venv failed" >&2; exit 1; }
fi
# Keep the virtualenv out of git whatever the repository's .gitignore says.
[ -f "$VENV/.gitignore" ] || echo '*' > "$VENV/.gitignore"
PY="$VENV/bin/python"
UNAVAIL="$VENV/bench-unavailable"
mkdir -p "$UNAVAIL"
"$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true

unavailable() {   # name reason...
    local name="$1"; shift
    echo "setup_venv: $name unavailable: $*"
    printf '%s\n' "$*" > "$UNAVAIL/$name.txt"
}

installed() {     # import-name -> 0 if importable in the venv
    "$PY" -c "import $1" >/dev/null 2>&1
}

satisfied() {     # requirement spec -> 0 if the installed distribution matches it
    "$PY" - "$1" >/dev/null 2>&1 <<'PYEOF'
import sys
from importlib.metadata import version
from pip._vendor.packaging.requirements import Requirement
req = Requirement(sys.argv[1])
sys.exit(0 if req.specifier.contains(version(req.name), prereleases=True) else 1)
PYEOF
}

import_name() {
    case "$1" in
        pyzmq) echo zmq ;; faster-fifo) echo faster_fifo ;; tachyon-ipc) echo tachyon ;;
        eclipse-zenoh) echo zenoh ;;
        *) echo "${1//-/_}" ;;
    esac
}

# --- ringpy ---
if [ -n "$WHEEL" ] && [ -f "$WHEEL" ]; then
    echo "setup_venv: installing ringpy from $WHEEL"
    if "$PY" -m pip install --quiet --force-reinstall --no-deps "$WHEEL" \
        && "$PY" -m pip install --quiet typing_extensions; then
        rm -f "$UNAVAIL/ringpy.txt"
    else
        unavailable ringpy "pip install $WHEEL failed"
    fi
elif installed ringpy; then
    echo "setup_venv: no ringpy wheel given or found in build/wheel; keeping the installed ringpy"
else
    unavailable ringpy "no ringpy wheel: pass its path as argument (build/wheel/ringpy-*.whl is absent)"
fi

# --- tachyon-ipc's compiler ---
APT_UPDATED=0
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

install_tachyon() {   # spec
    local spec="$1" log
    if ! command -v clang++-19 >/dev/null 2>&1 || ! command -v ld.lld-19 >/dev/null 2>&1; then
        echo "setup_venv: installing clang-19 and lld-19 for tachyon-ipc"
        if ! apt_install clang-19 lld-19; then
            unavailable tachyon-ipc "needs a C++23 compiler (gcc >= 14 or clang >= 17) with lld for its -flto build; clang-19/lld-19 missing and could not be installed with apt-get (not root or apt failed)"
            return
        fi
    fi
    log="$(mktemp)"
    echo "setup_venv: building $spec with clang-19 + lld-19 (about a minute)"
    # setup.py passes -flto: the objects are LLVM bitcode, which only lld links here.
    # It also adds -march=native unless CI=true: the extension is for this machine only.
    if CC=clang-19 CXX=clang++-19 \
        LDSHARED="clang++-19 -shared -fuse-ld=lld" LDCXXSHARED="clang++-19 -shared -fuse-ld=lld" \
        "$PY" -m pip install --no-cache-dir --no-binary tachyon-ipc "$spec" >"$log" 2>&1 \
        && installed tachyon; then
        rm -f "$UNAVAIL/tachyon-ipc.txt"
    else
        tail -n 15 "$log" | sed 's/^/    /'
        unavailable tachyon-ipc "build from source failed with clang-19/lld-19: $(grep -m1 -iE 'error' "$log" | cut -c1-300)"
    fi
    rm -f "$log"
}

# --- peers ---
while IFS= read -r line <&3; do
    spec="${line%%#*}"; spec="$(echo "$spec" | tr -d '[:space:]')"
    [ -z "$spec" ] && continue
    name="${spec%%[=<>!~]*}"
    mod="$(import_name "$name")"
    if installed "$mod" && satisfied "$spec"; then
        echo "setup_venv: $spec already installed"
        rm -f "$UNAVAIL/$name.txt"
        continue
    fi
    if [ "$name" = tachyon-ipc ]; then
        install_tachyon "$spec"
        continue
    fi
    echo "setup_venv: installing $spec"
    log="$(mktemp)"
    if "$PY" -m pip install --quiet "$spec" >"$log" 2>&1 && installed "$mod"; then
        rm -f "$UNAVAIL/$name.txt"
    else
        tail -n 10 "$log" | sed 's/^/    /'
        unavailable "$name" "pip install $spec failed: $(grep -m1 -iE 'error' "$log" | cut -c1-300)"
    fi
    rm -f "$log"
done 3< "$REQ"

echo "setup_venv: done; $VENV/bin/python:"
"$PY" - <<'PYEOF'
import importlib
from importlib.metadata import version
for dist, mod in (("ringpy", "ringpy"), ("pyzmq", "zmq"), ("faster-fifo", "faster_fifo"),
                  ("membridge", "membridge"), ("tachyon-ipc", "tachyon"), ("iceoryx2", "iceoryx2"),
                  ("eclipse-zenoh", "zenoh")):
    try:
        importlib.import_module(mod)
        print(f"  {dist:13s} {version(dist)}")
    except Exception as e:
        print(f"  {dist:13s} UNAVAILABLE ({type(e).__name__}: {e})")
PYEOF
