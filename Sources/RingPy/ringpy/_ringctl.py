"""The ``ringctl`` console script: runs the ringctl binary that ships inside this package
(the operator tool for ring files: ``ringctl --help``)."""

from __future__ import annotations

import os
import sys


def path() -> str:
    """Path of the ringctl executable inside the installed package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "ringctl")


def main() -> None:
    """Replaces this process with ringctl, passing the command line on."""
    tool = path()
    if not os.access(tool, os.X_OK):
        sys.exit(f"ringctl: {tool} is missing or not executable (a broken ringpy install?)")
    os.execv(tool, [tool, *sys.argv[1:]])


if __name__ == "__main__":
    main()
