#!/usr/bin/env bash
# test_python.sh - builds and tests ringpy:
#  1. `pip install .` into a virtualenv of the project's own (.venv), with pytest,
#     hypothesis, numpy and pyzmq (the raw sockets of test_zmq.py), and imports ringpy from
#     another directory;
#  2. the wheel pip users get (scripts/build_wheel.sh, as `make wheel`: built, then repaired
#     and tagged manylinux by auditwheel), checked with `auditwheel show`, installed into a
#     fresh virtualenv and used there with no Swift on PATH and no LD_LIBRARY_PATH: a ring
#     made and read, and examples/python/hello.py run (the package's README quotes it;
#     scripts/check_readme_examples.py checks that quote);
#  3. the pytest suite (Tests/python), including Python <-> Swift and Python <-> C processes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
export RINGCTL=${RINGCTL:-$PWD/.build/debug/ringctl}
export RING_PEER=${RING_PEER:-$PWD/build/ring_peer}
export RINGFORMAT_LIB=${RINGFORMAT_LIB:-$PWD/.build-abi/release/libringformat.so}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check pytest hypothesis numpy pyzmq
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps .
(cd /tmp && "$OLDPWD/$VENV/bin/python" -c "import ringpy; print('ringpy', ringpy.__version__, 'imports from', ringpy.__file__)")

# The repaired wheel, in a fresh virtualenv, with no Swift toolchain reachable.
wheel=$(PYTHON="$PYTHON" ./scripts/build_wheel.sh | tail -n 1)
build_venv=.venv-build/$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
"$build_venv/bin/auditwheel" show "$wheel" > build/wheel-show.txt
if ! grep -Eq 'consistent with[[:space:]]+the following platform tag: "manylinux_[0-9]+_[0-9]+_' <(tr '\n' ' ' < build/wheel-show.txt); then
    cat build/wheel-show.txt >&2; echo "auditwheel show: $wheel has no manylinux tag" >&2; exit 1
fi
echo "$(basename "$wheel"): $(grep -o 'manylinux_[0-9]*_[0-9]*_[a-z0-9_]*' build/wheel-show.txt | head -n 1) (auditwheel show)"
rm -rf build/wheel-venv
"$PYTHON" -m venv build/wheel-venv
build/wheel-venv/bin/python -m pip install -q --disable-pip-version-check "$wheel"
# PATH without any directory that has a swift (/opt/swift/usr/bin here).
no_swift_path=$(tr ':' '\n' <<< "$PATH" | while read -r d; do if [ -n "$d" ] && [ ! -e "$d/swift" ]; then echo "$d"; fi; done | paste -sd: -)
if PATH=$no_swift_path command -v swift > /dev/null; then echo "swift is still on PATH" >&2; exit 1; fi
# ringpy.zmq is in the wheel where libzmq's development files were at build time (setup.py).
want_zmq=0
case "${RINGPY_WITHOUT_ZMQ:-0}" in 0|"") pkg-config --exists libzmq 2> /dev/null && want_zmq=1 ;; esac
(cd /tmp && env -u LD_LIBRARY_PATH PATH="$no_swift_path" VERSION="$(cat "$OLDPWD/VERSION")" WANT_ZMQ=$want_zmq "$OLDPWD/build/wheel-venv/bin/python" - <<'PY'
import os, tempfile, ringpy
assert ringpy.__version__ == os.environ["VERSION"], (ringpy.__version__, os.environ["VERSION"])
path = os.path.join(tempfile.mkdtemp(), "wheel.ring")
with ringpy.Ring.create(path, 4096) as ring:
    ring.put(b"from a wheel")
    assert ring.get() == b"from a wheel"
print("wheel works in a fresh virtualenv:", os.path.basename(ringpy.__file__), "from", os.path.dirname(ringpy.__file__))
if os.environ.get("WANT_ZMQ") == "1":
    # The transport from the wheel: its libringformat_zmq and the libzmq auditwheel bundled.
    from ringpy.zmq import ZmqConsumer, ZmqProducer
    endpoint = "ipc://" + os.path.join(os.path.dirname(path), "wheel.sock")
    with ZmqProducer(endpoint) as producer, ZmqConsumer(endpoint) as consumer:
        assert producer.put_packed([b"over", b"zeromq"], timeout=10) == 2
        producer.close_writer()
        assert list(consumer) == [b"over", b"zeromq"]
    print("ringpy.zmq works from the wheel (libringformat_zmq and libzmq inside it)")
PY
)
rm -rf build/wheel-hello && mkdir -p build/wheel-hello
hello=$(cd /tmp && env -u LD_LIBRARY_PATH PATH="$no_swift_path" "$OLDPWD/build/wheel-venv/bin/python" \
    "$OLDPWD/examples/python/hello.py" "$OLDPWD/build/wheel-hello/hello.ring")
[ "$hello" = hello ] || { echo "examples/python/hello.py with the wheel printed '$hello'" >&2; exit 1; }
echo "examples/python/hello.py (Sources/RingPy/README.md) runs with the wheel"
# The operator tool behind the wheel's `ringctl` console script, with no Swift either.
tool_version=$(env -u LD_LIBRARY_PATH PATH="$no_swift_path" build/wheel-venv/bin/ringctl --version)
[ "$tool_version" = "$(cat VERSION)" ] || { echo "the wheel's ringctl --version printed '$tool_version'" >&2; exit 1; }
env -u LD_LIBRARY_PATH PATH="$no_swift_path" build/wheel-venv/bin/ringctl validate build/wheel-hello/hello.ring
if ldd build/wheel-venv/lib/python*/site-packages/ringpy/ringctl | grep -qi swift; then
    echo "the wheel's ringctl needs a Swift runtime" >&2; exit 1
fi
if ldd build/wheel-venv/lib/python*/site-packages/ringpy/*.so | grep -qi swift; then
    echo "the wheel needs a Swift runtime" >&2; exit 1
fi

"$VENV/bin/python" -m pytest Tests/python -q -p no:cacheprovider "$@"
