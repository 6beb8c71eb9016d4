"""Start the systems under test on chosen cores, wait until ready, read their resources.

Both servers run under ``taskset -c <cores>`` (Prometheus also gets
``GOMAXPROCS``) so a per-core figure means the same thing for both; the
harness itself pins to another core (see ``pin_self``). Resident memory and
CPU time are read from ``/proc`` and summed over the server's process tree,
so helpers a server might spawn are counted too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tidewell.util.ports import free_port

__all__ = [
    "Prometheus3Server",
    "PrometheusServer",
    "Server",
    "ServerError",
    "TidewellServer",
    "VictoriaMetricsServer",
    "dir_size",
    "ensure_peers",
    "free_port",
    "log_progress",
    "pin_self",
    "wait_http_ok",
]

PROMETHEUS_BIN = os.environ.get("BENCH_PROMETHEUS_BIN", "/usr/bin/prometheus")


def peer_binary(name: str) -> str:
    """A peer installed by scripts/peers.sh (``$TIDEWELL_PEERS_DIR``, else ~/.cache/...)."""
    root = os.environ.get("TIDEWELL_PEERS_DIR") or str(Path.home() / ".cache" / "tidewell-peers")
    return str(Path(root) / "bin" / name)


_PEERS_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "peers.sh"
_PEER_PACKAGES = {"prometheus3": "prometheus", "victoriametrics": "victoria-metrics"}


def ensure_peers(systems: list[str]) -> str | None:
    """Install the selected peers with scripts/peers.sh (it skips what is cached).

    Returns None when done, else why not: the run goes on, and those columns
    then say their binary is missing.
    """
    wanted = " ".join(_PEER_PACKAGES[s] for s in systems if s in _PEER_PACKAGES)
    if not wanted:
        return None
    try:
        done = subprocess.run([str(_PEERS_SCRIPT)], env={**os.environ, "TIDEWELL_PEERS": wanted},
                              capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{_PEERS_SCRIPT} failed: {exc}"
    if done.returncode != 0:
        return f"{_PEERS_SCRIPT} failed: {(done.stderr or done.stdout).strip()[-500:]}"
    return None


def binary_version(binary: str, prefix: str = "") -> str:
    """First line of ``binary --version`` without ``prefix`` ("unknown" when it cannot run)."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.split("\n", 1)[0].replace(prefix, "") or "unknown"

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


class ServerError(RuntimeError):
    """The server did not start or become ready; the message carries its log tail."""


def wait_http_ok(url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll ``url`` until it answers 200 (True), or ``alive()`` turns false or ``timeout_s``
    passes (False)."""
    deadline = time.perf_counter() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline and alive():
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return True
            time.sleep(0.05)
    return False


def log_progress() -> None:
    """Every benchmark command's progress lines: INFO with a clock, httpx's per-request
    lines left out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)


def pin_self(cores: set[int]) -> None:
    """Pin the harness (the load generator) to ``cores`` when the machine has them."""
    avail = os.sched_getaffinity(0)
    if cores & avail:
        os.sched_setaffinity(0, cores & avail)


def dir_size(path: Path) -> int:
    """Bytes of regular files under ``path`` (0 when it does not exist)."""
    total = 0
    if not path.exists():
        return 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, f)).st_size
    return total


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Server:
    """A child process with an HTTP port, a data directory and a log file."""

    name = "server"
    ready_path = "/ready"
    push_path = "/api/v1/push"
    query_prefix = "/api/v1"

    def __init__(self, data_dir: Path, *, cores: str = "0", port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.cores = cores
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.{self.name}.log"
        self.started_at = 0.0

    # -- to override -----------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    # -- lifecycle ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def push_url(self) -> str:
        return self.base_url + self.push_path

    def api_url(self, endpoint: str) -> str:
        return f"{self.base_url}{self.query_prefix}/{endpoint}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["taskset", "-c", self.cores, *self.command()]
        with open(self.log_path, "ab") as logf:
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                cmd, stdout=logf, stderr=subprocess.STDOUT, env=self.env(),
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 60.0) -> float:
        """Poll the readiness endpoint; returns seconds since ``start``."""
        if wait_http_ok(self.base_url + self.ready_path, timeout_s, alive=self._running):
            return time.perf_counter() - self.started_at
        if not self._running():
            raise ServerError(f"{self.name} exited during startup: {self.log_tail()}")
        raise ServerError(f"{self.name} not ready after {timeout_s:.0f}s: {self.log_tail()}")

    def _running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> float:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns seconds to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        return time.perf_counter() - t0

    def kill(self) -> None:
        """SIGKILL, as a crash would, and reap the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- resources ------------------------------------------------------------

    def rss_bytes(self) -> int:
        """Current resident set (VmRSS) of the process tree."""
        return sum(_status_kb(p, "VmRSS") for p in _tree(self.pid)) * 1024

    def hwm_bytes(self) -> int:
        """Peak resident set (VmHWM) of the process tree."""
        return sum(_status_kb(p, "VmHWM") for p in _tree(self.pid)) * 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the live process tree."""
        ticks = 0
        for p in _tree(self.pid):
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{p}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / _TICK

    def log_tail(self, n: int = 8) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip()[:300] for line in lines[-n:])


class _GoServer(Server):
    """A Go peer: as many Go threads as it has cores, or its per-core figures mean nothing."""

    binary = ""

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["GOMAXPROCS"] = str(len(self.cores.split(",")))
        return env

    def start(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise ServerError(f"{self.name}: no executable {self.binary} "
                              "(run scripts/peers.sh to install the peers)")
        super().start()


class PrometheusServer(_GoServer):
    """The Debian Prometheus (2.42) binary as a remote-write receiver."""

    name = "prometheus"
    ready_path = "/-/ready"
    push_path = "/api/v1/write"
    binary = PROMETHEUS_BIN
    features: tuple[str, ...] = ("native-histograms",)

    def command(self) -> list[str]:
        cfg = self.data_dir.parent / f"{self.data_dir.name}.prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
        return [
            self.binary,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=100y",
            "--log.level=warn",
            *(f"--enable-feature={f}" for f in self.features),
        ]

    @classmethod
    def version(cls) -> str:
        return binary_version(cls.binary, "prometheus, version ")


class Prometheus3Server(PrometheusServer):
    """Prometheus 3.x from the Go module proxy (scripts/peers.sh); native histograms are on."""

    name = "prometheus3"
    binary = peer_binary("prometheus")
    features = ()  # stable since 3.x: the flag is gone or a no-op


class VictoriaMetricsServer(_GoServer):
    """VictoriaMetrics single-node: Prometheus remote write in, PromQL (MetricsQL) out.

    ``-search.latencyOffset=0s``: by default it hides the last 30 s from queries,
    which would count as "not stored yet". ``-search.disableCache``: Prometheus
    and Tidewell's single process cache no query results, so neither may it.
    """

    name = "victoriametrics"
    ready_path = "/health"
    push_path = "/api/v1/write"
    binary = peer_binary("victoria-metrics")

    def command(self) -> list[str]:
        return [
            self.binary,
            f"-storageDataPath={self.data_dir}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-search.maxUniqueTimeseries=100000000",
            f"-inmemoryDataFlushInterval={self.DISK_FLUSH_S:g}s",
            "-loggerLevel=WARN",
        ]

    DISK_FLUSH_S = 1.0  # -inmemoryDataFlushInterval: its minimum (default 5 s)

    def force_flush(self) -> None:
        """Get everything it accepted onto disk, so its data directory holds what it stores.

        ``/internal/force_flush`` turns buffered rows into in-memory parts; those
        reach disk at the next in-memory flush interval.
        """
        httpx.get(self.base_url + "/internal/force_flush", timeout=60.0).raise_for_status()
        time.sleep(self.DISK_FLUSH_S * 2 + 1.0)

    @classmethod
    def version(cls) -> str:
        return binary_version(cls.binary)


# Prometheus has no per-tenant limits; Mimir's defaults (10k samples/s, 150k
# series) would make Tidewell reject the benchmark's load, so lift them.
TIDEWELL_BENCH_ARGS = (
    "-distributor.ingestion-rate-limit=1000000000",
    "-distributor.ingestion-burst-size=1000000000",
    "-ingester.max-global-series-per-user=0",
)


class TidewellServer(Server):
    """``python -m tidewell`` in single-process mode, multi-tenancy off, limits lifted."""

    name = "tidewell"
    ready_path = "/ready"
    push_path = "/api/v1/push"
    query_prefix = "/prometheus/api/v1"

    def __init__(self, data_dir: Path, *, extra_args: list[str] | None = None, **kw: object):
        super().__init__(data_dir, **kw)  # type: ignore[arg-type]
        self.extra_args = list(extra_args or [])

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tidewell",
            f"-server.http-listen-port={self.port}",
            "-server.http-listen-address=127.0.0.1",
            f"-common.storage.path={self.data_dir}",
            "-auth.multitenancy-enabled=false",
            *TIDEWELL_BENCH_ARGS,
            *self.extra_args,
        ]
