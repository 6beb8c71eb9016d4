"""Render result rows as a Markdown table and append a dated run to BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

from benchmarks.stats import SYSTEM_LABELS, SYSTEMS, Row

__all__ = ["append_report", "machine_info", "render_report", "render_table"]

REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
            text=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{rev}{' (+ uncommitted changes)' if dirty else ''}" if rev else "unknown"


def machine_info() -> dict[str, str]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git": _git_rev(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(rows: Sequence[Row]) -> str:
    """Columns: every system that any row has a cell for, in ``SYSTEMS`` order."""
    systems = [s for s in SYSTEMS if any(s in r.cells for r in rows)]
    names = [SYSTEM_LABELS[s] for s in systems]
    head = (
        "| " + " | ".join(["scenario", "metric", "unit", *names, "Tidewell / peer", "notes"])
        + " |\n|" + "---|" * (len(systems) + 5) + "\n"
    )
    lines = []
    for r in rows:
        ratio = r.ratio_text()
        if ratio != "-":
            ratio += f" ({r.better} is better)"
        cells = [r.cell(s).render() for s in systems]
        lines.append(
            "| "
            + " | ".join(_cell(x) for x in (r.scenario, r.metric, r.unit, *cells, ratio, r.note))
            + " |"
        )
    return head + "\n".join(lines) + "\n"


def render_report(
    rows: Sequence[Row], *, command: str, settings: dict[str, str], when: dt.datetime | None = None
) -> str:
    when = when or dt.datetime.now(dt.UTC)
    info = machine_info()
    out = [
        f"## Run of {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{command}`",
        f"- machine: {info['cores']} cores, {info['cpu']}, {info['memory']} RAM, "
        f"Linux {info['kernel']}, Python {info['python']}; load average at the end "
        f"{info['load']} (the machine is shared: other processes compete for both cores)",
        f"- git revision: {info['git']}",
        "- settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()),
        "- cells: median [min-max] (n = repetitions); `n/a` says why a figure is missing",
        "",
        render_table(rows),
    ]
    return "\n".join(out)


_HEADER = """# Benchmarks

Tidewell side by side with Prometheus 2.42, Prometheus 3 and VictoriaMetrics on
the same load in the same run, made by `python -m benchmarks run` (see
`benchmarks/__main__.py` for the options). Each server is pinned to core 0 (the
Go ones with `GOMAXPROCS=1`), the load generator to core 1. Newest runs are appended at the end.

"""


def append_report(text: str, path: Path | None = None) -> Path:
    path = path or REPO / "BENCHMARKS.md"
    if not path.exists():
        path.write_text(_HEADER)
    with open(path, "a") as f:
        f.write("\n" + text)
    return path
