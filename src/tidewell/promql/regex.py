"""RE2 (Go) regular expressions as Python's ``re`` needs them."""

from __future__ import annotations

import re

__all__ = ["go_regex"]


def go_regex(pattern: str) -> str:
    """Rewrite RE2 inline flags (``a(?i)b``) as Python scoped groups (``a(?i:b)``).

    RE2 allows flag groups anywhere; Python only at the very start, and our
    matchers wrap every pattern in a group, so we always scope them.
    """
    if "(?" not in pattern:
        return pattern
    out: list[str] = []
    closers: list[int] = []  # per open group: how many extra ")" to add when it closes
    extra = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i:j + 1])
            i = j + 1
            continue
        if c == "(":
            m = re.match(r"\(\?([imsU-]+)\)", pattern[i:])
            if m:
                flags = m.group(1).replace("U", "")
                if flags and flags != "-":
                    out.append(f"(?{flags}:")
                    extra += 1
                i += m.end()
                continue
            closers.append(extra)
            extra = 0
            out.append(c)
            i += 1
            continue
        if c == ")":
            out.append(")" * extra)
            extra = closers.pop() if closers else 0
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * extra)
    return "".join(out)
