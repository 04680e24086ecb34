#!/usr/bin/env bash
# test_python.sh - builds and tests ringpy:
#  1. `pip install .` into a virtualenv of the project's own (.venv), with pytest,
#     hypothesis and numpy, and imports ringpy from another directory;
#  2. `pip wheel .`, installed into a fresh virtualenv, imported with no Swift on PATH
#     and no LD_LIBRARY_PATH;
#  3. the pytest suite (Tests/python), including Python <-> Swift and Python <-> C processes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
export RINGCTL=${RINGCTL:-$PWD/.build/debug/ringctl}
export RING_PEER=${RING_PEER:-$PWD/build/ring_peer}
export RINGFORMAT_LIB=${RINGFORMAT_LIB:-$PWD/.build-abi/release/libringformat.so}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check pytest hypothesis numpy
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps .
(cd /tmp && "$OLDPWD/$VENV/bin/python" -c "import ringpy; print('ringpy', ringpy.__version__, 'imports from', ringpy.__file__)")

# A wheel, in a fresh virtualenv, with no Swift toolchain reachable.
rm -rf build/wheel build/wheel-venv
"$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps -w build/wheel .
"$PYTHON" -m venv build/wheel-venv
build/wheel-venv/bin/python -m pip install -q --disable-pip-version-check build/wheel/ringpy-*.whl
(cd /tmp && env -u LD_LIBRARY_PATH PATH=/usr/bin:/bin "$OLDPWD/build/wheel-venv/bin/python" - <<'PY'
import os, tempfile, ringpy
path = os.path.join(tempfile.mkdtemp(), "wheel.ring")
with ringpy.Ring.create(path, 4096) as ring:
    ring.put(b"from a wheel")
    assert ring.get() == b"from a wheel"
print("wheel works in a fresh virtualenv:", os.path.basename(ringpy.__file__), "from", os.path.dirname(ringpy.__file__))
PY
)
if ldd build/wheel-venv/lib/python*/site-packages/ringpy/*.so | grep -qi swift; then
    echo "the wheel needs a Swift runtime" >&2; exit 1
fi

"$VENV/bin/python" -m pytest Tests/python -q -p no:cacheprovider "$@"
