"""A byte-count progress display: a redrawn bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "human_bytes"]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}GiB"


class Progress:
    """Tracks bytes done out of ``total``; ``tty=None`` asks the stream."""

    def __init__(self, total: int, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._start = time.monotonic()
        self._drawn = False

    def advance(self, n: int, what: str) -> None:
        self.done += n
        if self.tty:
            width = 30
            filled = int(width * self.done / self.total)
            pct = 100 * self.done / self.total
            rate = self.done / max(time.monotonic() - self._start, 1e-6)
            line = (
                f"\r[{'#' * filled}{'.' * (width - filled)}] {pct:5.1f}% "
                f"{human_bytes(self.done)}/{human_bytes(self.total)} "
                f"{human_bytes(rate)}/s {what[-40:]:<40}"
            )
            self.stream.write(line)
            self._drawn = True
        else:
            self.stream.write(f"uploaded {what} ({human_bytes(n)}, "
                              f"{human_bytes(self.done)}/{human_bytes(self.total)})\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
