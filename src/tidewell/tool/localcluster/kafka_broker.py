"""How to run Apache Kafka 4.x (KRaft, one node that is broker and controller) on loopback.

The jars are not ours: ``scripts/peers.sh`` fetches ``org.apache.kafka:kafka_2.13`` and
its dependencies from Maven Central into ``$TIDEWELL_PEERS_DIR/kafka/libs``. This
module writes the node's ``server.properties``, formats its log directory (what the
distribution's ``kafka-storage.sh format`` does) and builds the ``java`` command line;
the local cluster (``tool/localcluster/supervisor.py``) and the tests' launcher both use it.

A JVM spends most of a node's start loading and verifying some 6,000 classes from the
jars. ``build_class_archives`` (run by ``scripts/peers.sh``) records them once into
class-data-sharing archives in ``kafka/cds``; later JVMs map them instead, which halves a
start (measured: broker ready in 5.4-6.9 s instead of 9.9-12.8 s, 1.7 s of CPU instead of
3.0 s). A missing or stale archive is no error: the JVM (``-Xshare:auto``) loads from the
jars as before.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tidewell.model.errors import TidewellError
from tidewell.util.ports import free_port

__all__ = [
    "KafkaMissingError",
    "broker_started",
    "build_class_archives",
    "class_archive",
    "java_command",
    "kafka_libs",
    "peers_dir",
    "prepare",
    "server_properties",
]

# A quick start on a small machine: class-data sharing, the C1 compiler only (no
# C2 warm-up pauses), a heap that fits beside the rest of a test run.
JVM_FLAGS = ("-Xms128m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Xshare:auto", "-Djava.awt.headless=true")

LOG4J2 = """\
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
logger.kafka.name = kafka
logger.kafka.level = INFO
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] [pid %pid] %p %m (%c)%n
"""

STARTED_LINE = "Kafka Server started"  # logged once the broker serves requests
STORAGE_TOOL, BROKER = "kafka.tools.StorageTool", "kafka.Kafka"  # the JVMs' main classes


class KafkaMissingError(TidewellError):
    """The Kafka jars are not installed; the message says how to install them."""


def peers_dir() -> Path:
    """The peers cache of scripts/peers.sh: $TIDEWELL_PEERS_DIR, else ~/.cache/tidewell-peers."""
    env = os.environ.get("TIDEWELL_PEERS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "tidewell-peers"


def kafka_libs() -> Path:
    libs = peers_dir() / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise KafkaMissingError(
            f"Apache Kafka is missing: no {libs}/kafka_2.13-*.jar; run scripts/peers.sh "
            "(make setup does) to fetch it from Maven Central"
        )
    return libs


def server_properties(port: int, controller_port: int, log_dir: Path) -> dict[str, str]:
    """One node, loopback only; ``message.max.bytes`` 16,000,000 as Mimir requires."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": "16000000",
        "replica.fetch.max.bytes": "16000000",
        # Tidewell creates its topic itself (-ingest-storage.kafka.auto-create-topic-*).
        "auto.create.topics.enable": "false",
    }


def class_archive(main: str) -> Path:
    """Where ``build_class_archives`` keeps the classes ``main`` loads."""
    return peers_dir() / "kafka" / "cds" / f"{main}.jsa"


def java_command(workdir: Path, main: str, *args: str, record_to: Path | None = None) -> list[str]:
    """The JVM running ``main``: on the class archive if there is one, or recording it."""
    log4j = f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}"
    archive = class_archive(main)
    if record_to is not None:
        share = [f"-XX:ArchiveClassesAtExit={record_to}"]
    else:
        share = [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else []
    return ["java", *JVM_FLAGS, *share, log4j, "-cp", f"{kafka_libs()}/*", main, *args]


def prepare(workdir: Path, port: int, controller_port: int,
            record_to: dict[str, Path] | None = None) -> list[str]:
    """Write the config, format ``workdir/data`` once; return the command that runs the node.

    The log stays in ``workdir/data``: a node started again on it keeps every record.
    ``record_to``: main class -> archive to record (``build_class_archives`` only).
    """
    record_to = record_to or {}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "log4j2.properties").write_text(LOG4J2)
    props = workdir / "server.properties"
    conf = server_properties(port, controller_port, workdir / "data")
    props.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
    if not (workdir / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        out = subprocess.run(
            # "--cluster-id=<id>": a base64url ID may start with "-", which the tool's
            # argument parser would take for an option when passed as a separate word.
            java_command(workdir, STORAGE_TOOL, "format", f"--cluster-id={cluster_id}",
                         "--config", str(props), record_to=record_to.get(STORAGE_TOOL)),
            capture_output=True, text=True, timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{out.stdout}\n{out.stderr}")
    return java_command(workdir, BROKER, str(props), record_to=record_to.get(BROKER))


def broker_started(log: Path, pid: int) -> bool:
    """True once process ``pid`` logged that it serves requests (it listens before that).

    Lines carry the pid, so a restarted node's log, appended to, is not fooled by
    the previous run's line.
    """
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    return any(STARTED_LINE in line for line in text.splitlines() if f"[pid {pid}]" in line)


def build_class_archives(timeout_s: float = 180.0) -> None:
    """Format and start a scratch node once, recording each JVM's classes into its archive.

    An archive is written when its JVM exits normally (the broker on SIGTERM), to a temp
    name, then renamed: a JVM never maps a half-written one.
    """
    out = peers_dir() / "kafka" / "cds"
    out.mkdir(parents=True, exist_ok=True)
    tmp = {main: out / f"{main}.jsa.{os.getpid()}.tmp" for main in (STORAGE_TOOL, BROKER)}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        argv = prepare(workdir, free_port(), free_port(), record_to=tmp)
        log = workdir / "kafka.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not broker_started(log, proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"scratch Kafka node did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)  # a normal exit writes the archive
        proc.wait(timeout_s)
    for main, path in tmp.items():
        if not path.exists():
            raise RuntimeError(f"the JVM running {main} wrote no class archive")
        os.replace(path, class_archive(main))


if __name__ == "__main__":  # scripts/peers.sh
    build_class_archives()
    print(f"kafka class archives in {class_archive(BROKER).parent}", file=sys.stderr)
