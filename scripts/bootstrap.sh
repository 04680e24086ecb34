#!/usr/bin/env bash
# bootstrap.sh - installs what the build and the tests need that a fresh
# machine may lack. Debian packages are installed only when running as root.
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cmake >/dev/null || need+=(cmake)
command -v nm >/dev/null || need+=(binutils)
# libzmq for the ZeroMQ transport (RingZmq, SPEC.md §23); the base library does not need it.
pkg-config --exists libzmq 2>/dev/null || need+=(libzmq3-dev)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
python3 -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
    || need+=(python3-dev)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        echo "bootstrap: missing ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
        exit 1
    fi
fi
command -v swift >/dev/null || { echo "bootstrap: Swift 6 is needed (swift not on PATH)" >&2; exit 1; }
