#!/usr/bin/env python3
"""Runs every ```python block of the given Markdown files, each as a program of its own in a
fresh temporary directory with this interpreter, so that a README example cannot silently
break. A block fails on a non-zero exit or after TIMEOUT seconds.

A block that makes a ring at a /dev/shm path it names leaves none behind: those paths are
removed afterwards unless they were there before.

    run_readme_python.py FILE.md [FILE.md ...]
"""

import os
import re
import subprocess
import sys
import tempfile

TIMEOUT = 60
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def blocks(path):
    text = open(path, encoding="utf-8").read()
    for m in BLOCK.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)


def main(paths):
    if not paths:
        sys.exit(__doc__)
    failed = ran = 0
    for path in paths:
        for line, code in blocks(path):
            ran += 1
            named = set(re.findall(r"""["'](/dev/shm/[^"'/]+)["']""", code))
            before = {p for p in named if os.path.lexists(p)}
            with tempfile.TemporaryDirectory(prefix="readme-") as cwd:
                try:
                    r = subprocess.run([sys.executable, "-"], input=code, cwd=cwd, timeout=TIMEOUT,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
                    ok, out = r.returncode == 0, r.stdout
                except subprocess.TimeoutExpired as e:
                    ok, out = False, (e.stdout or "") + "\n(still running after %d s)" % TIMEOUT
            for made in named - before:
                if os.path.lexists(made):
                    os.unlink(made)
            print("%s:%d: %s" % (path, line, "ok" if ok else "FAILED"))
            if not ok:
                failed += 1
                print("".join("    " + l for l in out.splitlines(True)), file=sys.stderr)
    if ran == 0:
        sys.exit("no ```python block in " + ", ".join(paths))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
