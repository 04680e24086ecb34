#!/usr/bin/env python3
"""check_readme_examples.py - fails unless every Swift, C and Python code block of the READMEs
is an exact excerpt of an example that scripts/run_examples.sh builds and runs, so that a README
example can never silently break. Run by `make test-examples`.

A checked block (```swift, ```c, ```python) must have, on the line right above its fence,

    <!-- example: examples/python/producer.py -->                 the whole file, or
    <!-- example: examples/swift/Sources/producer/main.swift#produce -->   one region of it

where a region is the lines between `example-begin NAME` and `example-end NAME` comment lines
(`// ...`, `# ...` or `/* ... */`), dedented. The example-begin/end lines themselves are never
quoted. The example's path, or a folder above it inside examples/, must appear in
scripts/run_examples.sh. A ```sh block with a marker is checked the same way (the ringctl
tour); other unmarked blocks (```sh, ...) are not checked.

    check_readme_examples.py [--update] [FILE.md ...]   (default: README.md Sources/RingPy/README.md)

Exit status 1, with one line per problem naming the README, its line and the example.
--update first rewrites every marked block from its example (after editing an example).
"""

import difflib
import os
import re
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILES = ["README.md", "Sources/RingPy/README.md"]
RUNNER = "scripts/run_examples.sh"
CHECKED = {"swift", "c", "python"}
#: Checked when marked (shell sessions quoted from an example script).
CHECKED_IF_MARKED = {"sh"}
FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*example:\s*(\S+?)\s*-->\s*$")
REGION = re.compile(r"^\s*(?://|#|/\*)\s*example-(begin|end)\s+(\S+?)\s*(?:\*/)?\s*$")


def blocks(lines):
    """(index of the opening fence, language, text of the line above, body lines)."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1).lower()
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        above = lines[start - 1] if start > 0 else ""
        yield start, lang, above, lines[start + 1:i]
        i += 1


def excerpt(spec):
    """The lines that `path` or `path#region` quotes; raises ValueError saying what is wrong."""
    path, _, region = spec.partition("#")
    full = os.path.join(ROOT, path)
    if not os.path.isfile(full):
        raise ValueError(f"{path} does not exist")
    source = open(full, encoding="utf-8").read().splitlines()
    if not region:
        return [line for line in source if not REGION.match(line)]
    inside, found, out = False, 0, []
    for line in source:
        m = REGION.match(line)
        if m and m.group(2) == region:
            if (m.group(1) == "begin") == inside:
                raise ValueError(f"{path}: example-{m.group(1)} {region} out of order")
            inside = m.group(1) == "begin"
            found += not inside
        elif inside and not m:
            out.append(line)
    if inside or found != 1:
        raise ValueError(f"{path} has {found} complete region(s) named {region!r}, not 1")
    return textwrap.dedent("\n".join(out)).split("\n")


def run_by_runner(path, runner_text):
    """Whether the runner names the example or a folder above it inside examples/."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(2, len(parts) + 1)]
    return parts[0] == "examples" and any(
        re.search(re.escape(c) + r"(?![\w.-])", runner_text) for c in candidates)


def update(readme):
    """Rewrites each marked block of `readme` from its example (unknown examples are left)."""
    path = os.path.join(ROOT, readme)
    lines = open(path, encoding="utf-8").read().splitlines()
    for start, lang, above, body in reversed(list(blocks(lines))):
        marker = MARKER.match(above)
        if (lang in CHECKED or lang in CHECKED_IF_MARKED) and marker:
            try:
                lines[start + 1:start + 1 + len(body)] = excerpt(marker.group(1))
            except ValueError:
                pass
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def check(readme, runner_text):
    problems, quoted = [], 0
    lines = open(os.path.join(ROOT, readme), encoding="utf-8").read().splitlines()
    for start, lang, above, body in blocks(lines):
        line = start + 1
        marker = MARKER.match(above)
        if lang not in CHECKED and not (lang in CHECKED_IF_MARKED and marker):
            if marker:
                problems.append(f"{readme}:{line}: an example marker above a ```{lang or 'plain'} block")
            continue
        if not marker:
            problems.append(f"{readme}:{line}: ```{lang} block without an <!-- example: PATH[#REGION] --> line above it")
            continue
        spec = marker.group(1)
        try:
            want = excerpt(spec)
        except ValueError as e:
            problems.append(f"{readme}:{line}: example {spec}: {e}")
            continue
        if not run_by_runner(spec.partition("#")[0], runner_text):
            problems.append(f"{readme}:{line}: example {spec} is not run by {RUNNER}")
        if body != want:
            diff = difflib.unified_diff(want, body, spec, readme, lineterm="", n=1)
            problems.append(f"{readme}:{line}: ```{lang} block differs from example {spec}:\n    "
                            + "\n    ".join(list(diff)[2:12]))
            continue
        quoted += 1
    return problems, quoted


def main(args):
    readmes = [a for a in args if a != "--update"] or DEFAULT_FILES
    if "--update" in args:
        for readme in readmes:
            update(readme)
    runner_text = open(os.path.join(ROOT, RUNNER), encoding="utf-8").read()
    problems, quoted = [], 0
    for readme in readmes:
        p, q = check(readme, runner_text)
        problems += p
        quoted += q
    for p in problems:
        print(p, file=sys.stderr)
    print(f"check_readme_examples: {quoted} code blocks of {', '.join(readmes)} are examples, "
          f"{len(problems)} problem(s)")
    return 1 if problems or quoted == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
