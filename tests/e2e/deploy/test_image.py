"""The container image, built with podman from a Debian root filesystem made by mmdebstrap
(no registry), running the single-process smoke test: ready, a remote write, the query that
reads it back, as the non-root user with its state in the /data volume, and a clean stop.

Slow (about 2 min to build, plus the first push compiling the Numba kernels inside the
container, and 1.5 min once for the base filesystem), so it is out of the default suite:
``make test-image`` (or ``pytest -m image tests/e2e/deploy``) runs it.

Why the podman flags: this machine has hybrid cgroups, which crun (podman's default runtime
on Debian) refuses, so runc runs the containers; and podman's default ulimits (nofile
1048576) exceed the hard limits here, which no runtime may raise, so the test sets its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.ports import free_port
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[3]
BASE = "localhost/tidewell-debian-base:bookworm"
IMAGE = "localhost/tidewell:e2e"
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
SERIES = 10


def run(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args[:4])}… failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def need(binary: str, package: str) -> None:
    if shutil.which(binary) is None:
        raise AssertionError(f"{binary} is missing: scripts/setup.sh installs Debian's "
                             f"{package} (apt-get install {package})")


def base_image(tmp: Path) -> None:
    """A Debian bookworm root filesystem with Python, imported once and kept."""
    if run(*PODMAN, "image", "exists", BASE, check=False).returncode == 0:
        return
    tar = tmp / "rootfs.tar"
    run("mmdebstrap", "--variant=minbase", "--include=python3,ca-certificates", "bookworm",
        str(tar), timeout=900)
    run(*PODMAN, "import", str(tar), BASE)


def build_context(tmp: Path) -> Path:
    """The repository's build inputs plus a wheelhouse, so pip needs no index in the build."""
    ctx = tmp / "context"
    ctx.mkdir()
    for name in ("pyproject.toml", "README.md", "Containerfile", ".dockerignore"):
        shutil.copy(ROOT / name, ctx / name)
    shutil.copytree(ROOT / "src", ctx / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = ctx / "wheelhouse"
    run(sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), str(ROOT))
    run(sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels), "setuptools>=77",
        "wheel")
    return ctx


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for binary, package in (("podman", "podman"), ("mmdebstrap", "mmdebstrap"),
                            ("runc", "runc")):
        need(binary, package)
    tmp = tmp_path_factory.mktemp("image")
    base_image(tmp)
    ctx = build_context(tmp)
    run(*PODMAN, "build", "--network", "host", *LIMITS, "--build-arg", f"BASE_IMAGE={BASE}",
        "--build-arg", "PIP_ARGS=--no-index --find-links=/src/wheelhouse",
        "-t", IMAGE, "-f", str(ctx / "Containerfile"), str(ctx), timeout=1200)
    try:
        yield IMAGE
    finally:
        run(*PODMAN, "rmi", "-f", IMAGE, check=False)
        run(*PODMAN, "image", "prune", "-f", check=False)


def _body(now_ms: int) -> bytes:
    labels = [Labels({"__name__": "image_smoke", "series": str(i)}.items())
              for i in range(SERIES)]
    batch = SampleBatch(labels=labels, series_index=np.arange(SERIES, dtype=np.int32),
                        timestamps=np.full(SERIES, now_ms, dtype=np.int64),
                        values=np.arange(SERIES, dtype=np.float64))
    return bytes(snappy_compress(encode_write_request(batch)))


def test_image_definition(image: str) -> None:
    (info,) = json.loads(run(*PODMAN, "image", "inspect", image).stdout)
    cfg = info["Config"]
    assert cfg["User"] == "10001:10001"
    assert cfg["Entrypoint"] == ["/opt/tidewell/bin/tidewell"]
    assert list(cfg["Volumes"]) == ["/data"]
    # Runtime dependencies only: no pip, no compiler, no venv module outside the virtualenv.
    probe = run(*PODMAN, "run", "--rm", *LIMITS, "--entrypoint", "sh", image, "-c",
                "for b in gcc cc pip pip3 apt-get; do command -v $b; done; "
                "ls /usr/lib/python3.11/ensurepip 2>&1; "
                "/opt/tidewell/bin/tidewell -version", check=False)
    assert "/usr/bin/apt-get" in probe.stdout  # the probe ran
    assert "gcc" not in probe.stdout and "pip" not in probe.stdout.replace("ensurepip", "")
    assert "No such file" in probe.stdout  # ensurepip (python3-venv) is not installed
    assert "tidewell, version" in probe.stdout


def test_single_process_smoke_test_in_the_container(image: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 10001, 10001)  # the image's user owns its volume
    port = free_port()
    name = f"tidewell-e2e-{os.getpid()}"
    run(*PODMAN, "run", "-d", "--name", name, "--network", "host", *LIMITS,
        "-v", f"{data}:/data", image, f"-server.http-listen-port={port}",
        "-auth.multitenancy-enabled=false")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, run(*PODMAN, "logs", name).stderr[-3000:]
            time.sleep(1)
        assert run(*PODMAN, "exec", name, "id", "-u").stdout.strip() == "10001"
        now_ms = int(time.time() * 1000)
        r = httpx.post(f"{url}/api/v1/push", content=_body(now_ms), timeout=300, headers={
            "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 600  # the first samples compile the Numba kernels
        while True:
            q = httpx.get(f"{url}/prometheus/api/v1/query", timeout=60,
                          params={"query": "sum(image_smoke)", "time": now_ms / 1000})
            result = q.json()["data"]["result"] if q.status_code == 200 else []
            if result:
                break
            assert time.monotonic() < deadline, (q.status_code, q.text)
            time.sleep(2)
        assert float(result[0]["value"][1]) == sum(range(SERIES))
        # State is in the volume (the default ./tidewell-data under the working directory
        # /data), owned by the image's user.
        state = data / "tidewell-data"
        assert (state / "log").is_dir() and (state / "tsdb").is_dir()
        assert (state / "tsdb").stat().st_uid == 10001
        # SIGTERM to PID 1 (tidewell itself) is a clean shutdown.
        run(*PODMAN, "stop", "-t", "60", name, timeout=120)
        (state,) = json.loads(run(*PODMAN, "inspect", name).stdout)
        assert state["State"]["ExitCode"] == 0, run(*PODMAN, "logs", name).stderr[-3000:]
        assert "shutdown complete" in run(*PODMAN, "logs", name).stderr
    finally:
        run(*PODMAN, "rm", "-f", name, check=False)
