"""Check results and how they are shown: an aligned table, or JSON for scripts."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CheckResult", "Status", "exit_code", "render_json", "render_table"]


class Status(enum.Enum):
    PASS = "PASS"
    WARN = "WARN"  # works, but an operator should look (idle, catching up, stale heartbeat)
    FAIL = "FAIL"  # the deployment loses or stops ingesting data


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: which check, about what, its verdict and why."""

    check: str  # "produce", "consume", "blocks", "bucket-index"
    subject: str
    status: Status
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "status": self.status.value,
                "reason": self.reason}


def _summary(results: Sequence[CheckResult]) -> dict[str, int]:
    return {s.value: sum(r.status is s for r in results) for s in Status}


def render_table(results: Sequence[CheckResult]) -> str:
    rows = [("CHECK", "SUBJECT", "STATUS", "REASON")] + [
        (r.check, r.subject, r.status.value, r.reason) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)), row[3]])
             for row in rows]
    counts = _summary(results)
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def render_json(results: Sequence[CheckResult]) -> str:
    return json.dumps({"results": [r.to_dict() for r in results],
                       "summary": _summary(results)}, indent=2)


def exit_code(results: Sequence[CheckResult]) -> int:
    """1 when any check failed, else 0 (warnings do not fail a script)."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0
