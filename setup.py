"""Builds ringpy: the Swift core as libringformat.so (static Swift runtime), copied into
the package, and the C extension ringpy._ringpy linked against it with an $ORIGIN rpath;
and the operator tool ringctl (static Swift runtime too), which the package carries and
the `ringctl` console script runs. Where libzmq's development files are (pkg-config
libzmq), also libringformat_zmq.so and the extension ringpy._zmq over it (ringpy.zmq).
Metadata lives in pyproject.toml; the version comes from the file VERSION.

Only the standard library and setuptools are imported here, and nothing newer than Python
3.8 is used before setup() runs: pip reads the metadata first, so that an older Python is
told "requires a different Python" (requires-python) instead of an unrelated error."""

import os
import re
import shutil
import subprocess

import setuptools
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
LIB_NAME = "libringformat.so"
with open(os.path.join(ROOT, "VERSION"), encoding="ascii") as f:
    VERSION = f.read().strip()
# The library's SONAME, as the Makefile sets it (libringformat.so.$(SOVERSION), the major
# version; the version node of ringformat.map is RINGFORMAT_1): the extension, linked with
# -lringformat, records this name as NEEDED, so the package carries the library under it.
SONAME = LIB_NAME + "." + VERSION.split(".")[0]
SWIFT_NEEDED = (
    "Building ringpy from source needs Swift 6 (a Swift 6 toolchain's `swift` on PATH, or "
    "SWIFT=/path/to/swift), because its native core is the RingFormat Swift package. "
    "To install without Swift, use a prebuilt wheel instead: pip install ringpy-*.whl needs "
    "no Swift (`make wheel` on a machine with Swift 6 builds one into dist/)."
)


def find_swift() -> str:
    """The Swift 6 (or newer) compiler driver to build with; exits with SWIFT_NEEDED if none."""
    swift = os.environ.get("SWIFT") or shutil.which("swift")
    if not swift or not (os.path.isfile(swift) or shutil.which(swift)):
        raise SystemExit("error: `swift` was not found. " + SWIFT_NEEDED)
    try:
        out = subprocess.run([swift, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise SystemExit("error: `%s --version` failed (%s). %s" % (swift, e, SWIFT_NEEDED))
    m = re.search(r"Swift version (\d+)", out)
    if not m or int(m.group(1)) < 6:
        raise SystemExit("error: %s is not Swift 6 (%s). %s" % (swift, out.strip().splitlines()[0] if out.strip() else "no version", SWIFT_NEEDED))
    return swift


def build_c_library(product: str, scratch: str, lib_name: str, soname: str, version_script: str) -> str:
    """Runs the release build of one of the C ABI libraries (static Swift runtime, its SONAME
    and version script, as the Makefile's lib and lib-zmq do) and returns its path."""
    swift = find_swift()
    scratch = os.path.join(ROOT, scratch)
    subprocess.check_call([
        swift, "build", "-c", "release", "--product", product, "--package-path", ROOT,
        "--scratch-path", scratch, "--disable-local-rpath", "-Xswiftc", "-static-stdlib",
        "-Xlinker", "-soname=" + soname, "-Xlinker", "--version-script=" + os.path.join(ROOT, version_script),
    ])
    return os.path.join(scratch, "release", lib_name)


def build_swift_library() -> str:
    """libringformat (product ringformat, scratch path .build-abi)."""
    return build_c_library("ringformat", ".build-abi", LIB_NAME, SONAME, "Sources/CRingABI/build/ringformat.map")


# The ZeroMQ transport's C ABI (SPEC.md §23): a library of its own, so that libringformat
# stays free of libzmq; built (as `make lib-zmq` does) and packaged beside libringformat,
# with the extension ringpy._zmq over it, only where libzmq's development files are.
ZMQ_LIB_NAME = "libringformat_zmq.so"
ZMQ_SONAME = ZMQ_LIB_NAME + "." + VERSION.split(".")[0]
# Set to 1 to build ringpy without ringpy._zmq even where libzmq is installed.
WITHOUT_ZMQ = os.environ.get("RINGPY_WITHOUT_ZMQ", "") not in ("", "0")


def zmq_wanted() -> bool:
    """True if ringpy._zmq is built: libzmq's development files are there (`pkg-config
    --exists libzmq`; Debian's libzmq3-dev) and RINGPY_WITHOUT_ZMQ is not set."""
    if WITHOUT_ZMQ:
        return False
    pkg_config = shutil.which("pkg-config")
    if not pkg_config:
        return False
    return subprocess.run([pkg_config, "--exists", "libzmq"]).returncode == 0


def build_zmq_library() -> str:
    """libringformat_zmq (product ringformat_zmq, scratch path .build-abi-zmq)."""
    return build_c_library("ringformat_zmq", ".build-abi-zmq", ZMQ_LIB_NAME, ZMQ_SONAME,
                           "Sources/CRingZmqABI/build/ringformat_zmq.map")


def build_ringctl() -> str:
    """Runs the release build of ringctl (same scratch path and compile flags as the library,
    so only ringctl's own modules are compiled and linked) and returns its path."""
    swift = find_swift()
    scratch = os.path.join(ROOT, ".build-abi")
    subprocess.check_call([
        swift, "build", "-c", "release", "--product", "ringctl", "--package-path", ROOT,
        "--scratch-path", scratch, "--disable-local-rpath", "-Xswiftc", "-static-stdlib",
    ])
    return os.path.join(scratch, "release", "ringctl")


class BuildWithSwift(build_ext):
    """build_ext that first builds libringformat.so and puts it inside the package."""

    def run(self):
        tool = build_ringctl()
        lib = build_swift_library()
        zmq_lib = build_zmq_library() if any(e.name == "ringpy._zmq" for e in self.extensions) else None
        destinations = [os.path.join(self.build_lib, "ringpy")]
        if self.inplace:
            destinations.append(os.path.join(ROOT, "Sources", "RingPy", "ringpy"))
        for d in destinations:
            os.makedirs(d, exist_ok=True)
            # A copy under another name, left by an earlier build in build/lib*, would ship too.
            # (and a ringpy._zmq or its library from a build with libzmq, in one without).
            for old in os.listdir(d):
                if (old.startswith(LIB_NAME) and old != SONAME) or (
                        old.startswith(ZMQ_LIB_NAME) and (zmq_lib is None or old != ZMQ_SONAME)) or (
                        zmq_lib is None and old.startswith("_zmq.") and old.endswith(".so")):
                    os.remove(os.path.join(d, old))
            shutil.copy2(lib, os.path.join(d, SONAME))
            shutil.copy2(tool, os.path.join(d, "ringctl"))
            if zmq_lib:
                shutil.copy2(zmq_lib, os.path.join(d, ZMQ_SONAME))
            # Debug info off what ships (as `make install` does): 10 MB -> 6, 26 MB -> 15.
            strip = shutil.which("strip")
            if strip:
                subprocess.check_call([strip, "--strip-unneeded", os.path.join(d, SONAME)])
                subprocess.check_call([strip, os.path.join(d, "ringctl")])
                if zmq_lib:
                    subprocess.check_call([strip, "--strip-unneeded", os.path.join(d, ZMQ_SONAME)])
        for ext in self.extensions:
            ext.library_dirs.append(os.path.dirname(lib))
            if zmq_lib:
                ext.library_dirs.append(os.path.dirname(zmq_lib))
        # Relink the extension every time: its NEEDED entry is the library's SONAME, which
        # setuptools' timestamp check on the C sources alone would not notice changing.
        self.force = True
        super().run()


class BuildPyWithVersion(build_py):
    """build_py that also writes ringpy/_version.py (ringpy.__version__) from VERSION."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "ringpy", "_version.py")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="ascii") as f:
            f.write("# Written by setup.py from the file VERSION.\n__version__ = %r\n" % VERSION)


# setuptools 77+ takes the SPDX expression (License-Expression); older ones, which only
# Python 3.8 gets and which only read the metadata there, the free-text License field.
if int(setuptools.__version__.split(".")[0]) >= 77:
    LICENSE = {"license_expression": "MIT"}
else:
    LICENSE = {"license": "MIT"}

EXTENSIONS = [
    Extension(
        "ringpy._ringpy",
        sources=[
            "Sources/RingPy/ringpy_module.c",
            "Sources/RingPy/ringpy_ring.c",
            "Sources/RingPy/ringpy_reader.c",
            "Sources/RingPy/ringpy_view.c",
            "Sources/RingPy/ringpy_items.c",
            "Sources/RingPy/ringpy_wait.c",
            "Sources/RingPy/ringpy_bell.c",
            "Sources/RingPy/ringpy_live.c",
        ],
        depends=["Sources/RingPy/ringpy.h"],
        include_dirs=["Sources/CRingABI/include"],
        libraries=["ringformat"],
        runtime_library_dirs=["$ORIGIN"],
        extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra"],
    )
]
if zmq_wanted():
    # Without libzmq, ringpy has no _zmq and `import ringpy.zmq` says why (ringpy/zmq.py).
    EXTENSIONS.append(
        Extension(
            "ringpy._zmq",
            sources=["Sources/RingPy/ringpy_zmq.c"],
            include_dirs=["Sources/CRingABI/include", "Sources/CRingZmqABI/include"],
            libraries=["ringformat_zmq"],
            runtime_library_dirs=["$ORIGIN"],
            extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra"],
        )
    )

setup(
    version=VERSION,
    **LICENSE,
    ext_modules=EXTENSIONS,
    cmdclass={"build_ext": BuildWithSwift, "build_py": BuildPyWithVersion},
)
