"""The operator CLI, ``tidewell tool …``."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print("usage: tidewell tool <command> …\n\nno tool commands are available yet",
          file=sys.stderr)
    return 2
