"""The image definition's required properties, checked on the file itself (no hadolint here):
multi-stage, non-root, runtime dependencies only, ``tidewell`` entrypoint, one data volume.
tests/e2e/deploy/test_image.py builds and runs it with podman."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def stages() -> list[list[tuple[str, str]]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Containerfile").read_text())
    out: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        if op.upper() == "FROM":
            out.append([])
        if out:
            out[-1].append((op.upper(), rest.strip()))
    return out


def test_multi_stage_with_the_same_base() -> None:
    build, runtime = stages()
    assert build[0] == ("FROM", "${BASE_IMAGE} AS build")
    assert runtime[0] == ("FROM", "${BASE_IMAGE}")
    assert any(op == "COPY" and arg.startswith("--from=build /opt/tidewell")
               for op, arg in runtime)
    # The virtualenv it copies keeps no installer: pip and setuptools are removed.
    build_runs = " ".join(arg for op, arg in build if op == "RUN")
    assert "pip uninstall -q -y pip setuptools" in build_runs


def test_runtime_stage_has_runtime_dependencies_only() -> None:
    _build, runtime = stages()
    runs = " ".join(arg for op, arg in runtime if op == "RUN")
    installed = re.findall(r"apt-get install [^&]*", runs)
    assert len(installed) == 1
    packages = set(installed[0].split()[2:]) - {"-y", "--no-install-recommends"}
    assert packages == {"python3", "ca-certificates"}
    assert "pip" not in runs and "python3-venv" not in runs
    assert "rm -rf /var/lib/apt/lists/*" in runs


def test_non_root_entrypoint_and_one_volume() -> None:
    _build, runtime = stages()
    last = {op: arg for op, arg in runtime}  # the last of each instruction wins
    assert last["USER"] == "10001:10001"
    assert json.loads(last["ENTRYPOINT"]) == ["/opt/tidewell/bin/tidewell"]
    assert [arg for op, arg in runtime if op == "VOLUME"] == ['["/data"]']
    # State lands in the volume whatever flags are given: the default ./tidewell-data is
    # relative to the working directory (a CMD would be replaced by the user's flags).
    assert last["WORKDIR"] == "/data" and "CMD" not in last
    assert last["EXPOSE"] == "8080"
    # USER comes after every RUN: nothing runs as root at container start.
    ops = [op for op, _ in runtime]
    assert ops.index("USER") > max(i for i, op in enumerate(ops) if op == "RUN")


def test_build_context_is_only_what_the_build_needs() -> None:
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*"
    assert {ln for ln in lines if ln.startswith("!")} == {
        "!pyproject.toml", "!README.md", "!src/", "!wheelhouse/"}
