"""The root of Tidewell's own errors.

Every error class we define derives from :class:`TidewellError` (beside the
builtin it refines, e.g. ``ValueError``), so ``except TidewellError`` tells
failures we raise on purpose from bugs and from third-party libraries.
"""

from __future__ import annotations

__all__ = ["TidewellError"]


class TidewellError(Exception):
    """Base of every error Tidewell raises on purpose."""
