"""Builds ringpy: the Swift core as libringformat.so (static Swift runtime), copied into
the package, and the C extension ringpy._ringpy linked against it with an $ORIGIN rpath.
Metadata lives in pyproject.toml."""

import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
LIB_NAME = "libringformat.so"
# The library's SONAME, as the Makefile sets it (libringformat.so.$(SOVERSION), the major
# version; the version node of ringformat.map is RINGFORMAT_1): the extension, linked with
# -lringformat, records this name as NEEDED, so the package carries the library under it.
SONAME = "libringformat.so.1"


def build_swift_library() -> str:
    """Runs the release build of the C ABI library and returns its path."""
    swift = os.environ.get("SWIFT", shutil.which("swift") or "swift")
    scratch = os.path.join(ROOT, ".build-abi")
    cmd = [
        swift, "build", "-c", "release", "--product", "ringformat", "--package-path", ROOT,
        "--scratch-path", scratch, "--disable-local-rpath", "-Xswiftc", "-static-stdlib",
        "-Xlinker", "-soname=" + SONAME,
        "-Xlinker", "--version-script=" + os.path.join(ROOT, "Sources/CRingABI/build/ringformat.map"),
    ]
    subprocess.check_call(cmd)
    return os.path.join(scratch, "release", LIB_NAME)


class BuildWithSwift(build_ext):
    """build_ext that first builds libringformat.so and puts it inside the package."""

    def run(self):
        lib = build_swift_library()
        destinations = [os.path.join(self.build_lib, "ringpy")]
        if self.inplace:
            destinations.append(os.path.join(ROOT, "Sources", "RingPy", "ringpy"))
        for d in destinations:
            os.makedirs(d, exist_ok=True)
            # A copy under another name, left by an earlier build in build/lib*, would ship too.
            for old in os.listdir(d):
                if old.startswith(LIB_NAME) and old != SONAME:
                    os.remove(os.path.join(d, old))
            shutil.copy2(lib, os.path.join(d, SONAME))
        for ext in self.extensions:
            ext.library_dirs.append(os.path.dirname(lib))
        # Relink the extension every time: its NEEDED entry is the library's SONAME, which
        # setuptools' timestamp check on the C sources alone would not notice changing.
        self.force = True
        super().run()


setup(
    ext_modules=[
        Extension(
            "ringpy._ringpy",
            sources=[
                "Sources/RingPy/ringpy_module.c",
                "Sources/RingPy/ringpy_ring.c",
                "Sources/RingPy/ringpy_view.c",
                "Sources/RingPy/ringpy_wait.c",
            ],
            depends=["Sources/RingPy/ringpy.h"],
            include_dirs=["Sources/CRingABI/include"],
            libraries=["ringformat"],
            runtime_library_dirs=["$ORIGIN"],
            extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra"],
        )
    ],
    cmdclass={"build_ext": BuildWithSwift},
)
